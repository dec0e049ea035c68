"""Chain view: organisation scores from the long table, gaps to the chain, closed-form SEs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from meting.design import SurveyDesign
from meting.errors import SchemaError
from meting.knelpunten.chain import chain_gaps, chain_view


def _wave():
    resp = pd.DataFrame(
        {
            "respondent_id": [f"r{i}" for i in range(8)],
            "life_event": ["a"] * 5 + ["b"] * 3,
            "score_chain": pd.array([6, 7, 5, 8, 6, 7, 9, 8], dtype="Int8"),
            "score_cooperation": pd.array([5, 6, None, 7, 6, 6, 8, 7], dtype="Int8"),
            "w": [1.0, 2.0, 1.5, 1.0, 3.0, 2.0, 1.0, 1.0],
        }
    )
    org = pd.DataFrame(
        {
            "respondent_id": ["r0", "r0", "r1", "r2", "r2", "r3", "r4", "r5", "r6", "r7"],
            "organisation": ["x", "y", "x", "x", "y", "y", "x", "z", "z", "z"],
            "score": pd.array([7, 8, 8, 6, 9, 7, 7, 8, 9, 6], dtype="Int8"),
        }
    )
    return SurveyDesign(resp, weights="w"), org, resp


def _srs_se(z: np.ndarray) -> float:
    n = z.size
    return float(np.sqrt(n / (n - 1) * ((z - z.mean()) ** 2).sum()))


def test_scores_and_gaps_by_hand():
    design, org, resp = _wave()
    view = chain_view(design, org)
    a = view[view["life_event"] == "a"].set_index("item")
    w = resp["w"].to_numpy()
    # organisation x in event a: r0 (7, w1), r1 (8, w2), r2 (6, w1.5), r4 (7, w3)
    mx = (7 * 1 + 8 * 2 + 6 * 1.5 + 7 * 3) / 7.5
    chain_a = np.average([6, 7, 5, 8, 6], weights=w[:5])
    assert a.loc["x", "estimate"] == pytest.approx(mx)
    assert a.loc["keten", "estimate"] == pytest.approx(chain_a)
    assert a.loc["x", "gap_to_chain"] == pytest.approx(mx - chain_a)
    assert a.loc["x", "n"] == 4
    # pooled organisations of a: every rating of respondents r0..r4
    ratings = {0: [7, 8], 1: [8], 2: [6, 9], 3: [7], 4: [7]}
    s = np.array([sum(ratings.get(i, [])) for i in range(8)], float)
    c = np.array([len(ratings.get(i, [])) for i in range(8)], float)
    m_all = (w * s).sum() / (w * c).sum()
    assert a.loc["organisaties", "estimate"] == pytest.approx(m_all)
    # SRS (with replacement) linearisation over all 8 respondents: ratio of totals
    z = w * (s - m_all * c) / (w * c).sum()
    assert a.loc["organisaties", "se"] == pytest.approx(_srs_se(z), rel=1e-10)
    # gap of organisation x to the chain: difference of the two ratio influences
    in_a = np.arange(8) < 5
    x_rating = np.array([7, 8, 6, np.nan, 7, np.nan, np.nan, np.nan])
    rated = ~np.isnan(x_rating)
    zx = np.where(rated, w * (np.nan_to_num(x_rating) - mx) / w[rated].sum(), 0.0)
    ych = np.array([6, 7, 5, 8, 6, 7, 9, 8], float)
    zc = np.where(in_a, w * (ych - chain_a) / w[in_a].sum(), 0.0)
    assert a.loc["x", "se"] == pytest.approx(_srs_se(zx), rel=1e-10)
    assert a.loc["x", "gap_se"] == pytest.approx(_srs_se(zx - zc), rel=1e-10)
    # best organisation of a is y: (8*1 + 9*1.5 + 7*1) / 3.5
    gaps = chain_gaps(view).set_index("life_event")
    assert gaps.loc["a", "best_organisation"] == "y"
    assert gaps.loc["a", "best_score"] == pytest.approx((8 + 13.5 + 7) / 3.5)
    assert gaps.loc["a", "gap"] == pytest.approx(gaps.loc["a", "best_score"] - chain_a)
    coop_a = np.average([5, 6, 7, 6], weights=[1, 2, 1, 3])
    assert gaps.loc["a", "cooperation_score"] == pytest.approx(coop_a)
    assert gaps.loc["b", "best_organisation"] == "z"


def test_whole_sample_view():
    design, org, _ = _wave()
    gaps = chain_gaps(chain_view(design, org, by=[]), by=[])
    assert len(gaps) == 1 and gaps["best_organisation"].iloc[0] == "y"  # 8,14 > z 7,75


def test_bad_organisation_tables():
    design, org, _ = _wave()
    with pytest.raises(SchemaError, match="must exist in the respondent table"):
        chain_view(design, pd.concat([org, org.iloc[[0]].assign(respondent_id="zz")]))
    with pytest.raises(SchemaError, match="one row per respondent x organisation"):
        chain_view(design, pd.concat([org, org.iloc[[0]]], ignore_index=True))
    with pytest.raises(SchemaError, match="must have column 'score'"):
        chain_view(design, org.drop(columns="score"))


def test_synthetic_wave_organisations_above_chain():
    """The synthetic waves are calibrated to organisations 7,0 and chains 6,7 (2008)."""
    from meting.registry import load_registry
    from meting.synthetic import generate_wave

    wave = generate_wave(load_registry(), "2008-nulmeting", n_respondents=3000)
    view = chain_view(SurveyDesign(wave.respondents), wave.organisations, by=[])
    row = view.set_index("item").loc["organisaties"]
    assert row["gap_to_chain"] - 3 * row["gap_se"] > 0


def test_group_without_best_organisation_gets_no_gap():
    # After dropping small organisations a life event may have no best organisation left: its
    # gap must be missing, and the other groups' gaps and intervals must be unaffected.
    design, org, _ = _wave()
    view = chain_view(design, org)
    # a third group (a copy of "a"), so that the groups with a best organisation are neither
    # all groups nor a single row that would broadcast
    view = pd.concat([view, view[view["life_event"] == "a"].assign(life_event="c")])
    view = view.reset_index(drop=True)
    full = chain_gaps(view).set_index("life_event")
    view.loc[(view["life_event"] == "b") & view["is_best"], "is_best"] = False
    gaps = chain_gaps(view).set_index("life_event")
    assert np.isnan(gaps.loc["b", "gap"]) and np.isnan(gaps.loc["b", "gap_lower"])
    for group in ("a", "c"):
        for col in ("gap", "gap_lower", "gap_upper"):
            assert gaps.loc[group, col] == pytest.approx(full.loc[group, col])
