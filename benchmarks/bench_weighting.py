"""Benchmark: rake 1,000,000 respondents to three margins, then mean and SE by 5,000 domains.

Run:  .venv/bin/python benchmarks/bench_weighting.py [--n 1000000] [--seed 1]

Prints wall time and peak traced memory (tracemalloc, numpy allocations included) of
1. raking to age band x sex, municipality and education (survey's convergence rule, tight),
2. the weighted mean and its linearised SE by 5,000 domains (municipality x life event) on the
   raked design (the SEs account for the raking, as R's survey does),
3. the same domain estimates on the design before raking.
Goals (issue 3): raking < 2 s, domains < 5 s on a 2-core machine.  Timings on a shared machine
are disturbed by other processes; each step is timed without tracemalloc, then traced once more.
No assertions: this script reports figures.
"""

from __future__ import annotations

import argparse
import resource
import time
import tracemalloc
from collections.abc import Callable

import numpy as np
import pandas as pd

from meting.columns import AGE_BAND, AGE_BANDS, EDUCATION, EDUCATION_LEVELS, SEX, SEXES
from meting.design import SurveyDesign
from meting.weighting import rake

N_MUNICIPALITIES = 500
N_EVENTS = 10  # 500 x 10 = 5,000 domains


def synthetic(n: int, seed: int) -> tuple[pd.DataFrame, dict]:
    """Respondents with unequal response by age/sex/education, and population margins."""
    rng = np.random.default_rng(seed)
    muni = rng.integers(0, N_MUNICIPALITIES, n)
    age = rng.choice(4, n, p=[0.15, 0.25, 0.3, 0.3])
    sex = rng.integers(0, 2, n)
    edu = rng.choice(3, n, p=[0.2, 0.4, 0.4])
    event = rng.integers(0, N_EVENTS, n)
    score = np.clip(np.round(6.5 + 0.3 * age - 0.2 * edu + rng.normal(0, 1.4, n)), 1, 10)
    data = pd.DataFrame(
        {
            "municipality": pd.Categorical.from_codes(muni, [f"GM{i:04d}" for i in range(500)]),
            "life_event": pd.Categorical.from_codes(event, [f"LE{i:02d}" for i in range(10)]),
            AGE_BAND: np.asarray(AGE_BANDS, dtype=object)[age],
            SEX: np.asarray(SEXES, dtype=object)[sex],
            EDUCATION: np.asarray(EDUCATION_LEVELS, dtype=object)[edu],
            "score_chain": score,
            "design_weight": rng.uniform(0.5, 2.0, n),
        }
    )
    total = 15_000_000.0
    pop_muni = rng.dirichlet(np.full(N_MUNICIPALITIES, 5.0)) * total
    age_sex = np.outer([0.27, 0.25, 0.25, 0.23], [0.49, 0.51]) * total
    margins = {
        (AGE_BAND, SEX): {
            (a, s): age_sex[i, j] for i, a in enumerate(AGE_BANDS) for j, s in enumerate(SEXES)
        },
        "municipality": {f"GM{i:04d}": v for i, v in enumerate(pop_muni)},
        EDUCATION: dict(zip(EDUCATION_LEVELS, np.array([0.3, 0.4, 0.3]) * total, strict=True)),
    }
    return data, margins


def measure(label: str, fn: Callable[[], object]) -> object:
    t0 = time.perf_counter()
    result = fn()
    wall = time.perf_counter() - t0
    tracemalloc.start()
    fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"{label:<48} {wall:8.2f} s   peak {peak / 2**20:8.1f} MiB")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    data, margins = synthetic(args.n, args.seed)
    base = SurveyDesign(data, weights="design_weight")
    print(
        f"{args.n:,} respondents, margins: age band x sex (8), municipality "
        f"({N_MUNICIPALITIES}), education (3); {N_MUNICIPALITIES * N_EVENTS:,} domains"
    )
    raked, report = measure(
        "rake (3 margins, epsilon 1e-10)",
        lambda: rake(base, margins, max_iter=200, epsilon=1e-10),
    )
    print(
        f"  converged={report.converged} sweeps={report.iterations} "
        f"max gap={report.max_margin_gap:.2e} kish deff={report.kish_deff:.3f} "
        f"effective n={report.effective_n:,.0f}"
    )
    by = ["municipality", "life_event"]
    table = measure(
        "mean + SE by 5,000 domains (raked design)", lambda: raked.mean("score_chain", by=by)
    )
    measure("mean + SE by 5,000 domains (before raking)", lambda: base.mean("score_chain", by=by))
    print(
        f"  domains={len(table):,} median se={table.se.median():.4f} "
        f"median deff={table.deff.median():.3f}"
    )
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"process peak RSS {maxrss:,.0f} MiB (2 CPU cores shared with other agents)")


if __name__ == "__main__":
    main()
