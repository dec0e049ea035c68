"""Unit-level model of meting.sae: sufficient statistics = one row per respondent; MRP."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

warnings.filterwarnings("ignore", category=FutureWarning)

from meting.errors import SchemaError  # noqa: E402
from meting.sae import SampleSettings, fit_unit_level, sufficient_statistics  # noqa: E402
from meting.sae.data import build_index  # noqa: E402
from meting.sae.model import UnitRows, build_respondent_model, build_unit_model  # noqa: E402
from meting.sae.simulate import simulate_survey  # noqa: E402
from meting.sae.spec import ModelSpec, Priors  # noqa: E402

GROUPS = ["life_event", "municipality"]
STRATA = ["age_band", "sex"]


@pytest.fixture(scope="module")
def survey():
    return simulate_survey(8, n_municipalities=6, n_events=3, respondents=300)


def _models(survey, strata: list[str]):
    """The sufficient-statistics model and the one-row-per-respondent model on the same rows."""
    keys = [*GROUPS, *strata]
    stats = sufficient_statistics(survey.respondents, "score", keys)
    index, row_cell = build_index(stats, GROUPS, "stats")
    codes = {k: pd.Categorical(stats[k]).codes.astype(np.int64) for k in strata}
    levels = {k: np.asarray(pd.Categorical(stats[k]).categories, dtype=str) for k in strata}
    rows = UnitRows(
        row_cell=row_cell,
        n=stats["n"].to_numpy(),
        mean=stats["mean"].to_numpy(),
        sumsq=stats["sumsq"].to_numpy(),
        weight=np.ones(len(stats)),
        strata_codes=codes,
        strata_levels=levels,
    )
    # the plain model: cell effects sampled, as in the one-row-per-respondent model
    spec = ModelSpec(
        "unit", tuple(GROUPS), strata=tuple(strata), priors=Priors(), marginalise_cells=False
    )
    key = stats[keys].agg("|".join, axis=1)
    resp_key = survey.respondents[keys].astype(str).agg("|".join, axis=1)
    respondent_row = pd.Index(key).get_indexer(resp_key)
    assert (respondent_row >= 0).all()
    suff = build_unit_model(spec, index, rows)
    unit = build_respondent_model(
        spec, index, rows, respondent_row, survey.respondents["score"].to_numpy()
    )
    return suff, unit, stats


@pytest.mark.parametrize("strata", [[], STRATA], ids=["cells", "cells_x_strata"])
def test_sufficient_statistics_logp_equals_respondent_logp(survey, strata):
    suff, unit, stats = _models(survey, strata)
    assert {v.name for v in suff.free_RVs} == {v.name for v in unit.free_RVs}
    # five evaluations: the Python linker, without C compilation, is the faster way
    logp_suff = suff.compile_logp(mode="FAST_COMPILE")
    logp_unit = unit.compile_logp(mode="FAST_COMPILE")
    rng = np.random.default_rng(0)
    start = suff.initial_point()
    differences, values = [], []
    for _ in range(5):
        point = {k: v + rng.normal(0.0, 0.7, np.shape(v)) for k, v in start.items()}
        values.append(logp_unit(point))
        differences.append(logp_suff(point) - values[-1])
    n = stats["n"].to_numpy(dtype=float)
    # Normal(ybar | theta, sigma/sqrt(n)) keeps 1/2 log n and drops (n - 1)/2 log(2 pi) per row
    constant = 0.5 * np.log(n).sum() + 0.5 * (n.sum() - len(n)) * np.log(2 * np.pi)
    np.testing.assert_allclose(differences, constant, rtol=0, atol=1e-6)
    # and the points really differ (the check is not vacuous)
    assert np.ptp(values) > 1.0


@pytest.fixture(scope="module")
def mrp_fit(survey, sampling_mock):
    """Plumbing of the MRP fit: mocked NUTS on nutpie's path (the default sampler)."""
    stats = sufficient_statistics(survey.respondents, "score", [*GROUPS, *STRATA])
    with sampling_mock() as mock:
        fit = fit_unit_level(
            stats,
            GROUPS,
            population=survey.population,
            sampling=SampleSettings(chains=2, draws=200, tune=200, random_seed=4),
        )
    assert mock.samplers == ["nutpie"] and fit.diagnostics.sampler == "nutpie"
    return fit


def test_mrp_cells_and_default_weights(mrp_fit, survey):
    cells = mrp_fit.cells
    assert len(cells) == len(survey.truth) == 18
    post = mrp_fit.idata.posterior
    assert "effect_age_band" in post and post["effect_age_band"].sizes["age_band"] == 4
    # theta drawn from its conditional; the integrated-out helpers and nutpie's unconstrained
    # values (effect_age_band_zerosum__, sigma_log__) are not kept
    assert post["theta"].dims == ("chain", "draw", "cell") and post.sizes["cell"] == 18
    assert not {"eta", "cell_score", "z_cell"} & set(post.data_vars)
    assert not [v for v in post.data_vars if str(v).endswith("__")]
    # the direct estimate is the pooled sample mean of the cell
    resp = survey.respondents
    sample_mean = resp.groupby(GROUPS)["score"].mean()
    merged = cells.set_index(GROUPS).join(sample_mean.rename("sample"), how="left")
    np.testing.assert_allclose(merged["direct"], merged["sample"], rtol=1e-12)
    # aggregates use the population of the post-stratification by default
    pop = (
        cells[GROUPS]
        .merge(survey.truth[[*GROUPS, "population"]], on=GROUPS)["population"]
        .to_numpy(dtype=float)
    )
    np.testing.assert_allclose(mrp_fit.population, pop)
    national = mrp_fit.aggregate(None)
    assert national["estimate"].iloc[0] == pytest.approx(np.average(cells["estimate"], weights=pop))


def test_population_must_cover_the_sample(survey):
    stats = sufficient_statistics(survey.respondents, "score", [*GROUPS, *STRATA])
    population = survey.population.iloc[1:]
    first = survey.population.iloc[0]
    has_first = (
        (stats[GROUPS + STRATA].astype(str) == first[GROUPS + STRATA].astype(str)).all(axis=1).any()
    )
    if has_first:
        with pytest.raises(SchemaError, match="must all appear in population"):
            fit_unit_level(
                stats, GROUPS, population=population, sampling=SampleSettings(random_seed=1)
            )
    dup = pd.concat([stats, stats.iloc[[0]]])
    with pytest.raises(SchemaError, match="one row per combination"):
        fit_unit_level(dup, GROUPS, sampling=SampleSettings(random_seed=1))
