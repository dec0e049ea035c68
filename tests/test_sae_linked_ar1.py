"""The AR(1) structure of the model linked across waves (meting.sae.linked_ar1).

Against independent references: the likelihood with the cell effects integrated out equals
scipy's multivariate normal density of each cell's observed waves under the AR(1) covariance; the
conditional draws have the moments of the closed-form Gaussian posterior (written here with the
dense covariance and explicit inverses, not the module's tridiagonal precision); the shrinkage is
the derivative of that posterior mean; the rho prior has the figures its docstring states
(scipy's Beta). Then plumbing with mocked sampling, and (slow) a real fit on AR(1) data.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from scipy import stats

warnings.filterwarnings("ignore", category=FutureWarning)

from meting.errors import ParameterError  # noqa: E402
from meting.sae import (  # noqa: E402
    Priors,
    RhoPrior,
    SampleSettings,
    direct_from_statistics,
    fit_area_level,
    fit_unit_level,
    smooth_variances,
)
from meting.sae.linked_ar1 import (  # noqa: E402
    ar1_loglik,
    ar1_shrinkage,
    draw_ar1_cell_means,
)
from meting.sae.simulate import simulate_linked_waves  # noqa: E402
from meting.sae.spec import ModelSpec, spec_fingerprint  # noqa: E402

GROUPS = ["life_event", "municipality"]
KEYS = [*GROUPS, "wave"]
DRAWS = 40_000
TAU2, RHO = 0.3**2, 0.7
AR1 = Priors(wave_structure="ar1")


def _cov(t: int, tau2: float = TAU2, rho: float = RHO) -> np.ndarray:
    """The AR(1) covariance written out element by element (independent of the module)."""
    return np.array([[tau2 * rho ** abs(i - j) for j in range(t)] for i in range(t)])


def _brute_force(resid, variance, mask, tau2, rho) -> float:
    total = 0.0
    for r, s, m in zip(resid, variance, mask, strict=True):
        if not m.any():
            continue
        k = _cov(len(r), tau2, rho)[np.ix_(m, m)] + np.diag(s[m])
        total += stats.multivariate_normal(mean=np.zeros(m.sum()), cov=k).logpdf(r[m])
    return total


def _case(seed: int = 1, waves: int = 3):
    rng = np.random.default_rng(seed)
    resid = rng.normal(0, 0.5, (8, waves))
    variance = rng.uniform(0.05, 0.5, (8, waves))
    rows = [[1, 1, 1], [1, 0, 1], [0, 0, 1], [0, 0, 0], [1, 1, 0], [0, 1, 0], [0, 1, 1], [1, 0, 0]]
    mask = np.array([(r * 2)[:waves] for r in rows], bool)
    return resid, variance, mask


@pytest.mark.parametrize("rho", [0.7, -0.4, 0.0, 0.98])
@pytest.mark.parametrize("waves", [2, 3, 5])
def test_integrated_likelihood_is_the_multivariate_normal_of_each_cell(rho, waves):
    resid, variance, mask = _case(waves=waves)
    expected = _brute_force(resid, variance, mask, TAU2, rho)
    got = ar1_loglik(resid, np.where(mask, variance, 7.0), mask, TAU2, rho, waves)
    assert got == pytest.approx(expected, rel=1e-12)


def test_the_model_writes_the_same_likelihood_in_pytensor():
    import pytensor
    import pytensor.tensor as pt

    resid, variance, mask = _case(2)
    r, s, m = pt.matrix("r"), pt.matrix("s"), pt.matrix("m")
    t2, rho = pt.scalar("t2"), pt.scalar("rho")
    fn = pytensor.function(
        [r, s, m, t2, rho], ar1_loglik(r, s, m, t2, rho, 3, xp=pt), mode="FAST_COMPILE"
    )
    got = fn(resid, np.where(mask, variance, 1.0), mask.astype(float), TAU2, RHO)
    assert float(got) == pytest.approx(_brute_force(resid, variance, mask, TAU2, RHO), 1e-10)


def test_with_rho_near_one_the_likelihood_approaches_the_persistent_effect():
    from meting.sae.linked_model import linked_loglik

    resid, variance, mask = _case(3)
    s = np.where(mask, variance, 1.0)
    got = ar1_loglik(resid, s, mask, TAU2, 1.0 - 1e-9, 3)
    assert got == pytest.approx(linked_loglik(resid, s, mask, TAU2, 0.0), rel=1e-6)


def _posterior(eta: np.ndarray, rho: float = RHO) -> xr.Dataset:
    """DRAWS identical draws of the hyperparameters: the conditional is then one Gaussian."""
    cells, waves = eta.shape
    return xr.Dataset(
        {
            "eta": (
                ("chain", "draw", "cell", "wave"),
                np.broadcast_to(eta, (1, DRAWS, cells, waves)).copy(),
            ),
            "sd_cell": (("chain", "draw"), np.full((1, DRAWS), np.sqrt(TAU2))),
            "rho": (("chain", "draw"), np.full((1, DRAWS), rho)),
        }
    )


def _exact(eta_c, y_c, s_c, rho: float = RHO):
    """Closed-form Gaussian posterior of theta_c (all waves) given its observed waves."""
    m = np.isfinite(y_c)
    k = _cov(len(eta_c), TAU2, rho)
    h = np.eye(len(eta_c))[m]
    s_inv = np.diag(1.0 / s_c[m])
    cov = np.linalg.inv(np.linalg.inv(k) + h.T @ s_inv @ h)
    mean = eta_c + cov @ h.T @ s_inv @ (y_c[m] - eta_c[m])
    gain = cov @ h.T @ s_inv  # d mean / d y_observed
    return mean, cov, gain, m


def _linked_case():
    eta = np.array(
        [[6.5, 6.6, 6.7], [7.0, 7.1, 6.9], [6.2, 6.2, 6.2], [6.8, 6.8, 6.8], [6.4, 6.5, 6.6]]
    )
    y = np.array(
        [
            [7.2, 6.4, 6.9],
            [np.nan, 7.5, np.nan],
            [np.nan, np.nan, np.nan],
            [6.0, 7.0, 6.5],
            [6.1, np.nan, 7.0],
        ]
    )
    s = np.array(
        [[0.2, 0.1, 0.4], [1.0, 0.05, 1.0], [1.0, 1.0, 1.0], [0.3, 0.3, 0.3], [0.1, 1.0, 0.05]]
    )
    return eta, y, s


@pytest.mark.parametrize("rho", [0.7, -0.3])
def test_conditional_draws_have_the_closed_form_gaussian_posterior(rho):
    eta, y, s = _linked_case()
    post = draw_ar1_cell_means(
        _posterior(eta, rho), y, variance=np.where(np.isfinite(y), s, np.nan), random_seed=3
    )
    theta = post["theta"].to_numpy()[0]  # (draws, cell, wave)
    assert "eta" not in post
    for c in range(eta.shape[0]):
        mean, cov, _, _ = _exact(eta[c], y[c], s[c], rho)
        got_mean = theta[:, c].mean(axis=0)
        got_cov = np.cov(theta[:, c].T)
        sd = np.sqrt(np.diag(cov))
        assert np.all(np.abs(got_mean - mean) < 5 * sd / np.sqrt(DRAWS)), (c, got_mean, mean)
        se_cov = np.sqrt((cov**2 + np.outer(np.diag(cov), np.diag(cov))) / (DRAWS - 1))
        assert np.all(np.abs(got_cov - cov) < 5 * se_cov), (c, got_cov, cov)


def test_unit_level_draws_use_sigma_squared_over_n():
    eta, y, _ = _linked_case()
    n = np.array([[4, 10, 2], [1, 20, 1], [1, 1, 1], [3, 3, 3], [9, 1, 16]], float)
    sigma = 1.3
    post = _posterior(eta).assign(sigma=(("chain", "draw"), np.full((1, DRAWS), sigma)))
    theta = draw_ar1_cell_means(post, y, n=n, random_seed=5)["theta"].to_numpy()[0]
    for c in (0, 4):
        mean, cov, _, _ = _exact(eta[c], y[c], sigma**2 / n[c])
        assert np.all(np.abs(theta[:, c].mean(axis=0) - mean) < 5 * np.sqrt(np.diag(cov) / DRAWS))
        np.testing.assert_allclose(theta[:, c].var(axis=0), np.diag(cov), rtol=0.04)


def test_shrinkage_is_one_minus_the_weight_of_the_own_estimate():
    eta, y, s = _linked_case()
    got = ar1_shrinkage(
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


def test_the_rho_prior_has_the_documented_figures():
    prior = RhoPrior()
    beta = stats.beta(prior.alpha, prior.beta)
    assert 2 * (prior.alpha - 1) / (prior.alpha + prior.beta - 2) - 1 == pytest.approx(
        0.71, abs=0.01
    )
    assert 2 * beta.median() - 1 == pytest.approx(0.51, abs=0.01)
    assert 2 * beta.ppf(0.05) - 1 == pytest.approx(-0.21, abs=0.01)
    assert 2 * beta.ppf(0.95) - 1 == pytest.approx(0.92, abs=0.01)
    with pytest.raises(ParameterError, match="alpha"):
        RhoPrior(alpha=0.0)
    with pytest.raises(ParameterError, match="wave_structure"):
        Priors(wave_structure="ar2")  # type: ignore[arg-type]


def test_the_structure_enters_the_cache_key_of_linked_fits_only():
    groups = tuple(GROUPS)
    compound = spec_fingerprint(ModelSpec("area", groups, wave="wave"))
    ar1 = spec_fingerprint(ModelSpec("area", groups, priors=AR1, wave="wave"))
    assert compound != ar1
    # the compound key is the one from before the option existed (no structure, no rho)
    assert "wave_structure" not in compound and "wave_rho" not in compound
    assert "wave_sd" in compound and "wave_sd" not in ar1
    other_rho = Priors(wave_structure="ar1", wave_rho=RhoPrior(2.0, 2.0))
    assert ar1 != spec_fingerprint(ModelSpec("area", groups, priors=other_rho, wave="wave"))
    # a single-wave fit ignores the structure
    assert spec_fingerprint(ModelSpec("area", groups)) == spec_fingerprint(
        ModelSpec("area", groups, priors=AR1)
    )


def test_the_ar1_generator_has_the_stated_correlations():
    sim = simulate_linked_waves(
        7, n_municipalities=300, n_events=10, sd_deviation=0.0, cell_rho=0.6, sd_event_wave=0.0
    )
    wide = sim.truth.pivot_table(index=GROUPS, columns="wave", values="true_mean")
    # remove the life-event and municipality effects: the cell effect is what is left
    names = wide.index.to_frame(index=False)
    resid = wide.to_numpy()
    for key in GROUPS:
        means = pd.DataFrame(resid).groupby(names[key].to_numpy()).transform("mean").to_numpy()
        resid = resid - means
    corr = np.corrcoef(resid.T)
    assert corr[0, 1] == pytest.approx(0.6, abs=0.06)
    assert corr[0, 2] == pytest.approx(0.36, abs=0.07)
    # centring on 10 life events and 300 municipalities keeps (1 - 1/10)(1 - 1/300) of the variance
    expected_sd = 0.3 * np.sqrt((1 - 1 / 10) * (1 - 1 / 300))
    assert resid.std(axis=0) == pytest.approx(np.full(3, expected_sd), rel=0.05)
    default = simulate_linked_waves(7)
    np.testing.assert_array_equal(
        default.truth["true_mean"], simulate_linked_waves(7).truth["true_mean"]
    )
    with pytest.raises(ValueError, match="cell_rho"):
        simulate_linked_waves(7, cell_rho=1.0)


def _cells(seed: int = 3) -> pd.DataFrame:
    sim = simulate_linked_waves(seed, n_municipalities=5, n_events=3, respondents_per_wave=150)
    direct = smooth_variances(direct_from_statistics(sim.stats, KEYS), pool_by=["wave"])
    cells = sim.truth[KEYS].merge(direct, on=KEYS, how="left")
    return cells.assign(n=cells["n"].fillna(0).astype(int))


def test_ar1_fit_has_the_linked_tables_and_rho(mock_sampling):
    cells = _cells()
    result = fit_area_level(
        cells,
        "estimate",
        "se_smoothed",
        GROUPS,
        wave="wave",
        priors=AR1,
        sampling=SampleSettings(chains=2, draws=50, tune=10, random_seed=1),
    )
    post = result.idata.posterior  # type: ignore[attr-defined]
    assert "rho" in post and "sd_wave" not in post
    assert float(post["rho"].min()) > -1 and float(post["rho"].max()) < 1
    table = result.cells
    assert len(table) == 5 * 3 * 3
    assert set(table["method"]) == {"fay-herriot-linked"}
    assert table["shrinkage"].between(0, 1).all()
    assert (table.loc[~table["observed"], "shrinkage"] == 1.0).all()
    change = result.change("2008", "2010")
    draws = result.draws().reshape(100, 15, 3)
    np.testing.assert_allclose(change["estimate"], (draws[:, :, 2] - draws[:, :, 0]).mean(0))
    assert [c["sampler"] for c in mock_sampling.calls] == ["nutpie"]


def test_ar1_unit_level_and_sampled_cell_effects(mock_sampling):
    sim = simulate_linked_waves(4, n_municipalities=4, n_events=3, respondents_per_wave=100)
    settings = SampleSettings(chains=2, draws=20, tune=10, random_seed=1)
    unit = fit_unit_level(sim.stats, GROUPS, wave="wave", priors=AR1, sampling=settings)
    assert set(unit.cells["method"]) == {"unit-level-linked"}
    assert "rho" in unit.idata.posterior  # type: ignore[attr-defined]
    sampled = fit_area_level(
        _cells(),
        "estimate",
        "se_smoothed",
        GROUPS,
        wave="wave",
        priors=AR1,
        marginalise_cells=False,
        sampling=settings,
    )
    post = sampled.idata.posterior  # type: ignore[attr-defined]
    assert post["z_cell"].dims[-2:] == ("cell", "wave")
    assert sampled.cells["estimate"].notna().all()


@pytest.mark.slow
def test_ar1_fit_recovers_rho_and_covers_on_ar1_data():
    sim = simulate_linked_waves(11, cell_rho=0.6, sd_deviation=0.0)
    direct = smooth_variances(direct_from_statistics(sim.stats, KEYS), pool_by=["wave"])
    cells = sim.truth[KEYS].merge(direct, on=KEYS, how="left")
    result = fit_area_level(
        cells.assign(n=cells["n"].fillna(0).astype(int)),
        "estimate",
        "se_smoothed",
        GROUPS,
        wave="wave",
        priors=AR1,
        sampling=SampleSettings(draws=500, tune=500, random_seed=11),
    )
    rho = result.idata.posterior["rho"].to_numpy().ravel()  # type: ignore[attr-defined]
    lo, hi = np.quantile(rho, [0.025, 0.975])
    assert lo < 0.6 < hi
    keyed = result.cells.merge(sim.truth, on=KEYS)
    covered = (keyed["lower_90"] <= keyed["true_mean"]) & (keyed["true_mean"] <= keyed["upper_90"])
    assert 0.82 <= covered.mean() <= 0.96


def _fabricated_calibration():
    """Calibration frames with known figures: every structure's estimate is off by a constant."""
    from meting.sae.calibration_structure import StructureCalibration

    cells, changes, fits = [], [], []
    for g in ("compound", "ar1"):
        for s, err in (("compound", 0.1), ("ar1", 0.2)):
            tag = {"generator": g, "structure": s, "dataset": 0}
            n = np.array([0.0, 1.0, 4.0, 8.0, 15.0, 40.0])
            cells.append(
                pd.DataFrame(
                    {**tag, "n": n, "truth": 1.0, "estimate": 1.0 + err, "covered90": n > 2}
                )
            )
            changes.append(
                pd.DataFrame(
                    {
                        **tag,
                        "n_from": n,
                        "n_to": n[::-1],
                        "truth": 0.0,
                        "estimate": -err,
                        "width90": 4 * err,
                        "covered90": [True, False, True, True, False, True],
                        "covered95": True,
                    }
                )
            )
            fits.append(
                {**tag, "trustworthy": True, "divergences": 1, "max_rhat": 1.0, "seconds": 2.0}
                | {"rho": 0.5 if s == "ar1" else np.nan}
            )
    return StructureCalibration(pd.concat(cells), pd.concat(changes), pd.DataFrame(fits))


def test_structure_calibration_tables_have_the_known_figures():
    result = _fabricated_calibration()
    summary = result.summary()
    assert list(summary["generator"]) == ["compound", "compound", "ar1", "ar1"]
    assert list(summary["structure"]) == ["compound", "ar1", "compound", "ar1"]
    np.testing.assert_allclose(summary["cells_rmse"], [0.1, 0.2, 0.1, 0.2])
    np.testing.assert_allclose(summary["cells_coverage90"], 4 / 6)
    np.testing.assert_allclose(summary["change_coverage90"], 4 / 6)
    np.testing.assert_allclose(summary["change_width90"], [0.4, 0.8, 0.4, 0.8])
    by_size = result.by_size()
    cell = by_size[(by_size["quantity"] == "cell") & (by_size["structure"] == "ar1")]
    assert list(cell["size"].astype(str))[:6] == ["0", "1-2", "3-5", "6-10", "11-20", ">20"]
    assert list(cell["coverage90"])[:6] == [0, 0, 1, 1, 1, 1]
    change = by_size[(by_size["quantity"] == "change") & (by_size["generator"] == "compound")]
    # the smaller of the two waves: 0, 1, 4, 4, 1, 0 respondents
    assert change.groupby("size", observed=True)["rows"].first().to_dict() == {
        "0": 2,
        "1-2": 2,
        "3-5": 2,
    }
    text = result.text()
    assert "coverage90_ar1" in text and "rmse_compound" in text


def test_structure_calibration_runs_both_structures_on_the_same_data(mock_sampling):
    from meting.sae.calibration_structure import run_structure_calibration

    result = run_structure_calibration(
        1,
        generator="ar1",
        seed=5,
        n_municipalities=4,
        n_events=3,
        respondents_per_wave=120,
        chains=1,
        draws=30,
        tune=10,
        log=False,
    )
    assert [c["seed"] for c in mock_sampling.calls] == [5, 5]
    fits = result.fits
    assert list(fits["structure"]) == ["compound", "ar1"]
    assert fits["rho"].isna().tolist() == [True, False]
    by = result.cells.groupby(["dataset", "structure"])["truth"].apply(list)
    assert by[(0, "compound")] == by[(0, "ar1")]  # the same data sets for both structures
    assert len(result.changes) == 2 * 12
    with pytest.raises(ParameterError, match="generator"):
        run_structure_calibration(1, generator="ar2")  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match="structures"):
        run_structure_calibration(1, structures=("ar2",))


def test_the_structure_can_be_set_in_the_analysis_settings():
    from meting.registry import load_registry
    from meting.settings.analysis import SaePriors

    settings = load_registry().settings
    assert settings.priors().wave_structure == "compound"
    assert settings.priors().wave_rho == RhoPrior()
    fields = settings.sae_priors.model_dump() | {"wave_structure": "ar1", "rho_alpha": 2.0}
    priors = SaePriors(**fields).to_priors()
    assert priors.wave_structure == "ar1" and priors.wave_rho == RhoPrior(2.0, 1.5)
