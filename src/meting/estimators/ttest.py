"""Design-based t-tests (``svyttest``): one sample against ``mu``, and two groups."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd
from scipy import stats

from meting.checks import check_level
from meting.design_structure import degf
from meting.errors import DesignError
from meting.estimators.inputs import column, numeric
from meting.results import result_table

if TYPE_CHECKING:
    from meting.design import SurveyDesign

Alternative = Literal["two-sided", "less", "greater"]


def ttest(
    design: SurveyDesign,
    var: str,
    mu: float = 0.0,
    alternative: Alternative = "two-sided",
    level: float = 0.95,
) -> pd.DataFrame:
    """:meth:`SurveyDesign.ttest <meting.design.SurveyDesign.ttest>` (documented there)."""
    table = design.mean(var, level=level)
    df = design.degf() - 1
    return add_test(table, mu, alternative, df, level)


def ttest_groups(design: SurveyDesign, var: str, group: str, level: float = 0.95) -> pd.DataFrame:
    """:meth:`SurveyDesign.ttest_groups <meting.design.SurveyDesign.ttest_groups>` (documented there)."""
    level = check_level(level)
    y = numeric(design, var)
    g = column(design, group)
    valid = ~np.isnan(y) & g.notna().to_numpy()
    levels = np.sort(pd.unique(g[valid]))
    if levels.size != 2:
        raise DesignError(
            f"group column {group!r} must have exactly two levels among rows with {var!r} "
            f"observed; got {levels.size}: {levels.tolist()[:10]}. Use mean(by=) for more."
        )
    w = design.w * valid
    sign = np.where(g.to_numpy() == levels[1], 1.0, -1.0)
    u = np.zeros(design.n)
    est = []
    for lev in levels:
        rows = valid & (g.to_numpy() == lev)
        wsum = w[rows].sum()
        m = np.sum(w[rows] * y[rows]) / wsum
        u[rows] = w[rows] * (y[rows] - m) / wsum
        est.append(m)
    u *= sign
    diff = est[1] - est[0]
    se = float(np.sqrt(design.variance(u[:, None])[0]))
    df = degf(design.structure, valid & (design.w != 0)) - 1  # type: ignore[arg-type]
    q = stats.t.ppf(0.5 + level / 2, df)
    table = result_table(
        None,
        variable=f"{var}: {group}={levels[1]} - {group}={levels[0]}",
        estimate=[diff],
        se=[se],
        lower=[diff - q * se],
        upper=[diff + q * se],
        level=level,
        df=float(df),
        n=[int(valid.sum())],
        method="taylor",
        extra={"deff": np.nan},
    )
    table["statistic"] = diff / se
    table["p_value"] = 2 * stats.t.sf(abs(diff / se), df)
    table["alternative"] = "two-sided"
    return table


def add_test(
    table: pd.DataFrame, mu: float, alternative: str, df: int, level: float
) -> pd.DataFrame:
    if alternative not in ("two-sided", "less", "greater"):
        raise DesignError(
            f"alternative must be 'two-sided', 'less' or 'greater'; got {alternative!r}."
        )
    out = table.copy()
    stat = (out["estimate"] - mu) / out["se"]
    if alternative == "two-sided":
        p = 2 * stats.t.sf(np.abs(stat), df)
        q = stats.t.ppf(0.5 + level / 2, df)
        lo, hi = out["estimate"] - q * out["se"], out["estimate"] + q * out["se"]
    elif alternative == "less":
        p = stats.t.cdf(stat, df)
        q = stats.t.ppf(level, df)
        lo, hi = -np.inf + 0 * stat, out["estimate"] + q * out["se"]
    else:
        p = stats.t.sf(stat, df)
        q = stats.t.ppf(level, df)
        lo, hi = out["estimate"] - q * out["se"], np.inf + 0 * stat
    out["df"] = float(df)
    out["lower"] = lo
    out["upper"] = hi
    out["mu"] = mu
    out["statistic"] = stat
    out["p_value"] = p
    out["alternative"] = alternative
    return out
