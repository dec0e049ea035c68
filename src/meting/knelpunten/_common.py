"""Shared checks and small helpers of the knelpunten analyses (not public)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np
import pandas as pd
from scipy import stats

from meting.design import SurveyDesign
from meting.errors import DesignError, ParameterError


def as_list(cols: str | Sequence[str] | None) -> list[str]:
    """A column argument as a list (None -> [])."""
    if cols is None:
        return []
    if isinstance(cols, str):
        return [cols]
    return list(cols)


def check_design(design: object) -> SurveyDesign:
    """Raise unless ``design`` is a :class:`SurveyDesign`."""
    if not isinstance(design, SurveyDesign):
        raise DesignError(
            f"design must be a meting.design.SurveyDesign; got {type(design).__name__}. "
            "Declare the design with SurveyDesign(data, weights=...) first."
        )
    return design


def check_columns(data: pd.DataFrame, columns: Sequence[str], what: str) -> None:
    """Raise DesignError naming the first column of ``columns`` missing from ``data``."""
    missing = [c for c in columns if c not in data.columns]
    if missing:
        raise DesignError(
            f"{what} column {missing[0]!r} must exist in the design data; got columns "
            f"{sorted(map(str, data.columns))[:15]}. Check the spelling or load the column."
        )


def check_level(level: float) -> float:
    """Raise unless 0 < level < 1."""
    if not 0 < float(level) < 1:
        raise ParameterError(
            f"level must be a confidence level between 0 and 1; got {level!r}. Use e.g. 0.95."
        )
    return float(level)


def check_min_n(min_n: int, name: str = "min_n") -> int:
    """Raise unless ``min_n`` is a positive integer."""
    if isinstance(min_n, bool) or not isinstance(min_n, int | np.integer) or min_n < 1:
        raise ParameterError(
            f"{name} must be a positive integer; got {min_n!r}. Use settings.min_cell_size."
        )
    return int(min_n)


def numeric(data: pd.DataFrame, col: str) -> np.ndarray:
    """A numeric column as float with NaN for missing (nullable Int8 included)."""
    series = data[col]
    if not (pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series)):
        raise DesignError(
            f"column {col!r} must be numeric; got dtype {series.dtype}. Load the wave with "
            "meting.loaders so that scores and norms are integers."
        )
    return series.astype("float64").to_numpy(dtype=float, na_value=np.nan)


def with_columns(design: SurveyDesign, columns: dict[str, np.ndarray]) -> SurveyDesign:
    """The same design (structure, weights, calibration) with extra derived columns."""
    return replace(design, data=design.data.assign(**columns))


def domain_codes(design: SurveyDesign, by: Sequence[str]) -> tuple[np.ndarray, pd.DataFrame]:
    """Domain code per row (-1 where a by-value is missing) and the domain keys (sorted)."""
    if not by:
        return np.zeros(design.n, dtype=np.int64), pd.DataFrame(index=[0])
    check_columns(design.data, by, "by")
    grouped = design.data.groupby(list(by), sort=True, dropna=True, observed=True)
    codes = grouped.ngroup().to_numpy().astype(np.int64)
    keys = grouped.size().reset_index()[list(by)]
    return codes, keys


def t_quantile(level: float, df: float | np.ndarray) -> np.ndarray:
    """Two-sided t quantile (NaN where df <= 0)."""
    df = np.asarray(df, dtype=float)
    with np.errstate(invalid="ignore"):
        return np.where(df > 0, stats.t.ppf(0.5 + level / 2, np.maximum(df, 1e-9)), np.nan)
