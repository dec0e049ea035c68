"""Improvement agenda: priority = max(0, target - score) x frequency, order and suppression."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from test_knelpunten_drivers import synthetic_wave_design

from meting.design import SurveyDesign
from meting.errors import ParameterError
from meting.knelpunten.agenda import improvement_agenda


def _small() -> SurveyDesign:
    # municipality m: event p (score 6, 4 resp.), q (score 5, 2 resp.), r (score 8, 4 resp.)
    data = pd.DataFrame(
        {
            "municipality": ["m"] * 10,
            "life_event": ["p"] * 4 + ["q"] * 2 + ["r"] * 4,
            "score_chain": pd.array([6, 6, 6, 6, 5, 5, 8, 8, 8, 8], dtype="Int8"),
            "w": [1.0] * 10,
        }
    )
    return SurveyDesign(data, weights="w")


def test_priority_definition_by_hand():
    out = improvement_agenda(_small(), min_cell_size=1).set_index("life_event")
    assert out.loc["p", "priority"] == pytest.approx((7 - 6) * 0.4)
    assert out.loc["q", "priority"] == pytest.approx((7 - 5) * 0.2)
    assert out.loc["r", "priority"] == 0.0  # above the target: no gap
    assert pd.isna(out.loc["r", "rank"])  # and never ranked as a priority
    # p and q tie on priority 0,4: the more frequent event comes first
    assert list(out.dropna(subset=["rank"]).sort_values("rank").index) == ["p", "q"]


def test_suppression():
    out = improvement_agenda(_small(), min_cell_size=3).set_index("life_event")
    assert out.loc["q", "onderdrukt"] and pd.isna(out.loc["q", "priority"])
    assert pd.isna(out.loc["q", "rank"]) and pd.isna(out.loc["q", "score"])
    assert list(out.dropna(subset=["rank"]).sort_values("rank").index) == ["p"]


def test_population_frequency():
    pop = pd.DataFrame(
        {"municipality": ["m"] * 3, "life_event": ["p", "q", "r"], "population": [10, 30, 60]}
    )
    out = improvement_agenda(_small(), min_cell_size=1, population=pop).set_index("life_event")
    assert out.loc["q", "frequency"] == pytest.approx(0.3)
    assert out.loc["q", "priority"] == pytest.approx(2 * 0.3)
    assert out.loc["q", "rank"] == 1
    with pytest.raises(ParameterError, match="min_cell_size"):
        improvement_agenda(_small(), min_cell_size=0)


def test_order_follows_priority_on_synthetic_wave():
    out = improvement_agenda(synthetic_wave_design(), min_cell_size=30)
    ranked = out[~out["onderdrukt"]]
    np.testing.assert_allclose(
        ranked["priority"], np.maximum(0, 7 - ranked["score"]) * ranked["frequency"]
    )
    assert (out.loc[out["onderdrukt"], "n"] < 30).all()
    assert (ranked["n"] >= 30).all()
    assert out.loc[out["priority"] == 0, "rank"].isna().all()  # at or above 7: no priority
    for _, grp in ranked.loc[ranked["priority"] > 0].groupby("municipality"):
        g = grp.sort_values("rank")
        assert list(g["rank"]) == list(range(1, len(g) + 1))
        assert (np.diff(g["priority"].to_numpy()) <= 1e-15).all()
    freq = out.groupby("municipality")["frequency"].sum()
    np.testing.assert_allclose(freq, 1.0)
