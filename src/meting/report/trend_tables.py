"""Over-time tables of the comparison report: one family (levels, life events, organisations,
norms, municipalities, TRI*M) over the waves, with the difference of every pair of waves and the
mark of its verdict; the same numbers as a long table for reuse (``tabellen/``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from meting.errors import ReportError
from meting.report.export import ExportTable, export_table, slug
from meting.report.formatting import (
    EMPTY,
    DutchTable,
    Formatter,
    fmt_diff,
    fmt_int,
    fmt_pct,
    to_html,
)
from meting.report.linked_text import benchmark_note
from meting.report.publication import NO_VERDICT_TEXT, mark_caution, publication_note

__all__ = ["CHANGE_LEGEND", "CHANGE_MARKS", "change_mark", "linked_change_table", "trend_table"]


def _verdict_only(df: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    from meting.report.tables import _verdict_only as verdict_only

    return verdict_only(df)


#: The mark of a change verdict in an over-time table: the shapes of the figures' markers
#: (up, down, circle), so a verdict survives grey printing.
CHANGE_MARKS = {"boven": "▲", "onder": "▼", "gelijk": "○"}
CHANGE_LEGEND = "▲ verbeterd, ▼ verslechterd, ○ geen aantoonbaar verschil"


def change_mark(verdict: object) -> str:
    """``▲`` (verbeterd), ``▼`` (verslechterd), ``○`` (geen aantoonbaar verschil), ``""`` (no
    verdict) for a change verdict of :func:`meting.comparison.compare_waves`."""
    from meting.report.summary import direction

    return CHANGE_MARKS.get(direction(verdict), "")


def trend_table(
    changes: Mapping[tuple[str, str], pd.DataFrame],
    label: str,
    *,
    waves: Sequence[str],
    min_n: int,
    heading: str | None = None,
    short: Mapping[str, str] | None = None,
    kind: str = "score",
    adjustment: str = "holm",
    caption: str | None = None,
    rounding_note: bool = True,
) -> DutchTable:
    """One family over the waves: per row its estimate in every wave, then per pair of waves the
    difference (computed before rounding, one decimal more than the levels) with the mark of its
    verdict (:func:`change_mark`). Rows keep the order of the change tables (registry order).

    ``changes`` maps ``(earlier, later)`` to :func:`meting.pipeline.wave_changes`; ``kind`` is
    ``"score"`` (marks 1-10 and TRI*M: levels one decimal, differences two) or ``"share"``
    (shares: levels in whole percents, differences in percentage points with one decimal). An
    estimate on fewer than ``min_n`` respondents is not shown; an untested difference is ``–``.
    """
    if kind not in ("score", "share"):
        raise ReportError(f"kind must be 'score' or 'share'; got {kind!r}.")
    short = dict(short or {})

    def name(w: str) -> str:
        return str(short.get(w, w))

    rows = list(dict.fromkeys(str(v) for t in changes.values() for v in t[label]))
    out = pd.DataFrame({heading or label: rows})
    level: dict[str, pd.Series] = {}
    for (a, b), t in changes.items():
        keyed = t.assign(_k=t[label].astype(str)).set_index("_k")
        for side, w in (("earlier", a), ("later", b)):
            shown = keyed[f"estimate_{side}"].where(keyed[f"n_{side}"] >= min_n)
            level.setdefault(w, shown)
            level[w] = level[w].combine_first(shown)
    formats: dict[str, Formatter | str | int] = {}
    for w in waves:
        if w in level:
            out[name(w)] = level[w].reindex(rows).to_numpy(dtype=float)
            formats[name(w)] = "score" if kind == "score" else "pct"
    for (a, b), t in changes.items():
        keyed = t.assign(_k=t[label].astype(str)).set_index("_k").reindex(rows)
        tested = (
            keyed["reason"].isna()
            & keyed["estimate"].notna()
            & (keyed["n_earlier"] >= min_n)
            & (keyed["n_later"] >= min_n)
        )
        diff = keyed["estimate"] * (100.0 if kind == "share" else 1.0)
        out[f"{name(a)} → {name(b)}"] = [
            f"{fmt_diff(d, 2 if kind == 'score' else 1)} {change_mark(v)}".strip() if ok else EMPTY
            for d, v, ok in zip(diff, keyed["verdict"], tested, strict=True)
        ]
    from meting.report.summary import ADJUSTMENT_NAMES

    unit = "twee decimalen" if kind == "score" else "procentpunten met één decimaal"
    note = (
        f"{CHANGE_LEGEND} (toets van het verschil; correctie voor meervoudig toetsen: "
        f"{ADJUSTMENT_NAMES.get(adjustment, adjustment)}, binnen elk paar metingen). "
        + (
            f"Verschillen zijn berekend vóór afronding en staan met {unit}. "
            if rounding_note
            else ""
        )
        + f"Minder dan "
        f"{fmt_int(min_n)} respondenten: niet getoond (–)."
    )
    return to_html(
        out,
        formats,
        caption=caption,
        note=note,
        data=_trend_export(changes, label, heading, min_n=min_n, kind=kind),
    )


def _trend_export(
    changes: Mapping[tuple[str, str], pd.DataFrame],
    label: str,
    heading: str | None,
    *,
    min_n: int,
    kind: str,
) -> ExportTable:
    """:func:`trend_table` for reuse, one row per row and pair of waves: both levels (empty
    below ``min_n``, the reason beside it), the unrounded difference and its verdict (empty
    when untested)."""
    value_kind = "cijfer" if kind == "score" else "aandeel"
    diff_kind = "verschil2" if kind == "score" else "aandeel"
    parts = []
    for (a, b), t in changes.items():
        small = (t["n_earlier"] < min_n) | (t["n_later"] < min_n)
        tested = t["reason"].isna() & t["estimate"].notna() & ~small
        verdict, _ = _verdict_only(t.assign(verdict=t["verdict"].where(tested)))
        parts.append(
            pd.DataFrame(
                {
                    slug(heading or label): t[label].astype(str).to_numpy(),
                    "meting_eerder": a,
                    "meting_later": b,
                    "eerder": t["estimate_earlier"].where(t["n_earlier"] >= min_n).to_numpy(),
                    "later": t["estimate_later"].where(t["n_later"] >= min_n).to_numpy(),
                    "verschil": t["estimate"].where(tested).to_numpy(),
                    "oordeel": verdict.to_numpy(),
                    "n_eerder": t["n_earlier"].to_numpy(),
                    "n_later": t["n_later"].to_numpy(),
                    "onderdrukt_reden": pd.Series(
                        f"minder dan {min_n} respondenten", index=t.index, dtype=object
                    )
                    .where(small)
                    .to_numpy(),
                }
            )
        )
    frame = pd.concat(parts, ignore_index=True)
    kinds = {
        "eerder": value_kind,
        "later": value_kind,
        "verschil": diff_kind,
        "n_eerder": "aantal",
        "n_later": "aantal",
    }
    return ExportTable(frame, kinds)


def linked_change_table(
    changes: pd.DataFrame,
    heading: str,
    *,
    upper: float,
    lower: float,
    short: Mapping[str, str] | None = None,
    caption: str | None = None,
) -> DutchTable:
    """The changes of the model linked over the waves (:func:`meting.linked_trends.linked_changes`):
    per row its name (``naam``), the change with two decimals and its mark, the 90 % interval,
    the probability of improvement and the verdict (``upper``/``lower``: the thresholds of the
    rule, for the note), and the respondents in both waves. A row without respondents in one of
    the waves is a model prediction: its change is shown, without verdict, as is a row the
    publication flag marks "niet publiceren"; a verdict published with caution is marked
    (:mod:`meting.report.publication`). The model discloses
    no respondent, so no row is suppressed; the counts are those of the direct estimates."""
    short = dict(short or {})
    if changes.empty:
        raise ReportError("linked_change_table needs at least one row; got an empty table.")
    a, b = str(changes["wave_earlier"].iloc[0]), str(changes["wave_later"].iloc[0])
    ea, eb = short.get(a, a), short.get(b, b)
    from meting.linked_trends import REASON_BENCHMARKED, REASON_NOT_PUBLISHED

    reasons = changes["reason"].astype(object)
    same = reasons.eq(REASON_BENCHMARKED).to_numpy(dtype=bool)
    blocked = reasons.eq(REASON_NOT_PUBLISHED).to_numpy(dtype=bool)
    missing = pd.Series(
        np.select(
            [same, blocked],
            ["zie de directe schatting", NO_VERDICT_TEXT],
            default="geen (modelvoorspelling)",
        ),
        index=changes.index,
    )
    verdict = changes["verdict"].astype(object).where(changes["verdict"].notna(), missing)
    verdict = mark_caution(verdict, changes)
    out = pd.DataFrame(
        {
            heading: changes["naam"].astype(str),
            f"verandering {ea} → {eb}": [
                f"{fmt_diff(d, 2)} {change_mark(v)}".strip()
                for d, v in zip(changes["estimate"], changes["verdict"], strict=True)
            ],
            "90%-interval": [
                f"{fmt_diff(lo, 2)} – {fmt_diff(hi, 2)}"
                for lo, hi in zip(changes["lower_90"], changes["upper_90"], strict=True)
            ],
            "kans verbeterd": changes["prob_improved"],
            "oordeel": verdict,
            f"n {ea}": changes["n_earlier"],
            f"n {eb}": changes["n_later"],
        }
    )
    formats: dict[str, Formatter | str | int] = {
        "kans verbeterd": "pct",
        "oordeel": "text",
        f"n {ea}": "int",
        f"n {eb}": "int",
    }
    note = (
        f"{CHANGE_LEGEND}. Model over de metingen (Fay-Herriot, per levensgebeurtenis x gemeente, "
        "gekoppeld door een blijvend celeffect); een totaal is het naar bevolking gewogen "
        "gemiddelde van zijn cellen. Oordeel: verbeterd bij een kans op verbetering van ten "
        f"minste {fmt_pct(upper)}, verslechterd bij ten hoogste {fmt_pct(lower)}, anders geen "
        "aantoonbaar verschil; zonder respondenten in een van beide metingen een "
        "modelvoorspelling zonder oordeel. " + benchmark_note(changes)
    )
    flags = publication_note(changes, REASON_NOT_PUBLISHED, of_change=True)
    if flags:
        note += " " + flags
    if same.any():
        note += (
            " Een gebenchmarkte levensgebeurtenis heeft precies de verandering van haar directe "
            "schattingen; haar oordeel is dat van de toets van die directe schattingen "
            "('zie de directe schatting')."
        )
    reason = changes["reason"].astype(object)
    data = export_table(
        {
            slug(heading): (changes["naam"].astype(str), "tekst"),
            "meting_eerder": (pd.Series(a, index=changes.index), "tekst"),
            "meting_later": (pd.Series(b, index=changes.index), "tekst"),
            "verschil": (changes["estimate"], "verschil2"),
            "verschil_90_ondergrens": (changes["lower_90"], "verschil2"),
            "verschil_90_bovengrens": (changes["upper_90"], "verschil2"),
            "kans_verbeterd": (changes["prob_improved"], "aandeel"),
            "oordeel": (changes["verdict"].astype(object), "tekst"),
            "oordeel_reden": (reason, "tekst"),
            "n_eerder": (changes["n_earlier"], "aantal"),
            "n_later": (changes["n_later"], "aantal"),
            **(
                {"publicatie": (changes["publication"].astype(object), "tekst")}
                if "publication" in changes.columns
                else {}
            ),
        }
    )
    return to_html(out, formats, caption=caption, note=note, data=data)
