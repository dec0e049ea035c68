"""Report tables: estimate and verdict tables in Dutch, with small cells suppressed.

Each function takes a numeric table from :mod:`meting.report.analysis` (after the test against the
target) and returns a :class:`~meting.report.formatting.DutchTable` ready to display.
"""

from __future__ import annotations

import pandas as pd

from meting.report.formatting import EMPTY, DutchTable, fmt_ci, fmt_pct, to_html
from meting.report.privacy import SUPPRESSED, suppress_small_cells, suppression_note

__all__ = ["estimate_table", "sae_table", "share_table"]


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
        value_cols=["estimate", "ci_lower", "ci_upper", *(["p_adjusted"] if with_p else [])],
    )
    out = pd.DataFrame(
        {
            heading: shown[label].astype(str),
            "rapportcijfer": shown["estimate"],
            "95%-interval": _interval(shown, "ci_lower", "ci_upper"),
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
    shown = suppress_small_cells(table, min_n, value_cols=["estimate", "ci_lower", "ci_upper"])
    out = pd.DataFrame(
        {
            heading: shown[label].astype(str),
            "aandeel": shown["estimate"],
            "95%-interval": _interval(shown, "ci_lower", "ci_upper", pct=True),
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
    verdict, direct estimate and n. The direct estimate is suppressed below ``min_n``; the model
    estimate is shown for every cell (it borrows strength and discloses no respondent)."""
    has_direct = "direct" in cells.columns
    shown = suppress_small_cells(cells, min_n, value_cols=["direct"] if has_direct else [])
    columns = {
        heading: shown[label].astype(str),
        "modelschatting": shown["mean"],
        "95%-interval": _interval(shown, "q025", "q975"),
        "kans ≥ doel": shown["prob_ge_target"],
        "oordeel": shown["verdict"].astype(object).fillna(EMPTY),
    }
    if has_direct:
        columns["direct"] = shown["direct"]
    columns["n"] = shown["n"]
    out = pd.DataFrame(columns)
    note = suppression_note(shown) if has_direct else ""
    if note:
        note = "Directe schatting: " + note[0].lower() + note[1:]
    formats = {
        "modelschatting": "score",
        "95%-interval": "text",
        "kans ≥ doel": "pct",
        "oordeel": "text",
        "n": "int",
    }
    if has_direct:
        formats["direct"] = "score"
    return to_html(out, formats, caption=caption, note=note or None)
