"""Fast tests of meting.sae: a small model, plumbing only.

Every fit here runs with mocked NUTS (``sampling_mock`` in conftest.py: prior draws through the real
``sample_model``, conditional draws, cache and diagnostics), on PyMC's path; the nutpie path is
mocked in test_sae_eight_schools.py. Posterior values are checked against exact results by the
slow tests (eight schools, marginal vs sampled cell effects, calibration).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

warnings.filterwarnings("ignore", category=FutureWarning)

from meting.errors import ConvergenceError, ParameterError, SchemaError  # noqa: E402
from meting.results import RESULT_COLUMNS  # noqa: E402
from meting.sae import (  # noqa: E402
    SampleSettings,
    direct_from_statistics,
    fit_area_level,
    smooth_variances,
    sufficient_statistics,
)
from meting.sae.result import CELL_EXTRA_COLUMNS, QUALITY_COLUMNS  # noqa: E402
from meting.sae.simulate import simulate_survey  # noqa: E402

GROUPS = ["life_event", "municipality"]
FAST = dict(sampler="pymc", chains=2, draws=300, tune=300)


def fast(seed: int) -> SampleSettings:
    return SampleSettings(random_seed=seed, **FAST)


@pytest.fixture(scope="module")
def survey():
    return simulate_survey(
        5,
        n_municipalities=10,
        n_events=4,
        respondents=500,
        age_effects=(0.0,) * 4,
        sex_effects=(0.0, 0.0),
    )


@pytest.fixture(scope="module")
def fh_cells(survey) -> pd.DataFrame:
    stats = sufficient_statistics(survey.respondents, "score", GROUPS)
    direct = smooth_variances(direct_from_statistics(stats, GROUPS))
    cells = survey.truth[GROUPS].merge(direct, on=GROUPS, how="left")
    # make sure some cells are empty: drop the data of three cells
    empty = cells.index[[0, 7, 21]]
    cells.loc[empty, ["estimate", "se", "se_smoothed"]] = np.nan
    cells.loc[empty, "n"] = 0
    return cells.assign(n=cells["n"].fillna(0).astype(np.int64))


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("sae_cache")


@pytest.fixture(scope="module")
def fh_fit(fh_cells, cache_dir, sampling_mock):
    with sampling_mock() as mock:
        fit = fit_area_level(
            fh_cells, "estimate", "se_smoothed", GROUPS, sampling=fast(11), cache_dir=cache_dir
        )
    assert mock.samplers == ["pymc"]
    return fit


def test_cells_table_shape_and_columns(fh_fit, fh_cells):
    cells = fh_fit.cells
    assert list(cells.columns) == [*GROUPS, *RESULT_COLUMNS, *CELL_EXTRA_COLUMNS, *QUALITY_COLUMNS]
    assert len(cells) == len(fh_cells) == 40
    assert not cells.duplicated(GROUPS).any()
    assert (cells["lower"] <= cells["lower_90"]).all()
    assert (cells["lower_90"] <= cells["estimate"]).all()
    assert (cells["estimate"] <= cells["upper_90"]).all()
    assert (cells["upper_90"] <= cells["upper"]).all()
    assert (cells["level"] == 0.95).all() and (cells["method"] == "fay-herriot").all()
    assert cells["prob_ge_target"].between(0, 1).all()
    # the direct estimate beside each cell is the input, matched by group labels
    merged = cells.merge(fh_cells, on=GROUPS, suffixes=("", "_in"))
    np.testing.assert_allclose(merged["direct"], merged["estimate_in"], equal_nan=True)
    np.testing.assert_array_equal(merged["n"].to_numpy(), merged["n_in"].to_numpy())


def test_posterior_dims_and_coords(fh_fit):
    post = fh_fit.idata.posterior
    assert set(fh_fit.idata.groups()) <= {"posterior", "sample_stats"}
    assert post["theta"].dims == ("chain", "draw", "cell")
    assert post.sizes["chain"] == 2 and post.sizes["draw"] == 300
    labels = fh_fit.cells[GROUPS].agg("|".join, axis=1).to_numpy()
    np.testing.assert_array_equal(post["cell"].to_numpy().astype(str), labels)
    np.testing.assert_array_equal(
        post["cell_municipality"].to_numpy(), fh_fit.cells["municipality"]
    )
    # hyperparameters are in the posterior (the first group centred, the second non-centred)
    for name in ("mu", "sd_life_event", "sd_municipality", "sd_cell", "level_life_event"):
        assert name in post
    assert post["z_municipality"].sizes["municipality"] == 10


def test_empty_cells_predicted_and_flagged(fh_fit):
    cells = fh_fit.cells
    empty = cells["n"] == 0
    assert empty.sum() >= 3
    assert (~cells.loc[empty, "observed"]).all() and cells.loc[~empty, "observed"].all()
    assert cells.loc[empty, "direct"].isna().all()
    assert np.isfinite(cells.loc[empty, "estimate"]).all()
    # no data of their own: wider than any observed cell with 5+ respondents
    assert cells.loc[empty, "se"].min() > cells.loc[cells["n"] >= 5, "se"].max()


def test_diagnostics_fields(fh_fit):
    d = fh_fit.diagnostics
    n_cells = len(fh_fit.cells)
    # mu, 3 sds, 4 levels, 10 z_municipality, 40 theta (the cell effects are integrated out
    # while sampling and theta drawn from its conditional: no z_cell, no eta)
    assert d.n_parameters == 1 + 3 + 4 + 10 + n_cells
    assert "z_cell" not in fh_fit.idata.posterior and "eta" not in fh_fit.idata.posterior
    assert d.sampler == "pymc" and d.chains == 2 and d.draws == 300
    assert d.max_rhat >= 0.99 and d.min_ess_bulk > 0 and d.min_ess_tail > 0
    assert d.n_divergences == 0 and not d.from_cache
    # the trustworthiness rule itself is checked on hand-made posteriors in test_sae_diagnostics


def test_aggregate_is_weighted_mean_of_cell_draws(fh_fit, survey):
    weights = survey.truth[[*GROUPS, "population"]]
    agg = fh_fit.aggregate("life_event", weights)
    theta = fh_fit.idata.posterior["theta"].to_numpy().reshape(-1, len(fh_fit.cells))
    pop = fh_fit.cells.merge(weights, on=GROUPS)["population"].to_numpy(dtype=float)
    for _, row in agg.iterrows():
        member = (fh_fit.cells["life_event"] == row["life_event"]).to_numpy()
        per_draw = theta[:, member] @ pop[member] / pop[member].sum()
        assert row["estimate"] == pytest.approx(per_draw.mean(), rel=1e-12)
        assert row["se"] == pytest.approx(per_draw.std(ddof=1), rel=1e-10)
        assert row["lower_90"] == pytest.approx(np.quantile(per_draw, 0.05), rel=1e-12)
        assert row["prob_ge_target"] == pytest.approx((per_draw >= 7.0).mean())
        assert row["population"] == pytest.approx(pop[member].sum())
    # coherence: the posterior mean of the aggregate is the weighted mean of the cell means
    national = fh_fit.aggregate(None, weights)
    assert len(national) == 1
    expected = np.average(fh_fit.cells["estimate"], weights=pop)
    assert national["estimate"].iloc[0] == pytest.approx(expected, rel=1e-12)
    with pytest.raises(ParameterError, match="weights must be given"):
        fh_fit.aggregate("life_event")


def test_aggregate_by_hand():
    """Three cells, four draws, weights 1, 3 and 2: every figure computed by hand."""
    from meting.sae.aggregate import weighted_aggregate

    cells = pd.DataFrame(
        {"life_event": ["a", "a", "b"], "municipality": ["m1", "m2", "m1"], "n": [2, 5, 4]}
    )
    draws = np.array([[6.0, 8.0, 5.0], [7.0, 8.0, 7.0], [8.0, 8.0, 9.0], [9.0, 8.0, 11.0]])
    by_event = weighted_aggregate(draws, cells, ["life_event"], np.array([1.0, 3.0, 2.0]), 7.0)
    a, b = by_event.set_index("life_event").loc[["a", "b"]].to_dict("records")
    # a: (c0 + 3 c1) / 4 = 7.5, 7.75, 8.0, 8.25
    assert a["estimate"] == pytest.approx(7.875)
    assert a["se"] == pytest.approx(np.sqrt(0.3125 / 3))
    assert a["lower_90"] == pytest.approx(7.5375)  # 7.5 + 0.15 x 0.25 (linear interpolation)
    assert (a["prob_ge_target"], a["population"], a["n"]) == (1.0, 4.0, 7)
    # b: the one cell, 5, 7, 9, 11 (7 counts as >= 7)
    assert b["estimate"] == pytest.approx(8.0) and b["se"] == pytest.approx(np.sqrt(20 / 3))
    assert (b["prob_ge_target"], b["population"], b["n"]) == (0.75, 2.0, 4)
    # national: (c0 + 3 c1 + 2 c2) / 6 = 40/6, 45/6, 50/6, 55/6
    (national,) = weighted_aggregate(draws, cells, [], np.array([1.0, 3.0, 2.0]), 7.0).to_dict(
        "records"
    )
    assert national["estimate"] == pytest.approx(190 / 24)
    assert (national["prob_ge_target"], national["population"], national["n"]) == (0.75, 6.0, 11)


def test_cache_hit_identical_and_without_observed_data(fh_fit, fh_cells, cache_dir, mock_sampling):
    again = fit_area_level(
        fh_cells, "estimate", "se_smoothed", GROUPS, sampling=fast(11), cache_dir=cache_dir
    )
    assert mock_sampling.calls == []  # loaded, not sampled
    assert again.diagnostics.from_cache and not fh_fit.diagnostics.from_cache
    pd.testing.assert_frame_equal(again.cells, fh_fit.cells)
    assert again.diagnostics.max_rhat == fh_fit.diagnostics.max_rhat
    files = sorted(cache_dir.glob("*.nc"))
    assert len(files) == 1 and not list(cache_dir.glob("*.tmp"))
    import netCDF4

    with netCDF4.Dataset(files[0]) as nc:
        groups = set(nc.groups)
    assert groups == {"posterior", "sample_stats"}
    # another seed is another fit: a new key
    changed = fh_cells.assign(estimate=fh_cells["estimate"] + 0.01)
    from meting.sae import cache as sae_cache
    from meting.sae.spec import ModelSpec, spec_fingerprint

    key_a = sae_cache.cache_key("area", {"data": sae_cache.frame_digest(fh_cells)})
    key_b = sae_cache.cache_key("area", {"data": sae_cache.frame_digest(changed)})
    assert key_a != key_b
    assert spec_fingerprint(ModelSpec("area", ("a",))) != spec_fingerprint(
        ModelSpec("area", ("b",))
    )


def test_bad_fit_is_flagged(fh_cells, sampling_mock):
    # 2 x 20 draws cannot reach a bulk ESS of 400, and the sampler reports 3 divergences
    with sampling_mock(divergences=3):
        bad = fit_area_level(
            fh_cells,
            "estimate",
            "se_smoothed",
            GROUPS,
            sampling=SampleSettings(sampler="pymc", chains=2, draws=20, tune=20, random_seed=3),
        )
    d = bad.diagnostics
    assert not d.trustworthy
    assert d.min_ess_bulk < 400 and d.n_divergences == 3
    assert d.warning_nl.startswith("Let op:") and "niet betrouwbaar" in d.warning_nl
    assert "3 divergente overgangen" in d.warning_nl
    with pytest.raises(ConvergenceError, match="R-hat"):
        d.raise_if_untrustworthy()


def test_smooth_variances_closed_form():
    cells = pd.DataFrame(
        {
            "g": ["a", "a", "a", "b", "b"],
            "se": [0.5, 0.2, np.nan, 0.3, np.nan],
            "n": [4, 10, 1, 5, 0],
            "deff": [1.0, 2.0, np.nan, 1.5, np.nan],
        }
    )
    out = smooth_variances(cells)
    s2 = np.array([0.25 * 4 / 1.0, 0.04 * 10 / 2.0, 0.09 * 5 / 1.5])
    w = np.array([3.0, 9.0, 4.0])
    s2_pool = (w * s2).sum() / w.sum()
    deff_pool = (w * np.array([1.0, 2.0, 1.5])).sum() / w.sum()
    expected = np.sqrt(s2_pool * deff_pool / np.array([4, 10, 1, 5]))
    np.testing.assert_allclose(out["se_smoothed"].to_numpy()[:4], expected, rtol=1e-12)
    assert np.isnan(out["se_smoothed"].iloc[4])
    # pooled per group
    by = smooth_variances(cells, pool_by=["g"], deff=None)
    s2_a = (3 * 0.25 * 4 + 9 * 0.04 * 10) / 12
    assert by["se_smoothed"].iloc[2] == pytest.approx(np.sqrt(s2_a / 1))
    assert by["se_smoothed"].iloc[3] == pytest.approx(0.3)


def test_sufficient_statistics_against_pandas():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "g": rng.choice(["x", "y", "z"], 200),
            "h": rng.choice(["p", "q"], 200),
            "score": rng.integers(1, 11, 200).astype(float),
        }
    )
    frame.loc[[3, 50, 77], "score"] = np.nan
    stats = sufficient_statistics(frame, "score", ["g", "h"])
    grouped = frame.dropna().groupby(["g", "h"])["score"]
    np.testing.assert_array_equal(stats["n"], grouped.size().to_numpy())
    np.testing.assert_allclose(stats["mean"], grouped.mean().to_numpy(), rtol=1e-12)
    ss = grouped.var(ddof=1).to_numpy() * (grouped.size().to_numpy() - 1)
    np.testing.assert_allclose(stats["sumsq"], ss, rtol=1e-9)


def test_bad_input_messages(fh_cells):
    dup = pd.concat([fh_cells, fh_cells.iloc[[2]]], ignore_index=True)
    with pytest.raises(SchemaError, match="one row per combination"):
        fit_area_level(dup, "estimate", "se_smoothed", GROUPS, sampling=fast(1))
    no_se = fh_cells.assign(se_smoothed=fh_cells["se_smoothed"].where(fh_cells["n"] != 1))
    if (fh_cells["n"] == 1).any():
        with pytest.raises(SchemaError, match="smooth_variances"):
            fit_area_level(no_se, "estimate", "se_smoothed", GROUPS, sampling=fast(1))
    with pytest.raises(SchemaError, match="must have the columns"):
        fit_area_level(fh_cells, "estimate", "nope", GROUPS, sampling=fast(1))
    with pytest.raises(ParameterError, match="sampler must be one of"):
        SampleSettings(random_seed=1, sampler="x")  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match="random_seed must be an integer"):
        SampleSettings(random_seed=1.5)  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match="sampling must be a SampleSettings"):
        fit_area_level(fh_cells, "estimate", "se_smoothed", GROUPS, sampling={"random_seed": 1})
    with pytest.raises(TypeError):
        fit_area_level(
            fh_cells, "estimate", "se_smoothed", GROUPS
        )  # sampling (with its seed) is required


def test_covariates_enter_the_model(fh_cells):
    from meting.sae.data import build_index, covariate_matrix
    from meting.sae.model import build_area_model
    from meting.sae.spec import ModelSpec, Priors

    cells = fh_cells.assign(
        size_class=np.where(fh_cells["municipality"] < "GM0005", "klein", "groot"),
        density=np.arange(len(fh_cells), dtype=float),
    )
    x, names = covariate_matrix(cells, ["size_class", "density"], "cells")
    assert names == ["size_class[klein]", "density"]
    np.testing.assert_allclose(x[:, 1], cells["density"] - cells["density"].mean())
    np.testing.assert_array_equal(x[:, 0], (cells["size_class"] == "klein").astype(float))
    index, row_cell = build_index(cells, GROUPS, "cells")
    order = np.argsort(row_cell)  # model cells are sorted by their labels
    cells, x = cells.iloc[order], x[order]
    spec = ModelSpec("area", tuple(GROUPS), ("size_class", "density"), Priors())
    est = cells["estimate"].to_numpy(dtype=float)
    se = cells["se_smoothed"].to_numpy(dtype=float)
    model = build_area_model(spec, index, est, se, x, names)
    assert list(model.coords["covariate"]) == names
    import pytensor

    # the cell effects are integrated out: the covariates enter the predictor eta
    (theta_expr,) = model.replace_rvs_by_values([model["eta"]])
    theta_of = pytensor.function(
        model.value_vars, theta_expr, on_unused_input="ignore", mode="FAST_COMPILE"
    )
    point = model.initial_point()
    values = [point[v.name] for v in model.value_vars]
    at = [v.name for v in model.value_vars].index("beta")
    values[at] = np.array([0.5, 0.01])
    theta = np.array(theta_of(*values), copy=True)
    values[at] = np.zeros(2)
    base = np.array(theta_of(*values), copy=True)
    np.testing.assert_allclose(theta - base, x @ np.array([0.5, 0.01]), atol=1e-12)
    with pytest.raises(SchemaError, match="no missing values"):
        covariate_matrix(cells.assign(density=np.nan), ["density"], "cells")
