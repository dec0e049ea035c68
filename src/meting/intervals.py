"""Confidence intervals for proportions (R ``survey``'s ``svyciprop``) and their transforms.

A share near 0 or 1 has a skewed sampling distribution; the Wald interval ``p -/+ t * se``
then runs outside [0, 1] and, clipped, has zero width at 0 or 1.  ``svyciprop`` offers
intervals that respect the range; the closed-form ones are here (arrays in, arrays out), and
:meth:`meting.design.SurveyDesign.ciprop` applies them to a design:

* ``"mean"``: the Wald interval ``p -/+ t_df * se`` (not clipped);
* ``"xlogit"`` and ``"logit"``: Wald on the logit scale, ``expit(logit p -/+ t_df se / (p (1 - p)))``
  (``logit`` is R's intercept-only quasibinomial ``svyglm``; its coefficient is ``logit p`` and
  its sandwich standard error ``se / (p (1 - p))``, so both agree);
* ``"asin"``: Wald on the arcsine-square-root scale, ``sin(asin(sqrt p) -/+ t_df se')^2`` with
  ``se' = se / (2 sqrt(p (1 - p)))``;
* ``"beta"``: Korn and Graubard's Clopper-Pearson interval with the effective sample size
  ``n_eff = p (1 - p) / se^2 * (t_{n-1} / t_df)^2`` (``n`` the rows of the domain);
* ``"likelihood"``: the profile-likelihood interval of the quasibinomial ``svyglm`` (computed
  in :mod:`meting.design`, it needs the data).

``df`` is the degrees of freedom of the t quantile (``svyciprop``'s ``df = degf(design)``).
"""

from __future__ import annotations

from typing import Final, Literal

import numpy as np
from scipy import special, stats

CipropMethod = Literal["logit", "likelihood", "asin", "beta", "mean", "xlogit"]
CIPROP_METHODS: Final = ("logit", "likelihood", "asin", "beta", "mean", "xlogit")


def _t(level: float, df: np.ndarray) -> np.ndarray:
    df = np.asarray(df, dtype=float)
    with np.errstate(invalid="ignore"):
        return np.where(df > 0, stats.t.ppf(0.5 + level / 2, np.where(df > 0, df, 1.0)), np.nan)


def wald_interval(
    p: np.ndarray, se: np.ndarray, df: np.ndarray, level: float
) -> tuple[np.ndarray, np.ndarray]:
    """``svyciprop(method = "mean")``: ``p -/+ t_df * se``."""
    q = _t(level, df)
    return p - q * se, p + q * se


def logit_interval(
    p: np.ndarray, se: np.ndarray, df: np.ndarray, level: float
) -> tuple[np.ndarray, np.ndarray]:
    """``svyciprop(method = "xlogit")`` (and ``"logit"``): Wald on the logit scale."""
    q = _t(level, df)
    with np.errstate(divide="ignore", invalid="ignore"):
        centre = special.logit(p)
        half = q * se / (p * (1.0 - p))
    return special.expit(centre - half), special.expit(centre + half)


def asin_interval(
    p: np.ndarray, se: np.ndarray, df: np.ndarray, level: float
) -> tuple[np.ndarray, np.ndarray]:
    """``svyciprop(method = "asin")``: Wald on the arcsine-square-root scale."""
    q = _t(level, df)
    with np.errstate(divide="ignore", invalid="ignore"):
        centre = np.arcsin(np.sqrt(p))
        half = q * se / (2.0 * np.sqrt(p * (1.0 - p)))
    return np.sin(centre - half) ** 2, np.sin(centre + half) ** 2


def beta_interval(
    p: np.ndarray,
    se: np.ndarray,
    df: np.ndarray | float,
    level: float,
    n_rows: np.ndarray,
    n_zero_variance: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """``svyciprop(method = "beta")``: Korn-Graubard (Clopper-Pearson with effective n).

    ``n_eff = p (1 - p) / se^2 * (qt(alpha/2, n_rows - 1) / qt(alpha/2, df))^2``, then
    ``lower = qbeta(alpha/2, n_eff p, n_eff (1 - p) + 1)`` and
    ``upper = qbeta(1 - alpha/2, n_eff p + 1, n_eff (1 - p))``.  Where the estimated variance
    is 0 (a share of exactly 0 or 1) R gives NaN; with ``n_zero_variance`` (e.g. the
    respondents of the domain) that count is used as ``n_eff`` instead, as Korn and Graubard
    (1998) recommend, so a share of 0 gets the interval ``[0, 1 - (alpha/2)^(1/n)]``.
    """
    p = np.asarray(p, dtype=float)
    alpha = 1.0 - level
    df = np.asarray(df, dtype=float)
    n_rows = np.asarray(n_rows, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = stats.t.ppf(alpha / 2, n_rows - 1) / stats.t.ppf(alpha / 2, df)
        n_eff = p * (1.0 - p) / np.asarray(se, dtype=float) ** 2 * ratio**2
        if n_zero_variance is not None:
            n_eff = np.where(
                (np.asarray(se) == 0) & ((p == 0) | (p == 1)),
                np.asarray(n_zero_variance, dtype=float),
                n_eff,
            )
        a_lo, b_lo = n_eff * p, n_eff * (1.0 - p) + 1.0
        a_hi, b_hi = n_eff * p + 1.0, n_eff * (1.0 - p)
        lower = np.where(a_lo == 0, 0.0, stats.beta.ppf(alpha / 2, a_lo, b_lo))
        upper = np.where(b_hi == 0, 1.0, stats.beta.ppf(1 - alpha / 2, a_hi, b_hi))
    bad = ~np.isfinite(n_eff)
    return np.where(bad, np.nan, lower), np.where(bad, np.nan, upper)
