"""The whole-wave pipeline on a generated wave (meting.pipeline, with meting.report.tables).

Checks against independent quantities: the population margins from params/, the raw respondent
counts, and the rule of the minimum cell size. The model fit runs with mocked NUTS (plumbing);
with real sampling it is a slow test.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from meting import columns as C
from meting import pipeline as A
from meting.registry import load_registry
from meting.report import tables
from meting.results import RESULT_COLUMNS
from meting.significance import reason_too_few
from meting.synthetic import generate_command

PROJECT_PARAMS = Path(__file__).resolve().parents[1] / "params"
WAVE = "2008-nulmeting"


@pytest.fixture(scope="module")
def an(tmp_path_factory: pytest.TempPathFactory) -> A.WaveAnalysis:
    root = tmp_path_factory.mktemp("project")
    shutil.copytree(PROJECT_PARAMS, root / "params")
    generate_command([WAVE], out_dir=root / "data" / "synthetic", params_dir=root / "params")
    return A.analyse_wave(load_registry(root / "params"), WAVE)


def test_margins_come_from_the_registry(an: A.WaveAnalysis) -> None:
    pop = an.registry.population()
    total = float(pop["count"].sum())
    joint = an.margins[(C.MUNICIPALITY, C.AGE_BAND, C.SEX)]
    assert sum(joint.values()) == pytest.approx(total)
    assert sum(an.margins[(C.EDUCATION,)].values()) == pytest.approx(total)
    assert {k[0] for k in an.margins[(C.EDUCATION,)]} == set(C.EDUCATION_LEVELS)


def test_weighted_sample_matches_population_shares(an: A.WaveAnalysis) -> None:
    pop = an.registry.population().groupby(C.AGE_BAND, observed=True)["count"].sum()
    comp = A.sample_composition(an, C.AGE_BAND).set_index(C.AGE_BAND)
    expected = (pop / pop.sum()).reindex(comp.index.astype(str))
    np.testing.assert_allclose(comp["gewogen"], expected.to_numpy(), atol=1e-6)
    np.testing.assert_allclose(comp["populatie"], expected.to_numpy(), atol=1e-12)
    raw = an.data.respondents[C.AGE_BAND].astype(str).value_counts()
    assert comp["n"].to_dict() == raw.reindex(comp.index).to_dict()
    assert an.weighting.converged


def test_composition_in_meaning_order(an: A.WaveAnalysis) -> None:
    edu = A.sample_composition(an, C.EDUCATION)
    assert edu[C.EDUCATION].tolist() == ["laag", "midden", "hoog"]  # not hoog, laag, midden
    assert A.sample_composition(an, C.AGE_BAND)[C.AGE_BAND].tolist() == list(C.AGE_BANDS)
    np.testing.assert_allclose(edu["gewogen"].sum(), 1.0)


def test_estimate_tables_count_the_right_respondents(an: A.WaveAnalysis) -> None:
    r = an.data.respondents
    levels = A.level_estimates(an)
    assert levels["variable"].tolist() == [*C.SCORES, "organisations"]
    assert int(levels.loc[levels["variable"] == C.SCORE_CHAIN, "n"].iloc[0]) == int(
        r[C.SCORE_CHAIN].notna().sum()
    )
    events = A.life_event_estimates(an)
    assert int(events["n"].sum()) == int(r[C.SCORE_CHAIN].notna().sum())
    assert events["levensgebeurtenis"].notna().all()
    bsc = A.bsc_shares(an)
    assert len(bsc) == 10 and bsc["estimate"].between(0, 1).all()
    first = r[C.BSC_NORMS[0]]
    assert int(bsc["n"].iloc[0]) == int(first.notna().sum())
    channels = A.channel_shares(an)
    assert channels["kanaal"].tolist() == ["balie", "telefoon", "internet", "brief of e-mail"]
    for table in (levels, events, bsc, channels, A.organisation_estimates(an)):
        assert C.RESPONDENT_ID not in table.columns


def test_direct_cells_cover_the_grid(an: A.WaveAnalysis) -> None:
    cells = A.direct_cells(an)
    assert len(cells) == len(an.registry.life_events) * len(an.registry.municipalities)
    assert not cells.duplicated([C.LIFE_EVENT, C.MUNICIPALITY]).any()
    empty = cells["n"] == 0
    assert cells.loc[empty, "estimate"].isna().all()
    assert cells.loc[~empty, "estimate"].notna().all()
    assert (cells.loc[~empty, "se_smoothed"] > 0).all()
    raw = an.data.respondents.groupby([C.LIFE_EVENT, C.MUNICIPALITY], observed=True)[C.SCORE_CHAIN]
    counts = (
        raw.count().rename("raw").reset_index().astype({C.LIFE_EVENT: str, C.MUNICIPALITY: str})
    )
    both = cells.merge(counts, on=[C.LIFE_EVENT, C.MUNICIPALITY], how="left").fillna({"raw": 0})
    assert (both["n"] == both["raw"]).all()


def test_report_table_suppresses_small_cells(an: A.WaveAnalysis) -> None:
    events = A.tested(an, A.life_event_estimates(an))
    events.loc[0, "n"] = 5  # make one cell small
    html = tables.estimate_table(events, "levensgebeurtenis", "levensgebeurtenis", min_n=30).html
    html = html.replace("\xa0", " ").replace("\u2060", "")  # the text a reader sees
    name = events.loc[0, "levensgebeurtenis"]
    row = html[html.index(name) : html.index("</tr>", html.index(name))]
    assert row.count(">–<") == 3  # mark, interval and p suppressed
    assert "niet getoond (te weinig respondenten)" in row
    assert "1 cel met minder dan 30 respondenten niet getoond" in html


def test_every_table_is_a_result_table(an: A.WaveAnalysis) -> None:
    for table in (
        A.level_estimates(an),
        A.life_event_estimates(an),
        A.organisation_estimates(an),
        A.channel_shares(an),
        A.bsc_shares(an),
    ):
        assert table is not None
        assert [c for c in table.columns if c in RESULT_COLUMNS] == list(RESULT_COLUMNS)
        # shares carry Korn-Graubard intervals (svyciprop "beta"); means are Taylor
        assert table["method"].isin(["taylor", "ciprop-beta"]).all()
        assert (table["level"] == an.settings.confidence).all()
        assert table.attrs == {}


def test_verdicts_against_the_synthetic_truth(an: A.WaveAnalysis) -> None:
    """Directional verdicts agree with the truth the generator kept (Holm keeps the chance of
    any wrong direction in a family below 5%; the seed is fixed)."""
    s = an.settings
    events = A.tested(an, A.life_event_estimates(an))
    levels = A.tested(an, A.level_estimates(an)).set_index("variable")
    small = events["n"] < s.min_cell_size
    assert events.loc[small, "verdict"].isna().all()
    assert events.loc[~small, "verdict"].notna().all()
    assert (events["family_size"].loc[~small] == (~small).sum()).all()
    path = A.wave_data_files(an.registry, an.label)["respondents"].with_name("truth_cells.csv")
    truth = pd.read_csv(path, dtype={C.MUNICIPALITY: str, C.LIFE_EVENT: str})
    by_event = truth.groupby(C.LIFE_EVENT).apply(
        lambda g: np.average(g["true_chain"], weights=g["population"]), include_groups=False
    )
    true_mean = events[C.LIFE_EVENT].astype(str).map(by_event)
    assert true_mean.notna().all()
    assert not ((events["verdict"] == "significant boven 7") & (true_mean < 7)).any()
    assert not ((events["verdict"] == "significant onder 7") & (true_mean > 7)).any()
    assert (events["verdict"] == "significant onder 7").sum() >= 3
    assert levels.loc[C.SCORE_CHAIN, "verdict"] == "significant onder 7"  # true mark 6,7
    national_n = an.data.respondents[C.SCORE_CHAIN].notna().sum()
    assert levels.loc[C.SCORE_CHAIN, "n"] == national_n


def test_small_area_fit_is_cached_and_tabled(an: A.WaveAnalysis, mock_sampling) -> None:
    sae = A.fit_small_areas(an)
    (call,) = mock_sampling.calls
    s = an.settings
    assert call["sampler"] == s.sampler and call["draws"] == s.draws
    assert call.get("seed", call.get("random_seed")) == s.seed_for(an.wave)
    assert not sae.diagnostics.from_cache
    again = A.fit_small_areas(an)  # a second report of the wave loads the fit
    assert len(mock_sampling.calls) == 1 and again.diagnostics.from_cache
    grid = len(an.registry.life_events) * len(an.registry.municipalities)
    assert len(sae.cells) == grid
    cells = A.municipality_cells(an, sae, "GM0505")
    assert len(cells) == len(an.registry.life_events)
    assert set(cells[C.MUNICIPALITY].astype(str)) == {"GM0505"}
    seen = cells["observed"].to_numpy(dtype=bool)
    publish = cells["publication"].ne("niet publiceren").to_numpy(dtype=bool)
    assert (seen & publish).any() and (seen & ~publish).any()
    assert cells.loc[seen & publish, "kans_hoger"].between(0, 1).all()
    assert cells.loc[seen & publish, "verdict"].notna().all()
    assert cells.loc[~seen, "kans_hoger"].isna().all()  # a prediction gets no probability
    assert cells.loc[~seen, "verdict"].isna().all()  # and no verdict
    # nor does a cell the publication rule holds back (too few respondents or too uncertain)
    assert cells.loc[~publish, "kans_hoger"].isna().all()
    assert cells.loc[~publish, "verdict"].isna().all()
    by_mun = A.sae_by(an, sae, C.MUNICIPALITY)
    assert set(by_mun[C.MUNICIPALITY].astype(str)) == set(an.registry.municipalities)
    assert by_mun["naam"].notna().all()


def test_benchmarked_fit_aggregates_to_the_design_based_life_event_estimates(
    an: A.WaveAnalysis, mock_sampling
) -> None:
    sae = A.fit_small_areas(an, benchmark=True)
    assert sae.cells["benchmarked"].all()
    events = A.sae_by(an, sae, C.LIFE_EVENT).set_index(C.LIFE_EVENT)
    assert events["benchmarked"].all()
    # the design-based estimates (SurveyDesign.mean by life event), not the model
    direct = an.design.mean(C.SCORE_CHAIN, by=C.LIFE_EVENT).set_index(C.LIFE_EVENT)
    direct.index = direct.index.astype(str)
    events.index = events.index.astype(str)
    np.testing.assert_allclose(
        events["estimate"], direct.loc[events.index, "estimate"], rtol=0, atol=1e-9
    )
    np.testing.assert_allclose(events["se"], direct.loc[events.index, "se"], rtol=1e-6)
    towns = A.sae_by(an, sae, C.MUNICIPALITY)
    assert towns["benchmarked"].all()
    assert "benchmarked" not in A.fit_small_areas(an).cells.columns


@pytest.mark.slow
def test_small_area_fit_and_municipality_table(an: A.WaveAnalysis) -> None:
    sae = A.fit_small_areas(an)
    cells = A.municipality_cells(an, sae, "GM0505")
    assert len(cells) == len(an.registry.life_events)
    assert cells["kans_hoger"].between(0, 1).all()
    by_mun = A.sae_by(an, sae, C.MUNICIPALITY)
    assert set(by_mun[C.MUNICIPALITY].astype(str)) == set(an.registry.municipalities)


def test_municipality_against_the_rest_is_the_difference_of_two_domain_means(
    an: A.WaveAnalysis,
) -> None:
    import dataclasses

    code = "GM0505"
    out = A.municipality_vs_rest(an, code)
    assert len(out) == 1 and out["method"].iloc[0] == "contrast"
    mine = an.design.data[C.MUNICIPALITY].astype(str) == code
    design = dataclasses.replace(an.design, data=an.design.data.assign(_g=mine.to_numpy()))
    means = design.mean(C.SCORE_CHAIN, by="_g").set_index("_g")["estimate"]
    assert out["estimate"].iloc[0] == pytest.approx(means[True] - means[False], rel=1e-12)
    vc = design.covariance(C.SCORE_CHAIN, by="_g")
    assert out["se"].iloc[0] == pytest.approx(np.sqrt(vc[0, 0] + vc[1, 1] - 2 * vc[0, 1]))
    assert out["verdict"].iloc[0] in {
        "hoger dan de rest",
        "lager dan de rest",
        "geen aantoonbaar verschil",
    }


def test_a_municipality_without_respondents_gets_a_row_without_verdict(
    an: A.WaveAnalysis,
) -> None:
    """A national wave's small municipality can have nobody answering the chain question: the
    contrast against the rest then has no estimate and says why (it raised a DesignError)."""
    out = A.municipality_vs_rest(an, "GM9999")
    assert len(out) == 1 and out["method"].iloc[0] == "contrast"
    assert out["n_gemeente"].iloc[0] == 0
    assert out[["estimate", "se", "lower", "upper", "p_two_sided"]].isna().all(axis=None)
    assert pd.isna(out["verdict"].iloc[0])
    assert out["reason"].iloc[0] == reason_too_few(an.settings.min_cell_size)


def test_a_wave_of_one_municipality_has_no_rest_to_compare_with(an: A.WaveAnalysis) -> None:
    import dataclasses

    code = "GM0505"
    data = an.design.data
    others = data[C.MUNICIPALITY].astype(str) != code
    only_mine = data.assign(**{C.SCORE_CHAIN: data[C.SCORE_CHAIN].mask(others)})
    alone = dataclasses.replace(an, design=dataclasses.replace(an.design, data=only_mine))
    out = A.municipality_vs_rest(alone, code)
    assert out["n_gemeente"].iloc[0] == int(alone.design.data[C.SCORE_CHAIN].notna().sum())
    assert pd.isna(out["verdict"].iloc[0]) and np.isnan(out["estimate"].iloc[0])
    assert out["reason"].iloc[0] == A.REASON_NO_REST
