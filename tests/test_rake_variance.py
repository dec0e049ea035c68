"""Raking and its linearised variance against a literal, row-by-row transcription of ``survey``.

meting rakes on the joint table of the raking variables and forms the raking residuals on its
cells (:mod:`meting.calibration_residuals`); the reference here does what ``survey::rake`` and
``survey::svyrecvar`` do, row by row: post-stratify on each margin in turn until the weighted
cross-table settles, then ten rounds of ``x <- x - w_k * ave(x / w_k, margin_k)`` with the weights
``w_k`` just after margin ``k`` of the last sweep (rows of weight 0 keep factor 1, as meting's
post-stratification does), and the stratified between-PSU sum of squares of the residuals.
R's own numbers for raked designs are checked in test_against_r.py.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from meting.design import SurveyDesign
from meting.weighting import poststratify, rake

MARGINS = [("a",), ("b", "c"), ("d",)]


def _frame(n: int = 2_000, seed: int = 11) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    stratum = rng.integers(0, 5, n)
    w = rng.uniform(0.5, 3.0, n)
    w[rng.random(n) < 0.03] = 0.0  # some rows of weight 0
    y = rng.normal(7.0, 1.3, n) + 0.2 * stratum
    y[rng.random(n) < 0.02] = np.nan  # some missing values
    return pd.DataFrame(
        {
            "stratum": stratum,
            "psu": stratum * 50 + rng.integers(0, 9, n),
            "dom": rng.integers(0, 12, n),  # 12 domains: more columns than the few-column path
            "a": rng.choice(["a1", "a2", "a3", "a4"], n),
            "b": rng.choice(["m", "v"], n),
            "c": rng.choice(["jong", "oud", "midden"], n),
            "d": pd.Categorical(rng.choice(["L", "M", "H"], n, p=[0.2, 0.5, 0.3])),
            "y": y,
            "w": w,
        }
    )


def _targets(f: pd.DataFrame, rng: np.random.Generator) -> dict:
    out: dict = {}
    for key in MARGINS:
        counts = f.groupby(list(key), observed=True).size()
        vals = counts.to_numpy() * rng.uniform(8.0, 12.0, counts.size)
        vals = vals / vals.sum() * 25_000.0  # every margin adds up to the same population
        labels = counts.index.tolist()
        out[key if len(key) > 1 else key[0]] = dict(zip(labels, vals, strict=True))
    return out


def _literal_rake(f: pd.DataFrame, targets: dict, epsilon: float = 1e-10):
    """``survey::rake`` row by row: weights and the weights after each margin of the last sweep."""
    w = f["w"].to_numpy(dtype=float).copy()
    cells = [f.groupby(list(k), observed=True).ngroup().to_numpy() for k in MARGINS]
    tgt = []
    for key in MARGINS:
        levels = f.groupby(list(key), observed=True).size().index.tolist()
        t = targets[key if len(key) > 1 else key[0]]
        tgt.append(np.array([t[lv] for lv in levels]))
    joint = f.groupby(["a", "b", "c", "d"], observed=True).ngroup().to_numpy()
    old = np.bincount(joint, weights=w)
    tol = epsilon * w.sum()
    for _ in range(200):
        after = []
        for c, t in zip(cells, tgt, strict=True):
            w = w * (t / np.bincount(c, weights=w))[c]
            after.append(w)
        new = np.bincount(joint, weights=w)
        if np.max(np.abs(new - old)) < tol:
            return w, after, cells
        old = new
    raise AssertionError("literal raking did not converge")


def _literal_var(u: np.ndarray, after: list, cells: list, f: pd.DataFrame, clustered: bool):
    """svyrecvar: ten rounds of alternating centring, then the stratified PSU sum of squares."""
    z = u.copy()
    for _ in range(10):
        for wk, c in zip(after, cells, strict=True):
            s = np.where(wk == 0, 1.0, wk)
            z = z - s * pd.Series(z / s).groupby(c).transform("mean").to_numpy()
    if not clustered:
        n = z.size
        return n / (n - 1) * np.sum((z - z.mean()) ** 2)
    total = 0.0
    for _, g in pd.DataFrame({"z": z, "h": f["stratum"], "j": f["psu"]}).groupby("h"):
        t = g.groupby("j")["z"].sum().to_numpy()
        total += t.size / (t.size - 1) * np.sum((t - t.mean()) ** 2)
    return total


@pytest.mark.parametrize("clustered", [False, True])
def test_raked_mean_and_se_equal_the_literal_algorithm(clustered: bool) -> None:
    f = _frame()
    targets = _targets(f, np.random.default_rng(1))
    design = (
        SurveyDesign(f, weights="w", strata="stratum", ids="psu")
        if clustered
        else SurveyDesign(f, weights="w")
    )
    raked, report = rake(design, targets, max_iter=200, epsilon=1e-10)
    w, after, cells = _literal_rake(f, targets)
    np.testing.assert_allclose(raked.w, w, rtol=1e-12, atol=1e-12)
    assert report.converged
    ok = ~np.isnan(f["y"].to_numpy())
    y = np.where(ok, f["y"].to_numpy(), 0.0)
    wy = np.where(ok, w, 0.0)
    # the whole sample
    mean = np.sum(wy * y) / wy.sum()
    table = raked.mean("y")
    u = wy * (y - mean) / wy.sum()
    np.testing.assert_allclose(table.estimate, [mean], rtol=1e-12)
    ref_se = np.sqrt(_literal_var(u, after, cells, f, clustered))
    np.testing.assert_allclose(table.se, [ref_se], rtol=1e-9)
    # 12 domains: influence values zero outside the domain (svyby on the raked design)
    by = raked.mean("y", by="dom").set_index("dom")
    for dom, row in by.iterrows():
        inside = (f["dom"].to_numpy() == dom) & ok
        wd = np.where(inside, w, 0.0)
        m = np.sum(wd * y) / wd.sum()
        ud = wd * (y - m) / wd.sum()
        assert row["estimate"] == pytest.approx(m, rel=1e-12)
        se = np.sqrt(_literal_var(ud, after, cells, f, clustered))
        assert row["se"] == pytest.approx(se, rel=1e-9), dom


def test_rake_after_poststratification_counts_both_in_the_variance() -> None:
    f = _frame(seed=5)
    design = SurveyDesign(f, weights="w")
    strata = f.groupby("stratum").size()
    ps, _ = poststratify(design, "stratum", {h: 5_000.0 for h in strata.index})
    targets = _targets(f, np.random.default_rng(2))
    raked, _ = rake(ps, targets, max_iter=200, epsilon=1e-10)
    # literal: post-stratify, rake, then survey's residuals: post-strata first, then raking
    w_ps = ps.w
    w, after, cells = _literal_rake(f.assign(w=w_ps), targets)
    np.testing.assert_allclose(raked.w, w, rtol=1e-12, atol=1e-12)
    ok = ~np.isnan(f["y"].to_numpy())
    y = np.where(ok, f["y"].to_numpy(), 0.0)
    wy = np.where(ok, w, 0.0)
    mean = np.sum(wy * y) / wy.sum()
    u = wy * (y - mean) / wy.sum()
    # svyrecvar applies the post-stratification of the design's postStrata list in order:
    # within-stratum centring of u (weights before / after) and then the raking rounds
    old, new = f["w"].to_numpy(), w_ps
    safe = np.where((new == 0) & (old == 0), 1.0, new)
    h = f["stratum"].to_numpy()
    x = u * old / safe
    tot = np.bincount(h, weights=x)
    wsum = np.bincount(h, weights=old)
    z = u - safe * (tot / wsum)[h]
    var = _literal_var(z, after, cells, f, clustered=False)
    np.testing.assert_allclose(raked.mean("y").se, [np.sqrt(var)], rtol=1e-9)
