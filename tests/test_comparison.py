"""Tests of meting.comparison: wave against wave.

References: Welch's two-sample t-test (scipy.stats.ttest_ind with equal_var=False) on hand-made
simple random samples, hand-counted pairwise probabilities, the normal closed form
P(X > Y) = Phi((mu_x - mu_y) / sqrt(2)) for independent unit-variance posteriors, and the real
registry's dated code mapping (with code changes added by dataclasses.replace).
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np
import pandas as pd
import pytest
from hand_tables import hand_table
from scipy import stats

from meting import columns as C
from meting.comparison import (
    bayes_improvement,
    compare_waves,
    remap_design_municipalities,
    welch_satterthwaite_df,
)
from meting.errors import ParameterError, SchemaError
from meting.registry import CodeChange, load_registry
from meting.results import RESULT_COLUMNS
from meting.synthetic import generate_wave
from meting.wave_weighting import design_for_wave

BETTER, SAME, WORSE = "verbeterd", "geen aantoonbaar verschil", "verslechterd"


def table(cells, estimate, se, df, n, key="life_event") -> pd.DataFrame:
    """A hand-made result table (meting.results), intervals left empty."""
    return hand_table(estimate, se, df, n, {key: cells})


def srs_row(x: np.ndarray, cell: str) -> pd.DataFrame:
    return table([cell], [x.mean()], x.std(ddof=1) / np.sqrt(x.size), x.size - 1, x.size)


def test_srs_difference_is_welch_t_test():
    """Two simple random samples: the difference test is exactly Welch's t-test."""
    rng = np.random.default_rng(3)
    x = rng.normal(6.6, 1.4, 40)  # earlier wave
    y = rng.normal(7.1, 0.9, 65)  # later wave
    out = compare_waves(srs_row(x, "verhuizen"), srs_row(y, "verhuizen"), keys=["life_event"])
    row = out.iloc[0]
    ref = stats.ttest_ind(y, x, equal_var=False)
    np.testing.assert_allclose(row["estimate"], y.mean() - x.mean(), rtol=1e-12)
    np.testing.assert_allclose(row["t"], ref.statistic, rtol=1e-12)
    np.testing.assert_allclose(row["df"], ref.df, rtol=1e-12)
    np.testing.assert_allclose(row["p_two_sided"], ref.pvalue, rtol=1e-10)
    for alt, col in [("greater", "p_greater"), ("less", "p_less")]:
        ref_alt = stats.ttest_ind(y, x, equal_var=False, alternative=alt)
        np.testing.assert_allclose(row[col], ref_alt.pvalue, rtol=1e-10)
    ci = ref.confidence_interval(0.95)
    np.testing.assert_allclose([row["lower"], row["upper"]], [ci.low, ci.high], rtol=1e-10)
    assert row["verdict"] == (BETTER if ref.pvalue <= 0.05 else SAME)
    np.testing.assert_allclose(
        row["se"], np.hypot(x.std(ddof=1) / 40**0.5, y.std(ddof=1) / 65**0.5)
    )


def test_welch_satterthwaite_with_infinite_df():
    # one side normal: df = (v1 + v2)^2 / (v2^2 / df2)
    np.testing.assert_allclose(
        welch_satterthwaite_df(np.array([0.1]), np.array([np.inf]), np.array([0.2]), np.array([9])),
        (0.01 + 0.04) ** 2 / (0.04**2 / 9),
    )
    assert np.isinf(welch_satterthwaite_df(np.array([0.1]), np.inf, np.array([0.2]), np.inf))[0]
    # equal variances and dfs: df1 + df2
    np.testing.assert_allclose(welch_satterthwaite_df(0.3, 20.0, 0.3, 20.0), 40.0)


def test_verdicts_reasons_and_families():
    earlier = table(
        ["a", "b", "c", "d", "e", "f"], [6.0, 7.0, 6.8, 6.5, 6.0, 6.0], 0.1, 100, [80] * 5 + [20]
    )
    later = table(["a", "b", "c", "g", "e", "f"], [6.5, 6.6, 6.85, 7.0, 6.1, 7.0], 0.1, 100, 80)
    out = compare_waves(earlier, later, keys=["life_event"], earlier_wave="2008", later_wave="2010")
    by = out.set_index("life_event")
    assert by.loc["a", "verdict"] == BETTER
    assert by.loc["b", "verdict"] == WORSE
    assert by.loc["c", "verdict"] == SAME
    assert by.loc["e", "verdict"] == SAME
    assert (
        pd.isna(by.loc["d", "verdict"]) and by.loc["d", "reason"] == "alleen in de eerdere meting"
    )
    assert pd.isna(by.loc["g", "verdict"]) and by.loc["g", "reason"] == "alleen in de latere meting"
    assert by.loc["f", "reason"] == "te weinig waarnemingen (n < 30)"
    assert by.loc["f", "n_earlier"] == 20 and pd.isna(by.loc["f", "t"])
    assert by.loc["a", "family_size"] == 4
    # Holm over the four tested cells: the smallest p-value times 4
    p = by.loc[["a", "b", "c", "e"], "p_two_sided"]
    np.testing.assert_allclose(by.loc["a", "p_adjusted"], 4 * p.min())

    assert list(out.columns[:10]) == ["life_event", *RESULT_COLUMNS]
    assert (out["method"] == "difference").all() and (out["null_value"] == 0).all()
    assert (out["level"] == 0.95).all()

    out2 = compare_waves(earlier, later, keys=["life_event"], family="life_event", adjust="bh")
    tested = out2["reason"].isna()
    np.testing.assert_allclose(out2.loc[tested, "p_adjusted"], out2.loc[tested, "p_two_sided"])


def test_national_comparison_without_keys():
    out = compare_waves(
        table(["x"], [6.4], 0.05, 500, 3000), table(["x"], [6.6], 0.05, 500, 3000), keys=[]
    )
    assert len(out) == 1 and out["verdict"].iloc[0] == BETTER


@pytest.fixture(scope="module")
def registry():
    return load_registry()


def test_municipality_codes_mapped_through_registry(registry):
    """Codes are mapped with the registry to the later wave's reference date (2010-05-01)."""
    changes = (
        # a rename before the later wave: the old code is compared with the new one
        CodeChange("GM1684", "GM1982", "Land van Cuijk", dt.date(2009, 1, 1), 1.0, "test"),
        # a merger of two municipalities of the earlier wave: not comparable cell by cell
        CodeChange("GM0153", "GM1999", "Fusie", dt.date(2010, 1, 1), 1.0, "test"),
        CodeChange("GM0226", "GM1999", "Fusie", dt.date(2010, 1, 1), 1.0, "test"),
        # after the later wave's reference date: not applied
        CodeChange("GM0505", "GM1998", "Later", dt.date(2011, 1, 1), 1.0, "test"),
    )
    reg = dataclasses.replace(registry, code_changes=changes)
    earlier = table(
        ["GM1684", "GM0153", "GM0226", "GM0505"],
        [6.0, 6.5, 6.6, 6.8],
        0.1,
        50,
        100,
        key="municipality",
    )
    later = table(["GM1982", "GM1999", "GM0505"], [6.5, 6.7, 6.9], 0.1, 50, 100, key="municipality")
    out = compare_waves(
        earlier,
        later,
        keys=["municipality"],
        registry=reg,
        earlier_wave="2008-nulmeting",
        later_wave="2010-vervolgmeting",
    )
    by = out.set_index("municipality")
    assert sorted(by.index) == ["GM0505", "GM1982", "GM1999"]
    np.testing.assert_allclose(by.loc["GM1982", "estimate"], 0.5)
    assert by.loc["GM1982", "verdict"] == BETTER
    assert pd.isna(by.loc["GM1999", "verdict"])
    assert by.loc["GM1999", "reason"].startswith("meerdere gemeenten")
    assert "01-05-2010" in by.loc["GM1999", "reason"]
    assert by.loc["GM0505", "verdict"] == SAME

    with pytest.raises(ParameterError, match="later_wave must be given"):
        compare_waves(earlier, later, keys=["municipality"], registry=reg)
    with pytest.raises(ParameterError, match="later_wave must be a wave in the registry"):
        compare_waves(earlier, later, keys=["municipality"], registry=reg, later_wave="2099")


def test_bad_tables_raise():
    good = table(["a"], [6.0], 0.1, 50, 100)
    with pytest.raises(SchemaError, match="later estimate table must have the columns"):
        compare_waves(good, good.drop(columns="df"), keys=["life_event"])
    with pytest.raises(ParameterError, match="adjust must be one of"):
        compare_waves(good, good, keys=["life_event"], adjust="fdr")


# --- Bayesian probability of improvement ------------------------------------------------------


def test_bayes_improvement_by_hand():
    earlier = pd.DataFrame([[1.0, 2.0, 3.0], [1.0, 2.0, 5.0]], index=["a", "b"])
    later = pd.DataFrame([[2.5, 0.0], [2.0, 2.0]], index=["a", "b"])
    out = bayes_improvement(earlier, later)
    # a: 2.5 beats 1 and 2 (2 of 6 pairs); b: 2 beats 1 twice, ties 2 twice -> (2 + 1) / 6
    np.testing.assert_allclose(out["prob_improvement"], [2 / 6, 3 / 6])
    assert out["n_draws_earlier"].iloc[0] == 3 and out["n_draws_later"].iloc[0] == 2


def test_bayes_improvement_normal_closed_form_and_alignment():
    rng = np.random.default_rng(5)
    idx_e = pd.Index(["GM0014", "GM0153", "GM0226"], name="municipality")
    idx_l = pd.Index(["GM0226", "GM0014", "GM0505"], name="municipality")  # other order
    shift = {"GM0014": 0.5, "GM0226": -0.3}
    earlier = pd.DataFrame(rng.normal(0, 1, (3, 3000)), index=idx_e)
    later = pd.DataFrame(
        rng.normal([[shift["GM0226"]], [shift["GM0014"]], [0.0]], 1, (3, 2000)), index=idx_l
    )
    out = bayes_improvement(earlier, later)
    for code, d in shift.items():
        exact = stats.norm.cdf(d / np.sqrt(2))
        # all pairs of 3000 x 2000 independent draws: Monte Carlo sd < sqrt(p(1-p)/2000)
        assert abs(out.loc[code, "prob_improvement"] - exact) < 4 * np.sqrt(0.25 / 2000)
    assert out.loc["GM0153", "reason"] == "alleen in de eerdere meting"
    assert out.loc["GM0505", "reason"] == "alleen in de latere meting"
    with pytest.raises(SchemaError, match="draws_later must be a pandas DataFrame"):
        bayes_improvement(earlier, later.to_numpy())
    with pytest.raises(SchemaError, match="at least one numeric draw"):
        bayes_improvement(earlier.iloc[:, :0], later)


def test_bayes_improvement_takes_sae_like_input():
    class FakeSae:  # the two members bayes_improvement uses of meting.sae's result
        def __init__(self, shift: float, seed: int) -> None:
            self.cells = pd.DataFrame(
                {
                    C.MUNICIPALITY: ["GM0014", "GM0014"],
                    C.LIFE_EVENT: ["a", "b"],
                    "variable": "score_chain",
                    "estimate": 0.0,
                }
            )
            self._draws = np.random.default_rng(seed).normal([0.0, shift], 0.1, (4000, 2))

        def draws(self) -> np.ndarray:  # samples x cells, as SaeResult.draws()
            return self._draws

    improvement = bayes_improvement(FakeSae(0.0, 1), FakeSae(1.0, 2))
    assert improvement.index.names == [C.MUNICIPALITY, C.LIFE_EVENT]
    # cell b moved up by 10 posterior sds: improvement is certain; cell a is a coin toss
    np.testing.assert_allclose(improvement["prob_improvement"], [0.5, 1.0], atol=0.02)
    np.testing.assert_allclose(improvement["difference"], [0.0, 1.0], atol=0.01)
    np.testing.assert_allclose(improvement["sd"], [0.1 * np.sqrt(2)] * 2, rtol=0.05)


# --- two synthetic waves in one call ----------------------------------------------------------


@pytest.fixture(scope="module")
def two_waves(registry):
    waves, designs = {}, {}
    for label in ("2008-nulmeting", "2010-vervolgmeting"):
        waves[label] = generate_wave(registry, label, n_respondents=3000)
        designs[label] = design_for_wave(waves[label].respondents, registry, label)[0]
    return waves, designs


def test_changes_with_a_merger(registry, two_waves):
    """Both designs mapped to the later division (a merger in 2009), then compared per level."""
    waves, designs = two_waves
    merger = (
        CodeChange("GM0153", "GM1999", "Fusie", dt.date(2009, 1, 1), 1.0, "test"),
        CodeChange("GM0226", "GM1999", "Fusie", dt.date(2009, 1, 1), 1.0, "test"),
    )
    reg = dataclasses.replace(registry, code_changes=merger)
    on = reg.waves["2010-vervolgmeting"].reference_date
    early = remap_design_municipalities(designs["2008-nulmeting"], reg, on)
    late = remap_design_municipalities(designs["2010-vervolgmeting"], reg, on)
    keys = [C.MUNICIPALITY, C.LIFE_EVENT]
    cells = compare_waves(
        early.mean("score_chain", by=keys),
        late.mean("score_chain", by=keys),
        keys=keys,
        registry=reg,
        earlier_wave="2008-nulmeting",
        later_wave="2010-vervolgmeting",
    )
    assert list(cells.columns[:11]) == [*keys, *RESULT_COLUMNS]
    assert (cells["method"] == "difference").all()
    # the merged municipality is one domain in both waves: its respondents are those of both
    assert not cells[C.MUNICIPALITY].isin(["GM0153", "GM0226"]).any()
    merged = cells[cells[C.MUNICIPALITY] == "GM1999"]
    for wave, column in (("2008-nulmeting", "n_earlier"), ("2010-vervolgmeting", "n_later")):
        r = waves[wave].respondents
        in_merger = r[C.MUNICIPALITY].isin(["GM0153", "GM0226"]) & r["score_chain"].notna()
        assert merged[column].sum() == in_merger.sum()
    # national changes agree with the synthetic truth (chain 6,7 -> 6,7; government 6,4 -> 6,6)
    national = pd.concat(
        [
            compare_waves(early.mean(v), late.mean(v), keys=[], registry=reg,
                          earlier_wave="2008-nulmeting", later_wave="2010-vervolgmeting")
            for v in ("score_chain", "score_government", "score_cooperation")
        ],
        ignore_index=True,
    ).set_index("variable")  # fmt: skip
    assert national.loc["score_chain", "verdict"] == "geen aantoonbaar verschil"
    assert national.loc["score_government", "verdict"] == "verbeterd"
    # the intervals of the three national changes cover the true changes (95% each; fixed seed)
    before, after = waves["2008-nulmeting"].truth_overall, waves["2010-vervolgmeting"].truth_overall
    for variable, key in (
        ("score_chain", "chain"),
        ("score_government", "government"),
        ("score_cooperation", "cooperation"),
    ):
        row = national.loc[variable]
        assert row["lower"] <= after[key] - before[key] <= row["upper"], variable
