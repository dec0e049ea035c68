"""The linked model with an autoregressive (AR(1)) cell effect across waves, cell effects
integrated out.

The option ``Priors(wave_structure="ar1")`` of the fits linked across waves. For cell ``c`` in
wave ``w = 1..T`` (the waves in order, taken as equally spaced: 2008, 2009, 2010)::

    theta_cw = level[e(c), w] + sum_g effect_g[g(c)] + u_cw
    u_c1 ~ Normal(0, sd_cell)
    u_cw = rho * u_c,w-1 + sqrt(1 - rho^2) * e_cw,   e_cw ~ Normal(0, sd_cell)
    (1 + rho) / 2 ~ Beta(alpha, beta)                 (:class:`meting.sae.spec.RhoPrior`)

a stationary AR(1): every wave has variance ``sd_cell^2`` and waves ``k`` apart correlate
``rho^k``. The levels per life event and wave (the wave-level fixed effects), the municipality
effects and the data terms are those of :mod:`meting.sae.linked_model` (shared code). Where the
compound-symmetry model correlates every pair of waves equally, this one lets the cell drift:
waves further apart are less alike.

Integrated out: the vector of a cell's residuals ``r_w = y_w - eta_w = u_w + e_w`` (``e_w ~ N(0,
s_w)``) is multivariate normal with covariance ``sd_cell^2 rho^|i-j| + diag(s_w)`` over its
observed waves. :func:`ar1_loglik` computes its log density with the Kalman filter of the scalar
state ``u_w`` (predict, then update where the wave is observed): exact, a wave without data is
simply not updated, and it is O(T) per cell and vectorised over cells, so NUTS explores only the
levels, the municipality effects, ``sd_cell`` and ``rho`` (and ``sigma`` at unit level).

Afterwards :func:`draw_ar1_cell_means` draws every cell's wave vector from its exact Gaussian
conditional for each posterior draw: the prior precision of a stationary AR(1) is tridiagonal,
``Q = (1 / (sd_cell^2 (1 - rho^2))) * tridiag(-rho; 1, 1 + rho^2, ..., 1 + rho^2, 1; -rho)``, the
posterior precision ``Q + diag(m_w / s_w)`` (``m_w`` = 1 where observed), and its T x T inverse
and Cholesky factor are taken batched over draws and cells. The shrinkage of a cell-wave is ``1 -
gamma_w`` with ``gamma_w = V_ww / s_w`` (``V`` the posterior covariance), the derivative of the
posterior mean by the own direct estimate, as in :mod:`meting.sae.linked_conditional`.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import xarray as xr

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message=".*could not link to a BLAS.*")
    warnings.filterwarnings("ignore", category=FutureWarning)
    import pymc as pm
    import pytensor.tensor as pt

from meting.sae.data import CellIndex
from meting.sae.linked_conditional import sampling_variance
from meting.sae.linked_model import LinkedData, _linked_predictor
from meting.sae.model import _scale_rv
from meting.sae.spec import ModelSpec

__all__ = [
    "ar1_covariance",
    "ar1_loglik",
    "ar1_shrinkage",
    "build_ar1_model",
    "draw_ar1_cell_means",
    "is_ar1",
]

_CHUNK = 100  # draws at a time: a national fit has 5,100 cells x 3 x 3 matrices per draw


def is_ar1(spec_or_posterior: ModelSpec | xr.Dataset) -> bool:
    """True for a linked spec with the AR(1) structure, or a linked posterior that has ``rho``."""
    if isinstance(spec_or_posterior, ModelSpec):
        return spec_or_posterior.priors.wave_structure == "ar1"
    return "rho" in spec_or_posterior.data_vars


def ar1_covariance(n_waves: int, tau2: float, rho: float) -> np.ndarray:
    """The stationary AR(1) covariance ``tau2 * rho^|i - j|`` of one cell's waves."""
    lag = np.abs(np.subtract.outer(np.arange(n_waves), np.arange(n_waves)))
    return tau2 * rho**lag


def ar1_loglik(
    resid: Any, variance: Any, mask: Any, tau2: Any, rho: Any, n_waves: int, xp: Any = np
) -> Any:
    """Log density of every cell's observed waves with its AR(1) cell effects integrated out
    (summed over cells).

    ``resid`` (cells x waves) is ``y - eta``, ``variance`` the sampling variance ``s`` (any
    positive value where ``mask`` is False), ``mask`` boolean or 0/1 floats, ``tau2 =
    sd_cell^2``, ``n_waves`` the number of columns. The Kalman filter of ``u``: before wave ``w >
    1`` the state's mean and variance are predicted (``m <- rho m``, ``P <- rho^2 P + tau2 (1 -
    rho^2)``); in an observed wave the innovation ``r_w - m`` with variance ``F = P + s_w`` adds
    ``-0.5 (log(2 pi F) + (r_w - m)^2 / F)`` and updates ``m`` and ``P``. ``xp`` is ``numpy`` or
    ``pytensor.tensor`` (the model uses the latter; the tests check both against scipy's
    multivariate normal).
    """
    m = mask.astype(float) if isinstance(mask, np.ndarray) else mask
    keep = 1.0 - rho * rho
    mean: Any = 0.0
    var: Any = tau2
    total: Any = 0.0
    for w in range(n_waves):
        if w > 0:
            mean = rho * mean
            var = rho * rho * var + tau2 * keep
        mw = m[:, w]
        f = var + variance[:, w]
        innovation = mw * (resid[:, w] - mean)
        total = total + (mw * xp.log(f) + innovation * innovation / f).sum()
        gain = mw * var / f
        mean = mean + gain * innovation
        var = var - gain * var
    return -0.5 * total - 0.5 * math.log(2.0 * math.pi) * m.sum()


def build_ar1_model(spec: ModelSpec, index: CellIndex, data: LinkedData) -> pm.Model:
    """The AR(1) linked model (see the module docstring) for Fay-Herriot (``data.variance``) or
    unit-level (``data.n``, ``data.sumsq``) data, with the variables of
    :func:`meting.sae.linked_model.build_linked_model` (``rho_unit`` and ``rho`` in place of
    ``sd_wave``).

    With ``spec.marginal_cells`` the model holds ``eta`` (cell, wave) and a ``Potential``
    ``cells`` with :func:`ar1_loglik`; otherwise it samples ``z_cell`` (cell, wave), the
    standardised innovations, and holds ``theta``.
    """
    mask = data.mask
    n_waves = len(data.waves)
    coords: dict[str, Any] = {g: index.levels[g] for g in index.groups}
    coords["cell"] = index.labels
    coords["wave"] = np.asarray(data.waves, dtype=object).astype(str)
    arrays = data.arrays()
    prior = spec.priors.wave_rho
    with pm.Model(coords=coords) as model:
        box = {
            name: pm.Data(name, value, dims=("cell", "wave") if value.ndim == 2 else None)
            for name, value in arrays.items()
        }
        eta = _linked_predictor(spec, index, n_waves)
        sd_cell = _scale_rv("sd_cell", spec.priors.cell_sd)
        rho_unit = pm.Beta("rho_unit", alpha=prior.alpha, beta=prior.beta)
        rho = pm.Deterministic("rho", 2.0 * rho_unit - 1.0)
        if data.variance is not None:
            variance: Any = box["variance"]
        else:
            sigma = _scale_rv("sigma", spec.priors.sigma)
            variance = sigma**2 / box["n"]
            pm.Potential(
                "within", -box["n_within"] * pt.log(sigma) - box["ss_total"] / (2 * sigma**2)
            )
        if spec.marginal_cells:
            eta = pm.Deterministic("eta", eta, dims=("cell", "wave"))
            resid = box["y0"] - eta
            loglik = ar1_loglik(resid, variance, box["mask"], sd_cell**2, rho, n_waves, xp=pt)
            pm.Potential("cells", loglik)
        else:
            z = pm.Normal("z_cell", 0.0, 1.0, dims=("cell", "wave"))
            innovation = pt.sqrt(1.0 - rho**2)
            u = [sd_cell * z[:, 0]]
            for w in range(1, n_waves):
                u.append(rho * u[-1] + innovation * sd_cell * z[:, w])
            theta = pm.Deterministic("theta", eta + pt.stack(u, axis=1), dims=("cell", "wave"))
            rows, cols = np.nonzero(mask)
            pm.Normal(
                "direct",
                mu=theta[rows, cols],
                sigma=pt.sqrt(variance[rows, cols]),
                observed=data.y[rows, cols],
            )
    return model


def _prior_precision(tau2: np.ndarray, rho: np.ndarray, n_waves: int) -> np.ndarray:
    """(draws, T, T) precision of the stationary AR(1) with variance ``tau2`` per draw."""
    diag = np.ones(n_waves)
    diag[1:-1] = 0.0
    q = np.zeros((len(tau2), n_waves, n_waves))
    idx = np.arange(n_waves)
    q[:, idx, idx] = 1.0 + rho[:, None] ** 2 * (1.0 - diag[None, :])
    q[:, idx[:-1], idx[1:]] = -rho[:, None]
    q[:, idx[1:], idx[:-1]] = -rho[:, None]
    return q / (tau2 * (1.0 - rho**2))[:, None, None]


def _posterior_covariance(
    tau2: np.ndarray, rho: np.ndarray, s: np.ndarray, mask: np.ndarray
) -> np.ndarray:
    """(draws, cells, T, T) covariance of ``u`` given the cell's data, per draw."""
    n_waves = mask.shape[1]
    precision = _prior_precision(tau2, rho, n_waves)[:, None, :, :]
    data_precision = np.where(mask[None], 1.0 / s, 0.0)  # (draws or 1, cells, T)
    idx = np.arange(n_waves)
    full = np.broadcast_to(precision, (len(tau2), mask.shape[0], n_waves, n_waves)).copy()
    full[:, :, idx, idx] += data_precision
    return np.linalg.inv(full)


def draw_ar1_cell_means(
    posterior: xr.Dataset,
    estimate: np.ndarray,
    *,
    variance: np.ndarray | None = None,
    n: np.ndarray | None = None,
    random_seed: int,
) -> xr.Dataset:
    """Replace ``eta`` (chain, draw, cell, wave) by ``theta`` drawn from its exact conditional
    under the AR(1) cell effect (the signature of
    :func:`meting.sae.linked_conditional.draw_linked_cell_means`)."""
    if (variance is None) == (n is None):
        raise ValueError("give exactly one of variance (area level) or n (unit level)")
    y = np.asarray(estimate, dtype=float)
    mask = np.isfinite(y)
    y0 = np.where(mask, y, 0.0)
    eta = posterior["eta"]
    tau2_all = posterior["sd_cell"].to_numpy() ** 2
    rho_all = posterior["rho"].to_numpy()
    rng = np.random.default_rng(random_seed)
    theta = np.empty(eta.shape)
    for chain in range(eta.sizes["chain"]):
        eta_chain = eta[chain].to_numpy()
        for start in range(0, eta_chain.shape[0], _CHUNK):
            part = slice(start, start + _CHUNK)
            e = eta_chain[part]
            s = sampling_variance(posterior, chain, part, mask, variance, n)
            cov = _posterior_covariance(tau2_all[chain, part], rho_all[chain, part], s, mask)
            b = np.where(mask[None], (y0[None] - e) / s, 0.0)
            mean = np.einsum("dcij,dcj->dci", cov, b)
            factor = np.linalg.cholesky(cov)
            z = rng.standard_normal(e.shape)
            theta[chain, part] = e + mean + np.einsum("dcij,dcj->dci", factor, z)
    return posterior.drop_vars("eta").assign(theta=(eta.dims, theta))


def ar1_shrinkage(
    posterior: xr.Dataset,
    mask: np.ndarray,
    *,
    variance: np.ndarray | None = None,
    n: np.ndarray | None = None,
) -> np.ndarray:
    """Posterior mean of ``1 - gamma`` per (cell, wave), ``gamma_w = V_ww / s_w`` (see the module
    docstring); 1 where a cell has no data in a wave (its estimate is all model)."""
    m = np.asarray(mask, dtype=bool)
    tau2_all = posterior["sd_cell"].to_numpy() ** 2
    rho_all = posterior["rho"].to_numpy()
    total = np.zeros(m.shape)
    count = 0
    idx = np.arange(m.shape[1])
    for chain in range(tau2_all.shape[0]):
        for start in range(0, tau2_all.shape[1], _CHUNK):
            part = slice(start, start + _CHUNK)
            s = sampling_variance(posterior, chain, part, m, variance, n)
            cov = _posterior_covariance(tau2_all[chain, part], rho_all[chain, part], s, m)
            gamma = np.where(m[None], cov[:, :, idx, idx] / s, 0.0)
            total += (1.0 - gamma).sum(axis=0)
            count += gamma.shape[0]
    return total / count
