"""Linearisation variance: closed forms, the Gram (many-domain) path, lonely PSUs, stages.

R's own numbers are checked in test_against_r.py; here the checks are closed forms and the
agreement of the two computational paths (dense residuals vs expanded sums of squares).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import meting.variance as variance
from meting.design import SurveyDesign
from meting.errors import DesignError
from meting.weighting import calibrate, poststratify, rake


def _frame(n: int = 600, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    stratum = rng.integers(0, 4, n)
    return pd.DataFrame(
        {
            "stratum": stratum,
            "psu": stratum * 100 + rng.integers(0, 12, n),
            "dom": rng.integers(0, 37, n),
            "a": rng.choice(["x", "y", "z"], n),
            "b": rng.choice(["p", "q"], n),
            "y": rng.normal(7, 1.5, n) + stratum * 0.3,
            "aux": rng.gamma(2.0, 2.0, n),
            "w": rng.uniform(1, 3, n),
        }
    )


def test_srs_variance_of_mean_is_the_textbook_formula() -> None:
    rng = np.random.default_rng(1)
    y = rng.normal(size=250)
    d = SurveyDesign(pd.DataFrame({"y": y}))
    table = d.mean("y")
    # with-replacement SRS: s^2 / n, with s^2 the (n - 1)-denominator sample variance
    np.testing.assert_allclose(table.se[0] ** 2, y.var(ddof=1) / y.size, rtol=1e-12)
    np.testing.assert_allclose(table.estimate[0], y.mean())
    assert table.df[0] == y.size - 1


def test_fpc_sampling_fraction_equals_population_size() -> None:
    f = _frame()
    f["N"] = 5000
    f["frac"] = len(f) / 5000
    by_size = SurveyDesign(f, weights="w", fpc="N").mean("y")
    by_frac = SurveyDesign(f, weights="w", fpc="frac").mean("y")
    no_fpc = SurveyDesign(f, weights="w").mean("y")
    np.testing.assert_allclose(by_size.se, by_frac.se, rtol=1e-12)
    np.testing.assert_allclose(by_size.se**2, no_fpc.se**2 * (1 - len(f) / 5000), rtol=1e-12)


@pytest.mark.parametrize(
    "weighting",
    ["none", "poststratify", "rake", "calibrate"],
)
def test_gram_path_equals_dense_path(weighting: str, monkeypatch: pytest.MonkeyPatch) -> None:
    f = _frame()
    d = SurveyDesign(f, weights="w", strata="stratum", ids="psu")
    n_a = f["a"].value_counts().to_dict()
    n_b = f["b"].value_counts().to_dict()
    scale = {k: v * 10.0 for k, v in n_a.items()}
    if weighting == "poststratify":
        d = poststratify(
            d, ("a", "b"), {k: 10.0 * v for k, v in f.groupby(["a", "b"]).size().items()}
        )[0]
    elif weighting == "rake":
        d = rake(d, {"a": scale, "b": {k: v * 10.0 for k, v in n_b.items()}})[0]
    elif weighting == "calibrate":
        d = calibrate(d, {"a": scale, "aux": float(f["aux"].sum() * 10.5)}, method="raking")[0]
    dense = d.mean("y", by="dom")
    vcov = d.covariance("y", by="dom")  # the full matrix, always the dense path
    np.testing.assert_allclose(np.sqrt(np.diag(vcov)), dense.se, rtol=1e-9)
    monkeypatch.setattr(variance, "_DENSE_LIMIT", 10)
    gram = d.mean("y", by="dom")
    np.testing.assert_allclose(gram.se, np.sqrt(np.diag(vcov)), rtol=1e-9)
    np.testing.assert_allclose(gram.estimate, dense.estimate, rtol=1e-12)
    # many columns go in blocks (37 domains in blocks of 5): the same variances
    monkeypatch.setattr(variance, "VARIANCE_BLOCK", 5)
    blocks = d.mean("y", by="dom")
    np.testing.assert_allclose(blocks.se, np.sqrt(np.diag(vcov)), rtol=1e-9)


def test_domain_variance_uses_whole_design_not_subset() -> None:
    f = _frame()
    d = SurveyDesign(f, weights="w", strata="stratum", ids="psu")
    by = d.mean("y", by="dom").set_index("dom")
    # domain mean = ratio estimator: influence zero outside the domain (closed form by hand)
    dom = f["dom"].to_numpy() == 5
    w, y = f["w"].to_numpy(), f["y"].to_numpy()
    m = np.sum(w[dom] * y[dom]) / w[dom].sum()
    u = np.where(dom, w * (y - m) / w[dom].sum(), 0.0)
    tot = pd.DataFrame({"s": f["stratum"], "p": f["psu"], "u": u}).groupby(["s", "p"]).u.sum()
    v = 0.0
    for _, t in tot.groupby(level=0):
        nh = t.size
        v += nh / (nh - 1) * np.sum((t - t.mean()) ** 2)
    np.testing.assert_allclose(by.loc[5, "se"], np.sqrt(v), rtol=1e-12)
    np.testing.assert_allclose(by.loc[5, "estimate"], m, rtol=1e-12)


def test_lonely_psu_fail_names_the_stratum() -> None:
    f = _frame()
    f.loc[f.index[:3], "stratum"] = 9
    f.loc[f.index[:3], "psu"] = 999
    with pytest.raises(DesignError, match=r"stratum 9 of 'stratum' must have at least two"):
        SurveyDesign(f, weights="w", strata="stratum", ids="psu")


def test_lonely_psu_rules_closed_forms() -> None:
    f = _frame()
    f.loc[f.index[:3], "stratum"] = 9
    f.loc[f.index[:3], "psu"] = 999
    est = {
        rule: SurveyDesign(f, weights="w", strata="stratum", ids="psu", lonely_psu=rule).mean("y")
        for rule in ("certainty", "remove", "adjust", "average")
    }
    v_cert = est["certainty"].se[0] ** 2
    assert est["remove"].se[0] ** 2 == pytest.approx(v_cert, rel=1e-12)
    # average: the other strata's variance scaled by strata / usable strata = 5 / 4
    assert est["average"].se[0] ** 2 == pytest.approx(v_cert * 5 / 4, rel=1e-12)
    # adjust: the lonely PSU total is compared with zero (the grand-mean centring)
    w, y = f["w"].to_numpy(), f["y"].to_numpy()
    m = np.sum(w * y) / w.sum()
    lonely_total = np.sum((w * (y - m) / w.sum())[:3])
    assert est["adjust"].se[0] ** 2 == pytest.approx(v_cert + lonely_total**2, rel=1e-12)


def test_certainty_stratum_contributes_nothing() -> None:
    f = _frame()
    f["N"] = np.where(f["stratum"] == 0, 12, 200)  # stratum 0: all 12 PSUs taken
    d = SurveyDesign(f, weights="w", strata="stratum", ids="psu", fpc="N")
    g = f.assign(y=np.where(f["stratum"] == 0, f["y"] + 100.0, f["y"]))
    d2 = SurveyDesign(g, weights="w", strata="stratum", ids="psu", fpc="N")
    # shifting y inside a fully enumerated stratum changes the total, not its variance
    np.testing.assert_allclose(d.total("y").se, d2.total("y").se, rtol=1e-12)


def test_second_stage_enters_only_with_fpc() -> None:
    rng = np.random.default_rng(5)
    n = 400
    f = pd.DataFrame(
        {
            "c1": rng.integers(0, 20, n),
            "c2": rng.integers(0, 6, n),
            "y": rng.normal(size=n),
            "N1": 80,
            "N2": 30,
        }
    )
    f["w"] = 4.0
    one = SurveyDesign(f, weights="w", ids=["c1", "c2"]).total("y").se[0]
    first_only = SurveyDesign(f, weights="w", ids="c1").total("y").se[0]
    assert one == pytest.approx(first_only, rel=1e-12)
    two = SurveyDesign(f, weights="w", ids=["c1", "c2"], fpc=["N1", "N2"]).total("y").se[0]
    fpc1 = SurveyDesign(f, weights="w", ids="c1", fpc="N1").total("y").se[0]
    assert two > fpc1  # the second stage adds its own (positive) component


def test_degf_counts_psus_minus_strata() -> None:
    f = _frame()
    d = SurveyDesign(f, weights="w", strata="stratum", ids="psu")
    assert d.degf() == f["psu"].nunique() - f["stratum"].nunique()
