"""Benchmark: replicate designs and the weighting redone in every replicate; meting vs ``svy``.

Run:  .venv/bin/python benchmarks/bench_replicate.py [--n 1000000] [--reps 80] [--seed 1]
      [--repeat 3] [--parts abc]

Prints wall time and peak traced memory (tracemalloc, numpy allocations included) of
(a) mean + SE over 5,000 domains (500 municipalities x 10 life events) on a replicate design of
    ``n`` rows with ``reps`` replicate weights (bootstrap-style columns);
(b) raking that design to age band x sex, municipality and education, every replicate raked too;
(c) the mean and its SE after raking ``n`` rows with the raking counted in the variance: meting's
    ``rake`` + ``SurveyDesign.mean`` (linearisation of the raking, as R's survey) side by side
    with the Python package ``svy`` (``Sample.weighting.rake`` + ``estimation.mean``) on the same
    data, when ``svy`` is installed (it is not a dependency of meting: ``pip install svy``).
Goals: (a) and (b) under 10 s and 2 GB on 2 cores; (c) under 0.25 s.  Each step is timed without
tracemalloc (best of ``--repeat``), then traced once more.  No assertions: this script reports
figures; timings on a shared machine are disturbed by other processes.
"""

from __future__ import annotations

import argparse
import importlib.util
import resource
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).parent))
from bench_weighting import N_EVENTS, N_MUNICIPALITIES, synthetic

from meting import ReplicateDesign
from meting.design import SurveyDesign
from meting.weighting import rake

BY = ["municipality", "life_event"]


def measure(label: str, fn: Callable[[], object], repeat: int = 1, trace: bool = True) -> object:
    best = np.inf
    result = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t0)
    peak = ""
    if trace:
        tracemalloc.start()
        fn()
        _, top = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        peak = f"   peak {top / 2**20:8.1f} MiB"
    print(f"{label:<58} {best:8.3f} s{peak}", flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--reps", type=int, default=80)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--parts", default="abc", help="parts to run, e.g. 'c' for (c) only")
    args = parser.parse_args()
    data, margins = synthetic(args.n, args.seed)
    if "a" in args.parts or "b" in args.parts:
        replicate_parts(data, margins, args)
    if "c" in args.parts:
        rake_mean_side_by_side(data, margins, args)
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"process peak RSS {maxrss:,.0f} MiB (2 CPU cores shared with other processes)")


def replicate_parts(data: pd.DataFrame, margins: dict, args: argparse.Namespace) -> None:
    """(a), (b) and (b'): the replicate design of ``args.reps`` bootstrap-like replicates."""
    rng = np.random.default_rng(args.seed + 1)
    w = data["design_weight"].to_numpy()
    # bootstrap-like replicate weights: 2,000 clusters, Poisson(1) multiplicity per replicate
    cluster = rng.integers(0, 2_000, args.n)
    factors = rng.poisson(1.0, (2_000, args.reps)).astype(float)
    reps = w[:, None] * factors[cluster]
    rep = ReplicateDesign(
        data, weights="design_weight", repweight_values=reps, type="bootstrap", degf=1_999
    )
    print(
        f"{args.n:,} rows, {args.reps} replicates, {N_MUNICIPALITIES * N_EVENTS:,} domains; "
        "margins age band x sex (8), municipality (500), education (3)"
    )
    table = measure(
        "(a) replicate mean + SE by 5,000 domains", lambda: rep.mean("score_chain", by=BY)
    )
    print(f"    domains={len(table):,} median se={table.se.median():.4f}")  # type: ignore[attr-defined]
    raked, report = measure(  # type: ignore[misc]
        "(b) rake with replicates (3 margins, epsilon 1e-10)",
        lambda: rake(rep, margins, max_iter=200, epsilon=1e-10),
    )
    print(f"    converged={report.converged} sweeps={report.iterations} degf={raked.degf}")
    measure(
        "(b') mean + SE by 5,000 domains (raked replicate design)",
        lambda: raked.mean("score_chain", by=BY),
    )


def rake_mean_side_by_side(data: pd.DataFrame, margins: dict, args: argparse.Namespace) -> None:
    """(c): rake + mean and SE with the raking in the variance, meting and ``svy``."""
    print("(c) rake + mean and SE (raking in the variance), meting vs svy")
    tight = {"max_iter": 200, "epsilon": 1e-10}
    # the first rake of a design factorises its margin columns (kept on the design for later
    # rakes of it); timed once on a fresh design, then best of --repeat on one design
    fresh = SurveyDesign(data, weights="design_weight")
    measure(
        "    meting first rake of a design + mean/SE",
        lambda: rake(fresh, margins, **tight)[0].mean("score_chain"),
        trace=False,
    )
    base = SurveyDesign(data, weights="design_weight")

    def meting_rake_mean() -> object:
        d, _ = rake(base, margins, **tight)
        return d.mean("score_chain")

    m = measure("    meting rake + mean/SE", meting_rake_mean, args.repeat, trace=False)
    print(f"      estimate={m.estimate[0]:.10f} se={m.se[0]:.10f}")  # type: ignore[attr-defined]
    print(f"      (all digits: {float(m.estimate[0])!r}, {float(m.se[0])!r})")  # type: ignore[attr-defined]
    if importlib.util.find_spec("svy") is None:
        print("    svy: not installed, column skipped (pip install svy==0.35.0 to compare)")
    else:
        import polars as pl
        import svy

        frame = pl.from_pandas(
            data.assign(
                municipality=data["municipality"].astype(str),
                life_event=data["life_event"].astype(str),
            )
        )
        sample = svy.Sample(frame, svy.Design(wgt="design_weight"))
        controls = {}
        for key, target in margins.items():
            if isinstance(key, tuple):  # svy rakes on one column per margin: cross them
                name = "_x_".join(key)
                sample = svy.Sample(
                    sample.data.with_columns(pl.concat_str(list(key), separator="|").alias(name)),
                    svy.Design(wgt="design_weight"),
                )
                controls[name] = {"|".join(k): v for k, v in target.items()}
            else:
                controls[key] = dict(target)

        def svy_rake_mean() -> object:
            s = sample.weighting.rake(controls=controls, tol=1e-10, max_iter=200)
            return s.estimation.mean("score_chain").to_polars()

        r = measure(
            f"    svy {svy.__version__} rake + mean/SE", svy_rake_mean, args.repeat, trace=False
        )
        print(f"      estimate={r['est'][0]:.10f} se={r['se'][0]:.10f}")  # type: ignore[index]


if __name__ == "__main__":
    main()
