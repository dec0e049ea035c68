"""Diagnostics of meting.sae: the vectorised R-hat/ESS against ArviZ, and hyperparameters count."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import xarray as xr

warnings.filterwarnings("ignore", category=FutureWarning)

import arviz as az  # noqa: E402

from meting.sae.diagnostics import diagnose, ess_bulk, ess_tail, rhat_rank  # noqa: E402


def _ar1(rng, n_par: int, chains: int, draws: int) -> np.ndarray:
    phi = rng.uniform(0.0, 0.97, n_par)[:, None]
    x = np.zeros((n_par, chains, draws))
    e = rng.normal(size=(n_par, chains, draws))
    for t in range(draws):
        x[:, :, t] = (phi * x[:, :, t - 1] if t else 0.0) + e[:, :, t]
    # some parameters with chains at different levels, one with many ties
    x[::3] += rng.normal(0.0, 0.5, (x[::3].shape[0], chains, 1))
    x[1] = np.round(x[1])
    return x


@pytest.mark.parametrize(("chains", "draws"), [(4, 400), (2, 21), (3, 100)])
def test_vectorised_statistics_equal_arviz(chains, draws):
    x = _ar1(np.random.default_rng(chains * draws), 24, chains, draws)
    ds = xr.Dataset({"a": (("chain", "draw", "k"), x.transpose(1, 2, 0))})
    np.testing.assert_allclose(rhat_rank(x), az.rhat(ds, method="rank")["a"], rtol=1e-10)
    np.testing.assert_allclose(ess_bulk(x), az.ess(ds, method="bulk")["a"], rtol=1e-10)
    np.testing.assert_allclose(ess_tail(x), az.ess(ds, method="tail")["a"], rtol=1e-10)


def _idata(rng, mu_stuck: bool, divergent: int = 0) -> az.InferenceData:
    chains, draws, cells = 4, 500, 30
    theta = rng.normal(size=(chains, draws, cells))
    mu = rng.normal(size=(chains, draws))
    if mu_stuck:  # each chain sits at its own level: mixed cells, unmixed hyperparameter
        mu = mu * 0.05 + np.array([-2.0, -1.0, 1.0, 2.0])[:, None]
    diverging = np.zeros((chains, draws), dtype=bool)
    diverging.flat[:divergent] = True
    post = xr.Dataset(
        {"mu": (("chain", "draw"), mu), "theta": (("chain", "draw", "cell"), theta)},
        coords={"cell": [f"c{i}" for i in range(cells)]},
    )
    stats = xr.Dataset({"diverging": (("chain", "draw"), diverging)})
    return az.InferenceData(posterior=post, sample_stats=stats)


def test_hyperparameters_are_checked_too():
    rng = np.random.default_rng(1)
    good = diagnose(_idata(rng, mu_stuck=False), sampler="test")
    assert good.trustworthy and good.warning_nl == ""
    bad = diagnose(_idata(rng, mu_stuck=True), sampler="test")
    # every cell mean looks perfect, only the hyperparameter shows the problem
    assert not bad.trustworthy
    assert bad.worst_rhat == "mu" and bad.worst_ess_bulk == "mu"
    assert bad.max_rhat > 1.5
    assert "bij mu" in bad.warning_nl
    assert bad.n_parameters == 31


def test_derived_variables_are_left_out_and_sampled_ones_are_not():
    rng = np.random.default_rng(2)
    idata = _idata(rng, mu_stuck=False)
    stuck = idata.posterior["theta"].to_numpy() + np.array([-2.0, -1.0, 1.0, 2.0])[:, None, None]
    idata.posterior["theta"] = (("chain", "draw", "cell"), stuck)
    assert not diagnose(idata, sampler="test").trustworthy
    derived = diagnose(idata, sampler="test", derived=("theta",))
    assert derived.trustworthy and derived.n_parameters == 1
    # a sampled parameter stays checked whatever derived names
    bad = diagnose(_idata(rng, mu_stuck=True), sampler="test", derived=("theta",))
    assert not bad.trustworthy and bad.worst_rhat == "mu"


def test_too_few_draws_make_a_fit_untrustworthy():
    """4 chains x 60 independent draws: R-hat fine, but no ESS can reach 400."""
    rng = np.random.default_rng(4)
    x = rng.normal(size=(4, 60))
    post = xr.Dataset({"mu": (("chain", "draw"), x)})
    d = diagnose(az.InferenceData(posterior=post), sampler="t")
    assert d.max_rhat < 1.05 and d.min_ess_bulk < 400 and d.n_divergences == 0
    assert not d.trustworthy and d.warning_nl.startswith("Let op:")


def test_divergences_make_a_fit_untrustworthy():
    d = diagnose(_idata(np.random.default_rng(2), mu_stuck=False, divergent=3), sampler="t")
    assert d.n_divergences == 3 and not d.trustworthy
    assert "3 divergente overgangen" in d.warning_nl


def test_worst_parameter_names_the_cell():
    rng = np.random.default_rng(3)
    idata = _idata(rng, mu_stuck=False)
    theta = idata.posterior["theta"].values.copy()
    theta[:, :, 7] += np.array([-3.0, -1.0, 1.0, 3.0])[:, None]
    idata.posterior["theta"] = (("chain", "draw", "cell"), theta)
    d = diagnose(idata, sampler="t")
    assert d.worst_rhat == "theta[c7]"
