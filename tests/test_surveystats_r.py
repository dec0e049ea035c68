"""Survey statistics against R's survey 4.1.1: the defects of the issue "Survey statistics a
reviewer would not fault" and the estimators added for it (svyciprop, svycontrast, svyratio,
svyquantile, deff = "replace", postStratify(partial = TRUE)).

R is not needed: the numbers are in ``tests/reference/survey/surveystats_reference.json``,
made by ``tests/reference/make_surveystats.R`` (each block keeps the R call).
"""

from __future__ import annotations

import json
import warnings
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from meting import ReplicateDesign, contrast
from meting.design import SurveyDesign
from meting.errors import DesignError
from meting.significance import test_against_target
from meting.weighting import poststratify

REF = Path(__file__).parent / "reference" / "survey"
R = json.loads((REF / "surveystats_reference.json").read_text())["cases"]
RTOL = 1e-6


@cache
def data(name: str) -> pd.DataFrame:
    return pd.read_csv(REF / name)


def clus1() -> SurveyDesign:
    return SurveyDesign(data("apiclus1.csv"), weights="pw", ids="dnum", fpc="fpc")


def strat() -> SurveyDesign:
    return SurveyDesign(data("apistrat.csv"), weights="pw", strata="stype", fpc="fpc")


def clus2() -> SurveyDesign:
    return SurveyDesign(data("apiclus2.csv"), ids=["dnum", "snum"], fpc=["fpc1", "fpc2"])


def design(name: str) -> SurveyDesign:
    return {"clus1": clus1, "strat": strat, "clus2": clus2}[name]()


def close(got: object, expected: object, rtol: float = RTOL) -> None:
    exp = np.array([np.nan if v is None else v for v in np.atleast_1d(expected)], dtype=float)
    # zeros in the reference (a share fixed by the strata) are zero up to rounding
    np.testing.assert_allclose(
        np.atleast_1d(np.asarray(got, dtype=float)), exp, rtol=rtol, atol=1e-10
    )


# --- defect 1: fpc as sampling fractions ----------------------------------------------------------
def test_fpc_fractions_give_weights_as_r() -> None:
    ref = R["fpc_fractions"]
    d = SurveyDesign(data("apiclus2_frac.csv"), ids=["dnum", "snum"], fpc=["frac1", "frac2"])
    m = d.mean("api00")
    close(m.estimate, ref["estimate"])  # was 703.81 (weights 1); R 670.81
    close(m.se, ref["se"])  # was 22.54; R 30.10
    close(d.w[:5], ref["weights_first5"])


def test_one_fpc_column_for_two_stages_without_weights_is_refused() -> None:
    assert R["fpc_one_column_two_stage"]["error"] != "no error"  # R stops too
    with pytest.raises(DesignError, match="every stage of ids"):
        SurveyDesign(data("apiclus2.csv"), ids=["dnum", "snum"], fpc="fpc1")
    # with weights the later stage is simply not in the variance (ultimate cluster)
    SurveyDesign(data("apiclus2.csv"), ids=["dnum", "snum"], fpc="fpc1", weights="pw")


# --- defect 2: domain degrees of freedom ----------------------------------------------------------
def test_domain_df_is_degf_of_the_subset() -> None:
    ref = R["domain_df_clus1"]
    table = clus1().mean("api00", by="stype")
    for row in table.itertuples():
        assert row.df == ref["by"][row.stype]["degf"]
    tested = test_against_target(table, target=700, min_n=1, svyttest_df=True, adjust="none")
    for row in tested.itertuples():
        r = ref["by"][row.stype]
        assert row.df == r["df"]  # M: R df 10 (meting had 13)
        close(row.t, r["statistic"])
        close(row.p_two_sided, r["p_value"])  # M: R 0.0553 (meting had 0.0492)


def test_whole_sample_keeps_design_df() -> None:
    assert clus1().mean("api00").df[0] == R["domain_df_clus1"]["whole_degf"]


# --- defect 4: lonely_psu="average" at stage 2 ---------------------------------------------------
def _average_design(frame: pd.DataFrame) -> SurveyDesign:
    return SurveyDesign(
        frame, ids=["dnum", "snum"], fpc=["fpc1", "fpc2_lonely"], lonely_psu="average"
    )


def test_average_stage2_where_r_is_nan_is_refused() -> None:
    ref = R["average_stage2"]
    assert ref["whole_se"] is None and ref["by_se"][0] is None  # R: NaN
    d = _average_design(data("apiclus2_frac.csv"))
    with pytest.raises(DesignError, match="lonely_psu='average'"):
        d.mean("api00")
    with pytest.raises(DesignError, match="no"):
        d.mean("api00", by="multi")


def test_average_stage2_domains_without_the_lonely_unit_match_r() -> None:
    ref = R["average_stage2"]
    frame = data("apiclus2_frac.csv").copy()
    frame["only_yes"] = frame["multi"].where(frame["multi"] == "yes")
    frame["only_other"] = np.where(frame["dnum"] == 15, None, "other")
    d = _average_design(frame)
    close(d.mean("api00", by="only_yes").se, ref["by_se"][1])  # was NaN
    close(d.mean("api00", by="only_other").se, ref["by_in15_se"][1])


# --- defect 5: design effect with weights summing to less than n ---------------------------------
def test_deff_nan_with_warning_when_weights_sum_below_n() -> None:
    ref = R["deff_small"]
    frame = data("apisrs.csv").assign(pw2=lambda f: f["pw"] / 100)
    d = SurveyDesign(frame, weights="pw2")
    with pytest.warns(UserWarning, match="sum to less than the sample size"):
        m = d.mean("api00")
    assert ref["deff"] is None and np.isnan(m.deff[0])  # was -0.543
    close(m.estimate, ref["estimate"])
    close(m.se, ref["se"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        close(d.mean("api00", deff="replace").deff, ref["deff_replace"])


# --- defect 7: postStratify(partial = TRUE) -------------------------------------------------------
def test_poststratify_partial_as_r() -> None:
    ref = R["poststrat_partial"]
    pop = {"E": 4421, "H": 755, "M": 1018, "X": 300}
    with pytest.raises(DesignError, match="partial=True"):
        poststratify(clus1(), "stype", pop)
    d, _ = poststratify(clus1(), "stype", pop, partial=True)
    close(d.mean("api00").estimate, ref["mean"])
    close(d.mean("api00").se, ref["mean_se"])
    close(d.total("enroll").estimate, ref["total"])
    close(d.total("enroll").se, ref["total_se"])
    close(d.w.sum(), ref["sum_weights"])


# --- svyciprop ----------------------------------------------------------------------------------
CIPROP = {
    "clus1_schwide": ("clus1", "sch.wide", None),
    "strat_awards_by_stype": ("strat", "awards", "stype"),
    "clus1_stypeH": ("clus1", ("stype", "H"), None),
    "clus1_schwide_by_stype": ("clus1", "sch.wide", "stype"),
}
METHODS = ("logit", "likelihood", "asin", "beta", "mean", "xlogit")


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("case", list(CIPROP))
def test_ciprop_matches_r(case: str, method: str) -> None:
    name, var, by = CIPROP[case]
    d = design(name)
    col, level = var if isinstance(var, tuple) else (var, "Yes")
    d = SurveyDesign(
        d.data.assign(ind=(d.data[col] == level).astype(float)),
        weights="pw",
        strata=d.strata,
        ids=d.ids,
        fpc=d.fpc,
    )
    got = d.ciprop("ind", method=method, by=by)
    ref = R["ciprop"][case][method]
    if by:
        assert got[by].astype(str).tolist() == ref["groups"]
    assert (got["method"] == f"ciprop-{method}").all()
    close(got.estimate, ref["estimate"])
    close(got.se, ref["se"])
    # "likelihood" too: R's profile points and fmm spline are reproduced
    close(got["lower"], ref["lower"])
    close(got["upper"], ref["upper"])
    if method != "mean":  # the Wald interval is not clipped, as in R
        assert (got["lower"] >= 0).all() and (got["upper"] <= 1).all()


def test_ciprop_refuses_non_indicator() -> None:
    with pytest.raises(DesignError, match="only 0 and 1"):
        clus1().ciprop("api00")


# --- svycontrast ----------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["clus1", "strat"])
def test_contrast_matches_r(name: str) -> None:
    ref = R["contrast"][name]
    d = design(name)
    c1 = contrast(d, "api00", "stype", {"E": 1, "H": -1})
    close(c1.estimate, ref["E_minus_H"]["estimate"])
    close(c1.se, ref["E_minus_H"]["se"])
    assert c1["contrast"][0] == "E - H" and c1.df[0] == ref["degf"]
    c2 = contrast(d, "api00", "stype", {"E": 0.5, "M": 0.5})
    close(c2.estimate, ref["half_E_M"]["estimate"])
    close(c2.se, ref["half_E_M"]["se"])
    c3 = contrast(d, "enroll", "stype", {"E": 1, "H": 1, "M": 1}, kind="total")
    close(c3.estimate, ref["total_sum"]["estimate"])
    close(c3.se, ref["total_sum"]["se"])
    # the same from a table and its covariance
    table = d.mean("api00", by="stype")
    c4 = contrast(
        table, coefficients={"E": 1, "H": -1}, covariance=d.covariance("api00", by="stype")
    )
    close(c4.se, ref["E_minus_H"]["se"])


def test_contrast_unknown_domain() -> None:
    with pytest.raises(DesignError, match="domain of the table"):
        contrast(clus1(), "api00", "stype", {"X": 1})


# --- svyratio -----------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["clus1", "strat", "clus2"])
def test_ratio_matches_r(name: str) -> None:
    ref = R["ratio"][name]
    d = design(name)
    r = d.ratio("api00", "api99")
    close(r.estimate, ref["estimate"])
    close(r.se, ref["se"])
    b = d.ratio("api00", "api99", by="stype")
    assert b["stype"].tolist() == ref["by_groups"]
    close(b.estimate, ref["by_estimate"])
    close(b.se, ref["by_se"])


def test_ratio_na_rm_matches_r() -> None:
    ref = R["ratio"]["clus2_narm"]
    r = clus2().ratio("enroll", "api00")
    close(r.estimate, ref["estimate"])
    close(r.se, ref["se"])


# --- svyquantile --------------------------------------------------------------------------------
@pytest.mark.parametrize("qrule", ["math", "hf7"])
@pytest.mark.parametrize("name", ["clus1", "strat"])
def test_quantile_matches_r(name: str, qrule: str) -> None:
    ref = R["quantile"][f"{name}_{qrule}"]
    d = design(name)
    q = d.quantile("api00", ref["probs"], qrule=qrule)  # type: ignore[arg-type]
    close(q.estimate, ref["estimate"])
    close(q["lower"], ref["lower"])
    close(q["upper"], ref["upper"])
    close(q.se, ref["se"])
    qb = d.quantile("api00", 0.5, by="stype", qrule=qrule)  # type: ignore[arg-type]
    for row in qb.itertuples():
        r = ref["median_by_stype"][row.stype]
        close(row.estimate, r["estimate"])
        close([row.lower, row.upper, row.se], [r["lower"], r["upper"], r["se"]])


# --- deff = "replace" ---------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["clus1", "strat"])
def test_deff_replace_matches_r(name: str) -> None:
    ref = R["deff_replace"][name]
    d = design(name)
    close(d.mean("api00", deff="replace").deff, ref["mean_deff"])
    close(d.total("enroll", deff="replace").deff, ref["total_deff"])
    close(d.mean("api00", by="stype", deff="replace").deff, ref["by_deff"])


def test_quantile_after_poststratification_matches_r() -> None:
    ref = R["quantile"]["poststrat_clus1_math"]
    d, _ = poststratify(clus1(), "stype", {"E": 4421, "H": 755, "M": 1018})
    q = d.quantile("api00", ref["probs"])
    close(q.estimate, ref["estimate"])
    close(q["lower"], ref["lower"])
    close(q["upper"], ref["upper"])
    close(q.se, ref["se"])


# --- replicate-weight designs ---------------------------------------------------------------------
REP = json.loads((REF / "surveystats_replicate.json").read_text())["cases"]


def _check_rep(d: ReplicateDesign, ref: dict) -> None:
    m = d.mean("api00")
    close(m.estimate, ref["mean"])
    close(m.se, ref["mean_se"])
    assert m.df[0] == ref["degf"]
    t = d.total("enroll")
    close(t.estimate, ref["total"])
    close(t.se, ref["total_se"])
    p = d.proportion("stype")
    close(p.estimate, ref["prop"])
    close(p.se, ref["prop_se"])
    b = d.mean("api00", by="sch.wide")
    assert b["sch.wide"].tolist() == ref["by_groups"]
    close(b.estimate, ref["by_mean"])
    close(b.se, ref["by_se"])
    close(d.scale, ref["scale"])
    close(d.rscales, ref["rscales"])


@pytest.mark.parametrize(
    ("case", "name", "kind"),
    [
        ("as_jk1_clus1", "clus1_nofpc", "JK1"),
        ("as_jkn_strat", "strat_nofpc", "JKn"),
        ("as_jk1_clus1_fpc", "clus1", "JK1"),
        ("as_jkn_strat_fpc", "strat", "JKn"),
    ],
)
def test_as_replicate_jackknife_matches_r(case: str, name: str, kind: str) -> None:
    base = {
        "clus1_nofpc": lambda: SurveyDesign(data("apiclus1.csv"), weights="pw", ids="dnum"),
        "strat_nofpc": lambda: SurveyDesign(data("apistrat.csv"), weights="pw", strata="stype"),
        "clus1": clus1,
        "strat": strat,
    }[name]()
    _check_rep(base.as_replicate(type=kind), REP[case])  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("case", "kind", "extra"),
    [
        ("boot_clus1", "bootstrap", {"scale": 15 / (14 * 49)}),
        ("svrep_BRR", "BRR", {}),
        ("svrep_Fay", "Fay", {"rho": 0.3}),
        ("svrep_other", "other", {"scale": 0.02, "rscales": [1.0] * 50}),
        ("svrep_bootstrap_mse", "bootstrap", {"mse": True}),
    ],
)
def test_replicate_design_from_columns_matches_r(case: str, kind: str, extra: dict) -> None:
    reps = data("apiclus1_repweights.csv")
    cols = [c for c in reps.columns if c.startswith("bs")]
    frame = data("apiclus1.csv").merge(reps, on="row_id", validate="one_to_one")
    d = ReplicateDesign(frame, weights="pw", repweights=cols, type=kind, **extra)  # type: ignore[arg-type]
    _check_rep(d, REP[case])


def test_replicate_design_refusals() -> None:
    frame = data("apiclus1.csv")
    with pytest.raises(DesignError, match="rscales must be given"):
        ReplicateDesign(frame, weights="pw", repweights=["pw", "pw"], type="JKn")
    with pytest.raises(DesignError, match="JK1' is for unstratified"):
        strat().as_replicate(type="JK1")
    ps, _ = poststratify(clus1(), "stype", {"E": 4421, "H": 755, "M": 1018})
    with pytest.raises(DesignError, match="before weighting"):
        ps.as_replicate()
    boot = clus1().as_replicate(type="bootstrap", replicates=30, random_seed=1)
    again = clus1().as_replicate(type="bootstrap", replicates=30, random_seed=1)
    assert boot.replicates == 30
    np.testing.assert_array_equal(boot.mean("api00").se, again.mean("api00").se)
