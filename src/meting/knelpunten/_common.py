"""Small helpers of the knelpunten analyses (not public); the argument checks are in
:mod:`meting.checks`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np
import pandas as pd
from scipy import stats

from meting.checks import check_design_columns, numeric_column
from meting.design import SurveyDesign
from meting.errors import DesignError


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


def numeric(data: pd.DataFrame, col: str) -> np.ndarray:
    """A numeric design column as float with NaN for missing (nullable Int8 included); see
    :func:`meting.checks.numeric_column` (no text is converted)."""
    return numeric_column(data, col, "design data", coerce=False, error=DesignError)


def with_columns(design: SurveyDesign, columns: dict[str, np.ndarray]) -> SurveyDesign:
    """The same design (structure, weights, calibration) with extra derived columns."""
    return replace(design, data=design.data.assign(**columns))


def domain_codes(design: SurveyDesign, by: Sequence[str]) -> tuple[np.ndarray, pd.DataFrame]:
    """Domain code per row (-1 where a by-value is missing) and the domain keys (sorted)."""
    if not by:
        return np.zeros(design.n, dtype=np.int64), pd.DataFrame(index=[0])
    check_design_columns(design.data, by, "by")
    grouped = design.data.groupby(list(by), sort=True, dropna=True, observed=True)
    codes = grouped.ngroup().to_numpy().astype(np.int64)
    keys = grouped.size().reset_index()[list(by)]
    return codes, keys


def t_quantile(level: float, df: float | np.ndarray) -> np.ndarray:
    """Two-sided t quantile (NaN where df <= 0)."""
    df = np.asarray(df, dtype=float)
    with np.errstate(invalid="ignore"):
        return np.where(df > 0, stats.t.ppf(0.5 + level / 2, np.maximum(df, 1e-9)), np.nan)
