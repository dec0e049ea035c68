"""Helpers that every knelpunten section of the reports uses: the reading guides, selecting
the rows of one group from a suppressed table, Dutch group names and printed intervals."""

from __future__ import annotations

import html
from collections.abc import Mapping

import numpy as np
import pandas as pd

from meting.checks import check_columns
from meting.errors import ParameterError
from meting.knelpunten.texts import EXPLANATIONS
from meting.labels import norm_label
from meting.privacy_rules import SUPPRESSED
from meting.report import Note
from meting.report.formatting import EMPTY, fmt_ci, fmt_pct

__all__ = ["explanation", "names_of", "norm_label", "pct_interval", "score_interval", "select"]


def explanation(*keys: str) -> Note:
    """The reading guides of :data:`meting.knelpunten.EXPLANATIONS` as one report paragraph."""
    unknown = [k for k in keys if k not in EXPLANATIONS]
    if unknown:
        raise ParameterError(
            f"explanation keys must be in {sorted(EXPLANATIONS)}; got {unknown}. "
            "Use one of the knelpunten section names."
        )
    body = " ".join(html.escape(EXPLANATIONS[k]) for k in keys)
    return Note(f'<p class="meting-explanation">{body}</p>')


def select(table: pd.DataFrame, column: str, value: str) -> pd.DataFrame:
    """The rows of a suppressed table where ``column == value`` (for example one municipality),
    with ``attrs["suppressed"]`` recounted on those rows, so the note under it is right."""
    check_columns(
        table, [column], "the table to select from", error=ParameterError,
        hint="Select on one of its columns.",
    )  # fmt: skip
    out = table.loc[table[column].astype(str) == str(value)].reset_index(drop=True)
    out.attrs = dict(table.attrs)
    if SUPPRESSED in out.columns:
        out.attrs["suppressed"] = int(out[SUPPRESSED].sum())
        out.attrs["suppressed_secondary"] = 0
    return out


def in_name_order(
    frame: pd.DataFrame, column: str, names: Mapping[str, str] | None
) -> pd.DataFrame:
    """The rows in the order of the keys of ``names`` (built from the registry: its order),
    unknown codes last; stable, so rows of one code keep their order."""
    if not names:
        return frame.reset_index(drop=True)
    rank = {k: i for i, k in enumerate(names)}
    key = frame[column].astype(str).map(lambda v: rank.get(v, len(rank))).to_numpy()
    return frame.iloc[np.argsort(key, kind="stable")].reset_index(drop=True)


def names_of(values: pd.Series, names: Mapping[str, str] | None) -> pd.Series:
    """``values`` as text, each replaced by its name in ``names`` where it has one."""
    text = values.astype(str)
    return text.map(lambda v: (names or {}).get(v, v)).astype(object)


def pct_interval(lower: pd.Series, upper: pd.Series) -> list[str]:
    """Printed intervals of shares: ``"61,2% – 66,0%"``, ``–`` where a bound is missing."""
    return [
        EMPTY if pd.isna(lo) or pd.isna(hi) else f"{fmt_pct(lo)} – {fmt_pct(hi)}"
        for lo, hi in zip(lower, upper, strict=True)
    ]


def score_interval(lower: pd.Series, upper: pd.Series, decimals: int = 1) -> list[str]:
    """Printed intervals of marks (1-10)."""
    return [fmt_ci(lo, hi, decimals) for lo, hi in zip(lower, upper, strict=True)]
