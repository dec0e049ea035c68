"""Shares of a 0/1 variable with intervals in [0, 1] (``svyciprop``), including the profile
likelihood interval of the quasibinomial ``svyglm`` and R's fmm spline through its profile."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from scipy import optimize, special, stats

from meting.checks import check_level
from meting.errors import DesignError
from meting.estimators.inputs import domain_slices, domains, numeric
from meting.intervals import (
    CIPROP_METHODS,
    CipropMethod,
    asin_interval,
    beta_interval,
    logit_interval,
    wald_interval,
)

if TYPE_CHECKING:
    from meting.design import SurveyDesign


def ciprop(
    design: SurveyDesign,
    var: str,
    method: CipropMethod = "logit",
    level: float = 0.95,
    by: str | Sequence[str] | None = None,
    na_rm: bool = True,
) -> pd.DataFrame:
    """:meth:`SurveyDesign.ciprop <meting.design.SurveyDesign.ciprop>` (documented there)."""
    if method not in CIPROP_METHODS:
        raise DesignError(f"method must be one of {', '.join(CIPROP_METHODS)}; got {method!r}.")
    level = check_level(level)
    y = numeric(design, var)
    obs = y[~np.isnan(y)]
    if not np.isin(obs, (0.0, 1.0)).all():
        raise DesignError(
            f"variable {var!r} must hold only 0 and 1 for ciprop; got "
            f"{obs[~np.isin(obs, (0.0, 1.0))][0]!r}. Recode it to an indicator first."
        )
    table = design.mean(var, by=by, na_rm=na_rm, level=level)
    p = table["estimate"].to_numpy()
    se = table["se"].to_numpy()
    df = table["df"].to_numpy()
    if method == "mean":
        lower, upper = wald_interval(p, se, df, level)
    elif method in ("logit", "xlogit"):
        lower, upper = logit_interval(p, se, df, level)
    elif method == "asin":
        lower, upper = asin_interval(p, se, df, level)
    elif method == "beta":
        dom, _ = domains(design, by)
        n_rows = (
            np.full(len(table), float(design.n))
            if design.calibration
            else np.bincount(dom[dom >= 0], minlength=len(table)).astype(float)
        )
        lower, upper = beta_interval(p, se, df, level, n_rows, table["n"].to_numpy())
    else:
        lower, upper = likelihood_interval(design, y, p, se, df, by, level)
    out = table.copy()
    out["lower"] = lower
    out["upper"] = upper
    out["method"] = f"ciprop-{method}"
    return out


def likelihood_interval(
    design: SurveyDesign,
    y: np.ndarray,
    p: np.ndarray,
    se: np.ndarray,
    df: np.ndarray,
    by: str | Sequence[str] | None,
    level: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Profile-likelihood interval of the intercept-only quasibinomial ``svyglm``.

    As ``confint.svyglm(method = "likelihood")``: the profile of the weighted binomial
    deviance (weights scaled to mean 1 over the domain's rows), divided by the dispersion
    ``svyvar`` of the Pearson residuals, is cut at ``|tau| = qt((1 - level)/2, df) *
    sqrt(lambda)`` (R: ``qnorm(2 alpha)`` with ``alpha = pnorm(qt(...) sqrt(lambda)) / 2``),
    ``lambda`` the design variance of the coefficient over its model-based variance.  R interpolates a spline
    through a few profile points; here the root is found exactly (agreement ~1e-4).
    """
    dom, _ = domains(design, by)
    lower = np.full(p.size, np.nan)
    upper = np.full(p.size, np.nan)
    slices = domain_slices(dom, p.size)
    # svyglm scales the weights to mean 1 over the rows of the (subset) design: the domain's
    # rows for an uncalibrated design, every row (zero outside the domain) for a calibrated
    for g, rows in enumerate(slices):
        norm = design.w[rows].sum() / (design.n if design.calibration else max(rows.size, 1))
        rows = rows[~np.isnan(y[rows])]
        w_all, yy = design.w[rows], y[rows]
        keep = w_all > 0
        w, yy = w_all[keep], yy[keep]
        if not (0 < p[g] < 1) or not df[g] > 0 or w.size < 2:
            continue
        wn = w / norm
        b0 = float(special.logit(p[g]))

        def deviance(b: float, wn: np.ndarray = wn, yy: np.ndarray = yy) -> float:
            mu = special.expit(b)
            return float(-2.0 * np.sum(wn * (yy * np.log(mu) + (1 - yy) * np.log1p(-mu))))

        dev0 = deviance(b0)
        pearson = (yy - p[g]) * np.sqrt(wn) / np.sqrt(p[g] * (1 - p[g]))
        m = np.sum(w * pearson) / w.sum()
        dispersion = w.size / (w.size - 1) * np.sum(w * (pearson - m) ** 2) / w.sum()
        naive = 1.0 / np.sum(wn * p[g] * (1 - p[g]))
        design_var = (se[g] / (p[g] * (1 - p[g]))) ** 2
        lam = design_var / naive
        # R: alpha = pnorm(qt((1 - level)/2, df) sqrt(lambda)) / 2, profile cut at
        # qnorm(2 alpha), i.e. |tau| = qt((1 - level)/2, df) sqrt(lambda)
        cut = float(stats.t.ppf((1 - level) / 2, df[g]) ** 2 * lam)
        alpha_half = float(stats.norm.cdf(-np.sqrt(cut)) / 2)

        def z2(
            b: float, dev0: float = dev0, dispersion: float = dispersion, cut: float = cut
        ) -> float:
            return (deviance(b) - dev0) / dispersion - cut

        # R's MASSprofile_glm: at most 9 steps of zmax / 5 standard errors each way, until
        # |tau| passes zmax = sqrt(qf(alpha, 1, n - 1, lower = FALSE)); then
        # confint_profile interpolates an fmm spline through the profile (3 x the points)
        n_glm = rows.size if not design.calibration else int(np.count_nonzero(~np.isnan(y)))
        zmax = float(np.sqrt(stats.f.isf(alpha_half, 1, n_glm - 1)))
        del_ = zmax / 5 * np.sqrt(design_var)
        pars, taus = [b0], [0.0]
        for sgn in (-1.0, 1.0):
            step, tau = 0, 0.0
            while (step := step + 1) < 10 and abs(tau) < zmax:
                bi = b0 + sgn * step * del_
                zz = max((deviance(bi) - dev0) / dispersion, 0.0)
                tau = sgn * float(np.sqrt(zz))
                pars.append(bi)
                taus.append(tau)
        srt = np.argsort(taus, kind="stable")
        px, tz = np.asarray(pars)[srt], np.asarray(taus)[srt]
        grid = np.linspace(px.min(), px.max(), 3 * px.size)
        on_grid = fmm_spline(px, tz, grid)
        o = np.argsort(on_grid, kind="stable")
        half = float(np.sqrt(cut))
        ends = np.interp([-half, half], on_grid[o], grid[o], left=np.nan, right=np.nan)
        if np.isnan(ends).any():  # the profile did not reach the cut: solve exactly
            step_b = np.sqrt(design_var)
            roots: list[float] = []
            for sgn in (-1.0, 1.0):
                far = b0 + sgn * step_b
                while z2(far) < 0:
                    far = b0 + 2 * (far - b0)
                roots.append(optimize.brentq(z2, b0, far, xtol=1e-14, rtol=1e-14))
            ends = np.asarray(roots)
        lower[g], upper[g] = special.expit(ends[0]), special.expit(ends[1])
    return lower, upper


def fmm_spline(x: np.ndarray, y: np.ndarray, u: np.ndarray) -> np.ndarray:
    """R's ``spline(method = "fmm")`` (Forsythe, Malcolm and Moler) through (x, y) at ``u``.

    ``x`` increasing; end conditions match the third derivatives of the cubics through the
    four end points (``fmm_spline`` and ``spline_eval`` of R's ``splines.c``).
    """
    n = x.size
    b, c, d = np.zeros(n), np.zeros(n), np.zeros(n)
    if n < 2:
        return np.full(u.size, np.nan)
    if n < 3:
        t = (y[1] - y[0]) / (x[1] - x[0])
        b[:] = t
    else:
        nm1 = n - 1
        d[0] = x[1] - x[0]
        c[1] = (y[1] - y[0]) / d[0]
        for i in range(1, nm1):
            d[i] = x[i + 1] - x[i]
            b[i] = 2.0 * (d[i - 1] + d[i])
            c[i + 1] = (y[i + 1] - y[i]) / d[i]
            c[i] = c[i + 1] - c[i]
        b[0] = -d[0]
        b[nm1] = -d[n - 2]
        c[0] = c[nm1] = 0.0
        if n > 3:
            c[0] = c[2] / (x[3] - x[1]) - c[1] / (x[2] - x[0])
            c[nm1] = c[n - 2] / (x[nm1] - x[n - 3]) - c[n - 3] / (x[n - 2] - x[n - 4])
            c[0] = c[0] * d[0] * d[0] / (x[3] - x[0])
            c[nm1] = -c[nm1] * d[n - 2] * d[n - 2] / (x[nm1] - x[n - 4])
        for i in range(1, n):
            t = d[i - 1] / b[i - 1]
            b[i] = b[i] - t * d[i - 1]
            c[i] = c[i] - t * c[i - 1]
        c[nm1] = c[nm1] / b[nm1]
        for i in range(n - 2, -1, -1):
            c[i] = (c[i] - d[i] * c[i + 1]) / b[i]
        b[nm1] = (y[nm1] - y[n - 2]) / d[n - 2] + d[n - 2] * (c[n - 2] + 2.0 * c[nm1])
        for i in range(nm1):
            b[i] = (y[i + 1] - y[i]) / d[i] - d[i] * (c[i + 1] + 2.0 * c[i])
            d[i] = (c[i + 1] - c[i]) / d[i]
            c[i] = 3.0 * c[i]
        c[nm1] = 3.0 * c[nm1]
        d[nm1] = d[n - 2]
    at = np.clip(np.searchsorted(x, u, side="right") - 1, 0, n - 1)
    at = np.where((at == n - 1) & (n > 1) & (u <= x[-1]), n - 2, at) if n > 1 else at
    dx = u - x[at]
    return y[at] + dx * (b[at] + dx * (c[at] + dx * d[at]))
