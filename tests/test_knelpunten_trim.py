"""TRI*M index: respondent index by hand, municipality means and SRS closed-form SEs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from meting.design import SurveyDesign
from meting.errors import DesignError, ParameterError
from meting.knelpunten.trim import trim_index, trim_respondent_index

Q = ["trim_overall", "trim_role", "trim_trust", "trim_compare"]


def _data() -> pd.DataFrame:
    rows = [
        [5, 5, 5, 5], [1, 1, 1, 1], [3, 4, 2, 3], [4, 4, 4, None], [2, 3, 5, 1], [5, 4, 3, 2],
    ]  # fmt: skip
    data = pd.DataFrame(rows, columns=Q).astype("Int8")
    data["municipality"] = ["GM0001", "GM0001", "GM0001", "GM0002", "GM0002", "GM0002"]
    data["w"] = [1.0, 2.0, 3.0, 1.0, 1.0, 2.0]
    return data


def test_respondent_index_by_hand():
    idx = trim_respondent_index(_data())
    expected = [100, 0, (50 + 75 + 25 + 50) / 4, np.nan, (25 + 50 + 100 + 0) / 4, 62.5]
    np.testing.assert_allclose(idx, expected)
    custom = trim_respondent_index(
        _data(), category_scores=[0, 0, 1, 1, 1], question_weights=[2, 1, 1, 0]
    )
    np.testing.assert_allclose(custom[:3], [1, 0, (2 * 1 + 1 + 0) / 4])


def test_municipality_index_weighted_mean():
    out = trim_index(SurveyDesign(_data(), weights="w")).set_index("municipality")
    assert out.loc["GM0001", "estimate"] == pytest.approx((100 * 1 + 0 * 2 + 50 * 3) / 6)
    assert out.loc["GM0002", "estimate"] == pytest.approx((43.75 + 2 * 62.5) / 3)
    assert out.loc["GM0002", "n"] == 2  # the incomplete respondent is left out
    assert (out["variable"] == "trim_index").all()


def test_srs_standard_error_closed_form():
    rng = np.random.default_rng(5)
    data = pd.DataFrame(rng.integers(1, 6, size=(80, 4)), columns=Q).astype("Int8")
    out = trim_index(SurveyDesign(data), by=None)
    idx = (data.to_numpy(float) - 1).mean(axis=1) * 25
    assert out["estimate"].iloc[0] == pytest.approx(idx.mean())
    assert out["se"].iloc[0] == pytest.approx(idx.std(ddof=1) / np.sqrt(80), rel=1e-10)


def test_bad_input():
    design = SurveyDesign(_data(), weights="w")
    with pytest.raises(ParameterError, match="question_weights"):
        trim_index(design, question_weights=[1, 1])
    with pytest.raises(ParameterError, match="category_scores"):
        trim_index(design, category_scores=[0, 1])
    with pytest.raises(DesignError, match="must exist"):
        trim_index(design, questions=["trim_x"])
    bad = _data().assign(trim_role=pd.array([7, 1, 1, 1, 1, 1], dtype="Int8"))
    with pytest.raises(ParameterError, match="integers 1..5"):
        trim_respondent_index(bad)
