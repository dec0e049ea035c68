"""Disclosure control for report tables: suppress cells below the minimum size, never show ids.

A cell (a row of an estimate table) based on fewer than ``min_n`` respondents is *suppressed*: its
values are set to missing, which the formatting prints as ``–``, and a note says why. With
``secondary_by`` a second cell is suppressed in every group that would otherwise hold exactly one
suppressed cell, so that the hidden value cannot be derived from a published group total and the
other cells (the "secondary suppression" CBS applies).

The minimum size comes from the parameters (``settings.min_cell_size``, default 30).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from meting.checks import check_min_n
from meting.columns import RESPONDENT_ID
from meting.errors import ReportError
from meting.privacy_rules import DEFAULT_MIN_CELL_SIZE, SUPPRESSED

__all__ = [
    "DEFAULT_MIN_CELL_SIZE",
    "SUPPRESSED",
    "assert_no_identifiers",
    "suppress_small_cells",
    "suppression_note",
    "suppression_reasons",
]


def assert_no_identifiers(df: pd.DataFrame, *, where: str = "a report table") -> None:
    """Raise if ``df`` carries respondent identifiers (as a column or in the index).

    Raises
    ------
    ReportError
        Naming the table and the offending column.
    """
    names = [str(c) for c in df.columns] + [str(n) for n in df.index.names if n is not None]
    if RESPONDENT_ID in names:
        raise ReportError(
            f"{where} must not contain {RESPONDENT_ID!r}; got columns {names}. "
            "Aggregate first; respondent identifiers never reach a report."
        )


def suppress_small_cells(
    table: pd.DataFrame,
    min_n: int = DEFAULT_MIN_CELL_SIZE,
    *,
    n_col: str = "n",
    value_cols: Sequence[str] | None = None,
    secondary_by: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Blank the values of cells based on fewer than ``min_n`` respondents.

    Parameters
    ----------
    table
        An estimate table with a count column ``n_col``.
    min_n
        The minimum number of respondents for a published value (``settings.min_cell_size``).
    n_col
        The count column. It stays in the result (the size of a cell discloses nobody's answer),
        so a reader can see why a cell is empty.
    value_cols
        The columns to blank; by default every numeric column except ``n_col`` and ``df``.
    secondary_by
        Group columns for secondary suppression: in each group with exactly one primary
        suppressed cell, the smallest other cell is suppressed too.

    Returns
    -------
    pandas.DataFrame
        A copy with the values blanked (NaN, printed as ``–``), a boolean column
        ``onderdrukt``, and ``attrs["suppressed"]`` (number of suppressed cells) and
        ``attrs["min_n"]``.

    Raises
    ------
    ReportError
        If ``min_n`` is not a positive integer or a named column is missing.
    """
    min_n = check_min_n(min_n, "the minimum cell size", error=ReportError)
    assert_no_identifiers(table)
    missing = [c for c in [n_col, *(value_cols or []), *(secondary_by or [])] if c not in table]
    if missing:
        raise ReportError(
            f"columns to suppress on must exist in the table; got missing {missing}, "
            f"columns are {[str(c) for c in table.columns]}."
        )
    if value_cols is None:
        value_cols = [
            c
            for c in table.columns
            if c not in (n_col, "df", "level")
            and pd.api.types.is_numeric_dtype(table[c].dtype)
            and not pd.api.types.is_bool_dtype(table[c].dtype)
        ]
    n = pd.to_numeric(table[n_col], errors="coerce")
    primary = (n < min_n) | n.isna()
    mask = primary.copy()
    if secondary_by:
        work = pd.DataFrame({"n": n.fillna(0.0), "primary": primary}, index=table.index)
        keys = [table[c] for c in secondary_by]
        count = work.groupby(keys, dropna=False)["primary"].transform("sum")
        # smallest unsuppressed cell per group (ties broken by position)
        candidate_n = work["n"].where(~work["primary"], np.inf)
        smallest = candidate_n.groupby(keys, dropna=False).transform("min")
        is_smallest = (candidate_n == smallest) & np.isfinite(candidate_n)
        first_smallest = is_smallest & ~is_smallest.groupby(keys, dropna=False).cumsum().gt(1)
        mask = primary | ((count == 1) & first_smallest)
    out = table.copy()
    for col in value_cols:
        out[col] = out[col].astype("float64").mask(mask.to_numpy())
    out[SUPPRESSED] = mask.to_numpy(dtype=bool)
    out.attrs = dict(table.attrs)
    out.attrs["suppressed"] = int(mask.sum())
    out.attrs["suppressed_secondary"] = int((mask & ~primary).sum())
    out.attrs["min_n"] = int(min_n)
    return out


def suppression_note(table_or_count: pd.DataFrame | int, min_n: int | None = None) -> str:
    """The Dutch note under a table or figure with suppressed cells ('' when none is).

    Parameters
    ----------
    table_or_count
        A table from :func:`suppress_small_cells`, or a number of suppressed cells.
    min_n
        The minimum cell size (taken from the table's attrs when a table is given).
    """
    secondary = 0
    if isinstance(table_or_count, pd.DataFrame):
        count = int(table_or_count.attrs.get("suppressed", 0))
        secondary = int(table_or_count.attrs.get("suppressed_secondary", 0))
        min_n = int(table_or_count.attrs.get("min_n", min_n or DEFAULT_MIN_CELL_SIZE))
    else:
        count = int(table_or_count)
        min_n = int(min_n or DEFAULT_MIN_CELL_SIZE)
    primary = count - secondary
    if count == 0:
        return ""
    cells = "cel" if primary == 1 else "cellen"
    note = f"{primary} {cells} met minder dan {min_n} respondenten niet getoond (–)"
    if secondary:
        extra = "cel" if secondary == 1 else "cellen"
        note += (
            f", en {secondary} {extra} extra, zodat een weggelaten waarde niet uit de overige "
            "cellen is af te leiden"
        )
    return note + "."


def suppression_reasons(table: pd.DataFrame, n_col: str = "n") -> pd.Series:
    """Why each row of a :func:`suppress_small_cells` table is blank (``""`` where it is not), for
    the ``onderdrukt_reden`` column of the exported tables.

    A row with fewer than ``attrs["min_n"]`` respondents reads "minder dan 30 respondenten"; a
    row suppressed only so that a hidden value cannot be derived reads "af te leiden uit de
    andere cellen".
    """
    if SUPPRESSED not in table.columns:
        return pd.Series("", index=table.index, dtype=object)
    min_n = int(table.attrs.get("min_n", DEFAULT_MIN_CELL_SIZE))
    flagged = table[SUPPRESSED].fillna(False).astype(bool)
    if n_col in table.columns:
        n = pd.to_numeric(table[n_col], errors="coerce")
        primary = flagged & ((n < min_n) | n.isna())
    else:
        primary = flagged
    reasons = np.where(
        primary,
        f"minder dan {min_n} respondenten",
        np.where(flagged, "af te leiden uit de andere cellen", ""),
    )
    return pd.Series(reasons, index=table.index, dtype=object)
