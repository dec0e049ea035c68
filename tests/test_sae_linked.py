"""The small-area model linked across waves (meting.sae.linked*), its quality columns and the
benchmarking of draws.

Closed forms first: the likelihood with the cell effects integrated out equals scipy's
multivariate normal density of each cell's observed waves; the conditional draws have the moments
of the closed-form Gaussian posterior of the whole vector; the shrinkage is the derivative of that
posterior mean. Then plumbing with mocked sampling, and (slow) coverage on simulated waves.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from scipy import stats

warnings.filterwarnings("ignore", category=FutureWarning)

from meting.errors import ParameterError, SchemaError  # noqa: E402
from meting.sae import (  # noqa: E402
    SampleSettings,
    direct_from_statistics,
    fit_area_level,
    fit_unit_level,
    smooth_variances,
)
from meting.sae.aggregate import benchmark_draws  # noqa: E402
from meting.sae.linked_conditional import draw_linked_cell_means, linked_shrinkage  # noqa: E402
from meting.sae.linked_model import (  # noqa: E402
    LinkedData,
    build_linked_model,
    linked_eta,
    linked_loglik,
)
from meting.sae.quality import PUBLICATION_LABELS, PublicationRule, cell_shrinkage  # noqa: E402
from meting.sae.simulate import simulate_linked_waves  # noqa: E402

GROUPS = ["life_event", "municipality"]
KEYS = [*GROUPS, "wave"]
DRAWS = 40_000
TAU2, OMEGA2 = 0.3**2, 0.15**2


def _brute_force(resid, variance, mask, tau2, omega2) -> float:
    total = 0.0
    for r, s, m in zip(resid, variance, mask, strict=True):
        if not m.any():
            continue
        k = tau2 * np.ones((m.sum(), m.sum())) + np.diag(omega2 + s[m])
        total += stats.multivariate_normal(mean=np.zeros(m.sum()), cov=k).logpdf(r[m])
    return total


def _case(seed: int = 1):
    rng = np.random.default_rng(seed)
    resid = rng.normal(0, 0.5, (6, 3))
    variance = rng.uniform(0.05, 0.5, (6, 3))
    mask = np.array([[1, 1, 1], [1, 0, 1], [0, 0, 1], [0, 0, 0], [1, 1, 0], [0, 1, 0]], bool)
    return resid, variance, mask


def test_integrated_likelihood_is_the_multivariate_normal_of_each_cell():
    resid, variance, mask = _case()
    expected = _brute_force(resid, variance, mask, TAU2, OMEGA2)
    got = linked_loglik(resid, np.where(mask, variance, 7.0), mask, TAU2, OMEGA2)
    assert got == pytest.approx(expected, rel=1e-12)


def test_the_model_writes_the_same_likelihood_in_pytensor():
    import pytensor
    import pytensor.tensor as pt

    resid, variance, mask = _case(2)
    r, s, m = pt.matrix("r"), pt.matrix("s"), pt.matrix("m")
    t2, o2 = pt.scalar("t2"), pt.scalar("o2")
    fn = pytensor.function(
        [r, s, m, t2, o2], linked_loglik(r, s, m, t2, o2, xp=pt), mode="FAST_COMPILE"
    )
    got = fn(resid, np.where(mask, variance, 1.0), mask.astype(float), TAU2, OMEGA2)
    assert float(got) == pytest.approx(_brute_force(resid, variance, mask, TAU2, OMEGA2), 1e-10)


@pytest.mark.parametrize("centred", [None, ("life_event", "municipality"), ()])
def test_eta_recomputed_from_the_parameters_is_the_models_eta(centred):
    """The fit does not store ``eta`` while sampling; NumPy's sum of the sampled parameters must
    equal the model's own deterministic (PyTensor) in every parameterisation."""
    import pymc as pm

    from meting.sae.data import build_index
    from meting.sae.spec import ModelSpec, Priors

    grid = pd.DataFrame(
        [(e, m) for e in ("A", "B", "C") for m in ("GM01", "GM02", "GM03", "GM04")][:-1],
        columns=GROUPS,
    )
    index, _ = build_index(grid, GROUPS, "cells")
    rng = np.random.default_rng(5)
    y = rng.normal(6.5, 0.5, (index.n_cells, 2))
    y[0, 1] = np.nan
    data = LinkedData(waves=np.array(["2008", "2010"]), y=y, variance=np.full(y.shape, 0.2))
    spec = ModelSpec(kind="area", groups=tuple(GROUPS), priors=Priors(centred=centred))
    model = build_linked_model(spec, index, data)
    names = [v.name for v in model.free_RVs] + ["eta"]
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The effect of Potentials")
        prior = pm.sample_prior_predictive(
            draws=7,
            model=model,
            var_names=names,
            random_seed=1,
            compile_kwargs={"mode": "FAST_COMPILE"},
        ).prior
    got = linked_eta(prior, spec, index, 0, slice(2, 6))
    np.testing.assert_allclose(got, prior["eta"].to_numpy()[0, 2:6], rtol=1e-12)


def _posterior(eta: np.ndarray) -> xr.Dataset:
    """DRAWS identical draws of the hyperparameters: the conditional is then one Gaussian."""
    cells, waves = eta.shape
    return xr.Dataset(
        {
            "eta": (
                ("chain", "draw", "cell", "wave"),
                np.broadcast_to(eta, (1, DRAWS, cells, waves)).copy(),
            ),
            "sd_cell": (("chain", "draw"), np.full((1, DRAWS), np.sqrt(TAU2))),
            "sd_wave": (("chain", "draw"), np.full((1, DRAWS), np.sqrt(OMEGA2))),
        }
    )


def _exact(eta_c, y_c, s_c):
    """Closed-form Gaussian posterior of theta_c (all waves) given its observed waves."""
    m = np.isfinite(y_c)
    t = len(eta_c)
    k = TAU2 * np.ones((t, t)) + OMEGA2 * np.eye(t)
    h = np.eye(t)[m]
    s_inv = np.diag(1.0 / s_c[m])
    cov = np.linalg.inv(np.linalg.inv(k) + h.T @ s_inv @ h)
    mean = eta_c + cov @ h.T @ s_inv @ (y_c[m] - eta_c[m])
    gain = cov @ h.T @ s_inv  # d mean / d y_observed
    return mean, cov, gain, m


def _linked_case():
    eta = np.array([[6.5, 6.6, 6.7], [7.0, 7.1, 6.9], [6.2, 6.2, 6.2], [6.8, 6.8, 6.8]])
    y = np.array(
        [[7.2, 6.4, 6.9], [np.nan, 7.5, np.nan], [np.nan, np.nan, np.nan], [6.0, 7.0, 6.5]]
    )
    s = np.array([[0.2, 0.1, 0.4], [1.0, 0.05, 1.0], [1.0, 1.0, 1.0], [0.3, 0.3, 0.3]])
    return eta, y, s


def test_conditional_draws_have_the_closed_form_gaussian_posterior():
    eta, y, s = _linked_case()
    post = draw_linked_cell_means(
        _posterior(eta), y, variance=np.where(np.isfinite(y), s, np.nan), random_seed=3
    )
    theta = post["theta"].to_numpy()[0]  # (draws, cell, wave)
    assert "eta" not in post
    for c in range(eta.shape[0]):
        mean, cov, _, _ = _exact(eta[c], y[c], s[c])
        got_mean = theta[:, c].mean(axis=0)
        got_cov = np.cov(theta[:, c].T)
        sd = np.sqrt(np.diag(cov))
        assert np.all(np.abs(got_mean - mean) < 5 * sd / np.sqrt(DRAWS)), (c, got_mean, mean)
        # covariances within 5 standard errors (var of a sample covariance of normals)
        se_cov = np.sqrt((cov**2 + np.outer(np.diag(cov), np.diag(cov))) / (DRAWS - 1))
        assert np.all(np.abs(got_cov - cov) < 5 * se_cov), (c, got_cov, cov)


def test_change_of_a_cell_observed_in_one_wave_is_wider():
    eta, y, s = _linked_case()
    post = draw_linked_cell_means(
        _posterior(eta), y, variance=np.where(np.isfinite(y), s, np.nan), random_seed=4
    )
    theta = post["theta"].to_numpy()[0]
    change_sd = (theta[:, :, 2] - theta[:, :, 0]).std(axis=0)
    # cell 3: both waves observed (se^2 0.3); cell 1: only the middle wave; cell 2: none
    assert change_sd[3] < change_sd[1] <= change_sd[2] * 1.01
    for c in (1, 3):
        _, cov, _, _ = _exact(eta[c], y[c], s[c])
        exact = np.sqrt(cov[2, 2] + cov[0, 0] - 2 * cov[0, 2])
        assert change_sd[c] == pytest.approx(exact, rel=0.02)


def test_shrinkage_is_one_minus_the_weight_of_the_own_estimate():
    eta, y, s = _linked_case()
    got = linked_shrinkage(
        _posterior(eta).isel(draw=slice(0, 5)),
        np.isfinite(y),
        variance=np.where(np.isfinite(y), s, np.nan),
    )
    for c in range(eta.shape[0]):
        _, _, gain, m = _exact(eta[c], y[c], s[c])
        own = np.zeros(3)
        own[m] = np.diag(gain[m])
        np.testing.assert_allclose(got[c], 1.0 - own, rtol=1e-10)
    assert np.all(got[2] == 1.0)


def test_single_wave_shrinkage_is_the_fay_herriot_weight():
    tau = np.array([[0.2, 0.4]])
    post = xr.Dataset({"sd_cell": (("chain", "draw"), tau)})
    v = np.array([0.04, 0.16, np.nan])
    got = cell_shrinkage(post, np.isfinite(v), variance=v)
    gamma = (tau.ravel()[:, None] ** 2) / (tau.ravel()[:, None] ** 2 + v[None, :2])
    np.testing.assert_allclose(got[:2], 1.0 - gamma.mean(axis=0))
    assert got[2] == 1.0
    sig = xr.Dataset(
        {"sd_cell": (("chain", "draw"), tau), "sigma": (("chain", "draw"), np.array([[1.0, 2.0]]))}
    )
    unit = cell_shrinkage(sig, np.array([True]), n=np.array([10.0]))
    expected = 1 - np.mean([0.04 * 10 / (1 + 0.04 * 10), 0.16 * 10 / (4 + 0.16 * 10)])
    assert unit[0] == pytest.approx(expected)


def test_publication_rule_classes():
    rule = PublicationRule(min_n_publish=30, cv_publish=0.04, min_n_caution=5, cv_caution=0.08)
    n = np.array([40, 40, 40, 10, 4, 0, 40])
    cv = np.array([0.03, 0.05, 0.09, 0.03, 0.01, 0.01, np.nan])
    got = list(rule.flag(n, cv))
    p, c, x = PUBLICATION_LABELS
    assert got == [p, c, x, c, x, x, x]
    with pytest.raises(ParameterError):
        PublicationRule(cv_publish=0.1, cv_caution=0.05)


def test_publication_rule_comes_from_the_settings():
    from meting.registry import load_registry

    s = load_registry().settings
    rule = s.publication_rule()
    assert rule.min_n_publish == s.sae_publication.min_n_publish
    assert rule.cv_caution == s.sae_publication.cv_caution
    assert s.priors().wave_sd.scale == s.sae_priors.sigma_wave


@pytest.mark.parametrize("method", ["additive", "ratio"])
def test_benchmarked_aggregates_equal_the_direct_estimate(method):
    rng = np.random.default_rng(5)
    draws = rng.normal(6.5, 0.3, (800, 6))
    group = np.array([0, 0, 0, 1, 1, -1])
    w = np.array([1.0, 2.0, 3.0, 1.0, 1.0, 5.0])
    direct, direct_se = np.array([6.9, 6.1]), np.array([0.05, 0.1])
    out = benchmark_draws(draws, group, w, direct, direct_se, method=method, random_seed=1)
    for g in (0, 1):
        agg = out[:, group == g] @ (w[group == g] / w[group == g].sum())
        assert agg.mean() == pytest.approx(direct[g], abs=1e-12)
        assert agg.std(ddof=1) == pytest.approx(direct_se[g], rel=1e-9)
    np.testing.assert_array_equal(out[:, 5], draws[:, 5])


def _cells(seed: int = 3) -> tuple[pd.DataFrame, pd.DataFrame]:
    sim = simulate_linked_waves(seed, n_municipalities=5, n_events=3, respondents_per_wave=150)
    direct = smooth_variances(direct_from_statistics(sim.stats, KEYS), pool_by=["wave"])
    cells = sim.truth[KEYS].merge(direct, on=KEYS, how="left")
    return cells.assign(n=cells["n"].fillna(0).astype(int)), sim.truth


@pytest.fixture(scope="module")
def linked_fit(sampling_mock):
    cells, truth = _cells()
    with sampling_mock():
        result = fit_area_level(
            cells,
            "estimate",
            "se_smoothed",
            GROUPS,
            wave="wave",
            sampling=SampleSettings(chains=2, draws=50, tune=10, random_seed=1),
        )
    return result, cells, truth


def test_linked_fit_has_one_row_per_cell_and_wave_in_the_common_schema(linked_fit, sampling_mock):
    result, cells, _ = linked_fit
    with sampling_mock():
        single = fit_area_level(
            cells[cells["wave"] == "2008"].drop(columns="wave"),
            "estimate",
            "se_smoothed",
            GROUPS,
            sampling=SampleSettings(chains=2, draws=50, tune=10, random_seed=1),
        )
    table = result.cells
    assert len(table) == 5 * 3 * 3
    assert list(table.columns) == [*GROUPS, "wave", *list(single.cells.columns)[2:]]
    assert list(table.columns[-3:]) == ["cv", "shrinkage", "publication"]
    assert set(table["method"]) == {"fay-herriot-linked"}
    assert result.draws().shape == (100, len(table))
    # rows cell by cell, waves in order; direct estimates where the input had them
    assert list(table["wave"].iloc[:3]) == ["2008", "2009", "2010"]
    keyed = table.merge(cells, on=KEYS, suffixes=("", "_in"))
    np.testing.assert_array_equal(keyed["direct"].isna(), keyed["estimate_in"].isna())
    assert result.waves == ["2008", "2009", "2010"]


def test_linked_fit_stores_no_eta_and_checks_the_sampled_parameters(sampling_mock):
    cells, _ = _cells()
    sampling = SampleSettings(chains=2, draws=30, tune=10, random_seed=2, low_rank_mass_matrix=True)
    with sampling_mock() as mock:
        result = fit_area_level(
            cells, "estimate", "se_smoothed", GROUPS, wave="wave", sampling=sampling
        )
    (call,) = mock.calls
    assert call["low_rank_modified_mass_matrix"] is True
    post = result.idata.posterior
    assert "eta" not in post and post["theta"].dims == ("chain", "draw", "cell", "wave")
    assert list(post["cell"].values[:2]) == ["LE01|GM0001", "LE01|GM0002"]
    # every sampled parameter, not the conditionally drawn cell means
    sampled = sum(v.size // (2 * 30) for name, v in post.data_vars.items() if name != "theta")
    assert result.diagnostics.n_parameters == sampled


def test_change_has_one_row_per_cell_from_the_draws(linked_fit):
    result, _, _ = linked_fit
    change = result.change("2008", "2010")
    assert len(change) == 15
    assert list(change.columns[:3]) == [*GROUPS, "variable"]
    for column in ("prob_improved", "lower_90", "upper_90", "estimate_earlier", "n_later"):
        assert column in change.columns
    draws = result.draws().reshape(100, 15, 3)
    diff = draws[:, :, 2] - draws[:, :, 0]
    np.testing.assert_allclose(change["estimate"], diff.mean(axis=0))
    np.testing.assert_allclose(change["prob_improved"], (diff > 0).mean(axis=0))
    assert set(change["method"]) == {"linked-difference"}
    with pytest.raises(ParameterError, match="fitted waves"):
        result.change("2008", "2011")


def test_benchmarked_linked_fit_agrees_with_the_direct_estimates(linked_fit):
    result, _, truth = linked_fit
    weights = truth[KEYS + ["population"]]
    direct = pd.DataFrame(
        {
            "life_event": np.repeat(["LE01", "LE02", "LE03"], 3),
            "wave": np.tile(["2008", "2009", "2010"], 3),
            "estimate": np.linspace(6.0, 7.0, 9),
            "se": 0.05,
        }
    )
    bench = result.benchmarked(direct, weights, by="life_event", random_seed=2)
    assert bench.cells["benchmarked"].all()
    agg = bench.aggregate(["life_event", "wave"], weights=weights)
    keyed = agg.merge(direct, on=["life_event", "wave"], suffixes=("", "_direct"))
    np.testing.assert_allclose(keyed["estimate"], keyed["estimate_direct"], atol=1e-9)
    np.testing.assert_allclose(keyed["se"], keyed["se_direct"], rtol=1e-6)
    assert bench.change("2008", "2010")["benchmarked"].all()


def test_unit_level_linked_fit_on_sufficient_statistics(sampling_mock):
    sim = simulate_linked_waves(4, n_municipalities=4, n_events=3, respondents_per_wave=100)
    with sampling_mock():
        result = fit_unit_level(
            sim.stats,
            GROUPS,
            wave="wave",
            sampling=SampleSettings(chains=2, draws=20, tune=10, random_seed=1),
        )
    assert len(result.cells) == 4 * 3 * 3 or len(result.cells) % 3 == 0
    assert set(result.cells["method"]) == {"unit-level-linked"}
    assert result.change("2008", "2009").shape[0] == len(result.cells) // 3


def test_single_wave_fits_carry_the_quality_columns(sampling_mock):
    cells, _ = _cells(5)
    one = cells[cells["wave"] == "2009"].drop(columns="wave")
    with sampling_mock():
        result = fit_area_level(
            one,
            "estimate",
            "se_smoothed",
            GROUPS,
            sampling=SampleSettings(chains=2, draws=20, tune=10, random_seed=1),
        )
    table = result.cells
    np.testing.assert_allclose(table["cv"], table["se"] / table["estimate"].abs())
    assert set(table["publication"]) <= set(PUBLICATION_LABELS)
    assert (table.loc[~table["observed"], "shrinkage"] == 1.0).all()
    assert table.loc[~table["observed"], "publication"].eq("niet publiceren").all()


def test_bad_linked_input_says_what_is_wrong():
    cells, _ = _cells()
    settings = SampleSettings(random_seed=1)
    with pytest.raises(SchemaError, match="duplicate"):
        fit_area_level(
            pd.concat([cells, cells.iloc[:1]]),
            "estimate",
            "se_smoothed",
            GROUPS,
            wave="wave",
            sampling=settings,
        )
    with pytest.raises(SchemaError, match="at least two waves"):
        fit_area_level(
            cells[cells["wave"] == "2008"],
            "estimate",
            "se_smoothed",
            GROUPS,
            wave="wave",
            sampling=settings,
        )
    with pytest.raises(ParameterError, match="covariates"):
        fit_area_level(
            cells.assign(x=1.0),
            "estimate",
            "se_smoothed",
            GROUPS,
            wave="wave",
            covariates=["x"],
            sampling=settings,
        )
    with pytest.raises(SchemaError, match="at least two columns"):
        fit_area_level(
            cells, "estimate", "se_smoothed", ["life_event"], wave="wave", sampling=settings
        )


@pytest.mark.slow
def test_linked_intervals_cover_and_the_change_beats_independent_fits():
    from meting.sae.calibration_linked import run_linked_calibration

    result = run_linked_calibration(3, seed=300, draws=500, tune=500)
    summary = result.summary().iloc[0]
    assert 0.82 <= summary["cells_coverage90"] <= 0.96
    assert 0.80 <= summary["change_coverage90"] <= 0.97
    assert summary["change_rmse"] < summary["change_rmse_independent"]
