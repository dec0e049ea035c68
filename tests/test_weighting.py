"""Weighting: impossible targets rejected up front, convergence never silent, invariants."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from meting.design import SurveyDesign
from meting.errors import ConvergenceError, DesignError
from meting.weighting import (
    calibrate,
    effective_n,
    kish_deff,
    margin_gaps,
    poststratify,
    rake,
    trim,
)


@pytest.fixture
def design() -> SurveyDesign:
    rng = np.random.default_rng(2)
    n = 400
    f = pd.DataFrame(
        {
            "age_band": rng.choice(["18-34", "35-49", "50-64", "65+"], n, p=[0.1, 0.2, 0.3, 0.4]),
            "sex": rng.choice(["man", "vrouw"], n),
            "education": rng.choice(["laag", "midden", "hoog"], n),
            "score": rng.integers(1, 11, n).astype(float),
            "w": rng.uniform(1, 2, n),
        }
    )
    return SurveyDesign(f, weights="w")


AGE = {"18-34": 2600, "35-49": 2400, "50-64": 2500, "65+": 2500}
SEX = {"man": 4900, "vrouw": 5100}
EDU = {"laag": 3000, "midden": 4000, "hoog": 3000}


def test_rake_meets_margins_and_reports(design: SurveyDesign) -> None:
    raked, report = rake(design, {"age_band": AGE, "sex": SEX, "education": EDU})
    gaps = margin_gaps(raked, {"age_band": AGE, "sex": SEX, "education": EDU})
    assert np.abs(gaps["gap"]).max() < 1e-6
    assert report.converged and report.iterations >= 2
    assert report.max_margin_gap == pytest.approx(np.abs(gaps["gap"]).max(), abs=1e-9)
    assert report.weight_min == pytest.approx(raked.w.min())
    assert report.kish_deff == pytest.approx(kish_deff(raked.w))
    assert raked.history[-1].method == "rake"
    assert design.calibration == () and raked.calibration  # the input design is unchanged


def test_rake_agrees_with_raking_calibration(design: SurveyDesign) -> None:
    # survey's tests/rakecheck.R: rake() and calibrate(calfun = "raking") give the same weights
    raked, _ = rake(design, {"age_band": AGE, "sex": SEX}, epsilon=1e-13, max_iter=500)
    cal, _ = calibrate(design, {"age_band": AGE, "sex": SEX}, method="raking", epsilon=1e-12)
    np.testing.assert_allclose(raked.w / cal.w, 1.0, rtol=1e-8)


def test_joint_margin_poststratify_equals_cell_counts(design: SurveyDesign) -> None:
    cells = {(a, s): AGE[a] * SEX[s] / 10000 for a in AGE for s in SEX}
    ps, report = poststratify(design, ("age_band", "sex"), cells)
    got = pd.Series(ps.w).groupby([design.data["age_band"], design.data["sex"]]).sum()
    for key, value in cells.items():
        assert got[key] == pytest.approx(value)
    assert report.max_margin_gap < 1e-8


def test_absent_target_category_is_an_error(design: SurveyDesign) -> None:
    with pytest.raises(
        DesignError,
        match=r"every target category of margin 'sex' must occur in the sample; got 1 absent: \['x'\]",
    ):
        rake(design, {"sex": {**SEX, "x": 10}})


def test_sample_category_without_target_is_an_error(design: SurveyDesign) -> None:
    with pytest.raises(
        DesignError,
        match=r"every category of margin 'age_band' in the sample must have a positive target; got 1 without one: \['65\+'\]",
    ):
        poststratify(design, "age_band", {k: v for k, v in AGE.items() if k != "65+"})


def test_negative_total_is_an_error(design: SurveyDesign) -> None:
    with pytest.raises(
        DesignError, match=r"target of margin 'sex' must be a finite count >= 0; got 'man': -5"
    ):
        rake(design, {"sex": {"man": -5, "vrouw": 5100}})
    with pytest.raises(DesignError, match=r"population total of 'score' must be a finite number"):
        calibrate(design, {"sex": SEX, "score": float("nan")})


def test_margins_must_share_a_total(design: SurveyDesign) -> None:
    with pytest.raises(
        DesignError,
        match=r"all margins must add up to the same population total; got 10000 for 'age_band' and 9000 for 'sex'",
    ):
        rake(design, {"age_band": AGE, "sex": {"man": 4000, "vrouw": 5000}})


def test_unknown_margin_column(design: SurveyDesign) -> None:
    with pytest.raises(DesignError, match=r"margin column 'geslacht' must be a column"):
        rake(design, {"geslacht": SEX})


def test_rake_nonconvergence_raises_or_warns(design: SurveyDesign) -> None:
    margins = {"age_band": AGE, "sex": SEX, "education": EDU}
    with pytest.raises(ConvergenceError, match=r"raking must converge within max_iter=1 sweeps"):
        rake(design, margins, max_iter=1, epsilon=1e-12)
    with pytest.warns(RuntimeWarning, match=r"raking must converge"):
        _, report = rake(design, margins, max_iter=1, epsilon=1e-12, strict=False)
    assert not report.converged


def test_infeasible_bounds_raise(design: SurveyDesign) -> None:
    skewed = {"18-34": 5000, "35-49": 2000, "50-64": 1500, "65+": 1500}
    with pytest.raises(ConvergenceError, match=r"calibration must meet the totals"):
        calibrate(design, {"age_band": skewed}, method="linear", bounds=(0.9, 1.1))
    with pytest.raises(DesignError, match=r"bounds must be finite for logit"):
        calibrate(design, {"age_band": skewed}, method="logit")
    with pytest.raises(DesignError, match=r"bounds must satisfy lower < 1 < upper"):
        calibrate(design, {"age_band": skewed}, bounds=(1.2, 3))


def test_bounded_calibration_respects_bounds(design: SurveyDesign) -> None:
    total = design.w.sum()  # bounds on g only make sense for targets on the weights' scale
    skewed = {
        k: v * total for k, v in {"18-34": 0.2, "35-49": 0.25, "50-64": 0.27, "65+": 0.28}.items()
    }
    for method in ("linear", "raking", "logit"):
        cal, report = calibrate(design, {"age_band": skewed}, method=method, bounds=(0.4, 3.0))
        g = cal.w / design.w
        assert g.min() >= 0.4 - 1e-9 and g.max() <= 3.0 + 1e-9
        assert report.converged and report.max_margin_gap < 1e-3


def test_trim_keeps_total_and_bounds(design: SurveyDesign) -> None:
    raked, _ = rake(design, {"age_band": AGE, "sex": SEX})
    lo, hi = np.quantile(raked.w, [0.05, 0.9])
    trimmed, report = trim(raked, lower=lo, upper=hi)
    assert trimmed.w.sum() == pytest.approx(raked.w.sum())
    assert trimmed.w.min() >= lo - 1e-9 and trimmed.w.max() <= hi + 1e-9
    assert report.kish_deff < kish_deff(raked.w)
    with pytest.raises(DesignError, match=r"bounds must allow the total weight"):
        trim(raked, upper=1.0)


def test_kish_closed_forms() -> None:
    assert kish_deff(np.ones(10)) == pytest.approx(1.0)
    w = np.array([1.0, 1.0, 2.0, 4.0])
    assert kish_deff(w) == pytest.approx(4 * 22 / 64)
    assert effective_n(w) == pytest.approx(64 / 22)


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    shares=st.lists(st.floats(0.05, 1.0), min_size=3, max_size=3),
    total=st.floats(100.0, 1e7),
)
def test_rake_invariants(seed: int, shares: list[float], total: float) -> None:
    rng = np.random.default_rng(seed)
    n = 120
    f = pd.DataFrame(
        {
            "a": rng.choice(["x", "y", "z"], n),
            "b": rng.choice(["p", "q"], n),
            "w": rng.uniform(0.5, 3, n),
        }
    )
    f.loc[:2, "a"] = ["x", "y", "z"]
    f.loc[:1, "b"] = ["p", "q"]
    d = SurveyDesign(f, weights="w")
    s = np.array(shares) / sum(shares)
    margins = {
        "a": dict(zip("xyz", s * total, strict=True)),
        "b": {"p": 0.4 * total, "q": 0.6 * total},
    }
    raked, report = rake(d, margins, max_iter=500)
    assert report.converged
    assert (raked.w > 0).all()
    assert raked.w.sum() == pytest.approx(total, rel=1e-8)
    gaps = margin_gaps(raked, margins)
    assert np.abs(gaps["gap"]).max() <= 1e-6 * total
