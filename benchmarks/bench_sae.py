"""Benchmark of the small-area models on a national-scale synthetic wave.

Fits the Fay-Herriot model, the unit-level model on sufficient statistics and its MRP variant
(cells x age band x sex, post-stratified) with nutpie and with PyMC's NUTS, and prints compile time,
sampling time, the rest (drawing the cell means, diagnostics, tables: "post s"), wall time, min
bulk/tail ESS over *all* parameters, max R-hat, divergences, ESS per second of sampling and the RMSE
of the posterior means against the synthetic truth; then the fastest converged fit.

``--sampled-cells`` samples the cell effects with NUTS instead of integrating them out (the
parameterisation before November 2026), for comparison.

Run: ``.venv/bin/python benchmarks/bench_sae.py [--chains 4] [--samplers nutpie pymc]
[--models fh suff mrp]``. Timings depend on the load of the machine (other processes share its
cores); say so when quoting them.
"""

from __future__ import annotations

import argparse
import logging
import time
import warnings

warnings.filterwarnings("ignore", category=FutureWarning)
warnings.filterwarnings("ignore", message=".*could not link to a BLAS.*")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from meting.columns import LIFE_EVENT, MUNICIPALITY  # noqa: E402
from meting.sae import (  # noqa: E402
    SampleSettings,
    direct_from_statistics,
    fit_area_level,
    fit_unit_level,
    smooth_variances,
    sufficient_statistics,
)
from meting.sae.simulate import from_synthetic_wave, simulate_survey  # noqa: E402

GROUPS = [LIFE_EVENT, MUNICIPALITY]


def national_wave(seed: int = 20080):
    """The national synthetic wave: meting.synthetic when available, else the stand-in."""
    try:
        from meting.synthetic import generate_national
    except ImportError:
        return simulate_survey(seed), "meting.sae.simulate.simulate_survey (stand-in)"
    wave = generate_national(seed=seed)
    return from_synthetic_wave(wave), "meting.synthetic.generate_national (score_chain)"


def fh_cells(respondents: pd.DataFrame, truth: pd.DataFrame) -> pd.DataFrame:
    stats = sufficient_statistics(respondents, "score", GROUPS)
    direct = smooth_variances(direct_from_statistics(stats, GROUPS))
    allcells = truth[GROUPS].astype(str).merge(direct, on=GROUPS, how="left")
    return allcells.assign(n=allcells["n"].fillna(0).astype(np.int64))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chains", type=int, default=4)
    parser.add_argument("--draws", type=int, default=1000)
    parser.add_argument("--tune", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=20080)
    parser.add_argument("--samplers", nargs="+", default=["nutpie", "pymc"])
    parser.add_argument("--models", nargs="+", default=["fh", "suff", "mrp"])
    parser.add_argument("--standin", action="store_true", help="use the built-in simulator")
    parser.add_argument(
        "--sampled-cells", action="store_true", help="sample the cell effects (no marginalising)"
    )
    args = parser.parse_args()
    logging.getLogger("pymc").setLevel(logging.ERROR)

    t0 = time.perf_counter()
    if args.standin:
        wave, source = simulate_survey(args.seed), "meting.sae.simulate.simulate_survey"
    else:
        wave, source = national_wave(args.seed)
    resp = wave.respondents
    print(f"data: {source}, seed {args.seed}: {len(resp):,} respondents")
    cells = fh_cells(resp, wave.truth)
    print(
        f"  {len(cells)} cells ({cells[MUNICIPALITY].nunique()} municipalities x "
        f"{cells[LIFE_EVENT].nunique()} life events); empty {int((cells['n'] == 0).sum())}, "
        f"n<=5 {int((cells['n'] <= 5).sum())}, max n {int(cells['n'].max())}; "
        f"prepared in {time.perf_counter() - t0:.1f} s"
    )
    stats_cell = sufficient_statistics(resp, "score", GROUPS)
    strata = ["age_band", "sex"]
    stats_strata = sufficient_statistics(resp, "score", [*GROUPS, *strata])
    truth = wave.truth.set_index(GROUPS)["true_mean"]

    header = (
        f"{'model':5} {'sampler':7} {'chains':>6} {'compile s':>9} {'sample s':>8} {'post s':>6} "
        f"{'wall s':>7} "
        f"{'min ESS bulk':>12} {'min ESS tail':>12} {'max R-hat':>9} {'div':>4} {'ESS/s':>7} "
        f"{'RMSE':>6}  worst ESS parameter"
    )
    print(header)
    converged: list[tuple[float, str, str]] = []
    for model in args.models:
        for sampler in args.samplers:
            sampling = SampleSettings(
                sampler=sampler,
                chains=args.chains,
                draws=args.draws,
                tune=args.tune,
                random_seed=args.seed,
            )
            kwargs = {"sampling": sampling, "marginalise_cells": not args.sampled_cells}
            start = time.perf_counter()
            if model == "fh":
                res = fit_area_level(cells, "estimate", "se_smoothed", GROUPS, **kwargs)
            elif model == "suff":
                res = fit_unit_level(stats_cell, GROUPS, **kwargs)
            else:
                res = fit_unit_level(stats_strata, GROUPS, population=wave.population, **kwargs)
            wall = time.perf_counter() - start
            d = res.diagnostics
            est = res.cells.set_index(GROUPS)["estimate"]
            rmse = float(np.sqrt(((est - truth.reindex(est.index)) ** 2).mean()))
            post = wall - d.compile_s - d.sample_s
            print(
                f"{model:5} {sampler:7} {args.chains:>6} {d.compile_s:>9.1f} {d.sample_s:>8.1f} "
                f"{post:>6.1f} {wall:>7.1f} {d.min_ess_bulk:>12.0f} {d.min_ess_tail:>12.0f} "
                f"{d.max_rhat:>9.4f} {d.n_divergences:>4} {d.ess_per_second:>7.0f} {rmse:>6.3f}  "
                f"{d.worst_ess_bulk}; converged={d.trustworthy}",
                flush=True,
            )
            if d.trustworthy:
                converged.append((wall, model, sampler))
    if converged:
        wall, model, sampler = min(converged)
        print(f"fastest converged fit: {model} with {sampler}, {wall:.1f} s wall")
    else:
        print("no fit converged (R-hat <= 1.01, ESS >= 400, no divergences)")


if __name__ == "__main__":
    main()
