"""The design's data as estimator input: columns checked by name, numeric columns, the
indicator matrix of a categorical column, and the codes and keys of ``by=`` domains."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np
import pandas as pd

from meting.errors import DesignError


class DesignData(Protocol):
    """What these helpers read of a design (a ``SurveyDesign`` or a ``ReplicateDesign``)."""

    @property
    def data(self) -> pd.DataFrame: ...

    @property
    def n(self) -> int: ...


def as_list(cols: str | Sequence[str] | None) -> list[str]:
    if cols is None:
        return []
    if isinstance(cols, str):
        return [cols]
    return list(cols)


def domain_slices(dom: np.ndarray, n_dom: int) -> list[np.ndarray]:
    """Row numbers of each domain (in row order), from one stable sort (``dom`` -1: none)."""
    order = np.argsort(dom, kind="stable")
    bounds = np.searchsorted(dom[order], np.arange(n_dom + 1))
    return [order[bounds[g] : bounds[g + 1]] for g in range(n_dom)]


def column(design: DesignData, var: str) -> pd.Series:
    if var not in design.data.columns:
        raise DesignError(
            f"variable {var!r} must be a column of the design data; got columns "
            f"{sorted(map(str, design.data.columns))[:12]}. Check the spelling."
        )
    return design.data[var]


def numeric(design: DesignData, var: str) -> np.ndarray:
    col = column(design, var)
    if isinstance(col.dtype, pd.CategoricalDtype) or not (
        pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col)
    ):
        raise DesignError(
            f"variable {var!r} must be numeric for a mean or total; got dtype {col.dtype}. "
            "Use proportion() for a categorical variable."
        )
    return col.astype("float64").to_numpy(dtype=float, na_value=np.nan)


def one_hot(design: DesignData, var: str) -> tuple[np.ndarray, np.ndarray]:
    col = column(design, var)
    if isinstance(col.dtype, pd.CategoricalDtype):
        levels = np.asarray(col.cat.categories)
        codes = col.cat.codes.to_numpy()
    else:
        codes, uniques = pd.factorize(col, sort=True)
        levels = np.asarray(uniques)
    y = np.zeros((design.n, levels.size))
    ok = codes >= 0
    y[np.flatnonzero(ok), codes[ok]] = 1.0
    y[~ok] = np.nan
    return y, levels


def domains(design: DesignData, by: str | Sequence[str] | None) -> tuple[np.ndarray, pd.DataFrame]:
    cols = as_list(by)
    if not cols:
        return np.zeros(design.n, dtype=np.int64), pd.DataFrame(index=[0])
    for c in cols:
        column(design, c)
    grouped = design.data.groupby(cols, sort=True, dropna=True, observed=True)
    codes = grouped.ngroup().fillna(-1).to_numpy().astype(np.int64)
    keys = grouped.size().reset_index()[cols]
    return codes, keys
