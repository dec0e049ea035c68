"""Weighted quantiles with Woodruff intervals (``svyquantile``, survey 4.x) and the quantile
rules ``qrule_math`` and ``qrule_hf7``."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal, cast

import numpy as np
import pandas as pd

from meting.checks import check_level
from meting.errors import DesignError
from meting.estimators.domains import domain_df, domain_se, t_quantile
from meting.estimators.inputs import as_list, domain_slices, domains, numeric
from meting.results import result_table

if TYPE_CHECKING:
    from meting.design import SurveyDesign


def quantile(
    design: SurveyDesign,
    var: str,
    probs: float | Sequence[float] = 0.5,
    by: str | Sequence[str] | None = None,
    qrule: Literal["math", "hf7"] = "math",
    level: float = 0.95,
    na_rm: bool = True,
) -> pd.DataFrame:
    """:meth:`SurveyDesign.quantile <meting.design.SurveyDesign.quantile>` (documented there)."""
    if qrule not in ("math", "hf7"):
        raise DesignError(f"qrule must be 'math' or 'hf7'; got {qrule!r}.")
    level = check_level(level)
    if np.isscalar(probs):
        plist = [float(cast(float, probs))]
    else:
        plist = [float(v) for v in cast("Sequence[float]", probs)]
    if not plist or any(not 0 <= v <= 1 for v in plist):
        raise DesignError(f"probs must lie in [0, 1]; got {plist!r}.")
    y = numeric(design, var)
    dom, keys = domains(design, by)
    n_dom = len(keys)
    missing = np.isnan(y)
    valid = (dom >= 0) & ~missing
    bad = np.zeros(n_dom, dtype=bool)
    if not na_rm and missing.any():
        bad = np.bincount(dom[(dom >= 0) & missing], minlength=n_dom) > 0
    df = domain_df(design, by, valid, dom, n_dom)
    qcrit = t_quantile(level, df)
    rule = qrule_math if qrule == "math" else qrule_hf7
    w_ci = design.w  # R's weights(design, "sampling"): 1 / prob, which calibration updates
    members = domain_slices(np.where(valid, dom, -1), n_dom)
    rows_out = []
    for pr in plist:
        qhat = np.array([rule(y[m], design.w[m], pr) if m.size else np.nan for m in members])
        ind = np.where(valid, (y <= np.where(valid, qhat[np.where(valid, dom, 0)], 0)), 0.0)
        ind = ind.astype(float)
        d = np.where(valid, dom, 0)
        wv = np.where(valid, design.w, 0.0)
        wsum = np.bincount(d, weights=wv, minlength=n_dom)
        with np.errstate(divide="ignore", invalid="ignore"):
            share = np.bincount(d, weights=wv * ind, minlength=n_dom) / wsum
            vals = np.where(valid, wv * (ind - share[d]) / wsum[d], 0.0)
        se_p = domain_se(
            design, vals, np.where(valid, dom, -1), keys if as_list(by) else keys.iloc[:, 0:0]
        )
        p_lo, p_hi = share - qcrit * se_p, share + qcrit * se_p
        lower = np.array(
            [
                rule(y[m], w_ci[m], lo) if m.size and 0 <= lo else np.nan
                for m, lo in zip(members, p_lo, strict=True)
            ]
        )
        upper = np.array(
            [
                rule(y[m], w_ci[m], hi) if m.size and hi <= 1 else np.nan
                for m, hi in zip(members, p_hi, strict=True)
            ]
        )
        with np.errstate(invalid="ignore"):
            se = (upper - lower) / (2 * qcrit)
        qhat, se = np.where(bad, np.nan, qhat), np.where(bad, np.nan, se)
        groups = keys.copy() if as_list(by) else keys.iloc[:, 0:0].copy()
        rows_out.append(
            result_table(
                groups,
                variable=var,
                estimate=qhat,
                se=se,
                lower=np.where(bad, np.nan, lower),
                upper=np.where(bad, np.nan, upper),
                level=level,
                df=df,
                n=np.bincount(d, weights=valid.astype(float), minlength=n_dom).astype(np.int64),
                method=f"quantile-{qrule}",
                extra={"prob": pr},
            )
        )
    out = pd.concat(rows_out, ignore_index=True)
    if as_list(by):
        out = out.sort_values(as_list(by), kind="stable").reset_index(drop=True)
    return out


def qrule_math(x: np.ndarray, w: np.ndarray, p: float) -> float:
    """survey's ``qrule_math``: the smallest x whose weighted cumulative share reaches p."""
    keep = w != 0
    x, w = x[keep], w[keep]
    if x.size == 0:
        return np.nan
    ii = np.argsort(x, kind="stable")
    x, cumw = x[ii], np.cumsum(w[ii])
    total = math.fsum(w)
    # survey:::last(cumw <= p W): the last such position (1-based), or 1 when there is none
    pos = max(int(np.count_nonzero(cumw <= p * total)), 1)
    if p - cumw[pos - 1] / total == 0:
        return float(x[pos - 1])
    return float(x[min(pos, x.size - 1)])


def qrule_hf7(x: np.ndarray, w: np.ndarray, p: float) -> float:
    """survey's ``qrule_hf7``: linear interpolation of the weighted empirical quantile."""
    keep = w != 0
    x, w = x[keep], w[keep]
    n = x.size
    if n == 0:
        return np.nan
    if n == 1:
        return float(x[0])
    ii = np.argsort(x, kind="stable")
    x, cumw = x[ii], np.cumsum(w[ii])
    pk = np.r_[0.0, cumw[:-1]] / cumw[n - 2]
    return float(np.interp(p, pk, x))
