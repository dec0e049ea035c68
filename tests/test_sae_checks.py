"""Model checks of the small-area fits (meting.sae.checks), their figures and the texts of the
linked model (meting.report.linked_text).

Closed forms first: with Gaussian cell posteriors the predictive interval of a direct estimate is
``m +/- z sqrt(v + se^2)`` and its PIT value ``Phi((y - m) / sqrt(v + se^2))``; when the direct
estimates are drawn from the predictive distribution, 90 % of them lie inside. R-hat and ESS of
the scale parameters against ArviZ. Then plumbing on a linked fit with mocked sampling.
"""

from __future__ import annotations

import warnings

import arviz as az
import numpy as np
import pandas as pd
import pytest
import xarray as xr
from scipy import stats

warnings.filterwarnings("ignore", category=FutureWarning)

from meting.errors import SchemaError  # noqa: E402
from meting.report import check_plots, linked_text  # noqa: E402
from meting.sae import (  # noqa: E402
    SampleSettings,
    direct_from_statistics,
    fit_area_level,
    smooth_variances,
)
from meting.sae.checks import (  # noqa: E402
    pit_histogram,
    predictive_check,
    predictive_summary,
    scale_parameters,
    shrinkage_by_size,
)
from meting.sae.diagnostics import diagnose  # noqa: E402
from meting.sae.quality import PublicationRule  # noqa: E402
from meting.sae.result import SaeResult  # noqa: E402
from meting.sae.simulate import simulate_linked_waves  # noqa: E402
from meting.sae.spec import HalfNormal, Priors  # noqa: E402

Z90 = stats.norm.ppf(0.95)


def _gaussian_result(
    mean: np.ndarray,
    var: np.ndarray,
    se: np.ndarray,
    direct: np.ndarray,
    *,
    chains: int = 4,
    draws: int = 10_000,
    seed: int = 0,
    extra: dict[str, np.ndarray] | None = None,
) -> SaeResult:
    """An SaeResult whose cell draws are exactly Normal(mean, sqrt(var)) per cell."""
    rng = np.random.default_rng(seed)
    k = len(mean)
    theta = mean + np.sqrt(var) * rng.standard_normal((chains, draws, k))
    posterior = xr.Dataset(
        {"theta": (("chain", "draw", "cell"), theta), **(extra or {})},
        coords={"chain": np.arange(chains), "draw": np.arange(draws), "cell": np.arange(k)},
    )
    idata = az.InferenceData(posterior=posterior)
    cells = pd.DataFrame(
        {
            "life_event": [f"LE{i:02d}" for i in range(k)],
            "variable": "score_chain",
            "estimate": mean,
            "se": np.sqrt(var),
            "n": np.full(k, 20),
            "direct": direct,
            "direct_se": se,
            "observed": np.isfinite(direct),
        }
    )
    return SaeResult(cells=cells, diagnostics=diagnose(idata, sampler="test"), idata=idata)


def test_predictive_interval_and_pit_are_those_of_the_gaussian_closed_form():
    mean = np.array([6.0, 6.5, 7.2, 5.8, 6.9])
    var = np.array([0.04, 0.10, 0.01, 0.20, 0.05])
    se = np.array([0.30, 0.10, 0.50, 0.25, 0.40])
    direct = np.array([6.4, 6.3, 7.0, 4.9, 8.1])
    check = predictive_check(_gaussian_result(mean, var, se, direct), level=0.90, random_seed=3)
    sd = np.sqrt(var + se**2)
    # Monte Carlo error of a 5 % quantile of 40,000 draws: about 0.01 sd
    np.testing.assert_allclose(check["pred_lower"], mean - Z90 * sd, atol=0.04 * sd.max())
    np.testing.assert_allclose(check["pred_upper"], mean + Z90 * sd, atol=0.04 * sd.max())
    np.testing.assert_allclose(check["pred_mean"], mean, atol=0.02 * sd.max())
    np.testing.assert_allclose(check["pit"], stats.norm.cdf((direct - mean) / sd), atol=0.01)
    inside = np.abs(direct - mean) <= Z90 * sd
    np.testing.assert_array_equal(check["inside"], inside)


def test_direct_estimates_drawn_from_the_predictive_lie_inside_ninety_percent_of_the_time():
    rng = np.random.default_rng(11)
    k = 3_000
    mean = rng.normal(6.5, 0.5, k)
    var = rng.uniform(0.01, 0.2, k)
    se = rng.uniform(0.1, 0.6, k)
    direct = mean + np.sqrt(var + se**2) * rng.standard_normal(k)
    result = _gaussian_result(mean, var, se, direct, chains=2, draws=500, seed=4)
    check = predictive_check(result, level=0.90, random_seed=5)
    share = predictive_summary(check, None)["aandeel binnen"].iloc[0]
    # binomial sd sqrt(0.09 / 3000) = 0.0055, plus the Monte Carlo error of 1,000 draws per cell
    assert abs(share - 0.90) < 0.025
    counts, _ = pit_histogram(check, 10)
    assert counts.sum() == k
    # uniform PIT: every decile near 10 % (chi-square at 9 df, p > 0.001)
    assert stats.chisquare(counts).pvalue > 1e-3
    # leaving out the sampling error (the classic mistake) gives far too few inside
    narrow = np.abs(direct - mean) <= Z90 * np.sqrt(var)
    assert narrow.mean() < 0.8


def test_cells_without_respondents_or_se_are_left_out_of_the_check():
    mean = np.array([6.0, 6.5, 7.0])
    result = _gaussian_result(
        mean, np.full(3, 0.05), np.array([0.2, np.nan, 0.3]), np.array([6.1, np.nan, 7.2])
    )
    check = predictive_check(result, random_seed=1)
    assert list(check["life_event"]) == ["LE00", "LE02"]
    with pytest.raises(SchemaError, match="level"):
        predictive_check(result, level=1.5, random_seed=1)


def test_scale_parameters_have_the_arviz_rhat_and_ess():
    rng = np.random.default_rng(2)
    chains, draws = 4, 800
    ar = np.empty((chains, draws))
    ar[:, 0] = rng.normal(size=chains)
    for t in range(1, draws):
        ar[:, t] = 0.6 * ar[:, t - 1] + rng.normal(size=chains)
    sd_cell = 0.3 + 0.02 * ar
    sd_wave = np.abs(rng.normal(0.1, 0.02, (chains, draws)))
    stuck = rng.normal(0.5, 0.05, (chains, draws)) + np.array([0, 0, 0, 0.3])[:, None]
    extra = {
        name: (("chain", "draw"), values)
        for name, values in (("sd_wave", sd_wave), ("sd_cell", sd_cell), ("sd_life_event", stuck))
    }
    result = _gaussian_result(
        np.array([6.0]), np.array([0.1]), np.array([0.2]), np.array([6.0]),
        chains=chains, draws=draws, extra=extra,
    )  # fmt: skip
    table = scale_parameters(result).set_index("parameter")
    assert list(table.index) == ["sd_cell", "sd_wave", "sd_life_event"]
    idata = az.from_dict(posterior={"sd_cell": sd_cell, "sd_wave": sd_wave, "stuck": stuck})
    for name, ref in (("sd_cell", "sd_cell"), ("sd_wave", "sd_wave"), ("sd_life_event", "stuck")):
        row = table.loc[name]
        assert row["rhat"] == pytest.approx(float(az.rhat(idata, var_names=[ref])[ref]), rel=1e-6)
        bulk = float(az.ess(idata, var_names=[ref], method="bulk")[ref])
        tail = float(az.ess(idata, var_names=[ref], method="tail")[ref])
        assert row["ess_bulk"] == pytest.approx(bulk, rel=1e-6)
        assert row["ess_tail"] == pytest.approx(tail, rel=1e-6)
        values = idata.posterior[ref].to_numpy().ravel()
        assert row["estimate"] == pytest.approx(values.mean())
        assert row["lower"] == pytest.approx(np.quantile(values, 0.05))
        assert row["upper"] == pytest.approx(np.quantile(values, 0.95))
    assert bool(table.loc["sd_wave", "converged"])
    assert not bool(table.loc["sd_life_event", "converged"])  # one chain elsewhere: R-hat > 1,01


def test_shrinkage_by_size_summarises_each_class():
    cells = pd.DataFrame(
        {"n": [0, 0, 3, 8, 12, 40, 100], "shrinkage": [1.0, 1.0, 0.8, 0.6, 0.4, 0.2, 0.1]}
    )
    table = shrinkage_by_size(cells).set_index("respondenten per cel")
    assert list(table.index) == ["0 (voorspelling)", "1-9", "10-29", "30 en meer"]
    assert list(table["cellen"]) == [2, 2, 1, 2]
    np.testing.assert_allclose(table["gemiddelde krimp"], [1.0, 0.7, 0.4, 0.15])
    np.testing.assert_allclose(table["laagste"], [1.0, 0.6, 0.4, 0.1])
    with pytest.raises(SchemaError, match="shrinkage"):
        shrinkage_by_size(cells.drop(columns="shrinkage"))


@pytest.fixture(scope="module")
def linked(sampling_mock):
    keys = ["life_event", "municipality", "wave"]
    sim = simulate_linked_waves(3, n_municipalities=5, n_events=3, respondents_per_wave=150)
    direct = smooth_variances(direct_from_statistics(sim.stats, keys), pool_by=["wave"])
    cells = sim.truth[keys].merge(direct, on=keys, how="left")
    with sampling_mock():
        return fit_area_level(
            cells.assign(n=cells["n"].fillna(0).astype(int)),
            "estimate",
            "se_smoothed",
            ["life_event", "municipality"],
            wave="wave",
            sampling=SampleSettings(chains=2, draws=50, tune=10, random_seed=1),
        )


def test_checks_of_a_linked_fit(linked):
    check = predictive_check(linked, random_seed=7)
    observed = linked.cells["observed"] & linked.cells["direct_se"].notna()
    assert len(check) == int(observed.sum())
    assert list(check.columns[:4]) == ["life_event", "municipality", "wave", "n"]
    per_wave = predictive_summary(check, "wave")
    assert list(per_wave["wave"]) == sorted(linked.waves)
    assert per_wave["cellen"].sum() == len(check)
    params = scale_parameters(linked)
    assert list(params["parameter"][:2]) == ["sd_cell", "sd_wave"]
    assert {"sd_life_event", "sd_municipality"} <= set(params["parameter"])
    # the figures: one panel per wave, alt text from the title
    fig = check_plots.pit_plot(check, "wave", title="PIT per meting")
    assert len(fig.figure.axes) == len(linked.waves)
    assert fig.alt.startswith("PIT per meting.")
    shrink = check_plots.shrinkage_plot(linked.cells, title="Krimp tegen n")
    assert fig.png()[:4] == b"\x89PNG" and shrink.png()[:4] == b"\x89PNG"
    # the Verantwoording carries the fit's numbers with decimal commas
    note = str(
        linked_text.linked_methods(
            params, priors=Priors(cell_sd=HalfNormal(0.5), wave_sd=HalfNormal(0.25)),
            publication=PublicationRule(), benchmarked=True, prob_above=0.95, prob_below=0.05,
            converged=linked.diagnostics.trustworthy, life_event_totals=True,
        )
    )  # fmt: skip
    row = params.set_index("parameter").loc["sd_wave"]
    assert linked_text.parameter_interval(params, "sd_wave") in note
    assert f"{row['estimate']:.2f}".replace(".", ",") in note
    assert "halfnormaal met schaal 0,25" in note and "cv van hoogstens 4%" in note
    assert "Gebenchmarkt" not in note and "zijn gebenchmarkt" in note
    assert "geen eigen oordeel" in note


def test_parameter_interval_and_benchmark_notes():
    params = pd.DataFrame(
        {"parameter": ["sd_cell"], "estimate": [0.3141], "lower": [0.25], "upper": [0.4]}
    )
    assert linked_text.parameter_interval(params, "sd_cell") == "0,31 (90%-interval 0,25 – 0,40)"
    assert linked_text.parameter_interval(params, "sd_wave") == "onbekend"
    table = pd.DataFrame({"benchmarked": [True, True, False]})
    assert linked_text.benchmark_status(table) is None
    assert linked_text.benchmark_note(table, rows=("cel", "cellen")).startswith(
        "Deels gebenchmarkt: 2 cellen gebenchmarkt"
    )
    assert "1 cel niet" in linked_text.benchmark_note(table, rows=("cel", "cellen"))
    assert linked_text.benchmark_note(table.iloc[:2]) == linked_text.BENCHMARKED
    assert linked_text.benchmark_note(pd.DataFrame({"x": [1]})) == linked_text.NOT_BENCHMARKED
    unconverged = str(
        linked_text.linked_methods(
            params, priors=Priors(), publication=PublicationRule(), benchmarked=False,
            prob_above=0.95, prob_below=0.05, converged=False,
        )
    )  # fmt: skip
    assert "niet betrouwbaar" in unconverged and "niet gebenchmarkt" in unconverged
    assert "geen eigen oordeel" not in unconverged
    assert "0,31 (90%-interval 0,25 – 0,40)" in unconverged


def test_parameter_table_says_which_parameters_fail_the_rule():
    params = pd.DataFrame(
        {
            "parameter": ["sd_cell", "sd_wave"],
            "estimate": [0.31, 0.08],
            "lower": [0.27, 0.02],
            "upper": [0.35, 0.15],
            "rhat": [1.002, 1.03],
            "ess_bulk": [1500.0, 210.0],
            "ess_tail": [1200.0, 380.0],
            "converged": [True, False],
        }
    )
    table = linked_text.parameter_table(params, caption="Tabel 6")
    html = str(table._repr_html_()).replace("\xa0", " ").replace("\u2060", "")
    assert "blijvende celeffecten (sd_cell)" in html and "1,030" in html
    assert "0,27 – 0,35" in html
    assert "Voldoet niet aan de regel" in html and "sd_wave" in html
    assert list(table.data.frame["voldoet"]) == [True, False]
