"""Key drivers: design-weighted regression of the chain score on the norms, and LMG importance.

Regression (as R's ``svyglm(score_chain ~ bsc_01 + ... + bsc_10, design)``)
    The weighted least-squares estimate ``b = (X'WX)^-1 X'Wy`` over the complete cases of a
    domain.  Its design-based covariance is the Taylor-linearised variance of the estimating
    equations: influence values ``u_i = (X'WX)^-1 x_i w_i e_i`` (zero outside the domain and for
    incomplete rows, as ``svyglm`` on a subset keeps every PSU) go to the design's variance
    (strata, clusters, fpc and calibration included).  Degrees of freedom as ``svyglm``:
    ``degf(domain) + 1 - number of coefficients``.

Relative importance (LMG; Lindeman, Merenda & Gold 1980; Shapley value of R^2)
    The share of R^2 each predictor carries, averaged over all orders of entry.  R^2 of every one
    of the ``2^p`` predictor subsets comes from the weighted covariance matrix ``S`` of
    ``(y, x)``: ``R^2(A) = s_yA' S_AA^-1 s_yA / s_yy``: batched small solves, not regressions on
    the data.  The LMG values sum to the full R^2.  Their design-based standard errors follow by the
    delta method: LMG is a smooth function of ``S``, whose influence values are
    ``w_i [(z_i - m)(z_i - m)' - S] / sum(w)``; the gradient is taken by central differences.

Missing norms (n.v.t.) make a row incomplete: the analysis is complete-case per domain, and the
number of complete cases is ``n``.  Norms 8-10 are often n.v.t., so per life event the complete
cases can be few: ``min_n`` leaves such domains out (listed in ``attrs["skipped"]``), or pass
fewer predictors.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import combinations
from math import factorial
from typing import cast

import numpy as np
import pandas as pd
from scipy import stats

from meting.checks import check_design_columns, check_level, check_min_n
from meting.columns import BSC_NORMS, SCORE_CHAIN
from meting.design import SurveyDesign
from meting.errors import DesignError, ParameterError
from meting.knelpunten._common import as_list, check_design, domain_codes, numeric, t_quantile
from meting.labels import NORM_NAMES
from meting.variance import degf as _degf

__all__ = [
    "INTERCEPT",
    "key_drivers",
    "lmg_from_cov",
    "r2_all_subsets",
    "weighted_cov",
    "wls_design",
]

INTERCEPT = "(Intercept)"
#: Most predictors for the exact LMG (2^p subsets).
MAX_LMG_PREDICTORS = 15


def weighted_cov(z: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Weighted mean and covariance (divisor ``sum(w)``) of the columns of ``z``."""
    wsum = w.sum()
    mean = w @ z / wsum
    c = z - mean
    return mean, (c * w[:, None]).T @ c / wsum


def _subsets(p: int) -> list[tuple[int, np.ndarray]]:
    """Per subset size k: (k, array of the subsets as index rows)."""
    return [(k, np.array(list(combinations(range(p), k)), dtype=np.int64)) for k in range(1, p + 1)]


def _bitmask(idx: np.ndarray) -> np.ndarray:
    return (1 << idx).sum(axis=1)


def r2_all_subsets(cov: np.ndarray) -> np.ndarray:
    """R^2 of the regression of ``y`` on every subset of the predictors, from covariance matrices.

    Parameters
    ----------
    cov
        Covariance matrix of ``(y, x_1, ..., x_p)`` (y first), shape ``(p+1, p+1)``, or a batch
        of them, shape ``(B, p+1, p+1)``.

    Returns
    -------
    numpy.ndarray
        ``R^2`` indexed by the bitmask of the subset (bit ``j`` set = predictor ``j`` in),
        shape ``(2^p,)`` or ``(B, 2^p)``; the empty subset has R^2 = 0.
    """
    cov = np.asarray(cov, dtype=float)
    single = cov.ndim == 2
    if single:
        cov = cov[None]
    b, q, _ = cov.shape
    p = q - 1
    out = np.zeros((b, 1 << p))
    syy = cov[:, 0, 0]
    for k, idx in _subsets(p):
        m = idx.shape[0]
        rows = idx + 1
        sxx = cov[:, rows[:, :, None], rows[:, None, :]]  # (b, m, k, k)
        sxy = cov[:, 0, :][:, rows]  # (b, m, k)
        sol = np.linalg.solve(sxx.reshape(b * m, k, k), sxy.reshape(b * m, k, 1))
        r2 = (sxy.reshape(b * m, k) * sol[..., 0]).sum(axis=1).reshape(b, m)
        out[:, _bitmask(idx)] = r2 / syy[:, None]
    return out[0] if single else out


def lmg_from_cov(cov: np.ndarray) -> np.ndarray:
    """LMG (Shapley) decomposition of R^2 from the covariance matrix of ``(y, x_1..x_p)``.

    ``LMG_j = sum over subsets A not holding j of |A|! (p - |A| - 1)! / p! [R^2(A + j) - R^2(A)]``,
    exact over all ``2^p`` subsets.  Accepts a batch ``(B, p+1, p+1)`` like
    :func:`r2_all_subsets`; the values sum to the full R^2.
    """
    r2 = r2_all_subsets(cov)
    single = r2.ndim == 1
    if single:
        r2 = r2[None]
    p = int(np.log2(r2.shape[1]))
    masks = np.arange(1 << p)
    size = np.array([bin(int(m)).count("1") for m in masks])
    weight_by_size = np.array(
        [factorial(s) * factorial(p - s - 1) / factorial(p) for s in range(p)]
    )
    out = np.empty((r2.shape[0], p))
    for j in range(p):
        without = masks[(masks >> j) & 1 == 0]
        gain = r2[:, without | (1 << j)] - r2[:, without]
        out[:, j] = gain @ weight_by_size[size[without]]
    return out[0] if single else out


def _lmg_gradient(cov: np.ndarray, rel_step: float = 1e-5) -> np.ndarray:
    """d LMG_j / d cov_kl for the upper triangle (k <= l) by central differences.

    Returns shape ``(n_pairs, p)``, pairs in ``np.triu_indices`` order; a perturbation of an
    off-diagonal pair moves both symmetric entries.
    """
    q = cov.shape[0]
    iu = np.triu_indices(q)
    n_pairs = iu[0].size
    scale = np.sqrt(np.outer(np.diag(cov), np.diag(cov)))[iu]
    h = rel_step * np.where(scale > 0, scale, 1.0)
    batch = np.repeat(cov[None], 2 * n_pairs, axis=0)
    t = np.arange(n_pairs)
    batch[t, iu[0], iu[1]] += h
    batch[t, iu[1], iu[0]] = batch[t, iu[0], iu[1]]
    batch[n_pairs + t, iu[0], iu[1]] -= h
    batch[n_pairs + t, iu[1], iu[0]] = batch[n_pairs + t, iu[0], iu[1]]
    vals = lmg_from_cov(batch)
    return (vals[:n_pairs] - vals[n_pairs:]) / (2 * h[:, None])


def wls_design(
    design: SurveyDesign, y: np.ndarray, x: np.ndarray, rows: np.ndarray
) -> dict[str, np.ndarray | float]:
    """Weighted least squares on ``rows`` with the design-based (svyglm) covariance.

    Parameters
    ----------
    design
        The survey design (all rows; the fit uses ``rows``).
    y
        Outcome, shape ``(n,)``.
    x
        Model matrix with the intercept column, shape ``(n, k)``.
    rows
        Boolean mask of the rows in the fit (domain and complete cases).

    Returns
    -------
    dict
        ``coef`` (k,), ``vcov`` (k, k), ``df`` (svyglm residual df), ``r2`` (weighted),
        ``influence`` (n, k).
    """
    w = np.where(rows, design.w, 0.0)
    xr, yr, wr = x[rows], y[rows], w[rows]
    xtwx = (xr * wr[:, None]).T @ xr
    try:
        ainv = np.linalg.inv(xtwx)
    except np.linalg.LinAlgError as exc:
        raise DesignError(
            "the predictors must not be collinear within the domain; got a singular X'WX "
            f"({int(rows.sum())} rows). Drop a predictor or pool domains."
        ) from exc
    if np.linalg.cond(xtwx) > 1e12:
        raise DesignError(
            "the predictors must not be collinear within the domain; got X'WX with condition "
            f"number {np.linalg.cond(xtwx):.3g}. Drop a predictor or pool domains."
        )
    coef = ainv @ ((xr * wr[:, None]).T @ yr)
    resid = np.zeros(design.n)
    resid[rows] = yr - xr @ coef
    infl = (x * (w * resid)[:, None]) @ ainv
    infl[~rows] = 0.0
    vcov = design.variance(infl, covariance=True)
    df = _degf(design.structure, rows & (design.w != 0)) + 1 - x.shape[1]  # type: ignore[arg-type]
    ybar = wr @ yr / wr.sum()
    r2 = 1.0 - (wr * resid[rows] ** 2).sum() / (wr * (yr - ybar) ** 2).sum()
    return {"coef": coef, "vcov": vcov, "df": float(df), "r2": float(r2), "influence": infl}


def _lmg_with_se(
    design: SurveyDesign, z: np.ndarray, rows: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """LMG values and their delta-method design-based standard errors."""
    w = np.where(rows, design.w, 0.0)
    zr, wr = z[rows], w[rows]
    mean, cov = weighted_cov(zr, wr)
    lmg = lmg_from_cov(cov)
    grad = _lmg_gradient(cov)  # (pairs, p)
    iu = np.triu_indices(cov.shape[0])
    c = np.zeros_like(z)
    c[rows] = zr - mean
    psi = (c[:, iu[0]] * c[:, iu[1]] - cov[iu][None, :]) * (w / wr.sum())[:, None]
    psi[~rows] = 0.0
    infl = psi @ grad
    var = design.variance(infl)
    return lmg, np.sqrt(np.maximum(var, 0.0))


def key_drivers(
    design: SurveyDesign,
    outcome: str = SCORE_CHAIN,
    predictors: Sequence[str] = BSC_NORMS,
    by: str | Sequence[str] | None = None,
    min_n: int = 100,
    level: float = 0.95,
    lmg: bool = True,
) -> pd.DataFrame:
    """Design-weighted regression of ``outcome`` on ``predictors`` with LMG relative importance.

    Parameters
    ----------
    design
        The (weighted) survey design.
    outcome
        Outcome column (default the chain score).
    predictors
        Predictor columns (default the ten norms, 1-5).
    by
        Group columns: one regression per group (e.g. ``"life_event"``); None for one overall.
    min_n
        Fewest complete cases for a group to be fitted (groups below it are left out and listed
        in ``attrs["skipped"]`` with their n).
    level
        Confidence level of the coefficient intervals.
    lmg
        Compute the LMG decomposition (exact over ``2^p`` subsets; at most 15 predictors).

    Returns
    -------
    pandas.DataFrame
        One row per group x term (intercept first): group columns, ``term``, ``term_name``
        (Dutch norm name), ``estimate, se, df, lower, upper`` (coefficient, svyglm-type),
        ``statistic, p_value`` (t-test of coefficient = 0), ``std_estimate`` (coefficient x
        sd(x) / sd(y), weighted), ``lmg`` (R^2 share of the term; sums to ``r2`` per group),
        ``lmg_se`` (delta-method design-based SE), ``lmg_share`` (``lmg / r2``), ``r2``
        (weighted R^2 of the full model), ``n`` (complete cases).  The intercept row has no
        standardised coefficient and no LMG.  ``attrs["skipped"]`` is a DataFrame of the groups
        with fewer than ``min_n`` complete cases.
    """
    design = check_design(design)
    level = check_level(level)
    min_n = check_min_n(min_n)
    predictors = as_list(predictors)
    if not predictors:
        raise ParameterError("predictors must name at least one column; got none. Use BSC_NORMS.")
    if lmg and len(predictors) > MAX_LMG_PREDICTORS:
        raise ParameterError(
            f"predictors must number at most {MAX_LMG_PREDICTORS} for the exact LMG; got "
            f"{len(predictors)}. Pass fewer predictors or lmg=False."
        )
    check_design_columns(design.data, [outcome, *predictors], "regression")
    by_cols = as_list(by)
    dom, keys = domain_codes(design, by_cols)
    y = numeric(design.data, outcome)
    xs = np.column_stack([numeric(design.data, c) for c in predictors])
    complete = ~np.isnan(y) & ~np.isnan(xs).any(axis=1) & (dom >= 0)
    x = np.column_stack([np.ones(design.n), np.nan_to_num(xs)])
    z = np.column_stack([np.nan_to_num(y), np.nan_to_num(xs)])
    terms = [INTERCEPT, *predictors]
    parts, skipped = [], []
    for g in range(len(keys)):
        rows = complete & (dom == g)
        n_g = int(rows.sum())
        key = keys.iloc[[g]].reset_index(drop=True) if by_cols else pd.DataFrame(index=[0])
        if n_g < max(min_n, len(terms) + 1):
            skipped.append(key.assign(n=n_g))
            continue
        fit = wls_design(design, np.nan_to_num(y), x, rows)
        se = np.sqrt(np.maximum(np.diag(fit["vcov"]), 0.0))
        df = fit["df"]
        q = t_quantile(level, df)
        coef = cast(np.ndarray, fit["coef"])
        with np.errstate(divide="ignore", invalid="ignore"):
            stat = coef / se
        p_value = 2 * stats.t.sf(np.abs(stat), df) if df > 0 else np.full(len(terms), np.nan)
        _, cov = weighted_cov(z[rows], design.w[rows])
        sd = np.sqrt(np.diag(cov))
        std = np.r_[np.nan, coef[1:] * sd[1:] / sd[0]]
        if lmg:
            lmg_val, lmg_se = _lmg_with_se(design, z, rows)
        else:
            lmg_val = lmg_se = np.full(len(predictors), np.nan)
        table = key.loc[key.index.repeat(len(terms))].reset_index(drop=True)
        table["term"] = terms
        table["term_name"] = ["constante", *(NORM_NAMES.get(c, c) for c in predictors)]
        table["estimate"] = coef
        table["se"] = se
        table["df"] = df
        table["lower"] = coef - q * se
        table["upper"] = coef + q * se
        table["statistic"] = stat
        table["p_value"] = p_value
        table["std_estimate"] = std
        table["lmg"] = np.r_[np.nan, lmg_val]
        table["lmg_se"] = np.r_[np.nan, lmg_se]
        table["lmg_share"] = table["lmg"] / fit["r2"]
        table["r2"] = fit["r2"]
        table["n"] = n_g
        parts.append(table)
    columns = [
        *by_cols, "term", "term_name", "estimate", "se", "df", "lower", "upper",
        "statistic", "p_value", "std_estimate", "lmg", "lmg_se", "lmg_share", "r2", "n",
    ]  # fmt: skip
    out = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=columns)
    out = out[columns]
    out.attrs.update(
        method="svyglm-taylor",
        level=level,
        outcome=outcome,
        skipped=(
            pd.concat(skipped, ignore_index=True)
            if skipped
            else pd.DataFrame(columns=[*by_cols, "n"])
        ),
    )
    return out
