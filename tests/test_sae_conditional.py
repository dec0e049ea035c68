"""The cell means drawn after a fit with the cell effects integrated out (meting.sae.conditional).

Three checks: the draws follow the textbook Fay-Herriot conditional (closed form: shrinkage
``gamma = tau^2 / (tau^2 + v)``, mean ``gamma y + (1 - gamma) eta``, variance ``gamma v``); the
likelihood with the cell effects integrated out is the integral of the one that samples them
(quadrature over each cell effect; the MRP form against scipy's multivariate normal), both fast;
and (slow, real MCMC) a fit with the cell effects integrated out gives the same posterior as one
that samples them.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import xarray as xr

warnings.filterwarnings("ignore", category=FutureWarning)

import arviz as az  # noqa: E402

from meting.sae import (  # noqa: E402
    Priors,
    SampleSettings,
    direct_from_statistics,
    fit_area_level,
    fit_unit_level,
    smooth_variances,
    sufficient_statistics,
)
from meting.sae.conditional import draw_cell_means  # noqa: E402
from meting.sae.simulate import simulate_survey  # noqa: E402

GROUPS = ["life_event", "municipality"]
DRAWS = 40_000


def _posterior(eta: np.ndarray, sd_cell: float, sigma: float | None = None) -> xr.Dataset:
    """One chain of DRAWS identical draws: the conditional is then a fixed normal per cell."""
    data = {
        "eta": (("chain", "draw", "cell"), np.broadcast_to(eta, (1, DRAWS, eta.size)).copy()),
        "sd_cell": (("chain", "draw"), np.full((1, DRAWS), sd_cell)),
    }
    if sigma is not None:
        data["sigma"] = (("chain", "draw"), np.full((1, DRAWS), sigma))
    return xr.Dataset(data, coords={"cell": [f"c{i}" for i in range(eta.size)]})


def _check_moments(theta: np.ndarray, mean: np.ndarray, var: np.ndarray) -> None:
    # 5 standard errors of the sample mean and of the sample variance (normal draws)
    got_mean, got_var = theta.mean(axis=0), theta.var(axis=0, ddof=1)
    assert np.all(np.abs(got_mean - mean) < 5 * np.sqrt(var / DRAWS)), (got_mean, mean)
    assert np.all(np.abs(got_var - var) < 5 * var * np.sqrt(2 / (DRAWS - 1))), (got_var, var)


def test_area_level_conditional_is_the_fay_herriot_shrinkage():
    eta = np.array([6.0, 7.0, 6.5, 6.8])
    y = np.array([7.0, 6.0, np.nan, 6.8])  # the third cell has no data
    v = np.array([0.04, 1.0, np.nan, 0.25])
    tau = 0.3
    post = draw_cell_means(_posterior(eta, tau), y, variance=v, random_seed=1)
    assert "eta" not in post and post["theta"].dims == ("chain", "draw", "cell")
    gamma = np.where(np.isfinite(y), tau**2 / (tau**2 + np.nan_to_num(v, nan=1.0)), 0.0)
    mean = np.where(np.isfinite(y), gamma * np.nan_to_num(y) + (1 - gamma) * eta, eta)
    var = np.where(np.isfinite(y), gamma * np.nan_to_num(v), tau**2)
    _check_moments(post["theta"].to_numpy()[0], mean, var)


def test_unit_level_conditional_uses_sigma_squared_over_n():
    eta = np.array([6.2, 7.1, 6.6])
    ybar = np.array([7.0, np.nan, 6.0])
    n = np.array([4.0, 0.0, 50.0])
    tau, sigma = 0.25, 1.5
    post = draw_cell_means(_posterior(eta, tau, sigma), ybar, n=n, random_seed=2)
    v = sigma**2 / np.where(n > 0, n, 1.0)
    gamma = np.where(n > 0, tau**2 / (tau**2 + v), 0.0)
    mean = gamma * np.nan_to_num(ybar) + (1 - gamma) * eta
    var = np.where(n > 0, gamma * v, tau**2)
    _check_moments(post["theta"].to_numpy()[0], mean, var)


def test_conditional_draws_are_reproducible_and_need_one_variance_source():
    post = _posterior(np.array([6.0, 7.0]), 0.2)
    y, v = np.array([6.5, 7.5]), np.array([0.1, 0.1])
    a = draw_cell_means(post, y, variance=v, random_seed=3)["theta"].to_numpy()
    b = draw_cell_means(post, y, variance=v, random_seed=3)["theta"].to_numpy()
    np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="exactly one"):
        draw_cell_means(post, y, random_seed=3)


@pytest.fixture(scope="module")
def survey():
    return simulate_survey(
        12, n_municipalities=8, n_events=4, respondents=400, age_effects=(0.0,) * 4,
        sex_effects=(0.0, 0.0),
    )  # fmt: skip


def _z_differences(a: az.InferenceData, b: az.InferenceData, name: str) -> np.ndarray:
    """(mean_a - mean_b) / combined Monte Carlo standard error, per scalar of ``name``."""
    diff = a.posterior[name].mean(("chain", "draw")) - b.posterior[name].mean(("chain", "draw"))
    se = np.sqrt(az.mcse(a.posterior[[name]])[name] ** 2 + az.mcse(b.posterior[[name]])[name] ** 2)
    return np.atleast_1d((diff / se).to_numpy())


def _both_forms(survey, kind: str):
    """The model with the cell effects integrated out, the one sampling them, the data term."""
    from meting.sae.data import build_index
    from meting.sae.model import UnitRows, build_area_model, build_unit_model
    from meting.sae.spec import ModelSpec

    stats = sufficient_statistics(survey.respondents, "score", GROUPS)
    priors = Priors(centred=())
    if kind == "area":
        cells = smooth_variances(direct_from_statistics(stats, GROUPS))
        index, row_cell = build_index(cells, GROUPS, "cells")
        order = np.argsort(row_cell)
        est = cells["estimate"].to_numpy(dtype=float)[order]
        se = cells["se_smoothed"].to_numpy(dtype=float)[order]
        assert np.isfinite(est).sum() >= 20

        def build(marginal: bool):
            spec = ModelSpec("area", tuple(GROUPS), priors=priors, marginalise_cells=marginal)
            return build_area_model(spec, index, est, se)

        return build(True), build(False), "direct"
    index, row_cell = build_index(stats, GROUPS, "stats")
    rows = UnitRows(
        row_cell=row_cell,
        n=stats["n"].to_numpy(),
        mean=stats["mean"].to_numpy(),
        sumsq=stats["sumsq"].to_numpy(),
        weight=np.ones(len(stats)),
        strata_codes={},
        strata_levels={},
    )

    def build_unit(marginal: bool):
        spec = ModelSpec("unit", tuple(GROUPS), priors=priors, marginalise_cells=marginal)
        return build_unit_model(spec, index, rows)

    return build_unit(True), build_unit(False), "mean"


@pytest.mark.parametrize("kind", ["area", "unit"])
def test_integrated_likelihood_is_the_integral_over_the_cell_effects(survey, kind):
    """Per cell, the data term of the marginal model must equal log of the integral over
    z_cell ~ Normal(0, 1) of the data term of the model that samples z_cell (Gauss-Hermite
    quadrature of the sampled model's own density, independent of the closed form)."""
    from scipy.special import logsumexp

    marginal, sampled, name = _both_forms(survey, kind)
    assert "z_cell" in sampled.named_vars and "z_cell" not in marginal.named_vars
    terms = {}
    for key, model in (("marginal", marginal), ("sampled", sampled)):
        terms[key] = model.compile_fn(
            model.logp(vars=[model[name]], sum=False)[0],
            inputs=model.value_vars,
            on_unused_input="ignore",
            mode="FAST_COMPILE",
        )
    nodes, weights = np.polynomial.hermite_e.hermegauss(120)  # weight exp(-z^2 / 2)
    rng = np.random.default_rng(7)
    start = marginal.initial_point()
    n_cells = sampled.initial_point()["z_cell"].size
    for tau in (0.05, 0.4):
        point = {k: v + rng.normal(0.0, 0.3, np.shape(v)) for k, v in start.items()}
        point["sd_cell_log__"] = np.asarray(np.log(tau))
        expected_terms = np.array(
            [terms["sampled"]({**point, "z_cell": np.full(n_cells, z)}) for z in nodes]
        )
        expected = logsumexp(expected_terms + np.log(weights)[:, None], axis=0) - 0.5 * np.log(
            2 * np.pi
        )
        np.testing.assert_allclose(terms["marginal"](point), expected, rtol=0, atol=1e-8)


@pytest.mark.slow
@pytest.mark.parametrize("model", ["area", "unit", "mrp"])
def test_marginal_fit_gives_the_same_posterior_as_sampling_the_cell_effects(survey, model):
    # small data: every level non-centred and a high target_accept against divergences
    sampling = SampleSettings(
        sampler="pymc", chains=2, draws=800, tune=600, target_accept=0.95, random_seed=5
    )
    settings = {"sampling": sampling, "priors": Priors(centred=())}
    stats = sufficient_statistics(survey.respondents, "score", GROUPS)
    fits = []
    for marginal in (True, False):
        if model == "area":
            cells = smooth_variances(direct_from_statistics(stats, GROUPS))
            fit = fit_area_level(
                cells, "estimate", "se_smoothed", GROUPS,
                marginalise_cells=marginal, **settings,
            )  # fmt: skip
        elif model == "unit":
            fit = fit_unit_level(stats, GROUPS, marginalise_cells=marginal, **settings)
        else:  # MRP: the strata rows of a cell share its effect
            keys = [*GROUPS, "age_band", "sex"]
            strata_stats = sufficient_statistics(survey.respondents, "score", keys)
            fit = fit_unit_level(
                strata_stats, GROUPS, population=survey.population,
                marginalise_cells=marginal, **settings,
            )  # fmt: skip
        fits.append(fit.idata)
    assert "z_cell" not in fits[0].posterior and "z_cell" in fits[1].posterior
    # a stray divergence (sd near 0 on this tiny data) is tolerated; many would bias the means
    assert all(int(f.sample_stats["diverging"].sum()) <= 5 for f in fits)
    z = np.concatenate(
        [_z_differences(*fits, name) for name in ("theta", "mu", "sd_municipality", "sd_cell")]
    )
    # about 40 comparisons of two independent MCMC runs: |z| < 4 for all of them
    assert np.abs(z).max() < 4.0, np.round(z, 2)
    # and the posterior sd of each cell mean agrees within 15 %
    sd = [f.posterior["theta"].std(("chain", "draw")).to_numpy() for f in fits]
    np.testing.assert_allclose(sd[0], sd[1], rtol=0.15)


def test_mrp_marginal_likelihood_is_the_multivariate_normal_of_each_cell(survey):
    """With the cell effect shared by the strata rows of a cell integrated out, the data part of
    the log density must be, per cell, the multivariate normal of the row means with covariance
    diag(sigma^2 / n_r) + tau^2 (scipy, independent of the model code)."""
    from scipy.stats import multivariate_normal

    from meting.sae.data import build_index
    from meting.sae.model import UnitRows, build_unit_model
    from meting.sae.spec import ModelSpec

    strata = ["age_band", "sex"]
    stats = sufficient_statistics(survey.respondents, "score", [*GROUPS, *strata])
    index, row_cell = build_index(stats, GROUPS, "stats")
    rows = UnitRows(
        row_cell=row_cell,
        n=stats["n"].to_numpy(),
        mean=stats["mean"].to_numpy(),
        sumsq=stats["sumsq"].to_numpy(),
        weight=np.ones(len(stats)),
        strata_codes={k: pd.Categorical(stats[k]).codes.astype(np.int64) for k in strata},
        strata_levels={k: np.asarray(pd.Categorical(stats[k]).categories) for k in strata},
    )
    spec = ModelSpec("unit", tuple(GROUPS), strata=tuple(strata), priors=Priors())
    model = build_unit_model(spec, index, rows)
    data_logp = model.compile_fn(
        model.logp(vars=[model["mean"], model["cell_effect"]], sum=True),
        inputs=model.value_vars,
        on_unused_input="ignore",
        mode="FAST_COMPILE",
    )
    point = model.initial_point()
    n, means = rows.n.astype(float), rows.mean
    for m, tau, sigma in [(6.5, 0.3, 1.2), (7.1, 0.05, 0.8), (5.9, 1.0, 2.0)]:
        # every effect at zero, so each row's prediction is m (the first level is centred on mu)
        values = {k: np.zeros_like(v) for k, v in point.items()}
        values.update(
            mu=np.asarray(m),
            level_life_event=np.full_like(point["level_life_event"], m),
            sd_cell_log__=np.log(tau),
            sigma_log__=np.log(sigma),
        )
        expected = 0.0
        for c in range(index.n_cells):
            r = np.flatnonzero((row_cell == c) & (n > 0))
            cov = np.diag(sigma**2 / n[r]) + tau**2
            expected += multivariate_normal(np.full(r.size, m), cov).logpdf(means[r])
        np.testing.assert_allclose(data_logp(values), expected, rtol=1e-10)
