"""Report tables: estimate and verdict tables in Dutch, with small cells suppressed.

Each function takes a numeric result table from :mod:`meting.pipeline` (after the test against
the target) and returns a :class:`~meting.report.formatting.DutchTable` ready to display.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from meting.report.export import export_table, slug
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
from meting.report.linked_text import benchmark_note
from meting.report.privacy import (
    SUPPRESSED,
    suppress_small_cells,
    suppression_note,
    suppression_reasons,
)
from meting.report.publication import NO_VERDICT_TEXT, mark_caution, publication_note

if TYPE_CHECKING:  # imported on use (SciPy, statsmodels): printing stored tables needs neither
    from meting.sae.diagnostics import Diagnostics
    from meting.weighting import WeightingReport

__all__ = [
    "agenda_table",
    "change_table",
    "contrast_table",
    "diagnostics_table",
    "estimate_table",
    "sae_table",
    "share_table",
    "versus_national_table",
    "weighting_html",
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


def _verdict_only(df: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """The verdict and why there is none, as two export columns (suppressed rows: both empty,
    the reason is in ``onderdrukt_reden``)."""
    empty = pd.Series(None, index=df.index, dtype=object)
    verdict = df["verdict"].astype(object) if "verdict" in df else empty
    reason = df["reason"].astype(object) if "reason" in df else empty
    verdict = verdict.where(verdict.notna() & ~verdict.astype(str).isin(["nan", "None", ""]))
    reason = reason.where(reason.notna() & ~reason.astype(str).isin(["nan", "None", ""]))
    reason = reason.where(verdict.isna())
    if SUPPRESSED in df:
        verdict = verdict.where(~df[SUPPRESSED].astype(bool))
        reason = reason.where(~df[SUPPRESSED].astype(bool))
    return verdict, reason


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
        value_cols=[
            "estimate",
            "lower",
            "upper",
            *(["se"] if "se" in tested else []),
            *(["p_adjusted"] if with_p else []),
        ],
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
    cols: dict = {
        slug(heading): (shown[label].astype(str), "tekst"),
        "rapportcijfer": (shown["estimate"], "cijfer"),
        "rapportcijfer_ondergrens": (shown["lower"], "cijfer"),
        "rapportcijfer_bovengrens": (shown["upper"], "cijfer"),
    }
    if "se" in shown:
        cols["se"] = (shown["se"], "cijfer2")
    cols["n"] = (shown["n"], "aantal")
    if with_p:
        verdict, reason = _verdict_only(shown)
        cols |= {
            "p_gecorrigeerd": (shown["p_adjusted"], "p"),
            "oordeel": (verdict, "tekst"),
            "oordeel_reden": (reason, "tekst"),
        }
    cols["onderdrukt_reden"] = (suppression_reasons(shown), "tekst")
    return to_html(
        out,
        formats,
        caption=caption,
        note=suppression_note(shown) or None,
        data=export_table(cols),
    )


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
    data = export_table(
        {
            slug(heading): (shown[label].astype(str), "tekst"),
            "aandeel": (shown["estimate"], "aandeel"),
            "aandeel_ondergrens": (shown["lower"], "aandeel"),
            "aandeel_bovengrens": (shown["upper"], "aandeel"),
            "n": (shown["n"], "aantal"),
            "onderdrukt_reden": (suppression_reasons(shown), "tekst"),
        }
    )
    return to_html(
        out,
        {"aandeel": "pct", "n": "int", "95%-interval": "text"},
        caption=caption,
        note=suppression_note(shown) or None,
        data=data,
    )


def sae_table(
    cells: pd.DataFrame, label: str, heading: str, *, min_n: int, caption: str | None = None
) -> DutchTable:
    """Model estimate beside the direct one: label, model mean, 95% interval, P(>= target),
    verdict, direct estimate, n and (with a ``shrinkage`` column) the share of the estimate that
    comes from the model. The direct estimate is suppressed below ``min_n``; the model estimate
    is shown for every cell (it borrows strength and discloses no respondent); a cell without
    respondents is a model prediction without verdict, as is a cell the publication flag marks
    "niet publiceren"; a verdict published with caution is marked
    (:mod:`meting.report.publication`). The note states the publication rule and
    whether the estimates are benchmarked (:func:`meting.report.linked_text.benchmark_note`)."""
    has_direct = "direct" in cells.columns
    shown = suppress_small_cells(cells, min_n, value_cols=["direct"] if has_direct else [])
    from meting.significance import REASON_NO_RESPONDENTS, REASON_NOT_PUBLISHED

    verdict = mark_caution(_model_verdict(shown), shown).replace(
        {REASON_NO_RESPONDENTS: "geen (modelvoorspelling)", REASON_NOT_PUBLISHED: NO_VERDICT_TEXT}
    )
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
    notes.append(publication_note(shown, REASON_NOT_PUBLISHED))
    notes.append(benchmark_note(shown))
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
    verdict, reason = _verdict_only(shown.drop(columns=SUPPRESSED))
    cols: dict = {
        slug(heading): (shown[label].astype(str), "tekst"),
        "modelschatting": (shown["estimate"], "cijfer"),
        "modelschatting_ondergrens": (shown["lower"], "cijfer"),
        "modelschatting_bovengrens": (shown["upper"], "cijfer"),
        "kans_ge_doel": (shown["prob_ge_target"], "aandeel"),
        "oordeel": (verdict, "tekst"),
        "oordeel_reden": (reason, "tekst"),
    }
    if has_direct:
        cols["direct"] = (shown["direct"], "cijfer")
    cols["n"] = (shown["n"], "aantal")
    if has_shrinkage:
        cols["aandeel_model"] = (shown["shrinkage"], "aandeel")
    if "publication" in shown.columns:
        cols["publicatie"] = (shown["publication"].astype(object), "tekst")
    if has_direct:
        cols["onderdrukt_reden"] = (suppression_reasons(shown), "tekst")
    return to_html(
        out, formats, caption=caption, note=" ".join(n for n in notes if n), data=export_table(cols)
    )


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
    verdict, reason = _verdict_only(changes)
    data = export_table(
        {
            slug(label): (changes[label].astype(str), "tekst"),
            "eerder": (changes["estimate_earlier"], "cijfer"),
            "later": (changes["estimate_later"], "cijfer"),
            "verschil": (changes["estimate"], "verschil2"),
            "verschil_ondergrens": (changes["lower"], "verschil2"),
            "verschil_bovengrens": (changes["upper"], "verschil2"),
            "p_gecorrigeerd": (changes["p_adjusted"], "p"),
            "oordeel": (verdict, "tekst"),
            "oordeel_reden": (reason, "tekst"),
        }
    )
    return to_html(out, formats, caption=caption, note=note if rounding_note else None, data=data)


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
    data = export_table(
        {
            "grootste_rhat": ([d.max_rhat], "getal3"),
            "kleinste_ess_bulk": ([d.min_ess_bulk], "aantal"),
            "kleinste_ess_staart": ([d.min_ess_tail], "aantal"),
            "divergenties": ([d.n_divergences], "aantal"),
            "sampler": ([str(d.sampler)], "tekst"),
            "ketens": ([d.chains], "aantal"),
            "trekkingen": ([d.draws], "aantal"),
            "uit_cache": ([bool(d.from_cache)], "janee"),
            "betrouwbaar": ([bool(d.trustworthy)], "janee"),
        }
    )
    return to_html(pd.DataFrame(rows, columns=["kenmerk", "waarde"]), caption=caption, data=data)


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
    data = export_table(
        {
            "rang": (shown["rank"], "aantal"),
            "levensgebeurtenis": (shown["levensgebeurtenis"].astype(str), "tekst"),
            "rapportcijfer": (shown["score"], "cijfer"),
            "komt_voor_bij": (shown["frequency"], "aandeel1"),
            "afstand_tot_doel": (shown["gap"], "cijfer"),
            "prioriteit": (shown["priority"], "getal3"),
            "n": (shown["n"], "aantal"),
            "onderdrukt_reden": (
                pd.Series(
                    [f"minder dan {min_n} respondenten" if v else "" for v in small],
                    index=shown.index,
                ),
                "tekst",
            ),
        }
    )
    return to_html(out, formats, caption=caption, note=note, data=data)


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


def weighting_html(report: WeightingReport, *, caption: str | None = None) -> DutchTable:
    """:func:`weighting_table` as report HTML; exported as one row with a column per measure."""
    r = report
    data = export_table(
        {
            "methode": ([str(r.method)], "tekst"),
            "geconvergeerd": ([bool(r.converged)], "janee"),
            "iteraties": ([r.iterations], "aantal"),
            "grootste_afwijking": ([r.max_margin_gap], "getal"),
            "kleinste_gewicht": ([r.weight_min], "getal1"),
            "grootste_gewicht": ([r.weight_max], "getal1"),
            "kish_deff": ([r.kish_deff], "getal2"),
            "effectieve_n": ([r.effective_n], "aantal"),
            "respondenten": ([r.n], "aantal"),
        }
    )
    return to_html(weighting_table(report), caption=caption, data=data)


def versus_national_table(cells: pd.DataFrame, *, caption: str | None = None) -> DutchTable:
    """A municipality's model estimate per life event beside the national figure (from
    :func:`meting.pipeline.municipality_cells`), the difference and P(municipality higher)."""
    shown = cells.sort_values("verschil", ascending=False)
    out = shown[["levensgebeurtenis", "estimate", "landelijk", "verschil", "kans_hoger"]]
    data = export_table(
        {
            "levensgebeurtenis": (shown["levensgebeurtenis"].astype(str), "tekst"),
            "modelschatting": (shown["estimate"], "cijfer"),
            "landelijk": (shown["landelijk"], "cijfer"),
            "verschil": (shown["verschil"], "verschil2"),
            "kans_hoger": (shown["kans_hoger"], "aandeel"),
        }
    )
    return to_html(
        out,
        {"estimate": "score", "landelijk": "score", "verschil": "diff2", "kans_hoger": "pct"},
        rename={"estimate": "gemeente", "kans_hoger": "kans gemeente hoger"},
        caption=caption,
        note="Het verschil is berekend vóór afronding en staat met twee decimalen. "
        + benchmark_note(cells),
        data=data,
    )


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
    verdict_col, reason = _verdict_only(contrasts)
    data = export_table(
        {
            "vergelijking": ([label] * len(contrasts), "tekst"),
            "verschil": (contrasts["estimate"], "verschil2"),
            "verschil_ondergrens": (contrasts["lower"], "verschil2"),
            "verschil_bovengrens": (contrasts["upper"], "verschil2"),
            "n_gemeente": (contrasts["n_gemeente"], "aantal"),
            "p": (contrasts["p_two_sided"], "p"),
            "oordeel": (verdict_col, "tekst"),
            "oordeel_reden": (reason, "tekst"),
        }
    )
    return to_html(out, formats, caption=caption, data=data)


# the over-time tables live in trend_tables (kept importable from here)
from meting.report.trend_tables import (  # noqa: E402
    change_mark,
    trend_table,
)
