"""Tests of meting.significance: tests against the target, multiple testing, Bayesian verdicts.

References: R survey 4.1-1 ``svyttest`` (tests/reference/survey/survey_reference.json), the classical
one-sample t-test (scipy.stats.ttest_1samp) on a hand-made simple random sample, and the worked
example of Benjamini & Hochberg (1995, section 4: 15 p-values of Neuhaus et al.) with adjusted
p-values computed by hand from the definitions of Holm (1979) and Benjamini-Hochberg.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from hand_tables import hand_table
from scipy import stats

from meting.design import SurveyDesign
from meting.errors import ParameterError, SchemaError
from meting.results import EXTRA_COLUMN_DOCS, RESULT_COLUMN_DOCS, RESULT_COLUMNS, result_table
from meting.significance import (
    REASON_NO_RESPONDENTS,
    REASON_NOT_PUBLISHED,
    TEST_COLUMNS,
    adjust_pvalues,
    bayes_verdicts,
    test_against_target,
)

ABOVE, SAME, BELOW = "significant boven 7", "niet te onderscheiden van 7", "significant onder 7"

# Benjamini & Hochberg (1995), section 4: the 15 ordered p-values of the Neuhaus et al. trial.
BH1995_P = np.array(
    [0.0001, 0.0004, 0.0019, 0.0095, 0.0201, 0.0278, 0.0298, 0.0344, 0.0459,
     0.3240, 0.4262, 0.5719, 0.6528, 0.7590, 1.0000]
)  # fmt: skip
# Hand computation: BH adjusted p(i) = min_{j >= i} p(j) * 15 / j.
BH1995_BH = np.array(
    [0.0001 * 15, 0.0004 * 15 / 2, 0.0019 * 15 / 3, 0.0095 * 15 / 4, 0.0201 * 15 / 5,
     0.0298 * 15 / 7, 0.0298 * 15 / 7, 0.0344 * 15 / 8, 0.0459 * 15 / 9, 0.3240 * 15 / 10,
     0.4262 * 15 / 11, 0.5719 * 15 / 12, 0.6528 * 15 / 13, 0.7590 * 15 / 14, 1.0]
)  # fmt: skip
# Holm adjusted p(i) = max_{j <= i} min(1, (15 - j + 1) p(j)).
BH1995_HOLM = np.array(
    [0.0001 * 15, 0.0004 * 14, 0.0019 * 13, 0.0095 * 12, 0.0201 * 11, 0.0278 * 10,
     0.0278 * 10, 0.0278 * 10, 0.0459 * 7, 1, 1, 1, 1, 1, 1]
)  # fmt: skip


def estimate_table(estimate, se, df, n, **groups) -> pd.DataFrame:
    """A hand-made result table (meting.results), intervals left empty."""
    return hand_table(estimate, se, df, n, groups)


def table_with_pvalues(p: np.ndarray, target: float = 7.0) -> pd.DataFrame:
    """Estimates whose two-sided normal-theory p-values against the target are exactly ``p``."""
    z = stats.norm.isf(p / 2.0)
    return estimate_table(target + 0.1 * z, 0.1, np.inf, 500, cell=[f"c{i}" for i in range(len(p))])


# --- against R's svyttest -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def svyttest(reference_dir) -> dict:
    with open(reference_dir / "survey" / "survey_reference.json") as fh:
        ref = json.load(fh)
    return {k: v for k, v in ref["svyttest"].items() if k != "notes"}


@pytest.mark.parametrize("design", ["clus1", "strat"])
def test_reproduces_r_svyttest(svyttest, design):
    """svyttest(I(api00 - 700) ~ 0, design): t, df, p and the 95% interval, from R's estimate/se/df."""
    ref = svyttest[f"{design}_one_sample_api00_vs_700"]
    # The estimate table holds the mean (estimate + 700) and the design's degf.
    table = estimate_table([ref["estimate"] + 700], ref["se"], ref["degf_design"], 200)
    r_like = test_against_target(table, target=700, svyttest_df=True, adjust="none")
    assert r_like["df"].iloc[0] == ref["df"]
    np.testing.assert_allclose(r_like["t"].iloc[0], ref["statistic_t"], rtol=1e-12)
    np.testing.assert_allclose(r_like["p_two_sided"].iloc[0], ref["p_value"], rtol=1e-10)
    np.testing.assert_allclose(
        r_like[["lower", "upper"]].iloc[0].to_numpy() - 700, ref["conf_int_95"], rtol=1e-10
    )
    # The table's df as given (= degf) reproduces R's p-value with df = degf(design).
    plain = test_against_target(table, target=700, adjust="none")
    assert plain["df"].iloc[0] == ref["degf_design"]
    np.testing.assert_allclose(
        plain["p_two_sided"].iloc[0], ref["p_value_with_df_degf"], rtol=1e-10
    )
    np.testing.assert_allclose(
        plain[["lower", "upper"]].iloc[0].to_numpy() - 700,
        ref["conf_int_95_with_df_degf"],
        rtol=1e-10,
    )
    # A table that carries R's svyttest df directly gives R's p-value as well.
    direct = test_against_target(
        estimate_table([ref["estimate"] + 700], ref["se"], ref["df"], 200), target=700
    )
    np.testing.assert_allclose(direct["p_two_sided"].iloc[0], ref["p_value"], rtol=1e-10)
    assert direct["verdict"].iloc[0] == "significant onder 700"


DESIGNS = {
    "clus1": ("apiclus1.csv", {"ids": "dnum", "fpc": "fpc", "weights": "pw"}),
    "strat": ("apistrat.csv", {"strata": "stype", "fpc": "fpc", "weights": "pw"}),
}


@pytest.mark.parametrize("design", ["clus1", "strat"])
def test_reproduces_r_svyttest_from_the_design(svyttest, reference_dir, design):
    """The same, starting from meting's SurveyDesign on R's api data."""
    ref = svyttest[f"{design}_one_sample_api00_vs_700"]
    file, spec = DESIGNS[design]
    survey = SurveyDesign(pd.read_csv(reference_dir / "survey" / file), **spec)
    out = test_against_target(survey.mean("api00"), target=700, svyttest_df=True, min_n=None)
    assert out["df"].iloc[0] == ref["df"]
    np.testing.assert_allclose(out["t"].iloc[0], ref["statistic_t"], rtol=1e-9)
    np.testing.assert_allclose(out["p_two_sided"].iloc[0], ref["p_value"], rtol=1e-8)
    np.testing.assert_allclose(out["estimate"].iloc[0] - 700, ref["estimate"], rtol=1e-9)


# --- closed forms -----------------------------------------------------------------------------


def test_srs_of_five_matches_classical_t_test():
    """A simple random sample of 5 marks: se = s / sqrt(n), df = n - 1, as ttest_1samp."""
    x = np.array([6.0, 8.0, 7.5, 9.0, 8.5])
    se = x.std(ddof=1) / np.sqrt(x.size)
    table = estimate_table([x.mean()], se, x.size - 1, x.size)
    out = test_against_target(table, min_n=None, adjust="none")
    # by hand: mean 7.8, s^2 = (3.24 + 0.04 + 0.09 + 1.44 + 0.49) / 4 = 1.325
    np.testing.assert_allclose(out["t"].iloc[0], 0.8 / np.sqrt(1.325 / 5), rtol=1e-12)
    for alternative, column in [
        ("two-sided", "p_two_sided"),
        ("greater", "p_greater"),
        ("less", "p_less"),
    ]:
        ref = stats.ttest_1samp(x, 7.0, alternative=alternative)
        np.testing.assert_allclose(out[column].iloc[0], ref.pvalue, rtol=1e-12)
    ci = stats.ttest_1samp(x, 7.0).confidence_interval(0.95)
    np.testing.assert_allclose(out[["lower", "upper"]].iloc[0], [ci.low, ci.high])
    assert out["verdict"].iloc[0] == SAME  # p = 0.21


def test_srs_of_five_through_the_design():
    x = np.array([6.0, 8.0, 7.5, 9.0, 8.5])
    survey = SurveyDesign(pd.DataFrame({"score_chain": x}))
    out = test_against_target(survey.mean("score_chain"), min_n=None)
    assert out["df"].iloc[0] == 4
    ref = stats.ttest_1samp(x, 7.0, alternative="greater")
    np.testing.assert_allclose(out["p_greater"].iloc[0], ref.pvalue, rtol=1e-10)
    np.testing.assert_allclose(out["t"].iloc[0], ref.statistic, rtol=1e-10)


def test_one_sided_and_two_sided_relations():
    rng = np.random.default_rng(20240501)
    k = 200
    table = estimate_table(
        rng.normal(7, 0.3, k), rng.uniform(0.05, 0.4, k), rng.choice([3, 14, 199, np.inf], k), 100
    )
    out = test_against_target(table, adjust="none")
    np.testing.assert_allclose(out["p_greater"] + out["p_less"], 1.0, rtol=1e-12)
    np.testing.assert_allclose(
        out["p_two_sided"], 2 * np.minimum(out["p_greater"], out["p_less"]), rtol=1e-10
    )
    positive = out["t"] > 0
    assert (out.loc[positive, "p_greater"] < 0.5).all()
    assert (out.loc[~positive, "p_less"] <= 0.5).all()
    # df = inf is the normal distribution
    normal = out["df"] == np.inf
    np.testing.assert_allclose(
        out.loc[normal, "p_greater"], stats.norm.sf(out.loc[normal, "t"]), rtol=1e-12
    )
    # unadjusted: the interval excludes 7 exactly when the two-sided p-value is below 5%
    excludes = (out["lower"] > 7) | (out["upper"] < 7)
    assert (excludes == (out["p_two_sided"] < 0.05)).all()
    assert ((out["verdict"] == ABOVE) == ((out["p_two_sided"] <= 0.05) & positive)).all()


def test_verdict_classes_and_formatted_target():
    table = estimate_table([7.5, 6.5, 7.05, 6.0], 0.1, 100, [200, 200, 200, 200])
    out = test_against_target(table, adjust="none")
    assert list(out["verdict"]) == [ABOVE, BELOW, SAME, BELOW]
    other = test_against_target(table, target=6.5, adjust="none")
    assert list(other["verdict"]) == [
        "significant boven 6,5",
        "niet te onderscheiden van 6,5",
        "significant boven 6,5",
        "significant onder 6,5",
    ]


# --- multiple testing -------------------------------------------------------------------------


def test_bh1995_example_adjusted_pvalues():
    order = np.random.default_rng(7).permutation(BH1995_P.size)  # unsorted input
    for method, expected in [("bh", BH1995_BH), ("holm", BH1995_HOLM), ("none", BH1995_P)]:
        adjusted, size = adjust_pvalues(BH1995_P[order], method)
        np.testing.assert_allclose(adjusted, expected[order], rtol=1e-12)
        assert (size == 15).all()


def test_bh1995_example_rejections():
    """BH rejects four hypotheses at q = 0.05, Holm (a Bonferroni-type procedure) three."""
    table = table_with_pvalues(BH1995_P)
    holm = test_against_target(table, adjust="holm")
    bh = test_against_target(table, adjust="bh")
    none = test_against_target(table, adjust="none")
    np.testing.assert_allclose(bh["p_two_sided"], BH1995_P, rtol=1e-9, atol=1e-15)
    assert (holm["verdict"] == ABOVE).sum() == 3
    assert (bh["verdict"] == ABOVE).sum() == 4
    assert (none["verdict"] == ABOVE).sum() == 9
    assert (bh["verdict"].iloc[4:] == SAME).all()
    np.testing.assert_allclose(bh["p_adjusted"], BH1995_BH, rtol=1e-9)


def test_families_are_adjusted_separately():
    p = np.concatenate([BH1995_P, BH1995_P[:5]])
    table = table_with_pvalues(p)
    table["group"] = ["a"] * 15 + ["b"] * 5
    out = test_against_target(table, adjust="bh", family="group")
    np.testing.assert_allclose(out["p_adjusted"].iloc[:15], BH1995_BH, rtol=1e-9)
    np.testing.assert_allclose(out["p_adjusted"].iloc[15:], adjust_pvalues(BH1995_P[:5], "bh")[0])
    assert list(out["family_size"]) == [15] * 15 + [5] * 5
    whole = test_against_target(table, adjust="bh")
    assert (whole["family_size"] == 20).all()
    assert not np.allclose(whole["p_adjusted"], out["p_adjusted"])


def test_holm_in_families_leaves_the_garbage_collector_as_it_was():
    """The families are adjusted with the heap frozen (statsmodels' Holm calls gc.collect() per
    call); afterwards nothing stays frozen and the values are statsmodels' own."""
    import gc

    from statsmodels.stats.multitest import multipletests

    ids = np.repeat([0, 1], [15, 5])
    p = np.concatenate([BH1995_P, BH1995_P[:5]])
    adjusted, _ = adjust_pvalues(p, "holm", ids)
    assert gc.get_freeze_count() == 0
    np.testing.assert_allclose(adjusted[:15], multipletests(BH1995_P, method="holm")[1])
    np.testing.assert_allclose(adjusted[15:], multipletests(BH1995_P[:5], method="holm")[1])


# --- suppression and bad input ----------------------------------------------------------------


def test_small_cells_get_no_test_and_say_why():
    table = estimate_table([7.9, 7.9, 7.9, 6.0], 0.1, 50, [29, 30, 400, 10])
    out = test_against_target(table, adjust="holm")
    assert out["verdict"].isna().tolist() == [True, False, False, True]
    assert out["reason"].tolist()[0] == "te weinig waarnemingen (n < 30)"
    assert out["reason"].iloc[1:3].isna().all()
    assert (
        out.loc[[0, 3], ["t", "p_two_sided", "p_greater", "p_less", "p_adjusted"]]
        .isna()
        .all()
        .all()
    )
    assert list(out["family_size"]) == [0, 2, 2, 0]  # suppressed cells are outside the family
    np.testing.assert_allclose(out["p_adjusted"].iloc[1], 2 * out["p_two_sided"].iloc[1])
    stricter = test_against_target(table, min_n=50)
    assert stricter["reason"].iloc[1] == "te weinig waarnemingen (n < 50)"


def test_unusable_rows_say_why():
    table = estimate_table([np.nan, 7.2, 7.2, 7.2], [0.1, 0.0, np.nan, 0.1], [20, 20, 20, 0], 100)
    out = test_against_target(table)
    assert out["verdict"].isna().all()
    assert out["reason"].tolist() == [
        "geen schatting",
        "geen bruikbare standaardfout (0 of ontbrekend)",
        "geen bruikbare standaardfout (0 of ontbrekend)",
        "geen vrijheidsgraden (df ontbreekt of is 0)",
    ]


def test_bad_input_raises_meting_errors():
    table = estimate_table([7.2], 0.1, 20, 100)
    with pytest.raises(SchemaError, match="must have the columns.*missing \\['se'\\]"):
        test_against_target(table.drop(columns="se"))
    with pytest.raises(ParameterError, match="adjust must be one of"):
        test_against_target(table, adjust="bonferroni")
    with pytest.raises(ParameterError, match="level must be"):
        test_against_target(table, level=95)
    with pytest.raises(ParameterError, match="min_n must be"):
        test_against_target(table, min_n=-1)
    with pytest.raises(SchemaError, match="'se' must be non-negative"):
        test_against_target(estimate_table([7.2], -0.1, 20, 100))
    bad = estimate_table([7.2, 7.1], 0.1, 20, 100).astype({"estimate": object})
    bad.loc[1, "estimate"] = "zeven"
    with pytest.raises(SchemaError, match="'estimate' must be numeric; got 'zeven' in row 1"):
        test_against_target(bad)


# --- Bayesian verdicts ------------------------------------------------------------------------


def sae_cells(prob, n) -> pd.DataFrame:
    """A hand-made small-area result table: posterior mean, sd, interval, P(>= 7)."""
    prob = np.asarray(prob, dtype=float)
    k = prob.size
    n = np.broadcast_to(n, k)
    return result_table(
        pd.DataFrame({"life_event": [f"le{i}" for i in range(k)]}),
        variable="score_chain",
        estimate=7.0 + (prob - 0.5),
        se=np.full(k, 0.2),
        lower=np.full(k, 6.6),
        upper=np.full(k, 7.4),
        level=0.95,
        df=np.nan,
        n=n,
        method="fay-herriot",
        extra={"prob_ge_target": prob, "observed": np.asarray(n) > 0},
    )


def test_bayes_verdicts_thresholds_inclusive():
    cells = sae_cells([0.95, 0.9499, 0.5, 0.0501, 0.05, 1.0, np.nan], 100)
    out = bayes_verdicts(cells)
    assert out["verdict"].tolist()[:6] == [
        "waarschijnlijk ≥ 7",
        "onzeker",
        "onzeker",
        "onzeker",
        "waarschijnlijk < 7",
        "waarschijnlijk ≥ 7",
    ]
    assert pd.isna(out["verdict"].iloc[6]) and out["reason"].iloc[6] == "geen posterior"
    strict = bayes_verdicts(cells, upper=0.99, lower=0.01)
    assert strict["verdict"].iloc[0] == "onzeker"


def test_bayes_verdicts_min_n_and_bad_thresholds():
    cells = sae_cells([0.99, 0.99, 0.01], [0, 29, 30])
    out = bayes_verdicts(cells)
    # a cell without respondents is a prediction: no verdict; small cells keep theirs
    assert out["verdict"].isna().tolist() == [True, False, False]
    assert out["reason"].iloc[0] == REASON_NO_RESPONDENTS
    unobserved = cells.assign(n=5, observed=[False, True, True])
    assert bayes_verdicts(unobserved)["verdict"].isna().tolist() == [True, False, False]
    out = bayes_verdicts(cells, min_n=30)
    assert out["verdict"].isna().tolist() == [True, True, False]
    assert out["reason"].tolist()[:2] == [REASON_NO_RESPONDENTS, "te weinig waarnemingen (n < 30)"]
    assert bayes_verdicts(cells, min_n=None)["verdict"].notna().all()  # simulation studies only
    with pytest.raises(ParameterError, match="0 <= lower < upper <= 1"):
        bayes_verdicts(cells, upper=0.05, lower=0.95)
    with pytest.raises(SchemaError, match="must lie in \\[0, 1\\]"):
        bayes_verdicts(sae_cells([1.2], 10))


def test_a_cell_flagged_not_published_gets_no_verdict_and_caution_keeps_its_own():
    cells = sae_cells([0.99, 0.99, 0.01, 0.99], [40, 3, 12, 0])
    cells["publication"] = [
        "publiceren",
        "niet publiceren",
        "publiceren met voorbehoud",
        "niet publiceren",
    ]
    out = bayes_verdicts(cells)
    assert out["verdict"].isna().tolist() == [False, True, False, True]
    assert out["verdict"].iloc[[0, 2]].tolist() == ["waarschijnlijk ≥ 7", "waarschijnlijk < 7"]
    # without respondents the older reason stands: the cell is a prediction
    assert out["reason"].isna().tolist() == [True, False, True, False]
    assert out["reason"].iloc[[1, 3]].tolist() == [REASON_NOT_PUBLISHED, REASON_NO_RESPONDENTS]
    assert bayes_verdicts(cells, min_n=None)["verdict"].notna().all()  # simulation studies only


def test_the_rule_flags_an_aggregate_without_a_publication_column():
    from meting.sae.quality import PublicationRule

    cells = sae_cells([0.99, 0.99, 0.99, 0.99], [40, 40, 40, 8])
    # cv = se / estimate by hand: 0.1/7.49 = 1,3 %, 0.45/7.49 = 6,0 %, 0.75/7.49 = 10,0 %
    cells["se"] = [0.1, 0.45, 0.75, 0.1]
    rule = PublicationRule(min_n_publish=30, cv_publish=0.04, min_n_caution=5, cv_caution=0.08)
    out = bayes_verdicts(cells, publication=rule)
    assert out["publication"].tolist() == [
        "publiceren",
        "publiceren met voorbehoud",
        "niet publiceren",
        "publiceren met voorbehoud",  # n below min_n_publish
    ]
    assert out["verdict"].isna().tolist() == [False, False, True, False]
    assert out["reason"].iloc[2] == REASON_NOT_PUBLISHED
    assert "publication" not in bayes_verdicts(cells).columns  # no rule, no flag


# --- the one result schema ----------------------------------------------------------------------


def test_tested_tables_keep_the_result_schema():
    assert set(RESULT_COLUMN_DOCS) == set(RESULT_COLUMNS)
    assert set(TEST_COLUMNS) <= set(EXTRA_COLUMN_DOCS)
    table = estimate_table([7.5, 6.0], 0.1, 40, [100, 10], life_event=["verhuizen", "geboorte"])
    tested = test_against_target(table, level=0.9)
    assert list(tested.columns[:10]) == ["life_event", *RESULT_COLUMNS]
    assert (tested["level"] == 0.9).all() and (tested["null_value"] == 7.0).all()
    assert tested["reason"].iloc[1] == "te weinig waarnemingen (n < 30)"
    # the interval is the one the unadjusted test uses: t quantile at 0.95 with 40 df
    half = stats.t.ppf(0.95, 40) * 0.1
    np.testing.assert_allclose(tested["upper"] - tested["estimate"], half, rtol=1e-12)
    bayes = bayes_verdicts(sae_cells([0.97, 0.5], [50, 0]))
    assert list(bayes.columns[:10]) == ["life_event", *RESULT_COLUMNS]
    assert bayes["verdict"].tolist()[:1] == ["waarschijnlijk ≥ 7"]
