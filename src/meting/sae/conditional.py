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
    estimate: np.ndarray,
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
        model also ``sigma`` (chain, draw).
    estimate
        The data per cell: the direct estimate (Fay-Herriot) or the cell mean (unit level); NaN
        for cells without data.
    variance
        Fay-Herriot: the known sampling variance ``se_c^2`` per cell.
    n
        Unit level: the respondents per cell; the variance is then ``sigma^2 / n_c`` per draw.
    random_seed
        Seed of the normal draws, so that the same fit gives the same ``theta`` byte for byte.
    """
    if (variance is None) == (n is None):
        raise ValueError("give exactly one of variance (area level) or n (unit level)")
    eta = posterior["eta"]
    tau2 = posterior["sd_cell"].to_numpy() ** 2  # (chain, draw)
    y = np.asarray(estimate, dtype=float)
    observed = np.isfinite(y)
    y_obs = np.where(observed, y, 0.0)
    rng = np.random.default_rng(random_seed)
    theta = np.empty(eta.shape)
    for chain in range(eta.sizes["chain"]):  # one chain at a time keeps the memory small
        prior_precision = 1.0 / tau2[chain][:, None]
        if variance is not None:
            v = np.asarray(variance, dtype=float)[None, :]
        else:
            counts = np.asarray(n, dtype=float)[None, :]
            sigma = posterior["sigma"].to_numpy()[chain][:, None]
            v = sigma**2 / np.where(observed, counts, 1.0)
        data_precision = np.where(observed, 1.0 / np.where(observed, v, 1.0), 0.0)
        precision = prior_precision + data_precision
        mean = (eta[chain].to_numpy() * prior_precision + y_obs * data_precision) / precision
        theta[chain] = mean + rng.standard_normal(mean.shape) / np.sqrt(precision)
    return posterior.drop_vars("eta").assign(theta=(eta.dims, theta))
