"""Agreement with R's survey package (4.1-1) on its api data: the acceptance test.

Two reference files, both made by R (see tests/reference/README.md and make_reference.R):

* ``survey_reference.json`` (shared): every numeric entry is a test case of its own, found by
  walking the JSON; a resolver computes meting's value for each path, and an entry no resolver
  knows fails the suite ("not covered"), so nothing in the file goes unchecked.
* ``extra_reference.json`` (made by ``make_reference.R``): generic cases that describe the design,
  the weighting steps and the estimator in data, with R's numbers and call beside them.

Estimates and standard errors agree to a relative 1e-6; weights per row too.
"""

from __future__ import annotations

import json
import math
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from meting.design import SurveyDesign
from meting.errors import ConvergenceError, DesignError
from meting.weighting import calibrate, poststratify, rake

REF = Path(__file__).parent / "reference" / "survey"
SHARED = json.loads((REF / "survey_reference.json").read_text())
EXTRA_FILE = REF / "extra_reference.json"
EXTRA = json.loads(EXTRA_FILE.read_text()) if EXTRA_FILE.exists() else {"cases": []}
RTOL = 1e-6


@cache
def data(name: str) -> pd.DataFrame:
    return pd.read_csv(REF / name)


# ----------------------------------------------------------------------------------------------
# shared reference: designs by their key in the JSON
# ----------------------------------------------------------------------------------------------
@cache
def design(key: str) -> SurveyDesign:
    if key == "strat":
        return SurveyDesign(data("apistrat.csv"), weights="pw", strata="stype", fpc="fpc")
    if key == "clus1":
        return SurveyDesign(data("apiclus1.csv"), weights="pw", ids="dnum", fpc="fpc")
    if key == "srs_nofpc":
        return SurveyDesign(data("apisrs.csv"), weights="pw")
    if key == "srs_fpc":
        return SurveyDesign(data("apisrs.csv"), weights="pw", fpc="fpc")
    raise KeyError(key)


MARGINS = SHARED["population_margins"]


@cache
def raked_clus1() -> SurveyDesign:
    d, report = rake(
        design("clus1"),
        {"stype": MARGINS["stype"], "sch.wide": MARGINS["sch.wide"]},
        max_iter=1000,
        epsilon=1e-12,
    )
    assert report.converged
    return d


@cache
def poststratified(key: str) -> SurveyDesign:
    return poststratify(design(key), "stype", MARGINS["stype"])[0]


@cache
def calibrated_clus1() -> SurveyDesign:
    pt = SHARED["calibrate_clus1"]["population_totals"]
    totals = {"(Intercept)": pt["(Intercept)"], "stype": MARGINS["stype"], "api99": pt["api99"]}
    return calibrate(design("clus1"), totals, method="linear")[0]


def leaves(node, path=()):
    """Every numeric leaf of the JSON with its path (strings and the meta block skipped)."""
    if isinstance(node, dict):
        for k, v in node.items():
            yield from leaves(v, (*path, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from leaves(v, (*path, i))
    elif isinstance(node, int | float) and not isinstance(node, bool):
        if path[0] != "meta":
            yield path, float(node)


def svyvar(d: SurveyDesign, var: str) -> float:
    y = d.data[var].to_numpy(dtype=float)
    w = d.w
    m = np.sum(w * y) / w.sum()
    n = np.count_nonzero(w)
    return float(n / (n - 1) * np.sum(w * (y - m) ** 2) / w.sum())


def weights_summary(d: SurveyDesign, field: str, index=None) -> float:
    w = d.w
    base = d.data["pw"].to_numpy(dtype=float)
    g = w / base
    return {
        "sum": w.sum(),
        "min": w.min(),
        "max": w.max(),
        "g_min": g.min(),
        "g_max": g.max(),
        "first10": w[index] if index is not None else np.nan,
    }[field]


def mean_entry(d: SurveyDesign, rest: tuple) -> float:
    """Resolve entries of a svymean_api00.<design> block."""
    m = d.mean("api00")
    t = d.total("api00")
    est, se, deff = m.estimate[0], m.se[0], m.deff[0]
    wsum, n = d.w.sum(), d.n
    key = rest[0]
    if key == "mean":
        return est
    if key == "se":
        return se
    if key == "variance":
        return se**2
    if key == "degf":
        return d.degf()
    if key == "n":
        return m.n[0]
    if key == "sum_weights":
        return wsum
    if key == "deff":
        return deff
    if key == "deff_replace":  # SRS with replacement: V_srs = svyvar / n
        return m.se[0] ** 2 / (svyvar(d, "api00") / n)
    if key == "ci_95_wald":
        z = stats.norm.ppf(0.975)
        return est + (-1 if rest[1] == 0 else 1) * z * se
    if key == "ci_95_t_degf":
        return m["lower"][0] if rest[1] == 0 else m["upper"][0]
    if key == "svyvar_api00":
        return svyvar(d, "api00")
    if key == "svytotal_api00":
        return {"total": t.estimate[0], "se": t.se[0], "deff": t.deff[0]}[rest[1]]
    raise LookupError


def resolve(path: tuple) -> float:
    """meting's value for one entry of the shared reference (LookupError: not covered)."""
    top = path[0]
    if top == "designs":
        d = design(path[1])
        return {"n": d.n, "degf": d.degf(), "sum_weights": d.w.sum()}[path[2]]
    if top == "svymean_api00" and path[1] == "clus1_stype_proportions":
        p = design("clus1").proportion("stype").set_index("category")
        level = path[3].removeprefix("stype")
        col = {"mean": "estimate", "se": "se", "deff": "deff"}[path[2]]
        return p.loc[level, col]
    if top == "svymean_api00":
        return mean_entry(design(path[1]), path[2:])
    if top == "svyby_api00_by_stype":
        table = design(path[1]).mean("api00", by="stype")
        if path[2] == "vcov":
            return design(path[1]).covariance("api00", by="stype")[path[3], path[4]]
        col = {"mean": "estimate", "se": "se", "deff": "deff"}[path[2]]
        return table[col].iloc[path[3]]
    if top == "svyttest" and path[1] != "notes":
        d = design("clus1" if path[1].startswith("clus1") else "strat")
        tt = d.ttest("api00", mu=700)
        key = path[2]
        stat, df = tt.statistic[0], tt.df[0]
        if key == "statistic_t":
            return stat
        if key == "df":
            return df
        if key == "p_value":
            return tt.p_value[0]
        if key == "estimate":
            return tt.estimate[0] - 700
        if key == "se":
            return tt.se[0]
        if key == "conf_int_95":
            return (tt["lower"][0] if path[3] == 0 else tt["upper"][0]) - 700
        if key == "degf_design":
            return d.degf()
        if key == "p_value_with_df_degf":
            return 2 * stats.t.sf(abs(stat), d.degf())
        if key == "conf_int_95_with_df_degf":
            q = stats.t.ppf(0.975, d.degf())
            return tt.estimate[0] - 700 + (-1 if path[3] == 0 else 1) * q * tt.se[0]
    if top == "population_margins":
        pop = data("apipop.csv")
        if path[1] == "N":
            return len(pop)
        if path[1] in ("stype", "sch.wide"):
            return int((pop[path[1]] == path[2]).sum())
        if path[1] == "api99_total":
            return pop["api99"].sum()
        if path[1] == "api00_mean":
            return pop["api00"].mean()
    if top == "rake_clus1" and path[1] == "tight_control":
        return weighted_entry(raked_clus1(), path[2:])
    if top == "poststratify_srs":
        d = poststratified(path[1])
        if path[2] == "before_mean":
            return design(path[1]).mean("api00").estimate[0]
        if path[2] == "before_se":
            return design(path[1]).mean("api00").se[0]
        if path[2] == "weights_by_stype":
            w = pd.Series(d.w).groupby(d.data["stype"].to_numpy()).unique()
            (value,) = w[path[3]]
            return value
        return weighted_entry(d, path[2:])
    if top == "calibrate_clus1":
        if path[1] == "population_totals":
            pop = data("apipop.csv")
            name = path[2]
            if name == "(Intercept)":
                return len(pop)
            if name == "api99":
                return pop["api99"].sum()
            return int((pop["stype"] == name.removeprefix("stype")).sum())
        if path[1] == "linear":
            return weighted_entry(calibrated_clus1(), path[2:])
    raise LookupError(path)


def weighted_entry(d: SurveyDesign, rest: tuple) -> float:
    key = rest[0]
    if key == "mean":
        return d.mean("api00").estimate[0]
    if key == "se":
        return d.mean("api00").se[0]
    if key == "degf":
        return d.degf()
    if key == "total_enroll":
        t = d.total("enroll")
        return {"total": t.estimate[0], "se": t.se[0]}[rest[1]]
    if key == "weights_summary":
        return weights_summary(d, rest[1], rest[2] if len(rest) > 2 else None)
    if key in ("achieved_margins", "achieved_totals"):
        if rest[1] == "api99":
            return float(np.sum(d.w * d.data["api99"].to_numpy(dtype=float)))
        col = rest[1]
        level = rest[2].removeprefix(col)
        return float(d.w[(d.data[col] == level).to_numpy()].sum())
    raise LookupError(rest)


SHARED_LEAVES = list(leaves(SHARED))


@pytest.mark.parametrize(
    ("path", "expected"), SHARED_LEAVES, ids=["/".join(map(str, p)) for p, _ in SHARED_LEAVES]
)
def test_shared_reference_entry(path: tuple, expected: float) -> None:
    try:
        got = resolve(path)
    except LookupError:
        pytest.fail(f"reference entry {'/'.join(map(str, path))} is not covered by a resolver")
    # zeros in the reference (independent strata) are zero up to rounding
    np.testing.assert_allclose(got, expected, rtol=RTOL, atol=1e-9 * max(1.0, abs(expected)))


def test_shared_reference_has_entries() -> None:
    assert len(SHARED_LEAVES) > 150


def test_weights_per_row_match_r() -> None:
    cases = {
        "weights_rake_clus1_tight.csv": raked_clus1(),
        "weights_poststrat_srs_fpc.csv": poststratified("srs_fpc"),
        "weights_poststrat_srs_nofpc.csv": poststratified("srs_nofpc"),
        "weights_calibrate_clus1_linear.csv": calibrated_clus1(),
    }
    for name, d in cases.items():
        ref = pd.read_csv(REF / name)
        assert ref["row_id"].tolist() == d.data["row_id"].tolist()
        np.testing.assert_allclose(d.data["pw"], ref["original_weight"], rtol=1e-12)
        np.testing.assert_allclose(d.w, ref["adjusted_weight"], rtol=RTOL, err_msg=name)


# ----------------------------------------------------------------------------------------------
# extra reference: generic cases
# ----------------------------------------------------------------------------------------------
def _bounds(spec) -> tuple[float, float]:
    lo, hi = spec
    return (-math.inf if lo is None else lo, math.inf if hi is None else hi)


def build_case(case: dict) -> SurveyDesign:
    spec = case["design"]
    d = SurveyDesign(
        data(case["data"]),
        weights=spec.get("weights"),
        strata=spec.get("strata"),
        ids=spec.get("ids"),
        fpc=spec.get("fpc"),
        lonely_psu=spec.get("lonely_psu", "fail"),
    )
    for step in case["weighting"]:
        if step["method"] == "rake":
            d = rake(d, step["margins"], max_iter=step["max_iter"], epsilon=step["epsilon"])[0]
        elif step["method"] == "poststratify":
            d = poststratify(d, step["strata"], step["population"])[0]
        elif step["method"] == "calibrate":
            d = calibrate(d, step["totals"], method=step["calfun"], bounds=_bounds(step["bounds"]))[
                0
            ]
        else:
            raise ValueError(step["method"])
    return d


def run_case(case: dict) -> dict:
    d = build_case(case)
    est = case["estimator"]
    fun = est["fun"]
    if fun == "ttest_groups":
        t = d.ttest_groups(est["var"], est["group"])
        return {
            "estimate": t.estimate.to_numpy(),
            "statistic": t.statistic.to_numpy(),
            "df": t.df.to_numpy(),
            "p_value": t.p_value.to_numpy(),
            "ci": np.r_[t["lower"].to_numpy(), t["upper"].to_numpy()],
        }
    table = getattr(d, fun)(est["var"], by=est.get("by"))
    groups = case["expected"].get("groups")
    if groups:  # R's svyby varies the first by-variable fastest: align on the group labels
        by = list(groups)
        r_keys = pd.DataFrame(groups).astype(str).assign(_r=lambda f: np.arange(len(f)))
        ours = table.assign(**{c: table[c].astype(str) for c in by})
        merged = ours.merge(r_keys, on=by, how="left", validate="many_to_one")
        assert merged["_r"].notna().all(), "a domain of meting is missing in R's output"
        table = merged.sort_values("_r", kind="stable").reset_index(drop=True)
    return {
        "estimate": table.estimate.to_numpy(),
        "se": table.se.to_numpy(),
        "deff": table.deff.to_numpy(),
        "degf": d.degf(),
        "weights": d.w,
    }


@pytest.mark.parametrize("case", EXTRA["cases"], ids=[c["id"] for c in EXTRA["cases"]])
def test_extra_reference_case(case: dict) -> None:
    expected = case["expected"]
    if "error" in expected:
        error = {"DesignError": DesignError, "ConvergenceError": ConvergenceError}[
            expected["error"]
        ]
        with pytest.raises(error):
            run_case(case)
        return
    got = run_case(case)
    for key, value in expected.items():
        if key == "groups":
            continue
        np.testing.assert_allclose(
            np.atleast_1d(got[key]),
            np.atleast_1d(np.asarray(value, dtype=float)),
            rtol=RTOL,
            err_msg=f"{case['id']}: {key} ({case['call']})",
        )


def test_extra_reference_present() -> None:
    assert len(EXTRA["cases"]) >= 25
