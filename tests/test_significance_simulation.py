"""Simulation checks of the tests against the target and of the multiple-testing procedures.

Each check runs twice: a small version in the default run and a large one behind
``@pytest.mark.slow``. Tolerances follow from the number of replications only:

* Size: under a true mean of exactly 7 the number of rejections of a 5% one-sided test over R
  independent samples is Binomial(R, 0.05) when the test is exact (normal data; cluster means of a
  one-stage cluster sample with normal cluster and respondent effects are i.i.d. normal, so the
  design-based t-test with df = clusters - 1 is exact too). The check is the central 99.9%
  binomial band of the count.
* BH: for independent test statistics the false discovery rate of Benjamini-Hochberg at level q is
  exactly ``q * m0 / m`` (Benjamini & Hochberg 1995; Benjamini & Yekutieli 2001), so the mean false
  discovery proportion over R replications is checked within 3.29 Monte Carlo standard errors
  (99.9%) of that value. Holm's family-wise error rate is checked to be at most 5% (one-sided, same
  Monte Carlo margin).
"""

from __future__ import annotations

import gc

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from meting.significance import test_against_target

Z999 = stats.norm.isf(0.0005)  # two-sided 99.9%


@pytest.fixture(autouse=True)
def _frozen_gc():
    """statsmodels' Holm branch calls gc.collect() on every call (~50 ms with a full heap);
    freezing the existing objects makes those collections cheap. Semantics are unchanged."""
    gc.freeze()
    yield
    gc.unfreeze()


def estimate_table(estimate, se, df, n, **groups) -> pd.DataFrame:
    frame = pd.DataFrame(groups)
    frame["variable"] = "score_chain"
    frame["estimate"] = estimate
    frame["se"] = se
    frame["df"] = df
    frame["lower"] = np.nan
    frame["upper"] = np.nan
    frame["deff"] = 1.0
    frame["n"] = n
    return frame


def assert_binomial(count: int, reps: int, rate: float, what: str) -> None:
    lo, hi = stats.binom.ppf([0.0005, 0.9995], reps, rate)
    assert lo <= count <= hi, f"{what}: {count} of {reps} outside [{lo}, {hi}] (rate {rate})"


def srs_size(reps: int, n: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    x = rng.normal(7.0, 1.5, size=(reps, n))
    table = estimate_table(x.mean(axis=1), x.std(axis=1, ddof=1) / np.sqrt(n), n - 1, n)
    out = test_against_target(table, adjust="none", min_n=None)
    assert_binomial(int((out["p_greater"] <= 0.05).sum()), reps, 0.05, "SRS, above 7")
    assert_binomial(int((out["p_less"] <= 0.05).sum()), reps, 0.05, "SRS, below 7")
    assert_binomial(int((out["p_two_sided"] <= 0.05).sum()), reps, 0.05, "SRS, two-sided")
    # the three verdicts split the 5% two-sided rejections evenly: 2.5% each side
    assert_binomial(int((out["verdict"] == "significant boven 7").sum()), reps, 0.025, "boven")
    assert_binomial(int((out["verdict"] == "significant onder 7").sum()), reps, 0.025, "onder")


def cluster_size(reps: int, clusters: int, per_cluster: int, seed: int) -> None:
    """One-stage cluster sample (ultimate-cluster variance, df = clusters - 1)."""
    rng = np.random.default_rng(seed)
    effect = rng.normal(0.0, 0.6, size=(reps, clusters, 1))
    y = 7.0 + effect + rng.normal(0.0, 1.5, size=(reps, clusters, per_cluster))
    cluster_means = y.mean(axis=2)  # equal cluster sizes and weights: mean of cluster means
    estimate = cluster_means.mean(axis=1)
    se = cluster_means.std(axis=1, ddof=1) / np.sqrt(clusters)
    table = estimate_table(estimate, se, clusters - 1, clusters * per_cluster)
    out = test_against_target(table, adjust="none", min_n=None)
    assert_binomial(int((out["p_greater"] <= 0.05).sum()), reps, 0.05, "clusters, above 7")
    assert_binomial(int((out["p_less"] <= 0.05).sum()), reps, 0.05, "clusters, below 7")
    # R's svyttest convention (df - 1) is conservative here; its exact size is known
    r_like = test_against_target(table, adjust="none", min_n=None, svyttest_df=True)
    size_r = stats.t.sf(stats.t.isf(0.05, clusters - 2), clusters - 1)
    assert_binomial(int((r_like["p_greater"] <= 0.05).sum()), reps, size_r, "svyttest df")


def bh_fdr(reps: int, seed: int, m0: int = 45, m1: int = 15, n: int = 20, q: float = 0.05) -> None:
    rng = np.random.default_rng(seed)
    m = m0 + m1
    mu = np.r_[np.full(m0, 7.0), np.full(m1, 7.6)]
    fdp, false_holm, found_bh, found_holm = [], [], 0, 0
    for start in range(0, reps, 2000):  # chunks keep memory small
        r = min(2000, reps - start)
        x = rng.normal(mu[None, :, None], 1.5, size=(r, m, n))
        table = estimate_table(
            x.mean(axis=2).ravel(),
            (x.std(axis=2, ddof=1) / np.sqrt(n)).ravel(),
            n - 1,
            n,
            rep=np.repeat(np.arange(r), m),
        )
        null = np.tile(np.arange(m) < m0, r)
        for method in ("bh", "holm"):
            out = test_against_target(table, adjust=method, family="rep", min_n=None, level=1 - q)
            reject = (out["p_adjusted"] <= q).to_numpy().reshape(r, m)
            false = (reject & null.reshape(r, m)).sum(axis=1)
            if method == "bh":
                fdp.append(false / np.maximum(reject.sum(axis=1), 1))
                found_bh += reject.sum()
            else:
                false_holm.append(false > 0)
                found_holm += reject.sum()
    fdp_all = np.concatenate(fdp)
    fdr, mc_se = fdp_all.mean(), fdp_all.std(ddof=1) / np.sqrt(reps)
    exact = q * m0 / m
    assert abs(fdr - exact) <= Z999 * mc_se, f"BH FDR {fdr:.4f} vs {exact:.4f} (MC se {mc_se:.4f})"
    fwer = np.concatenate(false_holm).mean()
    assert fwer <= q + Z999 * np.sqrt(q * (1 - q) / reps), f"Holm FWER {fwer:.4f}"
    assert found_bh > found_holm  # BH finds more of the 15 real differences


def test_size_srs_small():
    srs_size(reps=4000, n=20, seed=11)


def test_size_cluster_small():
    cluster_size(reps=4000, clusters=6, per_cluster=10, seed=12)


def test_bh_fdr_small():
    bh_fdr(reps=400, seed=13)


@pytest.mark.slow
def test_size_srs_large():
    srs_size(reps=200_000, n=25, seed=21)


@pytest.mark.slow
def test_size_cluster_large():
    cluster_size(reps=100_000, clusters=6, per_cluster=10, seed=22)


@pytest.mark.slow
def test_bh_fdr_large():
    bh_fdr(reps=20_000, seed=23)
