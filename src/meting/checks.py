"""Argument checks at the door of every public function, defined once.

Each check raises one of the :mod:`meting.errors` classes with a message that names the table
(``what``), the column and, for values, the first offending row, and says what to do. The error
class is the caller's: a user's estimate or cell table that is malformed is a
:class:`~meting.errors.SchemaError` (the default), a column missing from a survey design's data a
:class:`~meting.errors.DesignError`, a bad setting a :class:`~meting.errors.ParameterError`.

The rule for minimum cell sizes (``min_n``, ``min_cell_size``)
-------------------------------------------------------------
A minimum cell size is an integer of at least 1 (``True``/``False`` are refused). A cell with
fewer than ``min_n`` respondents is not tested, not ranked or not shown; ``min_n=1`` therefore
only leaves out cells without respondents, and ``min_n=0`` would mean the same, so it is refused
everywhere rather than accepted in one place and refused in another (``params/analysis.yaml``
requires ``min_cell_size >= 1`` too). Functions that document ``min_n=None`` as "no threshold"
(the tests of :mod:`meting.significance` and :mod:`meting.comparison`) pass ``allow_none=True``.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from numbers import Real
from typing import Final, Literal, overload

import numpy as np
import pandas as pd

from meting.errors import DesignError, MetingError, ParameterError, SchemaError

__all__ = [
    "ADJUSTMENTS",
    "check_adjust",
    "check_choice",
    "check_columns",
    "check_design_columns",
    "check_frame",
    "check_level",
    "check_min_n",
    "check_no_missing",
    "first_bad_row",
    "numeric_column",
]

#: The multiple-testing adjustments :mod:`meting.significance` knows.
ADJUSTMENTS: Final = ("holm", "bh", "none")

ErrorClass = type[MetingError]


def _label(value: object) -> object:
    """A numpy scalar as its Python value, so a message reads ``row 3``, not ``np.int64(3)``."""
    return value.item() if isinstance(value, np.generic) else value


def first_bad_row(frame: pd.DataFrame, mask: np.ndarray | pd.Series) -> str:
    """``"row <label>"`` of the first row where ``mask`` is true (the index label, not position)."""
    position = int(np.flatnonzero(np.asarray(mask, dtype=bool))[0])
    return f"row {_label(frame.index[position])!r}"


def check_frame(table: object, what: str, *, error: ErrorClass = SchemaError) -> pd.DataFrame:
    """Return ``table`` if it is a :class:`pandas.DataFrame`, else raise ``error``."""
    if not isinstance(table, pd.DataFrame):
        raise error(f"{what} must be a pandas DataFrame; got {type(table).__name__}.")
    return table


def check_columns(
    table: pd.DataFrame,
    required: Sequence[str],
    what: str,
    *,
    error: ErrorClass = SchemaError,
    hint: str = "Pass the table as meting makes it, or rename its columns.",
) -> None:
    """Raise ``error`` if the table ``what`` is no DataFrame or lacks any of ``required``.

    The message names the table, the columns asked for, the columns it has and the missing ones.
    """
    check_frame(table, what, error=error)
    missing = [c for c in required if c not in table.columns]
    if missing:
        raise error(
            f"{what} must have the columns {list(required)}; got {list(table.columns)} "
            f"(missing {missing}). {hint}"
        )


def check_design_columns(
    data: pd.DataFrame, columns: Sequence[str], role: str, *, error: ErrorClass = DesignError
) -> None:
    """Raise ``error`` naming the first of ``columns`` (playing ``role``) missing from ``data``,
    the data of a survey design."""
    missing = [c for c in columns if c not in data.columns]
    if missing:
        raise error(
            f"{role} column {missing[0]!r} must exist in the data of the design; got columns "
            f"{sorted(map(str, data.columns))[:15]}. Check the spelling or load the column."
        )


def check_no_missing(
    frame: pd.DataFrame, column: str, what: str, *, error: ErrorClass = SchemaError
) -> None:
    """Raise ``error`` if ``column`` of ``frame`` has missing values (count and first row)."""
    missing = frame[column].isna().to_numpy()
    if missing.any():
        raise error(
            f"{what} column {column!r} must have no missing values; got {int(missing.sum())} "
            f"(first at {first_bad_row(frame, missing)}). Fill them or drop those rows."
        )


def numeric_column(
    frame: pd.DataFrame,
    column: str,
    what: str,
    *,
    coerce: bool = True,
    error: ErrorClass = SchemaError,
) -> np.ndarray:
    """``frame[column]`` as a float array, NaN where missing (nullable integers included).

    With ``coerce`` (user tables, which may come from a CSV) text that reads as a number is
    converted and the first value that does not is named with its row. Without it (the columns
    of a survey design, typed by :mod:`meting.loaders`) the column must already have a numeric or
    boolean dtype.
    """
    series = frame[column]
    if not coerce:
        if isinstance(series.dtype, pd.CategoricalDtype) or not (
            pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series)
        ):
            raise error(
                f"{what} column {column!r} must be numeric; got dtype {series.dtype}. Load the "
                "wave with meting.loaders so that scores and norms are integers."
            )
        return series.astype("float64").to_numpy(dtype=float, na_value=np.nan)
    try:
        converted = pd.to_numeric(series, errors="coerce")
    except TypeError:  # values pandas cannot even try (lists, dicts)
        converted = pd.Series(np.nan, index=series.index)
    bad = (converted.isna() & series.notna()).to_numpy()
    if bad.any():
        position = int(np.flatnonzero(bad)[0])
        raise error(
            f"{what} column {column!r} must be numeric; got {_label(series.iloc[position])!r} in "
            f"{first_bad_row(frame, bad)}. Fix or drop that row (decimal point, not comma)."
        )
    return converted.astype("float64").to_numpy(dtype=float, na_value=np.nan)


def check_level(level: object) -> float:
    """Return ``level`` as a float if it is a confidence level strictly between 0 and 1."""
    if isinstance(level, bool) or not isinstance(level, Real) or not 0.0 < float(level) < 1.0:
        raise ParameterError(
            f"level must be a number strictly between 0 and 1; got {level!r}. Use e.g. 0.95."
        )
    return float(level)


def check_choice(value: object, allowed: Collection[str], name: str, hint: str = "") -> str:
    """Return ``value`` if it is one of ``allowed``, else raise :class:`ParameterError`."""
    if not isinstance(value, str) or value not in allowed:
        raise ParameterError(
            f"{name} must be one of {sorted(allowed)}; got {value!r}. {hint}".rstrip()
        )
    return value


def check_adjust(adjust: object) -> str:
    """Return ``adjust`` if it names a multiple-testing adjustment of :data:`ADJUSTMENTS`."""
    return check_choice(
        adjust,
        ADJUSTMENTS,
        "adjust",
        "Use 'holm' (family-wise error) or 'bh' (false discovery rate).",
    )


@overload
def check_min_n(
    min_n: object,
    name: str = ...,
    *,
    allow_none: Literal[False] = ...,
    error: ErrorClass = ...,
) -> int: ...


@overload
def check_min_n(
    min_n: object,
    name: str = ...,
    *,
    allow_none: bool,
    error: ErrorClass = ...,
) -> int | None: ...


def check_min_n(
    min_n: object,
    name: str = "min_n",
    *,
    allow_none: bool = False,
    error: ErrorClass = ParameterError,
) -> int | None:
    """Return ``min_n`` as an int if it is an integer of at least 1 (see the module docstring);
    None passes only with ``allow_none``."""
    if min_n is None and allow_none:
        return None
    if isinstance(min_n, bool) or not isinstance(min_n, int | np.integer) or min_n < 1:
        raise error(
            f"{name} must be a positive integer (at least 1); got {min_n!r}. "
            "Use settings.min_cell_size (default 30)."
        )
    return int(min_n)
