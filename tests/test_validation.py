"""Estimators against the synthetic truth: size classes and verdict accuracy by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from meting import validation


@pytest.fixture
def comparison() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "n": [0, 0, 5, 12, 40, 50],
            "estimate": [6.0, 7.5, 7.2, 6.5, 7.4, 6.8],
            "direct": [np.nan, np.nan, 7.6, 6.1, 7.3, 6.9],
            "true_chain": [6.5, 7.4, 7.1, 6.6, 7.2, 7.1],
            "model_covers": [True, True, True, True, False, True],
            "model_covers_90": [False, True, True, True, False, False],
            "verdict": [
                None,
                None,
                "waarschijnlijk ≥ 7",
                "waarschijnlijk < 7",
                "waarschijnlijk ≥ 7",
                "onzeker",
            ],
        }
    )


def test_coverage_by_size_by_hand(comparison: pd.DataFrame) -> None:
    out = validation.coverage_by_size(comparison).set_index("respondenten per cel")
    assert out["cellen"].tolist() == [2, 1, 1, 2]
    pred = out.loc["0 (voorspelling)"]
    assert pred["RMSE model"] == pytest.approx(np.sqrt((0.5**2 + 0.1**2) / 2))
    assert np.isnan(pred["RMSE direct"])  # predictions have no direct estimate
    assert (pred["dekking 90%"], pred["dekking 95%"]) == (0.5, 1.0)
    big = out.loc["30 en meer"]
    assert big["RMSE direct"] == pytest.approx(np.sqrt((0.1**2 + 0.2**2) / 2))
    assert (big["dekking 90%"], big["dekking 95%"]) == (0.0, 0.5)


def test_verdict_accuracy_by_hand(comparison: pd.DataFrame) -> None:
    out = validation.verdict_accuracy(comparison, target=7.0).set_index("oordeel")
    assert out.loc["waarschijnlijk ≥ 7", "cellen"] == 2
    assert out.loc["waarschijnlijk ≥ 7", "juist"] == 1.0  # truths 7,1 and 7,2
    assert out.loc["waarschijnlijk < 7", "juist"] == 1.0  # truth 6,6
    assert np.isnan(out.loc["onzeker", "juist"]) and out.loc["onzeker", "werkelijk ≥ doel"] == 1.0
    assert out.loc["geen oordeel", "cellen"] == 2
    assert list(out.index)[-1] == "geen oordeel"
