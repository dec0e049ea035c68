"""Weighting a synthetic wave to the registry's margins recovers the synthetic truth."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from meting import columns as C
from meting.design import SurveyDesign
from meting.errors import DesignError
from meting.registry import load_registry
from meting.synthetic import generate_wave
from meting.wave_weighting import design_for_wave, population_margins
from meting.weighting import margin_gaps

WAVE = "2008-nulmeting"


@pytest.fixture(scope="module")
def registry():
    return load_registry()


@pytest.fixture(scope="module")
def wave(registry):
    return generate_wave(registry, WAVE)


@pytest.fixture(scope="module")
def weighted(registry, wave):
    return design_for_wave(wave.respondents, registry, WAVE)


def _truth_by_municipality(cells: pd.DataFrame) -> pd.Series:
    num = (cells["population"] * cells["true_chain"]).groupby(cells[C.MUNICIPALITY]).sum()
    return num / cells.groupby(C.MUNICIPALITY)["population"].sum()


def test_margins_met_and_report(registry, weighted) -> None:
    design, report = weighted
    assert report.converged and report.max_margin_gap < 1e-3
    margins = population_margins(
        registry, registry.waves[WAVE].weighting, sorted(design.data[C.MUNICIPALITY].unique())
    )
    # the municipality x age x sex counts are the registry's own numbers
    pop = registry.population()
    key = tuple(pop.iloc[0][[C.MUNICIPALITY, C.AGE_BAND, C.SEX]].astype(str))
    assert margins[(C.MUNICIPALITY, C.AGE_BAND, C.SEX)][key] == pytest.approx(pop.iloc[0]["count"])
    gaps = margin_gaps(
        design,
        {
            m if len(m) > 1 else m[0]: t if len(m) > 1 else {k[0]: v for k, v in t.items()}
            for m, t in margins.items()
        },
    )
    assert np.abs(gaps["gap"]).max() < 1e-3
    assert design.w.sum() == pytest.approx(sum(margins[(C.EDUCATION,)].values()))


def test_weighting_moves_estimates_towards_the_truth(wave, weighted) -> None:
    design, _ = weighted
    unweighted = SurveyDesign(design.data)
    truth = _truth_by_municipality(wave.truth_cells)
    w = design.mean(C.SCORE_CHAIN, by=C.MUNICIPALITY).set_index(C.MUNICIPALITY)
    u = unweighted.mean(C.SCORE_CHAIN, by=C.MUNICIPALITY).set_index(C.MUNICIPALITY)
    err_w = np.abs(w["estimate"] - truth.reindex(w.index)).mean()
    err_u = np.abs(u["estimate"] - truth.reindex(u.index)).mean()
    assert err_w < err_u
    national_truth = wave.truth_overall["chain"]
    nat_w = design.mean(C.SCORE_CHAIN)
    nat_u = unweighted.mean(C.SCORE_CHAIN)
    assert abs(nat_w.estimate[0] - national_truth) < abs(nat_u.estimate[0] - national_truth)
    assert nat_w["lower"][0] <= national_truth <= nat_w["upper"][0]


def test_intervals_cover_the_truth_at_about_the_nominal_rate(wave, weighted) -> None:
    design, _ = weighted
    est = design.mean(C.SCORE_CHAIN, by=[C.MUNICIPALITY, C.LIFE_EVENT])
    truth = wave.truth_cells[[C.MUNICIPALITY, C.LIFE_EVENT, "true_chain"]].astype(
        {C.MUNICIPALITY: str, C.LIFE_EVENT: str}
    )
    est = est[est["n"] >= 20].astype({C.MUNICIPALITY: str, C.LIFE_EVENT: str})
    both = est.merge(truth, on=[C.MUNICIPALITY, C.LIFE_EVENT], validate="one_to_one")
    covered = (both["lower"] <= both["true_chain"]) & (both["true_chain"] <= both["upper"])
    assert len(both) >= 40
    # 95% intervals: with this many cells, coverage between 85% and 100% is the nominal rate
    # within sampling noise (binomial sd about 2.5 points)
    assert 0.85 <= covered.mean() <= 1.0


def test_unknown_wave_and_missing_columns(registry, wave) -> None:
    with pytest.raises(DesignError, match=r"wave_label must be one of"):
        design_for_wave(wave.respondents, registry, "1999-nergens")
    with pytest.raises(DesignError, match=r"respondents must hold the weighting columns"):
        design_for_wave(wave.respondents.drop(columns=[C.EDUCATION]), registry, WAVE)
