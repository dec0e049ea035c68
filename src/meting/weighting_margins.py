"""Margins and population targets of weighting: the codes of a (joint) margin's cells in the
design data and its targets checked against them (every target level observed, none missing,
finite non-negative counts), one set of checks for :mod:`meting.weighting`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd

from meting.design import SurveyDesign
from meting.errors import DesignError
from meting.replicate import ReplicateDesign

MarginKey = str | tuple[str, ...]
Targets = Mapping | pd.Series


# ----------------------------------------------------------------------------------------------
# target validation
# ----------------------------------------------------------------------------------------------
def group_codes(data: pd.DataFrame, cols: list[str]) -> tuple[np.ndarray, list[tuple]]:
    """Codes of the combinations of ``cols`` (sorted), and the combinations as tuples.

    Vectorised: each column is factorised once and the codes are combined arithmetically, so no
    per-row tuples are built (a MultiIndex would materialise a million of them).
    """
    per_col = [pd.factorize(data[c], sort=True) for c in cols]
    codes, cells = _combine([c for c, _ in per_col], [len(u) for _, u in per_col], len(data))
    return codes, _level_tuples([u for _, u in per_col], cells)


def _combine(per_col: list[np.ndarray], sizes: list[int], n: int) -> tuple[np.ndarray, np.ndarray]:
    """Compact codes of the combinations of factorised columns (codes and number of levels of
    each), and the mixed-radix number of every combination present (sorted)."""
    combined = np.zeros(n, dtype=np.int64)
    for codes, size in zip(per_col, sizes, strict=True):
        combined = combined * max(size, 1) + codes
    span = int(combined.max()) + 1 if combined.size else 0
    if span <= 4 * n + 1024:  # compact through a lookup table instead of sorting
        present = np.bincount(combined, minlength=span) > 0
        uniq = np.flatnonzero(present)
        lookup = np.cumsum(present) - 1
        inverse = lookup[combined]
    else:
        uniq, inverse = np.unique(combined, return_inverse=True)
    return inverse.astype(np.int64), uniq


def _level_tuples(uniques: list, cells: np.ndarray) -> list[tuple]:
    """The combinations ``cells`` (mixed-radix numbers over ``uniques``) as tuples of levels."""
    rest = cells.copy()
    parts = []
    for levels in reversed(uniques):
        size = max(len(levels), 1)
        parts.append(np.asarray(levels, dtype=object)[rest % size])
        rest = rest // size
    parts.reverse()
    combos = list(zip(*parts, strict=True)) if parts else []
    return [tuple(x.item() if hasattr(x, "item") else x for x in lv) for lv in combos]


_CODES_CACHE = "_meting_group_codes"
_COLUMN_CACHE = "_meting_column_codes"


@dataclass(frozen=True, eq=False)
class _Factorised:
    """Codes of a design column or of a combination of columns, with what rakes reuse; the
    levels as tuples are formed only when asked for (a joint table has thousands of cells)."""

    codes: np.ndarray
    size: int
    uniques: tuple = ()
    cells: np.ndarray | None = None
    n_missing: int = 0

    @cached_property
    def levels(self) -> list[tuple]:
        """The combination of levels of every code."""
        cells = np.arange(self.size) if self.cells is None else self.cells
        return _level_tuples(list(self.uniques), cells)

    @cached_property
    def first(self) -> np.ndarray:
        """Index of the first row of every code."""
        return first_rows(self.codes, self.size)

    @cached_property
    def counts(self) -> np.ndarray:
        """Rows per code (float)."""
        return np.bincount(self.codes, minlength=self.size).astype(float)


def _column_codes(design: SurveyDesign | ReplicateDesign, col: str) -> _Factorised:
    """``pd.factorize(column, sort=True)`` of one design column, done once per design."""
    cache: dict[str, _Factorised] = design.__dict__.setdefault(_COLUMN_CACHE, {})
    if col not in cache:
        codes, uniques = pd.factorize(design.data[col], sort=True)
        codes.setflags(write=False)
        missing = int(np.count_nonzero(codes < 0))
        cache[col] = _Factorised(codes, len(uniques), (uniques,), n_missing=missing)
    return cache[col]


def column_missing(design: SurveyDesign | ReplicateDesign, col: str) -> int:
    """Number of missing values of a design column (code -1 of its cached factorisation)."""
    return _column_codes(design, col).n_missing


def _group(design: SurveyDesign | ReplicateDesign, cols: list[str]) -> _Factorised:
    cache: dict[tuple[str, ...], _Factorised] = design.__dict__.setdefault(_CODES_CACHE, {})
    key = tuple(cols)
    if key not in cache:
        per_col = [_column_codes(design, c) for c in cols]
        if len(per_col) == 1 and not per_col[0].n_missing:  # codes of a column: compact already
            return per_col[0]
        codes, cells = _combine([f.codes for f in per_col], [f.size for f in per_col], design.n)
        codes.setflags(write=False)
        uniques = tuple(f.uniques[0] for f in per_col)
        cache[key] = _Factorised(codes, cells.size, uniques, cells)
    return cache[key]


def design_group_codes(
    design: SurveyDesign | ReplicateDesign, cols: list[str]
) -> tuple[np.ndarray, list[tuple]]:
    """:func:`group_codes` of the design's data, factorised once per design and column list.

    A design is frozen and never modifies its data, so the codes of its margin columns (each
    column factorised once, whatever margins it appears in) and of their combinations are kept
    on the design (read-only) and reused by every later rake, post-stratification or
    calibration of it.
    """
    found = _group(design, cols)
    return found.codes, list(found.levels)


def design_joint_cells(
    design: SurveyDesign | ReplicateDesign, cols: list[str]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Joint cells of ``cols``: the code of every row, the first row and the rows of every
    cell (cached on the design like :func:`design_group_codes`)."""
    found = _group(design, cols)
    return found.codes, found.first, found.counts


def first_rows(codes: np.ndarray, size: int) -> np.ndarray:
    """Index of the first row of every code ``0 .. size - 1`` (-1 where a code has no row)."""
    first = np.full(size, -1, dtype=np.int64)
    first[codes[::-1]] = np.arange(codes.size)[::-1]
    return first


def key_name(key: MarginKey) -> str:
    return key if isinstance(key, str) else " x ".join(key)


def margin_cells(
    design: SurveyDesign | ReplicateDesign,
    key: MarginKey,
    target: Targets,
    partial: bool | None = None,
) -> tuple[np.ndarray, list, np.ndarray]:
    """Cell code of every row for one margin, the levels kept, and their targets.

    Raises DesignError for negative or non-finite targets, sample categories without a
    target, and target categories (with a positive total) absent from the sample unless
    ``partial`` is True (None: partial post-stratification is not offered by the caller).
    """
    cols = [key] if isinstance(key, str) else list(key)
    name = key_name(key)
    for c in cols:
        if c not in design.data.columns:
            raise DesignError(
                f"margin column {c!r} must be a column of the design data; got columns "
                f"{sorted(map(str, design.data.columns))[:12]}. Check the spelling."
            )
        n_missing = column_missing(design, c)
        if n_missing:
            raise DesignError(
                f"margin column {c!r} must have no missing values; got "
                f"{n_missing}. Impute or give missing its own category."
            )
    if isinstance(target, pd.Series):
        target = dict(zip(target.index.tolist(), target.to_numpy(), strict=True))
    if not isinstance(target, Mapping) or not target:
        raise DesignError(
            f"targets of margin {name!r} must be a non-empty mapping level -> population count; "
            f"got {type(target).__name__}. Give e.g. {{'man': 5000, 'vrouw': 5100}}."
        )
    tgt = {
        (k if len(cols) > 1 else (k[0] if isinstance(k, tuple) and len(k) == 1 else k)): v
        for k, v in target.items()
    }
    values = np.array([float(v) for v in tgt.values()])
    if np.any(~np.isfinite(values)) or np.any(values < 0):
        bad = [k for k, v in tgt.items() if not np.isfinite(float(v)) or float(v) < 0]
        raise DesignError(
            f"target of margin {name!r} must be a finite count >= 0; got "
            f"{bad[0]!r}: {tgt[bad[0]]!r}. Correct the population table."
        )
    codes, uniq_list = design_group_codes(design, cols)
    if len(cols) == 1:
        uniq_list = [lv[0] for lv in uniq_list]
    missing = [lv for lv in uniq_list if lv not in tgt or float(tgt[lv]) == 0]
    if missing:
        raise DesignError(
            f"every category of margin {name!r} in the sample must have a positive target; got "
            f"{len(missing)} without one: {missing[:5]}. Add them to the targets or recode them."
        )
    present = set(uniq_list)
    absent = [k for k, v in tgt.items() if k not in present and float(v) > 0]
    if absent and not partial:
        raise DesignError(
            f"every target category of margin {name!r} must occur in the sample; got "
            f"{len(absent)} absent: {absent[:5]}. Collapse them with a neighbouring category"
            + (
                ", or pass partial=True to leave them out (R's postStratify(partial = TRUE))."
                if partial is not None
                else "."
            )
        )
    targets = np.array([float(tgt[lv]) for lv in uniq_list])
    return np.asarray(codes, dtype=np.int64), uniq_list, targets


def check_same_total(margins: list[tuple[str, np.ndarray]], rtol: float = 1e-6) -> None:
    totals = [(name, t.sum()) for name, t in margins]
    ref_name, ref = totals[0]
    for name, tot in totals[1:]:
        if abs(tot - ref) > rtol * max(abs(ref), 1.0):
            raise DesignError(
                f"all margins must add up to the same population total; got {ref:g} for "
                f"{ref_name!r} and {tot:g} for {name!r}. Take every margin from one population "
                "table (same date and area division)."
            )
