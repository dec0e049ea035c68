"""The small-area model linked across waves, in PyMC, with the cell effects integrated out.

For cell ``c`` (a life event x municipality) in wave ``w``::

    theta_cw = level[e(c), w] + sum_g effect_g[g(c)] + u_c + v_cw
    u_c  ~ Normal(0, sd_cell)    the persistent cell effect (the same in every wave)
    v_cw ~ Normal(0, sd_wave)    the cell's own deviation in wave w
    level[e, w] ~ Normal(mu_w, sd_<first group>)   one level per life event and wave (centred)
    mu_w ~ Normal(mu_loc, mu_scale)                one overall mean per wave

and the other groups (the municipality) get persistent effects, non-centred as in the single-wave
model (:mod:`meting.sae.model`). The data of a cell-wave enter through one normal term
``y_cw ~ Normal(theta_cw, sqrt(s_cw))``: Fay-Herriot the direct estimate with its known sampling
variance ``s = se^2``; unit level the cell mean with ``s = sigma^2 / n`` plus the within-cell part
of the likelihood (as in :func:`meting.sae.model.build_unit_model`).

Why a persistent effect plus deviations (compound symmetry) and not an AR(1) cell effect: chosen
by calibration (``python -m meting.sae.calibration_structure``, results in
``benchmarks/results/sae_calibration/linked_structure.txt``). Both structures were fitted to the
same 20 simulated data sets of each of two generators (14 life events x 30 municipalities x 3
waves, about 6,800 respondents): the persistent-plus-deviation generator of
:func:`meting.sae.simulate.simulate_linked_waves` (the structure of the issue's test data and of
``meting.synthetic``: a persistent cell effect plus a small drift per wave) and an AR(1) generator
(rho 0.8), 4 chains x 500 draws. The cell means are the same under both structures in every size
class (overall 90 % coverage 0.90-0.91, RMSE 0.29-0.30), and so are the point estimates of the change 2008 -> 2010 (RMSE 0.179 vs 0.182
on compound data, 0.283 vs 0.281 on AR(1) data). The intervals of the change differ: on compound
data this model covers 0.918 with a mean 90 % width of 0.65, the AR(1) 0.966 with 0.81 (too wide,
above the 0.85-0.95 band in every size class but the largest); on AR(1) data this model covers 0.833 (0.81-0.85 by
size class) and the AR(1) 0.904. Each is honest under its own generator and neither wins on
accuracy; compound symmetry stays the default because it is the structure the data here are made
with, and because it gives the narrower honest intervals there. The AR(1) is the option
``Priors(wave_structure="ar1")`` (:mod:`meting.sae.linked_ar1`): its ``rho`` recovered the
generators' correlation (posterior mean 0.80 on AR(1) data with rho 0.8, 0.90 on compound data
whose waves correlate 0.93), so on real waves a fitted ``rho`` clearly below 0.9 (waves further
apart less alike) is the sign to switch. The fit time is about the same (median 19 s vs 20 s
per fit on compound data, 13 s vs 16 s on AR(1) data, 2 shared cores). This model also has a simple closed form: the vector of a cell's observed waves is
multivariate normal with covariance ``sd_cell^2 J + diag(sd_wave^2 + s_w)``, whose inverse and
determinant follow from Sherman-Morrison and the matrix determinant lemma in O(waves) per cell
(:func:`linked_loglik`). NUTS therefore only explores the levels, the municipality effects and
the four scales; the cell effects are drawn afterwards from their exact conditional
(:mod:`meting.sae.linked_conditional`).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message=".*could not link to a BLAS.*")
    warnings.filterwarnings("ignore", category=FutureWarning)
    import pymc as pm
    import pytensor.tensor as pt

from meting.sae.data import CellIndex
from meting.sae.model import _scale_rv
from meting.sae.spec import ModelSpec

__all__ = ["LinkedData", "build_linked_model", "linked_eta", "linked_loglik"]


@dataclass(frozen=True)
class LinkedData:
    """The data of a linked fit as (cell, wave) arrays.

    ``y`` is the direct estimate (Fay-Herriot) or cell mean (unit level), NaN where the cell has
    no data in that wave; ``variance`` the known sampling variance (Fay-Herriot) or None; ``n``
    the respondents (unit level: the data precision is ``n / sigma^2``); ``sumsq`` the within-cell
    sums of squares (unit level).
    """

    waves: np.ndarray
    y: np.ndarray
    variance: np.ndarray | None = None
    n: np.ndarray | None = None
    sumsq: np.ndarray | None = None

    @property
    def mask(self) -> np.ndarray:
        return np.isfinite(self.y)

    def arrays(self) -> dict[str, np.ndarray]:
        """The data of the model's ``pm.Data`` containers, by name: a model compiled once is
        sampled on other data of the same shape with nutpie's ``with_data`` (the calibration
        fits dozens of data sets of one grid)."""
        mask = self.mask
        out = {"y0": np.where(mask, self.y, 0.0), "mask": mask.astype(float)}
        if self.variance is not None:
            out["variance"] = np.where(mask, self.variance, 1.0)
        else:
            assert self.n is not None and self.sumsq is not None
            n = np.asarray(self.n, dtype=float)
            out["n"] = np.where(mask, n, 1.0)
            out["n_within"] = np.asarray(float(n[mask].sum()) - float(mask.sum()))
            out["ss_total"] = np.asarray(float(np.asarray(self.sumsq, dtype=float)[mask].sum()))
        return out


def linked_loglik(
    resid: Any, variance: Any, mask: Any, tau2: Any, omega2: Any, xp: Any = np
) -> Any:
    """Log density of every cell's observed waves with its cell effects integrated out (summed).

    ``resid`` (cells x waves) is ``y - eta``, ``variance`` the sampling variance ``s`` (any
    positive value where ``mask`` is False; ``mask`` boolean, or 0/1 floats), ``tau2 = sd_cell^2``, ``omega2 = sd_wave^2``. With
    ``D_w = omega2 + s_w``, ``A = sum_w 1/D_w``, ``B = sum_w r_w/D_w`` and ``Q = sum_w r_w^2/D_w``
    over the observed waves, the covariance ``tau2 J + diag(D)`` has determinant
    ``prod D_w (1 + tau2 A)`` and quadratic form ``Q - tau2 B^2 / (1 + tau2 A)``. ``xp`` is
    ``numpy`` or ``pytensor.tensor`` (the model uses the latter; the tests the former against
    scipy's multivariate normal).
    """
    m = mask.astype(float) if isinstance(mask, np.ndarray) else mask
    r = m * resid
    d = omega2 + variance
    inv = m / d
    a = (inv).sum(axis=1)
    b = (r * inv).sum(axis=1)
    q = (r * r * inv).sum(axis=1)
    logdet = (m * xp.log(d)).sum(axis=1) + xp.log1p(tau2 * a)
    quad = q - tau2 * b * b / (1.0 + tau2 * a)
    return -0.5 * (logdet + quad).sum() - 0.5 * math.log(2.0 * math.pi) * m.sum()


def _linked_predictor(spec: ModelSpec, index: CellIndex, n_waves: int) -> pt.TensorVariable:
    """``eta`` (cells x waves) without the cell effects; inside a model context."""
    priors = spec.priors
    groups = list(spec.groups)
    centred = priors.centred_groups(groups)
    first = groups[0]
    mu = pm.Normal("mu", mu=priors.mu_loc, sigma=priors.mu_scale, dims="wave")
    sd_first = _scale_rv(f"sd_{first}", priors.sd_prior(first))
    if first in centred:
        level = pm.Normal(f"level_{first}", mu=mu[None, :], sigma=sd_first, dims=(first, "wave"))
    else:
        z = pm.Normal(f"z_{first}", mu=0.0, sigma=1.0, dims=(first, "wave"))
        level = mu[None, :] + sd_first * z
    eta = level[index.codes[first], :]
    for g in groups[1:]:
        sd = _scale_rv(f"sd_{g}", priors.sd_prior(g))
        if g in centred:
            effect = pm.Normal(f"effect_{g}", mu=0.0, sigma=sd, dims=g)
        else:
            effect = sd * pm.Normal(f"z_{g}", mu=0.0, sigma=1.0, dims=g)
        eta = eta + effect[index.codes[g]][:, None]
    return eta


def linked_eta(
    posterior: Any, spec: ModelSpec, index: CellIndex, chain: int, draws: slice
) -> np.ndarray:
    """``eta`` (draws, cell, wave) of one chain's ``draws`` from the sampled parameters, in
    NumPy: the same sum as :func:`_linked_predictor` (the fit does not store the deterministic
    ``eta`` while sampling; a copy of every cell and wave per draw slows nutpie down)."""
    groups = list(spec.groups)
    centred = spec.priors.centred_groups(groups)
    first = groups[0]

    def values(name: str) -> np.ndarray:
        return np.asarray(posterior[name].to_numpy()[chain, draws], dtype=float)

    if first in centred:
        level = values(f"level_{first}")  # (draws, levels, wave)
    else:
        sd = values(f"sd_{first}")[:, None, None]
        level = values("mu")[:, None, :] + sd * values(f"z_{first}")
    eta = level[:, index.codes[first], :]
    for g in groups[1:]:
        if g in centred:
            effect = values(f"effect_{g}")
        else:
            effect = values(f"sd_{g}")[:, None] * values(f"z_{g}")
        eta += effect[:, index.codes[g]][:, :, None]
    return eta


def build_linked_model(spec: ModelSpec, index: CellIndex, data: LinkedData) -> pm.Model:
    """The linked model (see the module docstring) for Fay-Herriot (``data.variance``) or unit
    level (``data.n``, ``data.sumsq``) data.

    With ``spec.marginal_cells`` the model holds ``eta`` (cell, wave) and a ``Potential``
    ``cells`` with :func:`linked_loglik`; otherwise it samples ``z_cell`` and ``z_wave`` and
    holds ``theta``.
    """
    mask = data.mask
    coords: dict[str, Any] = {g: index.levels[g] for g in index.groups}
    coords["cell"] = index.labels
    coords["wave"] = np.asarray(data.waves, dtype=object).astype(str)
    arrays = data.arrays()
    with pm.Model(coords=coords) as model:
        box = {
            name: pm.Data(name, value, dims=("cell", "wave") if value.ndim == 2 else None)
            for name, value in arrays.items()
        }
        eta = _linked_predictor(spec, index, len(data.waves))
        sd_cell = _scale_rv("sd_cell", spec.priors.cell_sd)
        sd_wave = _scale_rv("sd_wave", spec.priors.wave_sd)
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
            loglik = linked_loglik(resid, variance, box["mask"], sd_cell**2, sd_wave**2, xp=pt)
            pm.Potential("cells", loglik)
        else:
            z_cell = pm.Normal("z_cell", 0.0, 1.0, dims="cell")
            z_wave = pm.Normal("z_wave", 0.0, 1.0, dims=("cell", "wave"))
            theta = eta + sd_cell * z_cell[:, None] + sd_wave * z_wave
            theta = pm.Deterministic("theta", theta, dims=("cell", "wave"))
            rows, cols = np.nonzero(mask)
            pm.Normal(
                "direct",
                mu=theta[rows, cols],
                sigma=pt.sqrt(variance[rows, cols]),
                observed=data.y[rows, cols],
            )
    return model
