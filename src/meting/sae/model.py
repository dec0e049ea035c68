"""Build the PyMC models of the small-area estimates from a :class:`~meting.sae.spec.ModelSpec`.

Three likelihoods share one linear predictor (see :class:`~meting.sae.spec.Priors`):

* area level (Fay-Herriot): ``direct_c ~ Normal(theta_c, se_c)`` for the observed cells;
* unit level on sufficient statistics: ``mean_r ~ Normal(eta_r, sigma / sqrt(n_r))`` plus a
  ``Potential`` ``-(N - R) log(sigma) - sum_r SS_r / (2 sigma^2)`` for the within-row part, which
  is the one-row-per-respondent likelihood ``score_i ~ Normal(eta_r[i], sigma)`` up to a constant;
* the one-row-per-respondent model itself (:func:`build_respondent_model`, slow, for validation).

``theta`` (per output cell) is a ``Deterministic``; in the MRP model it is the population-weighted
mean of the row predictions, so the stored draws are the post-stratified cell means.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field, replace

import numpy as np

with warnings.catch_warnings():
    # The BLAS probe warns on machines without libopenblas-dev + libgfortran; these models have no
    # matrix products worth speaking of, so the warning would only end up in reports.
    warnings.filterwarnings("ignore", message=".*could not link to a BLAS.*")
    warnings.filterwarnings("ignore", category=FutureWarning)
    import pymc as pm
    import pytensor.tensor as pt

from meting.sae.data import CellIndex
from meting.sae.spec import ModelSpec, ScalePrior


@dataclass(frozen=True)
class UnitRows:
    """Rows of the unit-level model (cells, or cells x weighting strata in MRP).

    ``row_cell`` maps each row to its output cell; ``strata_codes``/``strata_levels`` code the
    weighting variables; ``n``, ``mean`` and ``sumsq`` are the sufficient statistics (n = 0 for rows
    without respondents); ``weight`` is the population count of the row (1 without MRP).
    """

    row_cell: np.ndarray
    n: np.ndarray
    mean: np.ndarray
    sumsq: np.ndarray
    weight: np.ndarray
    strata_codes: dict[str, np.ndarray] = field(default_factory=dict)
    strata_levels: dict[str, np.ndarray] = field(default_factory=dict)


def _scale_rv(name: str, prior: ScalePrior) -> pt.TensorVariable:
    if prior.family == "halfnormal":
        return pm.HalfNormal(name, sigma=prior.scale)
    if prior.family == "halfcauchy":
        return pm.HalfCauchy(name, beta=prior.scale)
    if prior.family == "halfstudentt":
        return pm.HalfStudentT(name, nu=prior.nu, sigma=prior.scale)
    return pm.Exponential(name, lam=1.0 / prior.scale)


def _coords(index: CellIndex, covariate_names: list[str]) -> dict[str, np.ndarray]:
    coords: dict[str, np.ndarray] = {g: index.levels[g] for g in index.groups}
    coords["cell"] = index.labels
    if covariate_names:
        coords["covariate"] = np.asarray(covariate_names, dtype=object)
    return coords


def _cell_predictor(
    spec: ModelSpec, index: CellIndex, x: np.ndarray, covariate_names: list[str]
) -> tuple[pt.TensorVariable, pt.TensorVariable | None]:
    """The linear predictor per cell and ``sd_cell``; must be called inside a model context.

    With ``spec.marginal_cells`` the predictor leaves out the cell effect (it is integrated out
    by the likelihood); otherwise it includes ``sd_cell * z_cell``. ``sd_cell`` is None for a
    model on one group.
    """
    priors = spec.priors
    mu = pm.Normal("mu", mu=priors.mu_loc, sigma=priors.mu_scale)
    centred = priors.centred_groups(list(spec.groups))
    terms: list[pt.TensorVariable] = []
    mu_absorbed = False
    for g in spec.groups:
        sd = _scale_rv(f"sd_{g}", priors.sd_prior(g))
        codes = index.codes[g]
        if g in centred and not mu_absorbed:
            level = pm.Normal(f"level_{g}", mu=mu, sigma=sd, dims=g)
            terms.append(level[codes])
            mu_absorbed = True
        elif g in centred:
            effect = pm.Normal(f"effect_{g}", mu=0.0, sigma=sd, dims=g)
            terms.append(effect[codes])
        else:
            z = pm.Normal(f"z_{g}", mu=0.0, sigma=1.0, dims=g)
            terms.append(sd * z[codes])
    eta = terms[0] if mu_absorbed else mu + terms[0]
    for term in terms[1:]:
        eta = eta + term
    if covariate_names:
        beta = pm.Normal("beta", mu=0.0, sigma=priors.beta_scale, dims="covariate")
        eta = eta + pt.dot(pt.as_tensor_variable(x), beta)
    sd_cell = None
    if spec.has_cell_effect:
        sd_cell = _scale_rv("sd_cell", priors.cell_sd)
        if not spec.marginal_cells:
            z_cell = pm.Normal("z_cell", mu=0.0, sigma=1.0, dims="cell")
            eta = eta + sd_cell * z_cell
    return eta, sd_cell


def build_area_model(
    spec: ModelSpec,
    index: CellIndex,
    estimate: np.ndarray,
    se: np.ndarray,
    x: np.ndarray | None = None,
    covariate_names: list[str] | None = None,
) -> pm.Model:
    """The Fay-Herriot model: ``direct_c ~ Normal(theta_c, se_c)`` on cells with an estimate.

    ``estimate`` and ``se`` have one entry per cell of ``index``; cells with a missing estimate
    are predicted from the group effects only. With ``spec.marginal_cells`` the model holds
    ``eta`` (the cell means without their cell effect) instead of ``theta``, and the likelihood is
    ``direct_c ~ Normal(eta_c, sqrt(se_c^2 + sd_cell^2))``; draw ``theta`` afterwards with
    :func:`meting.sae.conditional.draw_cell_means`.
    """
    covariate_names = covariate_names or []
    observed = np.flatnonzero(np.isfinite(estimate))
    coords = _coords(index, covariate_names)
    coords["obs"] = observed
    with pm.Model(coords=coords) as model:
        eta, sd_cell = _cell_predictor(
            spec, index, x if x is not None else np.zeros((0, 0)), covariate_names
        )
        if spec.marginal_cells:
            mean = pm.Deterministic("eta", eta, dims="cell")
            assert sd_cell is not None  # marginal_cells implies a cell effect
            sigma = pt.sqrt(se[observed] ** 2 + sd_cell**2)
        else:
            mean = pm.Deterministic("theta", eta, dims="cell")
            sigma = se[observed]
        pm.Normal("direct", mu=mean[observed], sigma=sigma, observed=estimate[observed], dims="obs")
    return model


def _row_predictor(spec: ModelSpec, eta_cell: pt.TensorVariable, rows: UnitRows):
    eta = eta_cell[rows.row_cell]
    for k in spec.strata:
        effect = pm.ZeroSumNormal(f"effect_{k}", sigma=spec.priors.strata_scale, dims=k)
        eta = eta + effect[rows.strata_codes[k]]
    return eta


def _theta_from_rows(index: CellIndex, rows: UnitRows, eta_row: pt.TensorVariable):
    """Population-weighted mean of the row predictions per output cell."""
    weight = rows.weight.astype(float)
    totals = np.bincount(rows.row_cell, weights=weight, minlength=index.n_cells)
    summed = pt.inc_subtensor(pt.zeros(index.n_cells)[rows.row_cell], weight * eta_row)
    return summed / totals


def build_unit_model(
    spec: ModelSpec,
    index: CellIndex,
    rows: UnitRows,
    x: np.ndarray | None = None,
    covariate_names: list[str] | None = None,
) -> pm.Model:
    """Unit-level model ``score ~ Normal(eta_row, sigma)`` written on sufficient statistics.

    With ``spec.marginal_cells`` the cell effect is integrated out: without strata
    ``mean_c ~ Normal(eta_c, sqrt(sigma^2 / n_c + sd_cell^2))``; with strata (MRP) the rows of
    a cell share the effect and a ``Potential`` adds its integral
    (:func:`_integrate_shared_cell_effect`). The model then holds ``eta`` (MRP: the
    population-weighted mean of the row predictions without the cell effect) instead of
    ``theta`` (see :func:`build_area_model`).
    """
    covariate_names = covariate_names or []
    coords = _coords(index, covariate_names)
    coords.update(rows.strata_levels)
    obs = np.flatnonzero(rows.n > 0)
    coords["obs"] = obs
    n_obs = rows.n[obs].astype(float)
    n_total = float(n_obs.sum())
    ss_total = float(rows.sumsq[obs].sum())
    with pm.Model(coords=coords) as model:
        eta_cell, sd_cell = _cell_predictor(
            spec, index, x if x is not None else np.zeros((0, 0)), covariate_names
        )
        sigma = _scale_rv("sigma", spec.priors.sigma)
        eta_row = _row_predictor(spec, eta_cell, rows) if spec.strata else eta_cell[rows.row_cell]
        sampling_sd = sigma / np.sqrt(n_obs)
        if spec.marginal_cells and not spec.strata:
            assert sd_cell is not None  # marginal_cells implies a cell effect
            sampling_sd = pt.sqrt(sigma**2 / n_obs + sd_cell**2)
        pm.Normal("mean", mu=eta_row[obs], sigma=sampling_sd, observed=rows.mean[obs], dims="obs")
        pm.Potential("within", -(n_total - len(obs)) * pt.log(sigma) - ss_total / (2 * sigma**2))
        if spec.marginal_cells and spec.strata:
            assert sd_cell is not None  # marginal_cells implies a cell effect
            _integrate_shared_cell_effect(index, rows, obs, eta_row, sigma, sd_cell)
        if spec.strata:
            name = "eta" if spec.marginal_cells else "theta"
            pm.Deterministic(name, _theta_from_rows(index, rows, eta_row), dims="cell")
        elif spec.marginal_cells:
            pm.Deterministic("eta", eta_cell, dims="cell")
        else:
            pm.Deterministic("theta", eta_cell, dims="cell")
    return model


def _integrate_shared_cell_effect(
    index: CellIndex,
    rows: UnitRows,
    obs: np.ndarray,
    eta_row: pt.TensorVariable,
    sigma: pt.TensorVariable,
    sd_cell: pt.TensorVariable,
) -> None:
    """Integrate out the cell effect that the strata rows of a cell share (MRP).

    The rows ``r`` of cell ``c`` have ``mean_r ~ Normal(eta_r + cell_c, sigma / sqrt(n_r))``;
    with ``w_r = n_r / sigma^2``, ``W_c = sum_r w_r`` and ``S_c = sum_r w_r (mean_r - eta_r)``,
    integrating ``cell_c ~ Normal(0, tau)`` out multiplies the rows' likelihood (kept as it is)
    by ``exp(tau^2 S_c^2 / (2 (1 + tau^2 W_c))) / sqrt(1 + tau^2 W_c)`` (Sherman-Morrison and the
    matrix determinant lemma). ``cell_score`` = ``S_c`` is kept per draw: the conditional of the
    cell effect is ``Normal(S_c / P_c, 1 / sqrt(P_c))`` with ``P_c = 1 / tau^2 + W_c``, which
    :func:`meting.sae.conditional.draw_cell_means` draws from.
    """
    cell_of_obs = rows.row_cell[obs]
    n_obs = rows.n[obs].astype(float)
    n_cell = np.bincount(cell_of_obs, weights=n_obs, minlength=index.n_cells)
    residual = rows.mean[obs] - eta_row[obs]
    score = pt.inc_subtensor(pt.zeros(index.n_cells)[cell_of_obs], n_obs * residual) / sigma**2
    score = pm.Deterministic("cell_score", score, dims="cell")
    tau2 = sd_cell**2
    ratio = 1.0 + tau2 * n_cell / sigma**2
    pm.Potential("cell_effect", pt.sum(tau2 * score**2 / (2.0 * ratio) - 0.5 * pt.log(ratio)))


def build_respondent_model(
    spec: ModelSpec,
    index: CellIndex,
    rows: UnitRows,
    respondent_row: np.ndarray,
    score: np.ndarray,
) -> pm.Model:
    """The same unit-level model with one likelihood term per respondent (slow; for validation).

    ``respondent_row`` gives, per respondent, the row of ``rows`` it belongs to. The cell effects
    are always sampled here (``marginalise_cells`` is ignored): the point is the plain model.
    """
    spec = replace(spec, marginalise_cells=False)
    coords = _coords(index, [])
    coords.update(rows.strata_levels)
    with pm.Model(coords=coords) as model:
        eta_cell, _ = _cell_predictor(spec, index, np.zeros((0, 0)), [])
        sigma = _scale_rv("sigma", spec.priors.sigma)
        eta_row = _row_predictor(spec, eta_cell, rows) if spec.strata else eta_cell[rows.row_cell]
        pm.Normal("score", mu=eta_row[respondent_row], sigma=sigma, observed=score)
    return model
