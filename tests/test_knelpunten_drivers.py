"""Key drivers: WLS coefficients, svyglm standard errors (R survey 4.1-1), LMG closed forms,
and recovery of the drivers planted in a synthetic wave."""

from __future__ import annotations

import functools
from itertools import permutations
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from meting.design import SurveyDesign
from meting.errors import DesignError, ParameterError
from meting.knelpunten.drivers import (
    INTERCEPT,
    key_drivers,
    lmg_from_cov,
    r2_all_subsets,
    weighted_cov,
)
from meting.weighting import poststratify

REF = Path(__file__).parent / "reference" / "knelpunten"


@pytest.fixture(scope="module")
def ref_data() -> pd.DataFrame:
    return pd.read_csv(REF / "knelpunten_data.csv")


@pytest.fixture(scope="module")
def reference() -> pd.DataFrame:
    return pd.read_csv(REF / "knelpunten_reference.csv")


def _design(data: pd.DataFrame) -> SurveyDesign:
    return SurveyDesign(data, weights="w", strata="stratum", ids="psu")


def _check(table: pd.DataFrame, ref: pd.DataFrame) -> None:
    ref = ref.assign(term=ref["term"].replace({"(Intercept)": INTERCEPT}))
    merged = table.merge(ref, on="term", suffixes=("", "_r"))
    assert len(merged) == 4
    np.testing.assert_allclose(merged["estimate"], merged["estimate_r"], rtol=1e-8)
    np.testing.assert_allclose(merged["se"], merged["se_r"], rtol=1e-6)
    np.testing.assert_allclose(merged["df"], merged["df_r"])


def test_svyglm_reference_whole_sample(ref_data, reference):
    out = key_drivers(_design(ref_data), outcome="y", predictors=["x1", "x2", "x3"], min_n=10)
    _check(out, reference[reference["case"] == "glm_all"])


def test_svyglm_reference_domain(ref_data, reference):
    out = key_drivers(
        _design(ref_data), outcome="y", predictors=["x1", "x2", "x3"], by="event", min_n=10
    )
    _check(out[out["event"] == "b"], reference[reference["case"] == "glm_event_b"])


def test_svyglm_reference_poststratified(ref_data, reference):
    design, _ = poststratify(_design(ref_data), "event", {"a": 5000.0, "b": 4000.0})
    out = key_drivers(design, outcome="y", predictors=["x1", "x2", "x3"], min_n=10)
    _check(out, reference[reference["case"] == "glm_poststrat"])


def test_coefficients_equal_weighted_lstsq_and_srs_se_equals_hc0_scaled():
    rng = np.random.default_rng(1)
    n = 200
    x = rng.integers(1, 6, size=(n, 3)).astype(float)
    y = 1 + x @ np.array([0.5, -0.2, 0.8]) + rng.normal(0, 1, n)
    w = rng.uniform(1, 5, n)
    data = pd.DataFrame({"y": y, "a": x[:, 0], "b": x[:, 1], "c": x[:, 2], "w": w})
    out = key_drivers(SurveyDesign(data, weights="w"), "y", ["a", "b", "c"], min_n=10)
    xx = np.column_stack([np.ones(n), x])
    sw = np.sqrt(w)
    beta = np.linalg.lstsq(xx * sw[:, None], y * sw, rcond=None)[0]
    np.testing.assert_allclose(out["estimate"], beta, rtol=1e-10)
    # with-replacement design, no strata: V = n/(n-1) * HC0 of the weighted fit
    hc0 = sm.WLS(y, xx, weights=w).fit(cov_type="HC0").bse
    np.testing.assert_allclose(out["se"], hc0 * np.sqrt(n / (n - 1)), rtol=1e-8)
    assert out["df"].iloc[0] == n - 1 + 1 - 4


def test_r2_from_covariance_matches_regressions_on_data():
    rng = np.random.default_rng(2)
    z = rng.normal(size=(300, 4)) @ rng.normal(size=(4, 4))
    w = rng.uniform(0.5, 2, 300)
    _, cov = weighted_cov(z, w)
    r2 = r2_all_subsets(cov)
    for mask in range(1, 8):
        cols = [j for j in range(3) if mask >> j & 1]
        fit = sm.WLS(z[:, 0], sm.add_constant(z[:, 1:][:, cols]), weights=w).fit()
        assert r2[mask] == pytest.approx(fit.rsquared, rel=1e-10)
    assert r2[0] == 0


def test_lmg_two_predictors_closed_form():
    # standardised: corr(y,x1)=r1, corr(y,x2)=r2, corr(x1,x2)=r12
    r1, r2, r12 = 0.5, 0.3, 0.4
    cov = np.array([[1, r1, r2], [r1, 1, r12], [r2, r12, 1]])
    full = (r1**2 + r2**2 - 2 * r1 * r2 * r12) / (1 - r12**2)
    expected = np.array([0.5 * r1**2 + 0.5 * (full - r2**2), 0.5 * r2**2 + 0.5 * (full - r1**2)])
    np.testing.assert_allclose(lmg_from_cov(cov), expected, rtol=1e-12)
    np.testing.assert_allclose(lmg_from_cov(cov).sum(), full, rtol=1e-12)


def test_lmg_three_predictors_equals_average_over_orders():
    rng = np.random.default_rng(3)
    a = rng.normal(size=(4, 4))
    cov = a @ a.T + np.eye(4)
    r2 = r2_all_subsets(cov)
    expected = np.zeros(3)
    orders = list(permutations(range(3)))
    for order in orders:
        mask = 0
        for j in order:
            expected[j] += r2[mask | 1 << j] - r2[mask]
            mask |= 1 << j
    np.testing.assert_allclose(lmg_from_cov(cov), expected / len(orders), rtol=1e-12)
    assert lmg_from_cov(cov).sum() == pytest.approx(r2[-1], rel=1e-12)


def test_lmg_se_agrees_with_independent_jackknife(ref_data):
    """Delta-method LMG SEs against a stratified delete-one-PSU jackknife (JK1 per stratum)."""
    data = ref_data.dropna(subset=["y", "x1", "x2", "x3"]).reset_index(drop=True)
    out = key_drivers(_design(data), "y", ["x1", "x2", "x3"], min_n=10)
    est = out["lmg"].to_numpy()[1:]
    z = data[["y", "x1", "x2", "x3"]].to_numpy(float)
    reps, factors = [], []
    for h, grp in data.groupby("stratum"):
        psus = grp["psu"].unique()
        for c in psus:
            w = data["w"].to_numpy(float).copy()
            in_h = (data["stratum"] == h).to_numpy()
            w[in_h] *= len(psus) / (len(psus) - 1)
            w[(data["psu"] == c).to_numpy()] = 0.0
            reps.append(lmg_from_cov(weighted_cov(z, w)[1]))
            factors.append((len(psus) - 1) / len(psus))
    reps = np.array(reps)
    # JK: sum over strata of (n_h-1)/n_h sum_c (theta_hc - mean_h)^2; use theta-hat centring
    var = (np.array(factors)[:, None] * (reps - est) ** 2).sum(axis=0)
    np.testing.assert_allclose(out["lmg_se"].to_numpy()[1:], np.sqrt(var), rtol=0.15)


def test_min_n_skips_small_groups(ref_data):
    out = key_drivers(
        _design(ref_data), outcome="y", predictors=["x1", "x2", "x3"], by="event", min_n=100
    )
    skipped = out.attrs["skipped"]
    assert set(skipped["event"]) == set(ref_data["event"]) - set(out["event"])
    assert (skipped["n"] < 100).all()
    assert (out.groupby("event")["n"].first() >= 100).all()


def test_bad_input_raises(ref_data):
    design = _design(ref_data)
    with pytest.raises(DesignError, match="must exist"):
        key_drivers(design, outcome="nope", predictors=["x1"])
    with pytest.raises(ParameterError, match="at least one"):
        key_drivers(design, outcome="y", predictors=[])
    with pytest.raises(ParameterError, match="min_n"):
        key_drivers(design, outcome="y", predictors=["x1"], min_n=0)


def test_planted_drivers_are_found(synthetic_design):
    """params/synthetic.yaml plants norms 4 and 6 as the strong drivers (0.45, 0.40)."""
    out = key_drivers(synthetic_design)
    terms = out[out["term"] != INTERCEPT].sort_values("lmg", ascending=False)
    assert set(terms["term"].iloc[:2]) == {"bsc_04", "bsc_06"}
    assert out["lmg"].sum() == pytest.approx(out["r2"].iloc[0], rel=1e-10)
    # the unplanted norms 8-10 have coefficients compatible with zero
    none = out[out["term"].isin(["bsc_08", "bsc_09", "bsc_10"])]
    assert (none["lower"] < 0).all() and (none["upper"] > 0).all()


@pytest.fixture(scope="module")
def synthetic_design() -> SurveyDesign:
    return synthetic_wave_design()


@functools.lru_cache(maxsize=2)
def synthetic_wave_design(label: str = "2008-nulmeting") -> SurveyDesign:
    """A synthetic wave with weights = stratum population / respondents in the stratum."""
    from meting.registry import load_registry
    from meting.synthetic import generate_wave

    wave = generate_wave(load_registry(), label)
    keys = ["municipality", "life_event", "age_band", "sex", "education"]
    resp = wave.respondents
    counts = resp.groupby(keys, observed=True).size().rename("count").reset_index()
    pop = wave.truth_strata[[*keys, "population"]].merge(counts, on=keys)
    pop["w"] = pop["population"] / pop["count"]
    data = resp.merge(pop[[*keys, "w"]], on=keys, how="left", validate="many_to_one")
    return SurveyDesign(data, weights="w")
