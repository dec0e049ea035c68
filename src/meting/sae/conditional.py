"""Draws of the cell means after a fit with the cell effects integrated out.

In both small-area models the cell mean is ``theta_c = eta_c + cell_c`` with
``cell_c ~ Normal(0, sd_cell)``, and the data of the cell enter through one normal term
``y_c ~ Normal(theta_c, sqrt(v_c))`` (Fay-Herriot: the direct estimate and its smoothed variance;
unit level: the cell mean and ``sigma^2 / n_c``). Given one posterior draw of the other parameters
the conditional posterior of ``theta_c`` is therefore normal, with

* precision ``1 / sd_cell^2 + 1 / v_c`` (only ``1 / sd_cell^2`` for a cell without data), and
* mean ``(eta_c / sd_cell^2 + y_c / v_c) / precision`` (the shrinkage of the direct estimate
  towards the group effects that gives the Fay-Herriot estimator its name).

Drawing ``theta_c`` from it for every posterior draw gives draws from the joint posterior, the
same as sampling the cell effects with NUTS (``tests/test_sae.py`` compares the two), while NUTS
only has to explore the few hundred hyperparameters and group effects.
"""

from __future__ import annotations

import numpy as np
import xarray as xr


def draw_cell_means(
    posterior: xr.Dataset,
    estimate: np.ndarray | None = None,
    *,
    variance: np.ndarray | None = None,
    n: np.ndarray | None = None,
    random_seed: int,
) -> xr.Dataset:
    """Replace ``eta`` in ``posterior`` by ``theta``, drawn from its exact normal conditional.

    Parameters
    ----------
    posterior
        Draws with ``eta`` (chain, draw, cell) and ``sd_cell`` (chain, draw); for the unit-level
        model also ``sigma`` (chain, draw); for the MRP model also ``cell_score`` (chain, draw,
        cell), which is dropped as well.
    estimate
        The data per cell: the direct estimate (Fay-Herriot) or the cell mean (unit level); NaN
        for cells without data. None for the MRP model (the data enter through ``cell_score``).
    variance
        Fay-Herriot: the known sampling variance ``se_c^2`` per cell.
    n
        Unit level and MRP: the respondents per cell; the data precision is ``n_c / sigma^2``.
    random_seed
        Seed of the normal draws, so that the same fit gives the same ``theta`` byte for byte.

    Notes
    -----
    In all three cases the conditional is ``theta_c = eta_c + Normal(S_c / P_c, 1 / sqrt(P_c))``
    with ``P_c = 1 / sd_cell^2 + W_c``; ``W_c`` is the data precision of the cell (``1 / v_c``
    or ``n_c / sigma^2``) and ``S_c = W_c (y_c - eta_c)`` (MRP: the stored ``cell_score``).
    """
    if (variance is None) == (n is None):
        raise ValueError("give exactly one of variance (area level) or n (unit level)")
    mrp = "cell_score" in posterior
    if (estimate is None) != mrp:
        raise ValueError("give estimate, except for an MRP posterior (with cell_score)")
    eta = posterior["eta"]
    tau2 = posterior["sd_cell"].to_numpy() ** 2  # (chain, draw)
    if estimate is not None:
        y = np.asarray(estimate, dtype=float)
        observed = np.isfinite(y)
        y_obs = np.where(observed, y, 0.0)
    rng = np.random.default_rng(random_seed)
    theta = np.empty(eta.shape)
    for chain in range(eta.sizes["chain"]):  # one chain at a time keeps the memory small
        eta_c = eta[chain].to_numpy()
        if variance is not None:
            v = np.asarray(variance, dtype=float)[None, :]
            data_precision = np.where(observed, 1.0 / np.where(observed, v, 1.0), 0.0)
        else:
            sigma = posterior["sigma"].to_numpy()[chain][:, None]
            data_precision = np.asarray(n, dtype=float)[None, :] / sigma**2
        if mrp:
            score = posterior["cell_score"][chain].to_numpy()
        else:
            score = data_precision * np.where(observed, y_obs - eta_c, 0.0)
        precision = 1.0 / tau2[chain][:, None] + data_precision
        shift = score / precision + rng.standard_normal(eta_c.shape) / np.sqrt(precision)
        theta[chain] = eta_c + shift
    drop = ["eta", "cell_score"] if mrp else ["eta"]
    return posterior.drop_vars(drop).assign(theta=(eta.dims, theta))
