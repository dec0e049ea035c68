"""Benchmark: the survey statistics added for svyciprop, svycontrast, svyratio, svyquantile.

Run:  .venv/bin/python benchmarks/bench_survey.py [--n 1000000] [--seed 1]

A stratified cluster design (100 strata, 20,000 clusters) of ``n`` respondents and 5,000
domains (500 municipalities x 10 life events); prints the wall time of each estimator by the
5,000 domains (and of the whole-sample call where it differs).  No assertions: this script
reports figures; timings on a shared machine are disturbed by other processes.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np
import pandas as pd

from meting import contrast
from meting.design import SurveyDesign

N_MUNICIPALITIES = 500
N_EVENTS = 10


def synthetic(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    cluster = rng.integers(0, 20_000, n)
    return pd.DataFrame(
        {
            "stratum": cluster % 100,
            "cluster": cluster,
            "municipality": rng.integers(0, N_MUNICIPALITIES, n),
            "life_event": rng.integers(0, N_EVENTS, n),
            "score": rng.integers(1, 11, n).astype(float),
            "good": (rng.random(n) < 0.7).astype(float),
            "contacts": rng.integers(1, 5, n).astype(float),
            "w": rng.uniform(50, 150, n),
        }
    )


def timed(label: str, fn: Callable[[], object]) -> None:
    start = time.perf_counter()
    fn()
    print(f"{label:<48s} {time.perf_counter() - start:8.2f} s", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    data = synthetic(args.n, args.seed)
    d = SurveyDesign(data, weights="w", strata="stratum", ids="cluster", nest=True)
    by = ["municipality", "life_event"]
    print(f"n = {args.n:,}, domains = {N_MUNICIPALITIES * N_EVENTS:,}")
    timed("mean by domain (deff='replace')", lambda: d.mean("score", by=by, deff="replace"))
    for method in ("logit", "beta", "asin", "likelihood"):
        timed(f"ciprop {method} by domain", lambda m=method: d.ciprop("good", m, by=by))
    timed("ratio by domain", lambda: d.ratio("score", "contacts", by=by))
    timed("quantile (median, math) whole sample", lambda: d.quantile("score", 0.5))
    timed("quantile (median, math) by domain", lambda: d.quantile("score", 0.5, by=by))
    timed(
        "quantile (3 probs, hf7) by domain",
        lambda: d.quantile("score", [0.25, 0.5, 0.75], by=by, qrule="hf7"),
    )
    timed(
        "contrast of two life events (10 domains)",
        lambda: contrast(d, "score", "life_event", {0: 1, 1: -1}),
    )


if __name__ == "__main__":
    main()
