"""Input checks and the data preparation of the small-area models.

Everything that turns a user's table into arrays for :mod:`meting.sae.model` lives here, so that the
model builder only sees validated, integer-coded data. Also the two helpers users call themselves:
:func:`sufficient_statistics` (respondents -> per-cell n, mean, within-cell sum of squares) and
:func:`smooth_variances` (stable sampling variances for small cells).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd

# the checks keep their private names here, as meting.sae.api imports them from this module
from meting.checks import check_columns as _require_columns
from meting.checks import check_no_missing
from meting.checks import first_bad_row as _first_bad_row
from meting.checks import numeric_column as _numeric
from meting.errors import SchemaError


@dataclass(frozen=True)
class CellIndex:
    """Integer coding of the model cells (unique combinations of the group columns).

    Attributes
    ----------
    groups
        The group columns, in model order.
    table
        One row per cell: the group columns (as strings), in the order of the ``cell`` dimension.
    levels
        Per group, the sorted level labels (the coordinate of that group's effects).
    codes
        Per group, the level code of each cell (length = number of cells).
    """

    groups: tuple[str, ...]
    table: pd.DataFrame
    levels: dict[str, np.ndarray]
    codes: dict[str, np.ndarray]

    @property
    def n_cells(self) -> int:
        return len(self.table)

    @cached_property
    def labels(self) -> np.ndarray:
        """One label per cell, the group values joined by ``|`` (the ``cell`` coordinate);
        computed once (column-wise: a row-wise join takes seconds at national scale)."""
        joined = self.table.iloc[:, 0].astype(str)
        for column in self.table.columns[1:]:
            joined = joined + "|" + self.table[column].astype(str)
        return joined.to_numpy(dtype=object).astype(str)


def check_groups(frame: pd.DataFrame, groups: list[str], what: str) -> None:
    """Groups must be a non-empty list of present columns without missing values."""
    if isinstance(groups, str) or not groups:
        raise SchemaError(
            f"groups must be a non-empty list of column names; got {groups!r}. "
            "Pass e.g. groups=['life_event', 'municipality']."
        )
    _require_columns(frame, list(groups), what)
    for g in groups:
        check_no_missing(frame, g, what)


def build_index(frame: pd.DataFrame, groups: list[str], what: str) -> tuple[CellIndex, np.ndarray]:
    """Code the unique group combinations of ``frame``; return the index and each row's cell.

    Rows of ``frame`` map to cells with the returned integer array (duplicates share a cell).
    """
    check_groups(frame, groups, what)
    keys = frame[list(groups)].astype(str)
    codes: dict[str, np.ndarray] = {}
    levels: dict[str, np.ndarray] = {}
    for g in groups:
        cat = pd.Categorical(keys[g])
        levels[g] = np.asarray(cat.categories, dtype=object).astype(str)
        codes[g] = cat.codes.astype(np.int64)
    # one integer per row for its group combination
    radix = np.ones(len(groups), dtype=np.int64)
    for i in range(len(groups) - 2, -1, -1):
        radix[i] = radix[i + 1] * len(levels[groups[i + 1]])
    row_key = sum(codes[g] * radix[i] for i, g in enumerate(groups))
    _, row_cell = np.unique(row_key, return_inverse=True)
    first = np.unique(row_key, return_index=True)[1]
    table = keys.iloc[first].reset_index(drop=True)
    cell_codes = {g: codes[g][first] for g in groups}
    return CellIndex(tuple(groups), table, levels, cell_codes), row_cell.astype(np.int64)


def covariate_matrix(
    frame: pd.DataFrame, covariates: list[str], what: str
) -> tuple[np.ndarray, list[str]]:
    """Design matrix of cell-level covariates (numeric centred; categorical dummy-coded)."""
    if not covariates:
        return np.zeros((len(frame), 0)), []
    _require_columns(frame, list(covariates), what)
    blocks: list[np.ndarray] = []
    names: list[str] = []
    for cov in covariates:
        col = frame[cov]
        missing = col.isna().to_numpy()
        if missing.any():
            raise SchemaError(
                f"{what} covariate {cov!r} must have no missing values; got {int(missing.sum())} "
                f"missing (first at {_first_bad_row(frame, missing)}). Impute or drop it."
            )
        if pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col):
            x = col.to_numpy(dtype=float)
            blocks.append((x - x.mean())[:, None])
            names.append(cov)
        else:
            cat = pd.Categorical(col.astype(str))
            dummies = np.eye(len(cat.categories))[cat.codes][:, 1:]
            blocks.append(dummies)
            names.extend(f"{cov}[{level}]" for level in cat.categories[1:])
    return np.hstack(blocks), names


def sufficient_statistics(respondents: pd.DataFrame, score: str, groups: list[str]) -> pd.DataFrame:
    """Per-cell sufficient statistics of a score for the unit-level model.

    Parameters
    ----------
    respondents
        One row per respondent.
    score
        The score column (e.g. ``"score_chain"``); respondents with a missing score are left out.
    groups
        Columns defining the cells (e.g. ``["life_event", "municipality", "age_band", "sex"]``).

    Returns
    -------
    pandas.DataFrame
        The group columns, then ``n`` (respondents with a score), ``mean`` and ``sumsq``
        (the within-cell sum of squared deviations from the cell mean, sum (y - mean)^2).
        No respondent-level data is kept.
    """
    check_groups(respondents, groups, "respondents")
    _require_columns(respondents, [score], "respondents")
    y = _numeric(respondents, score, "respondents")
    keep = ~np.isnan(y)
    frame = respondents.loc[keep, list(groups)].astype(str).assign(_y=y[keep], _y2=y[keep] ** 2)
    agg = frame.groupby(list(groups), observed=True, sort=True).agg(
        n=("_y", "size"), total=("_y", "sum"), total2=("_y2", "sum")
    )
    agg = agg.reset_index()
    n = agg["n"].to_numpy(dtype=float)
    mean = agg["total"].to_numpy() / n
    # sum of squares around the mean; clip tiny negative rounding
    sumsq = np.maximum(agg["total2"].to_numpy() - n * mean**2, 0.0)
    return agg[list(groups)].assign(n=n.astype(np.int64), mean=mean, sumsq=sumsq)


def direct_from_statistics(stats: pd.DataFrame, groups: list[str]) -> pd.DataFrame:
    """Unweighted direct estimates per cell from sufficient statistics.

    Returns the group columns, ``estimate`` (cell mean), ``se`` (sqrt(s^2 / n), missing for n < 2),
    ``deff`` (1) and ``n``. Input for :func:`smooth_variances` and ``fit_area_level`` when no
    survey design is at hand (the benchmark and the calibration use it).
    """
    n = stats["n"].to_numpy(dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        s2 = np.where(n >= 2, stats["sumsq"].to_numpy(dtype=float) / (n - 1), np.nan)
        se = np.sqrt(s2 / n)
    return stats[list(groups)].assign(
        estimate=stats["mean"].to_numpy(dtype=float), se=se, deff=1.0, n=n.astype(np.int64)
    )


def smooth_variances(
    cells: pd.DataFrame,
    *,
    se: str = "se",
    n: str = "n",
    deff: str | None = "deff",
    pool_by: list[str] | None = None,
    out: str = "se_smoothed",
) -> pd.DataFrame:
    """Replace unstable per-cell sampling variances by pooled, smoothed ones.

    In a cell with a handful of respondents the design-based variance ``se_c**2`` is itself very
    noisy (with n = 2 its relative error is about 140 %), and the Fay-Herriot model treats it as
    known. The smoothed sampling variance of cell ``c`` is::

        v_c = s2_pool * deff_pool / n_c

    where ``s2_c = se_c**2 * n_c / deff_c`` is the within-cell element variance implied by the direct
    estimate, ``s2_pool = sum_c (n_c - 1) s2_c / sum_c (n_c - 1)`` pools it over the cells with
    ``n_c >= 2`` (within each ``pool_by`` group when given, e.g. per life event), and
    ``deff_pool`` is the ``(n_c - 1)``-weighted mean design effect of those cells (1 when ``deff``
    is None). Cells with ``n_c = 1`` (no variance of their own) get a usable variance this way;
    cells with ``n_c = 0`` get a missing one. This is the generalised-variance-function approach
    with a constant element variance, as used for Fay-Herriot inputs at statistics offices.

    Parameters
    ----------
    cells
        One row per cell with the direct estimate's ``se``, the number of respondents ``n`` and
        optionally the design effect ``deff``.
    se, n, deff
        Column names. ``deff=None`` assumes a design effect of 1.
    pool_by
        Columns within which the element variance is pooled; ``None`` pools over all cells.
    out
        Name of the new column with the smoothed standard error.

    Returns
    -------
    pandas.DataFrame
        A copy of ``cells`` with the column ``out`` added.
    """
    cols = [se, n] + ([deff] if deff else []) + list(pool_by or [])
    _require_columns(cells, cols, "cells")
    n_c = _numeric(cells, n, "cells")
    se_c = _numeric(cells, se, "cells")
    deff_c = _numeric(cells, deff, "cells") if deff else np.ones(len(cells))
    bad = (n_c < 0) | np.isnan(n_c)
    if bad.any():
        raise SchemaError(
            f"cells column {n!r} must be a count >= 0; got {n_c[bad][0]!r} at "
            f"{_first_bad_row(cells, bad)}. Fix the respondent counts."
        )
    usable = (n_c >= 2) & np.isfinite(se_c) & (se_c > 0) & np.isfinite(deff_c) & (deff_c > 0)
    if not usable.any():
        raise SchemaError(
            "cells must have at least one cell with n >= 2 and a positive se to pool; got none. "
            "Pool over more cells (pool_by=None) or supply standard errors."
        )
    with np.errstate(invalid="ignore", divide="ignore"):
        s2 = se_c**2 * n_c / deff_c
    wt = np.where(usable, n_c - 1, 0.0)
    key = (
        cells[list(pool_by)].astype(str).agg("|".join, axis=1).to_numpy()
        if pool_by
        else np.zeros(len(cells), dtype=np.int64)
    )
    codes, inverse = np.unique(key, return_inverse=True)
    w_sum = np.bincount(inverse, weights=wt, minlength=len(codes))
    # only usable cells enter (the others' s2 may be NaN: n = 0, or an se of 0)
    s2_sum = np.bincount(inverse, weights=wt * np.where(usable, s2, 0.0), minlength=len(codes))
    d_sum = np.bincount(inverse, weights=wt * np.where(usable, deff_c, 0.0), minlength=len(codes))
    if (w_sum == 0).any():
        empty = codes[np.flatnonzero(w_sum == 0)[0]]
        raise SchemaError(
            f"each pool_by group must hold a cell with n >= 2 and a positive se; got none in "
            f"{empty!r}. Use coarser pool_by groups."
        )
    s2_pool = (s2_sum / w_sum)[inverse]
    deff_pool = (d_sum / w_sum)[inverse]
    with np.errstate(invalid="ignore", divide="ignore"):
        smoothed = np.where(n_c >= 1, np.sqrt(s2_pool * deff_pool / n_c), np.nan)
    return cells.assign(**{out: smoothed})


def unit_rows_table(
    stats: pd.DataFrame,
    groups: list[str],
    n: str,
    mean: str,
    sumsq: str,
    population: pd.DataFrame | None,
    population_count: str,
) -> tuple[pd.DataFrame, list[str]]:
    """The rows of the unit-level model: stats (and population) merged, strata named."""
    _require_columns(stats, [*groups, n, mean, sumsq], "stats")
    if population is None:
        strata: list[str] = []
        rows = stats.copy()
        rows["_weight"] = 1.0
    else:
        _require_columns(population, [*groups, population_count], "population")
        strata = [c for c in population.columns if c not in (*groups, population_count)]
        _require_columns(stats, strata, "stats")
        keys = [*groups, *strata]
        for frame, what in ((population, "population"), (stats, "stats")):
            dup = frame.duplicated(keys, keep=False).to_numpy()
            if dup.any():
                raise SchemaError(
                    f"{what} must have one row per combination of {keys}; got {int(dup.sum())} "
                    f"duplicate rows (first at {_first_bad_row(frame, dup)}). Aggregate them."
                )
        pop = population[[*keys, population_count]].astype({k: str for k in keys})
        st = stats[[*keys, n, mean, sumsq]].astype({k: str for k in keys})
        rows = pop.merge(st, on=keys, how="outer", indicator=True)
        orphan = (rows["_merge"] == "right_only").to_numpy()
        if orphan.any():
            raise SchemaError(
                f"stats rows must all appear in population; got {int(orphan.sum())} missing, first "
                f"{rows.loc[orphan, keys].iloc[0].to_dict()}. Add them to the population table."
            )
        rows = rows.drop(columns="_merge")
        rows[n] = rows[n].fillna(0)
        rows["_weight"] = _numeric(rows, population_count, "population")
        bad = ~np.isfinite(rows["_weight"].to_numpy()) | (rows["_weight"].to_numpy() < 0)
        if bad.any():
            raise SchemaError(
                f"population column {population_count!r} must be a count >= 0; got "
                f"{rows.loc[bad, population_count].iloc[0]!r} for "
                f"{rows.loc[bad, keys].iloc[0].to_dict()}. Fix the population table."
            )
    counts = _numeric(rows, n, "stats")
    bad = ~np.isfinite(counts) | (counts < 0) | (counts != np.round(counts))
    if bad.any():
        raise SchemaError(
            f"stats column {n!r} must be a whole count >= 0; got {counts[bad][0]!r} at "
            f"{_first_bad_row(rows, bad)}. Fix the counts."
        )
    obs = counts > 0
    mean_v = _numeric(rows, mean, "stats")
    ss_v = _numeric(rows, sumsq, "stats")
    bad = obs & ~(np.isfinite(mean_v) & np.isfinite(ss_v) & (ss_v >= 0))
    if bad.any():
        raise SchemaError(
            f"stats columns {mean!r} and {sumsq!r} must be finite (sumsq >= 0) where {n!r} > 0; "
            f"got {int(bad.sum())} bad rows (first at {_first_bad_row(rows, bad)}). "
            "Recompute them with sufficient_statistics()."
        )
    rows = rows.assign(_n=counts, _mean=np.where(obs, mean_v, np.nan), _ss=np.where(obs, ss_v, 0.0))
    return rows, strata
