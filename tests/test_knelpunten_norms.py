"""Norm shares (R survey 4.1-1 references and closed forms) and the weakest-norm rule, including
the weak norms planted in a synthetic wave."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from test_knelpunten_drivers import synthetic_wave_design

from meting.design import SurveyDesign
from meting.errors import DesignError, ParameterError
from meting.knelpunten.norms import norm_indicators, norm_shares, weakest_norms

REF = Path(__file__).parent / "reference" / "knelpunten"


@pytest.fixture(scope="module")
def ref_design() -> SurveyDesign:
    data = pd.read_csv(REF / "knelpunten_data.csv")
    return SurveyDesign(data, weights="w", strata="stratum", ids="psu")


@pytest.fixture(scope="module")
def reference() -> pd.DataFrame:
    return pd.read_csv(REF / "knelpunten_reference.csv")


def test_indicators():
    x = np.array([1, 2, 3, 4, 5, np.nan])
    np.testing.assert_array_equal(norm_indicators(x), [0, 0, 0, 1, 1, np.nan])
    np.testing.assert_array_equal(norm_indicators(x, "niet goed"), [1, 1, 0, 0, 0, np.nan])
    with pytest.raises(ParameterError, match="outcome"):
        norm_indicators(x, "slecht")


def test_weighted_share_closed_form():
    data = pd.DataFrame(
        {"n1": pd.array([5, 4, 1, 3, None, 2], dtype="Int8"), "w": [1.0, 2, 3, 4, 100, 5]}
    )
    out = norm_shares(SurveyDesign(data, weights="w"), norms=["n1"])
    good = out[out["outcome"] == "goed"].iloc[0]
    bad = out[out["outcome"] == "niet goed"].iloc[0]
    assert good["estimate"] == pytest.approx((1 + 2) / 15)  # n.v.t. (weight 100) left out
    assert bad["estimate"] == pytest.approx((3 + 5) / 15)
    assert good["n"] == 5 and good["norm_name"] == "n1"
    assert 0 <= good["lower"] <= good["estimate"] <= good["upper"] <= 1


def test_shares_match_r_svyby(ref_design, reference):
    out = norm_shares(ref_design, by="event", norms=["x2"])
    for outcome, case in (("goed", "share_good2"), ("niet goed", "share_bad2")):
        got = out[out["outcome"] == outcome].set_index("event")
        ref = reference[reference["case"] == case].set_index("term")
        np.testing.assert_allclose(got.loc[ref.index, "estimate"], ref["estimate"], rtol=1e-8)
        np.testing.assert_allclose(got.loc[ref.index, "se"], ref["se"], rtol=1e-6)
        np.testing.assert_allclose(got.loc[ref.index, "df"], ref["df"])


def test_paired_difference_se_matches_r_svycontrast(ref_design, reference):
    out = weakest_norms(ref_design, by="event", norms=["x1", "x2"], min_n=5)
    b = out[out["event"] == "b"].set_index("norm")
    ref = reference[reference["case"] == "share_diff_b"].iloc[0]
    other = b[b["rank"] == 2].iloc[0]
    assert other["diff_to_lowest"] == pytest.approx(abs(ref["estimate"]), rel=1e-8)
    assert other["se_diff"] == pytest.approx(ref["se"], rel=1e-6)
    # the shares themselves equal design.mean of the indicator
    shares = norm_shares(ref_design, by="event", norms=["x1", "x2"])
    good_b = shares[(shares["event"] == "b") & (shares["outcome"] == "goed")].set_index("norm")
    np.testing.assert_allclose(b.loc[["x1", "x2"], "se"], good_b.loc[["x1", "x2"], "se"])


def test_weakest_rule_follows_its_definition(ref_design):
    out = weakest_norms(ref_design, by="event", norms=["x1", "x2", "x3"], alpha=0.05, min_n=5)
    for _, grp in out.groupby("event"):
        lowest = grp.loc[grp["estimate"].idxmin()]
        assert lowest["rank"] == 1 and lowest["weakest"] and lowest["norm"] == lowest["reference"]
        others = grp[grp["norm"] != lowest["norm"]]
        np.testing.assert_array_equal(others["weakest"], others["p_value"] > 0.05)
        assert (others["diff_to_lowest"] >= 0).all()


def test_min_n_leaves_norms_unranked(ref_design):
    out = weakest_norms(ref_design, by="event", norms=["x1", "x2"], min_n=10_000)
    assert out["weakest"].isna().all() and out["rank"].isna().all()
    with pytest.raises(DesignError, match="must exist"):
        norm_shares(ref_design, norms=["bsc_99"])


@pytest.fixture(scope="module")
def synthetic_weak() -> pd.DataFrame:
    return weakest_norms(synthetic_wave_design())


@pytest.mark.parametrize(
    ("event", "norm"),
    [
        ("slachtoffer_misdrijf", "bsc_06"),
        ("immigratie", "bsc_06"),
        ("werkloos", "bsc_06"),
        ("immigratie", "bsc_03"),
        ("arbeidsongeschikt", "bsc_04"),
    ],
)
def test_planted_weak_norms_are_flagged(synthetic_weak, event, norm):
    row = synthetic_weak[(synthetic_weak["life_event"] == event) & (synthetic_weak["norm"] == norm)]
    assert bool(row["weakest"].iloc[0])


def test_strongest_planted_weak_norm_ranks_lowest(synthetic_weak):
    for event in ("slachtoffer_misdrijf", "werkloos", "immigratie"):
        grp = synthetic_weak[synthetic_weak["life_event"] == event]
        assert grp.loc[grp["rank"] == 1, "norm"].iloc[0] == "bsc_06"
    # where nothing is planted, norm 6 is not among the weakest in the large events
    for event in ("verhuizen", "kortdurend_ziek"):
        row = synthetic_weak[
            (synthetic_weak["life_event"] == event) & (synthetic_weak["norm"] == "bsc_06")
        ]
        assert not bool(row["weakest"].iloc[0])
