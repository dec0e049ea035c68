"""How much of a Fay-Herriot cell estimate comes from the model: the shrinkage weight.

In the Fay-Herriot model ``direct_c ~ Normal(theta_c, se_c)``, ``theta_c ~ Normal(eta_c,
sigma_u)``, the cell mean given the parameters is ``gamma_c * direct_c + (1 - gamma_c) * eta_c``
with ``gamma_c = sigma_u**2 / (sigma_u**2 + se_c**2)``. The *shrinkage weight* ``1 - gamma_c =
se_c**2 / (sigma_u**2 + se_c**2)`` is the share of the estimate that comes from the model (the
other cells) rather than from the cell's own respondents: near 0 for a large cell, 1 for a cell
without respondents (a pure model prediction). It is averaged over the posterior draws of the
between-cell sd ``sigma_u`` (``sd_cell``), with the cell's direct standard error as the model used
it (the smoothed one).
"""

from __future__ import annotations

import numpy as np

__all__ = ["shrinkage_weight"]


def shrinkage_weight(sd_between: np.ndarray | float, se: np.ndarray) -> np.ndarray:
    """Posterior mean of ``1 - gamma_c = se_c**2 / (sd**2 + se_c**2)`` per cell.

    Parameters
    ----------
    sd_between
        Posterior draws (any shape, flattened) of the between-cell sd, or one value.
    se
        The direct standard error of every cell; NaN for a cell without respondents, which gets
        weight 1 (the estimate is the model's prediction).
    """
    sd = np.asarray(sd_between, dtype=float).ravel()[:, None]
    s = np.asarray(se, dtype=float).ravel()
    observed = np.isfinite(s)
    v = np.where(observed, s, 0.0)[None, :] ** 2
    with np.errstate(divide="ignore", invalid="ignore"):
        w = np.where(sd**2 + v > 0, v / (sd**2 + v), 0.0)
    out = w.mean(axis=0)
    out[~observed] = 1.0
    return out
