"""Ratios of two weighted totals (``svyratio`` / ``svyby(..., denominator=, svyratio)``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from meting.checks import check_level
from meting.estimators.domains import domain_df, domain_se, t_quantile
from meting.estimators.inputs import as_list, domains, numeric
from meting.results import result_table

if TYPE_CHECKING:
    from meting.design import SurveyDesign


def ratio(
    design: SurveyDesign,
    numerator: str,
    denominator: str,
    by: str | Sequence[str] | None = None,
    na_rm: bool = True,
    level: float = 0.95,
) -> pd.DataFrame:
    """:meth:`SurveyDesign.ratio <meting.design.SurveyDesign.ratio>` (documented there)."""
    level = check_level(level)
    y = numeric(design, numerator)
    x = numeric(design, denominator)
    dom, keys = domains(design, by)
    n_dom = len(keys)
    missing = np.isnan(y) | np.isnan(x)
    valid = (dom >= 0) & ~missing
    dv = np.where(valid, dom, -1)
    d = np.where(valid, dom, 0)
    wv = np.where(valid, design.w, 0.0)
    yv, xv = np.where(valid, y, 0.0), np.where(valid, x, 0.0)
    ty = np.bincount(d, weights=wv * yv, minlength=n_dom)
    tx = np.bincount(d, weights=wv * xv, minlength=n_dom)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = ty / tx
        vals = np.where(valid, wv * (yv - r[d] * xv) / tx[d], 0.0)
    se = domain_se(design, vals, dv, keys if as_list(by) else keys.iloc[:, 0:0])
    if not na_rm and missing.any():
        bad = np.bincount(dom[(dom >= 0) & missing], minlength=n_dom) > 0
        r, se = np.where(bad, np.nan, r), np.where(bad, np.nan, se)
    df = domain_df(design, by, valid, dom, n_dom)
    q = t_quantile(level, df)
    groups = keys if as_list(by) else keys.iloc[:, 0:0]
    return result_table(
        groups,
        variable=f"{numerator}/{denominator}",
        estimate=r,
        se=se,
        lower=r - q * se,
        upper=r + q * se,
        level=level,
        df=df,
        n=np.bincount(d, weights=valid.astype(float), minlength=n_dom).astype(np.int64),
        method="taylor",
    )
