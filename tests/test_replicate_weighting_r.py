"""Weighting replicate designs against R's survey 4.1.1: ``postStratify``, ``rake`` and
``calibrate`` of an ``svyrep.design`` redo the weighting in every replicate.

The numbers are in ``tests/reference/survey/surveystats_replicate_weighting.json``, made by
``tests/reference/make_surveystats.R`` (the replicate-weighting block at its end).
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from meting import ReplicateDesign, calibrate, poststratify, rake
from meting.design import SurveyDesign
from meting.errors import ConvergenceError, DesignError

REF = Path(__file__).parent / "reference" / "survey"
DOC = json.loads((REF / "surveystats_replicate_weighting.json").read_text())
R = DOC["cases"]
META = DOC["meta"]
RTOL = 1e-6

POP_STYPE = {r["stype"]: r["Freq"] for r in META["pop_stype"]}
POP_SCHWIDE = {r["sch.wide"]: r["Freq"] for r in META["pop_schwide"]}
CAL = META["cal_pop"]
# R's ~stype + api99 (intercept, stypeH, stypeM) spans the same space as the three stype cells
CAL_TOTALS = {
    "stype": {
        "E": CAL["(Intercept)"] - CAL["stypeH"] - CAL["stypeM"],
        "H": CAL["stypeH"],
        "M": CAL["stypeM"],
    },
    "api99": CAL["api99"],
}


@cache
def data(name: str) -> pd.DataFrame:
    return pd.read_csv(REF / name)


def base(name: str) -> ReplicateDesign:
    if name == "jk1_clus1":
        d = SurveyDesign(data("apiclus1.csv"), weights="pw", ids="dnum", fpc="fpc")
        return d.as_replicate(type="JK1")
    if name == "jkn_strat":
        d = SurveyDesign(data("apistrat.csv"), weights="pw", strata="stype", fpc="fpc")
        return d.as_replicate(type="JKn")
    reps = data("apiclus1_repweights.csv")
    cols = [c for c in reps.columns if c.startswith("bs")]
    frame = data("apiclus1.csv").merge(reps, on="row_id", validate="one_to_one")
    return ReplicateDesign(frame, weights="pw", repweights=cols, type="bootstrap")


def weighted(design: ReplicateDesign, how: str) -> ReplicateDesign:
    if how == "poststratify":
        return poststratify(design, "stype", POP_STYPE)[0]
    if how == "rake":  # survey's defaults: maxit 10, epsilon 1
        return rake(design, {"stype": POP_STYPE, "sch.wide": POP_SCHWIDE}, 10, 1.0)[0]
    if how == "calibrate_logit":
        return calibrate(design, CAL_TOTALS, "logit", bounds=(0.2, 5))[0]
    method = "linear" if how == "calibrate_linear" else "raking"
    return calibrate(design, CAL_TOTALS, method)[0]  # type: ignore[arg-type]


def close(got: object, expected: object) -> None:
    np.testing.assert_allclose(
        np.atleast_1d(np.asarray(got, dtype=float)),
        np.atleast_1d(np.asarray(expected, dtype=float)),
        rtol=RTOL,
        atol=1e-8,
    )


HOWS = ["poststratify", "rake", "calibrate_linear", "calibrate_raking", "calibrate_logit"]


@pytest.mark.parametrize("how", HOWS)
@pytest.mark.parametrize("name", ["jk1_clus1", "jkn_strat", "boot_clus1"])
def test_weighting_in_every_replicate_matches_r(name: str, how: str) -> None:
    ref = R[name][how]
    d = weighted(base(name), how)
    assert isinstance(d, ReplicateDesign)
    m = d.mean("api00")
    close(m.estimate, ref["mean"])
    close(m.se, ref["mean_se"])
    assert m.df[0] == ref["degf"]
    t = d.total("enroll")
    close(t.estimate, ref["total"])
    close(t.se, ref["total_se"])
    b = d.mean("api00", by="sch.wide")
    assert b["sch.wide"].tolist() == ref["by_groups"]
    close(b.estimate, ref["by_mean"])
    close(b.se, ref["by_se"])
    close(d.mean("api00", by="stype").se, ref["by_stype_se"])
    close(d.w.sum(), ref["sum_weights"])
    if name == "boot_clus1":  # replicates in R's order (the jackknives order PSUs otherwise)
        close(np.asarray(d.repweight_values)[[0, 1, 2], [0, 1, 2]], ref["repweights_11_22_33"])


def test_replicate_weighting_keeps_the_full_sample_step_and_design() -> None:
    rep = base("jk1_clus1")
    margins = {"stype": POP_STYPE, "sch.wide": POP_SCHWIDE}
    raked, report = rake(rep, margins)
    sd = SurveyDesign(data("apiclus1.csv"), weights="pw", ids="dnum", fpc="fpc")
    ref, ref_report = rake(sd, margins)
    np.testing.assert_allclose(raked.w, ref.w, rtol=1e-12)
    assert report.iterations == ref_report.iterations and report.converged
    assert report.n == ref_report.n
    assert (raked.type, raked.scale, raked.degf) == (rep.type, rep.scale, rep.degf)
    # every replicate meets the margins too
    reps = np.asarray(raked.repweight_values)
    for col, pop in margins.items():
        codes, levels = pd.factorize(rep.data[col], sort=True)
        sums = np.stack([np.bincount(codes, weights=reps[:, r]) for r in range(reps.shape[1])])
        np.testing.assert_allclose(sums, np.tile([pop[lv] for lv in levels], (reps.shape[1], 1)))
    # the input design is left as it was
    np.testing.assert_array_equal(rep.w, sd.w)


def test_replicate_weighting_refusals() -> None:
    rep = base("jk1_clus1")
    with pytest.raises(DesignError, match="positive target"):
        poststratify(rep, "stype", {"E": 4421, "H": 755})
    # a replicate that drops the only cluster of a category cannot be weighted to it
    frame = data("apiclus1.csv").assign(lone=lambda f: np.where(f.dnum == f.dnum.iloc[0], "a", "b"))
    lone = SurveyDesign(frame, weights="pw", ids="dnum").as_replicate(type="JK1")
    with pytest.raises(DesignError, match="every replicate must have weight"):
        poststratify(lone, "lone", {"a": 100, "b": 6000})
    with pytest.raises(ConvergenceError, match="every replicate"):
        calibrate(rep, CAL_TOTALS, "logit", bounds=(0.9, 1.1))
    with pytest.raises(ConvergenceError):
        rake(rep, {"stype": POP_STYPE, "sch.wide": POP_SCHWIDE}, max_iter=1, epsilon=1e-12)
