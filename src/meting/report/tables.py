"""Report tables: estimate and verdict tables in Dutch, with small cells suppressed.

Each function takes a numeric result table from :mod:`meting.pipeline` (after the test against
the target) and returns a :class:`~meting.report.formatting.DutchTable` ready to display.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import pandas as pd

from meting.errors import ReportError
from meting.report.formatting import (
    EMPTY,
    DutchTable,
    Formatter,
    fmt_ci,
    fmt_diff,
    fmt_int,
    fmt_number,
    fmt_pct,
    to_html,
)
from meting.report.privacy import SUPPRESSED, suppress_small_cells, suppression_note
from meting.significance import REASON_NO_RESPONDENTS
from meting.weighting import WeightingReport

if TYPE_CHECKING:
    from meting.sae.diagnostics import Diagnostics

__all__ = [
    "agenda_table",
    "change_table",
    "contrast_table",
    "diagnostics_table",
    "estimate_table",
    "sae_table",
    "share_table",
    "trend_table",
    "change_mark",
    "weighting_table",
]


def _interval(df: pd.DataFrame, lower: str, upper: str, pct: bool = False) -> pd.Series:
    if pct:
        return pd.Series(
            [
                EMPTY if pd.isna(lo) else f"{fmt_pct(lo)} – {fmt_pct(hi)}"
                for lo, hi in zip(df[lower], df[upper], strict=True)
            ],
            index=df.index,
            dtype=object,
        )
    return pd.Series(
        [fmt_ci(lo, hi) for lo, hi in zip(df[lower], df[upper], strict=True)],
        index=df.index,
        dtype=object,
    )


def _verdict(df: pd.DataFrame) -> pd.Series:
    verdict = df["verdict"].astype(object) if "verdict" in df else pd.Series(EMPTY, index=df.index)
    if "reason" in df:
        verdict = verdict.where(verdict.notna(), df["reason"].astype(object))
    verdict = verdict.where(~df[SUPPRESSED], "niet getoond (te weinig respondenten)")
    return verdict.fillna(EMPTY)


def _model_verdict(df: pd.DataFrame) -> pd.Series:
    """The model's verdict, or why there is none (e.g. a cell without respondents)."""
    verdict = df["verdict"].astype(object)
    if "reason" in df:
        verdict = verdict.where(verdict.notna(), df["reason"].astype(object))
    return verdict.fillna(EMPTY)


def estimate_table(
    tested: pd.DataFrame,
    label: str,
    heading: str,
    *,
    min_n: int,
    caption: str | None = None,
    with_p: bool = True,
) -> DutchTable:
    """Means against the target: label, mark, interval, n, adjusted p, verdict."""
    shown = suppress_small_cells(
        tested,
        min_n,
        value_cols=["estimate", "lower", "upper", *(["p_adjusted"] if with_p else [])],
    )
    out = pd.DataFrame(
        {
            heading: shown[label].astype(str),
            "rapportcijfer": shown["estimate"],
            "95%-interval": _interval(shown, "lower", "upper"),
            "n": shown["n"],
        }
    )
    formats: dict = {"rapportcijfer": "score", "n": "int", "95%-interval": "text"}
    if with_p:
        out["p (gecorrigeerd)"] = shown["p_adjusted"]
        formats["p (gecorrigeerd)"] = "p"
        out["oordeel"] = _verdict(shown)
    return to_html(out, formats, caption=caption, note=suppression_note(shown) or None)


def share_table(
    table: pd.DataFrame, label: str, heading: str, *, min_n: int, caption: str | None = None
) -> DutchTable:
    """Shares (proportions) with interval and n."""
    shown = suppress_small_cells(table, min_n, value_cols=["estimate", "lower", "upper"])
    out = pd.DataFrame(
        {
            heading: shown[label].astype(str),
            "aandeel": shown["estimate"],
            "95%-interval": _interval(shown, "lower", "upper", pct=True),
            "n": shown["n"],
        }
    )
    return to_html(
        out,
        {"aandeel": "pct", "n": "int", "95%-interval": "text"},
        caption=caption,
        note=suppression_note(shown) or None,
    )


def sae_table(
    cells: pd.DataFrame, label: str, heading: str, *, min_n: int, caption: str | None = None
) -> DutchTable:
    """Model estimate beside the direct one: label, model mean, 95% interval, P(>= target),
    verdict, direct estimate, n and (with a ``shrinkage`` column) the share of the estimate that
    comes from the model. The direct estimate is suppressed below ``min_n``; the model estimate
    is shown for every cell (it borrows strength and discloses no respondent); a cell without
    respondents is a model prediction without verdict. The note states the publication rule."""
    has_direct = "direct" in cells.columns
    shown = suppress_small_cells(cells, min_n, value_cols=["direct"] if has_direct else [])
    verdict = _model_verdict(shown).replace({REASON_NO_RESPONDENTS: "geen (modelvoorspelling)"})
    columns = {
        heading: shown[label].astype(str),
        "modelschatting": shown["estimate"],
        "95%-interval": _interval(shown, "lower", "upper"),
        "kans ≥ doel": shown["prob_ge_target"],
        "oordeel": verdict,
    }
    if has_direct:
        columns["direct"] = shown["direct"]
    columns["n"] = shown["n"]
    has_shrinkage = "shrinkage" in shown.columns
    if has_shrinkage:
        columns["aandeel model"] = shown["shrinkage"]
    out = pd.DataFrame(columns)
    notes = []
    if has_shrinkage:
        notes.append(
            "Aandeel model: het deel van de schatting dat uit het model komt in plaats van uit de "
            "eigen respondenten (1 − γ, γ = σ²ᵤ / (σ²ᵤ + se²), met σᵤ de spreiding tussen de "
            "cellen volgens het model en se de standaardfout van de directe schatting); 100% bij "
            "een cel zonder respondenten."
        )
    notes.append(
        f"Publicatieregel: een directe schatting alleen bij ten minste {fmt_int(min_n)} "
        "respondenten (anders –); een cel zonder respondenten is een modelvoorspelling en krijgt "
        "geen oordeel."
    )
    note = suppression_note(shown) if has_direct else ""
    if note:
        notes.append("Directe schatting: " + note[0].lower() + note[1:])
    formats = {
        "modelschatting": "score",
        "95%-interval": "text",
        "kans ≥ doel": "pct",
        "oordeel": "text",
        "n": "int",
    }
    if has_direct:
        formats["direct"] = "score"
    if has_shrinkage:
        formats["aandeel model"] = "pct"
    return to_html(out, formats, caption=caption, note=" ".join(notes))


def change_table(
    changes: pd.DataFrame, label: str, *, caption: str | None = None, rounding_note: bool = True
) -> DutchTable:
    """Changes between two waves (from :func:`meting.pipeline.wave_changes`): earlier,
    later, the difference with its interval, adjusted p and the verdict (or why there is none).

    The levels are printed with one decimal and the difference with two, computed before
    rounding (a note under the table says so), so 6,9 -> 6,9 can show -0,04 but never -0,1.
    """
    verdict = changes["verdict"].astype(object)
    if "reason" in changes:
        verdict = verdict.where(verdict.notna(), changes["reason"].astype(object))
    out = pd.DataFrame(
        {
            label: changes[label].astype(str),
            "eerder": changes["estimate_earlier"],
            "later": changes["estimate_later"],
            "verschil": changes["estimate"],
            "95%-interval": [
                EMPTY if pd.isna(lo) else f"{fmt_diff(lo, 2)} – {fmt_diff(hi, 2)}"
                for lo, hi in zip(changes["lower"], changes["upper"], strict=True)
            ],
            "p (gecorrigeerd)": changes["p_adjusted"],
            "oordeel": verdict.fillna(EMPTY),
        }
    )
    formats = {
        "eerder": "score",
        "later": "score",
        "verschil": "diff2",
        "95%-interval": "text",
        "p (gecorrigeerd)": "p",
        "oordeel": "text",
    }
    note = (
        "Het verschil is berekend vóór afronding en staat met twee decimalen; de cijfers per "
        "meting zijn afgerond op één decimaal."
    )
    return to_html(out, formats, caption=caption, note=note if rounding_note else None)


def diagnostics_table(diagnostics: Diagnostics, *, caption: str | None = None) -> DutchTable:
    """The convergence summary of a model fit (:class:`meting.sae.Diagnostics`) in Dutch."""
    d = diagnostics
    rows = [
        ("grootste R-hat, overeenstemming tussen de ketens (max. 1,01)", fmt_number(d.max_rhat, 3)),
        ("kleinste effectieve steekproefomvang, midden (min. 400)", fmt_int(d.min_ess_bulk)),
        ("kleinste effectieve steekproefomvang, staarten (min. 400)", fmt_int(d.min_ess_tail)),
        ("divergente overgangen (mislukte stappen; max. 0)", fmt_int(d.n_divergences)),
        ("rekenmethode (MCMC-sampler)", str(d.sampler)),
        ("ketens x trekkingen per keten", f"{d.chains} x {fmt_int(d.draws)}"),
        ("uit de opgeslagen berekening (cache)", "ja" if d.from_cache else "nee"),
        ("betrouwbaar", "ja" if d.trustworthy else "nee"),
    ]
    return to_html(pd.DataFrame(rows, columns=["kenmerk", "waarde"]), caption=caption)


def agenda_table(agenda: pd.DataFrame, *, min_n: int, caption: str | None = None) -> DutchTable:
    """The improvement agenda of one municipality (from ``analysis.agenda_for``): rank, life
    event, mark, how often it occurs, gap to the target and priority; small cells blanked."""
    shown = agenda.copy()
    small = shown["onderdrukt"].fillna(False).astype(bool)
    for col in ("score", "gap", "priority"):
        shown[col] = shown[col].astype("float64").mask(small.to_numpy())
    out = pd.DataFrame(
        {
            "rang": shown["rank"],
            "levensgebeurtenis": shown["levensgebeurtenis"],
            "rapportcijfer": shown["score"],
            "komt voor bij": shown["frequency"],
            "afstand tot doel": shown["gap"],
            "prioriteit": shown["priority"],
            "n": shown["n"],
        }
    )
    formats: dict[str, Formatter | str | int] = {
        "rang": "int",
        "rapportcijfer": "score",
        "komt voor bij": "pct1",
        "afstand tot doel": "score",
        "prioriteit": 3,
        "n": "int",
    }
    note = suppression_note(int(small.sum()), min_n) if small.any() else None
    return to_html(out, formats, caption=caption, note=note)


def weighting_table(report: WeightingReport) -> pd.DataFrame:
    """The weighting diagnostics (``WaveAnalysis.weighting``) as a two-column Dutch table."""
    r = report
    rows = [
        ("methode", str(r.method)),
        ("geconvergeerd", "ja" if r.converged else "nee"),
        ("iteraties", fmt_int(r.iterations)),
        ("grootste afwijking van een populatietotaal", fmt_number(r.max_margin_gap, 6)),
        ("kleinste gewicht", fmt_number(r.weight_min, 1)),
        ("grootste gewicht", fmt_number(r.weight_max, 1)),
        ("design-effect door weging (Kish)", fmt_number(r.kish_deff, 2)),
        ("effectieve steekproefomvang", fmt_int(r.effective_n)),
        ("respondenten", fmt_int(r.n)),
    ]
    return pd.DataFrame(rows, columns=["kenmerk", "waarde"])


def contrast_table(
    contrasts: pd.DataFrame, label: str, *, caption: str | None = None
) -> DutchTable:
    """A design-based contrast (:func:`meting.pipeline.municipality_vs_rest`): what is compared,
    the difference with its interval (two decimals), the respondents, p and the verdict (or why
    there is none)."""
    verdict = contrasts["verdict"].astype(object)
    verdict = verdict.where(verdict.notna(), contrasts["reason"].astype(object)).fillna(EMPTY)
    out = pd.DataFrame(
        {
            "vergelijking": label,
            "verschil": contrasts["estimate"],
            "95%-interval": [
                EMPTY if pd.isna(lo) else f"{fmt_diff(lo, 2)} – {fmt_diff(hi, 2)}"
                for lo, hi in zip(contrasts["lower"], contrasts["upper"], strict=True)
            ],
            "n gemeente": contrasts["n_gemeente"],
            "p": contrasts["p_two_sided"],
            "oordeel": verdict,
        }
    )
    formats = {"verschil": "diff2", "95%-interval": "text", "n gemeente": "int", "p": "p"}
    return to_html(out, formats, caption=caption)


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
    return to_html(out, formats, caption=caption, note=note)
