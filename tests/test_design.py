"""SurveyDesign: construction checks, the estimate table, immutability, t-tests."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from meting.design import SurveyDesign
from meting.errors import DesignError
from meting.results import RESULT_COLUMNS


@pytest.fixture
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(11)
    n = 300
    return pd.DataFrame(
        {
            "stratum": rng.choice(["noord", "zuid", "west"], n),
            "score": rng.integers(1, 11, n).astype(float),
            "sex": rng.choice(["man", "vrouw"], n),
            "w": rng.uniform(1, 4, n),
        }
    )


def test_table_has_the_contract_columns(frame: pd.DataFrame) -> None:
    d = SurveyDesign(frame, weights="w", strata="stratum")
    plain = d.mean("score")
    assert list(plain.columns) == [*RESULT_COLUMNS, "deff"]
    assert plain["method"][0] == "taylor" and plain["level"][0] == 0.95
    assert plain.attrs == {}  # nothing rides along in attrs (no covariance)
    by = d.mean("score", by="sex")
    assert list(by.columns) == ["sex", *RESULT_COLUMNS, "deff"]
    assert by["sex"].tolist() == ["man", "vrouw"]
    assert by["n"].sum() == len(frame)
    prop = d.proportion("sex", by="stratum")
    assert list(prop.columns) == ["stratum", "category", *RESULT_COLUMNS, "deff"]
    np.testing.assert_allclose(prop.groupby("stratum").estimate.sum(), 1.0)


def test_ci_uses_t_with_design_df(frame: pd.DataFrame) -> None:
    d = SurveyDesign(frame, weights="w", strata="stratum")
    t = d.mean("score", level=0.9)
    q = stats.t.ppf(0.95, d.degf())
    np.testing.assert_allclose(t["upper"] - t.estimate, q * t.se, rtol=1e-12)
    assert d.degf() == len(frame) - 3


def test_weighted_mean_closed_form(frame: pd.DataFrame) -> None:
    d = SurveyDesign(frame, weights="w")
    w, y = frame["w"].to_numpy(), frame["score"].to_numpy()
    assert d.mean("score").estimate[0] == pytest.approx(np.sum(w * y) / w.sum(), rel=1e-12)
    assert d.total("score").estimate[0] == pytest.approx(np.sum(w * y), rel=1e-12)


def test_missing_values_are_dropped_or_propagated(frame: pd.DataFrame) -> None:
    f = frame.copy()
    f.loc[f.index[:10], "score"] = np.nan
    d = SurveyDesign(f, weights="w")
    kept = d.mean("score")
    assert kept.n[0] == len(f) - 10
    ref = SurveyDesign(f.iloc[10:], weights="w").mean("score")
    np.testing.assert_allclose(kept.estimate, ref.estimate, rtol=1e-12)
    # as survey's na.rm: the design keeps its n PSUs; dropped rows count as zero influence
    w, y = f["w"].to_numpy(), f["score"].to_numpy()
    ok = ~np.isnan(y)
    m = np.sum(w[ok] * y[ok]) / w[ok].sum()
    u = np.where(ok, w * (np.nan_to_num(y) - m) / w[ok].sum(), 0.0)
    n = len(f)
    np.testing.assert_allclose(kept.se[0] ** 2, n / (n - 1) * np.sum((u - u.mean()) ** 2))
    assert np.isnan(d.mean("score", na_rm=False).estimate[0])


def test_design_is_frozen_and_data_untouched(frame: pd.DataFrame) -> None:
    before = frame.copy()
    d = SurveyDesign(frame, weights="w")
    d.mean("score", by="sex")
    pd.testing.assert_frame_equal(frame, before)
    with pytest.raises(dataclasses.FrozenInstanceError):
        d.weights = "other"  # type: ignore[misc]


def test_one_sample_ttest_alternatives(frame: pd.DataFrame) -> None:
    d = SurveyDesign(frame, weights="w", strata="stratum")
    two = d.ttest("score", mu=7)
    less = d.ttest("score", mu=7, alternative="less")
    greater = d.ttest("score", mu=7, alternative="greater")
    assert two.df[0] == d.degf() - 1  # survey's svyttest convention
    assert less.p_value[0] + greater.p_value[0] == pytest.approx(1.0)
    assert two.p_value[0] == pytest.approx(2 * min(less.p_value[0], greater.p_value[0]))
    assert np.isneginf(less["lower"][0]) and np.isposinf(greater["upper"][0])


def test_two_group_ttest_is_difference_of_domain_means(frame: pd.DataFrame) -> None:
    d = SurveyDesign(frame, weights="w", strata="stratum")
    t = d.ttest_groups("score", "sex")
    by = d.mean("score", by="sex")
    assert t.estimate[0] == pytest.approx(by.estimate[1] - by.estimate[0], rel=1e-12)
    vc = d.covariance("score", by="sex")
    assert vc.shape == (2, 2)
    np.testing.assert_allclose(np.sqrt(np.diag(vc)), by.se, rtol=1e-12)
    assert t.se[0] ** 2 == pytest.approx(vc[0, 0] + vc[1, 1] - 2 * vc[0, 1], rel=1e-10)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"weights": "gewicht"}, r"weights column 'gewicht' must exist in the data"),
        ({"strata": "regio"}, r"strata column 'regio' must exist"),
        ({"lonely_psu": "drop"}, r"lonely_psu must be one of"),
    ],
)
def test_bad_columns_and_options(frame: pd.DataFrame, kwargs: dict, message: str) -> None:
    with pytest.raises(DesignError, match=message):
        SurveyDesign(frame, **kwargs)


def test_bad_weights_and_fpc(frame: pd.DataFrame) -> None:
    f = frame.copy()
    f.loc[5, "w"] = -1.0
    with pytest.raises(
        DesignError, match=r"weights column 'w' must hold finite numbers >= 0; got -1.0 at row 5"
    ):
        SurveyDesign(f, weights="w")
    g = frame.assign(fpc=np.where(frame.index < 10, 0.5, 500.0))
    with pytest.raises(DesignError, match=r"fpc must hold either population sizes"):
        SurveyDesign(g, weights="w", fpc="fpc")
    h = frame.assign(fpc=10.0)
    with pytest.raises(DesignError, match=r"must not imply more than 100% sampling"):
        SurveyDesign(h, weights="w", fpc="fpc")
    m = frame.copy()
    m.loc[3, "stratum"] = None
    with pytest.raises(
        DesignError,
        match=r"strata column 'stratum' must have no missing values; got 1 \(first at row 3\)",
    ):
        SurveyDesign(m, strata="stratum")


def test_bad_variables(frame: pd.DataFrame) -> None:
    d = SurveyDesign(frame, weights="w")
    with pytest.raises(DesignError, match=r"variable 'cijfer' must be a column"):
        d.mean("cijfer")
    with pytest.raises(DesignError, match=r"variable 'sex' must be numeric.*Use proportion\(\)"):
        d.mean("sex")
    with pytest.raises(DesignError, match=r"group column 'stratum' must have exactly two levels"):
        d.ttest_groups("score", "stratum")


def test_clusters_must_nest_in_strata(frame: pd.DataFrame) -> None:
    f = frame.assign(psu=np.arange(len(frame)) % 7)
    with pytest.raises(DesignError, match=r"clusters of ids must be nested in strata"):
        SurveyDesign(f, strata="stratum", ids="psu")
    SurveyDesign(f, strata="stratum", ids="psu", nest=True, lonely_psu="adjust")
