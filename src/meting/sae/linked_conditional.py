"""Draws of the cell means of the linked model from their exact conditional, and the shrinkage.

Given one posterior draw of the other parameters, cell ``c`` has ``r_w = y_w - eta_w = u + v_w +
e_w`` in its observed waves (``u ~ N(0, tau2)``, ``v_w ~ N(0, omega2)``, ``e_w ~ N(0, s_w)``), so

* ``u | y ~ Normal(B / P, 1 / sqrt(P))`` with ``D_w = omega2 + s_w``, ``P = 1 / tau2 + sum_w
  1 / D_w`` and ``B = sum_w r_w / D_w`` (the deviations integrated out), and
* ``v_w | u, y ~ Normal((r_w - u) / s_w / P_w, 1 / sqrt(P_w))`` with ``P_w = 1 / omega2 + 1 / s_w``
  in an observed wave and ``Normal(0, sqrt(omega2))`` in a wave without data.

Drawing ``u`` and then the ``v_w`` for every posterior draw gives draws of ``theta_cw = eta_cw +
u_c + v_cw`` from the joint posterior (``tests/test_sae_linked.py`` checks the moments against the
closed-form Gaussian posterior of the whole vector).

The **shrinkage** of a cell-wave is the share of its posterior mean that does not come from its own
direct estimate: ``1 - d E[theta_cw | y] / d y_cw``. Here ``E[theta_w - eta_w | y] = (1 - b_w)
E[u | y] + b_w r_w`` with ``b_w = omega2 / (omega2 + s_w)``, so the weight of the own estimate is
``gamma_w = b_w + (1 - b_w) / (D_w P)``; with one wave and no deviations it is the Fay-Herriot
``gamma = tau2 / (tau2 + s)``. The shrinkage reported is ``1 - gamma`` averaged over the draws.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import xarray as xr

__all__ = ["draw_linked_cell_means", "linked_shrinkage"]

_CHUNK = 250  # draws at a time: a national fit has 5,100 cells x 3 waves per draw


def sampling_variance(
    posterior: xr.Dataset,
    chain: int,
    draws: slice,
    mask: np.ndarray,
    variance: np.ndarray | None,
    n: np.ndarray | None,
) -> np.ndarray:
    """Sampling variance per (draw, cell, wave); 1 where the cell-wave has no data."""
    if variance is not None:
        return np.where(mask, np.asarray(variance, dtype=float), 1.0)[None, :, :]
    assert n is not None
    sigma = posterior["sigma"].to_numpy()[chain, draws][:, None, None]
    return sigma**2 / np.where(mask, np.asarray(n, dtype=float), 1.0)[None, :, :]


def draw_linked_cell_means(
    posterior: xr.Dataset,
    estimate: np.ndarray,
    *,
    variance: np.ndarray | None = None,
    n: np.ndarray | None = None,
    random_seed: int,
    eta: Callable[[int, slice], np.ndarray] | None = None,
) -> xr.Dataset:
    """Replace ``eta`` (chain, draw, cell, wave) by ``theta`` drawn from its exact conditional.

    ``estimate`` (cell, wave) is NaN where a cell has no data in a wave; give ``variance``
    (Fay-Herriot: ``se^2``) or ``n`` (unit level: the variance is ``sigma^2 / n`` per draw).
    ``eta(chain, draws)`` gives ``eta`` (draws, cell, wave) of a block of draws when the
    posterior does not hold it (:func:`meting.sae.linked_model.linked_eta`).
    """
    if (variance is None) == (n is None):
        raise ValueError("give exactly one of variance (area level) or n (unit level)")
    y = np.asarray(estimate, dtype=float)
    mask = np.isfinite(y)
    y0 = np.where(mask, y, 0.0)
    tau2_all = posterior["sd_cell"].to_numpy() ** 2
    omega2_all = posterior["sd_wave"].to_numpy() ** 2
    if eta is None:
        stored = posterior["eta"]

        def eta(chain: int, part: slice) -> np.ndarray:
            return stored[chain, part].to_numpy()

    n_chains, n_draws = tau2_all.shape
    rng = np.random.default_rng(random_seed)
    theta = np.empty((n_chains, n_draws, *y.shape))
    m = mask[None, :, :]
    for chain in range(n_chains):
        for start in range(0, n_draws, _CHUNK):
            part = slice(start, start + _CHUNK)
            e = eta(chain, part)
            tau2 = tau2_all[chain, part][:, None]
            omega2 = omega2_all[chain, part][:, None, None]
            s = sampling_variance(posterior, chain, part, mask, variance, n)
            r = np.where(m, y0[None] - e, 0.0)
            inv_d = np.where(m, 1.0 / (omega2 + s), 0.0)
            precision_u = 1.0 / tau2 + inv_d.sum(axis=2)
            mean_u = (r * inv_d).sum(axis=2) / precision_u
            u = mean_u + rng.standard_normal(mean_u.shape) / np.sqrt(precision_u)
            precision_v = 1.0 / omega2 + np.where(m, 1.0 / s, 0.0)
            mean_v = np.where(m, (r - u[:, :, None]) / s, 0.0) / precision_v
            v = mean_v + rng.standard_normal(e.shape) / np.sqrt(precision_v)
            theta[chain, part] = e + u[:, :, None] + v
    dims = ("chain", "draw", "cell", "wave")
    return posterior.drop_vars("eta", errors="ignore").assign(theta=(dims, theta))


def linked_shrinkage(
    posterior: xr.Dataset,
    mask: np.ndarray,
    *,
    variance: np.ndarray | None = None,
    n: np.ndarray | None = None,
) -> np.ndarray:
    """Posterior mean of ``1 - gamma`` per (cell, wave) (see the module docstring); 1 where a
    cell has no data in a wave (its estimate is all model)."""
    tau2_all = posterior["sd_cell"].to_numpy() ** 2
    omega2_all = posterior["sd_wave"].to_numpy() ** 2
    m = np.asarray(mask, dtype=bool)[None, :, :]
    total = np.zeros(m.shape[1:])
    count = 0
    for chain in range(tau2_all.shape[0]):
        for start in range(0, tau2_all.shape[1], _CHUNK):
            part = slice(start, start + _CHUNK)
            tau2 = tau2_all[chain, part][:, None]
            omega2 = omega2_all[chain, part][:, None, None]
            s = sampling_variance(posterior, chain, part, m[0], variance, n)
            inv_d = np.where(m, 1.0 / (omega2 + s), 0.0)
            precision_u = 1.0 / tau2 + inv_d.sum(axis=2)
            b = omega2 / (omega2 + s)
            gamma = np.where(m, b + (1.0 - b) * inv_d / precision_u[:, :, None], 0.0)
            total += (1.0 - gamma).sum(axis=0)
            count += gamma.shape[0]
    return total / count
