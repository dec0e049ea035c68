"""Calibration of the small-area models against a known truth (callable from a notebook).

Fits a model to many simulated waves and checks, against the truth each simulation keeps,

* the coverage of the 90 % (and 95 %) posterior intervals of the cell means (should be near
  nominal: 85-95 % for the 90 % interval), and
* the mean squared error of the posterior means against that of the direct estimates (the model
  should win: that is the point of borrowing strength).

Data come from :func:`meting.sae.simulate.simulate_survey` (``source="simulate"``: exactly the
model's structure) or from ``meting.synthetic.generate_national`` (``source="synthetic"``: the
project's generator, rounded 1-10 marks, so the normal model is only approximately right).

Example
-------
>>> from meting.sae.calibration import run_calibration
>>> result = run_calibration(n_datasets=20, seed=2008)  # doctest: +SKIP
>>> result.summary()  # doctest: +SKIP
>>> result.plot(Path("build/sae_calibration"))  # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from meting.columns import LIFE_EVENT, MUNICIPALITY
from meting.errors import ParameterError
from meting.sae.api import fit_area_level, fit_unit_level
from meting.sae.data import direct_from_statistics, smooth_variances, sufficient_statistics
from meting.sae.simulate import SimulatedSurvey, from_synthetic_wave, simulate_survey
from meting.sae.spec import SampleSettings

GROUPS = [LIFE_EVENT, MUNICIPALITY]


@dataclass(frozen=True)
class CalibrationResult:
    """Per-cell results of all data sets and a per-data-set summary."""

    cells: pd.DataFrame
    per_dataset: pd.DataFrame
    model: str
    source: str

    @property
    def coverage90(self) -> float:
        """Share of cells (all data sets) whose 90 % interval holds the true mean."""
        return float(self.cells["covered90"].mean())

    @property
    def coverage95(self) -> float:
        return float(self.cells["covered95"].mean())

    @property
    def mse_model(self) -> float:
        """MSE of the posterior means over cells with a direct estimate (n >= 2)."""
        has = self.cells["n"] >= 2
        return float(((self.cells.loc[has, "estimate"] - self.cells.loc[has, "truth"]) ** 2).mean())

    @property
    def mse_direct(self) -> float:
        """MSE of the direct estimates (cell sample means) over the same cells."""
        has = self.cells["n"] >= 2
        return float(((self.cells.loc[has, "direct"] - self.cells.loc[has, "truth"]) ** 2).mean())

    def by_size(self) -> pd.DataFrame:
        """Coverage and MSE by cell size class."""
        bins = [-1, 0, 1, 5, 20, 100, np.inf]
        labels = ["0", "1", "2-5", "6-20", "21-100", ">100"]
        size = pd.cut(self.cells["n"], bins=bins, labels=labels)
        frame = self.cells.assign(
            size=size,
            se_model=(self.cells["estimate"] - self.cells["truth"]) ** 2,
            se_direct=(self.cells["direct"] - self.cells["truth"]) ** 2,
        )
        out = frame.groupby("size", observed=True).agg(
            cells=("truth", "size"),
            coverage90=("covered90", "mean"),
            coverage95=("covered95", "mean"),
            mse_model=("se_model", "mean"),
            mse_direct=("se_direct", "mean"),
        )
        return out.reset_index()

    def summary(self) -> pd.DataFrame:
        """One row of headline figures."""
        return pd.DataFrame(
            {
                "model": [self.model],
                "source": [self.source],
                "datasets": [len(self.per_dataset)],
                "cells": [len(self.cells)],
                "coverage90": [self.coverage90],
                "coverage95": [self.coverage95],
                "mse_model": [self.mse_model],
                "mse_direct": [self.mse_direct],
                "mse_ratio": [self.mse_model / self.mse_direct],
                "all_trustworthy": [bool(self.per_dataset["trustworthy"].all())],
            }
        )

    def plot(self, out_dir: Path) -> list[Path]:
        """Write the calibration figures (PNG) to ``out_dir``; return their paths."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        paths: list[Path] = []
        fig, ax = plt.subplots(figsize=(7, 3.5))
        ax.bar(self.per_dataset["dataset"], self.per_dataset["coverage90"], color="#4477aa")
        ax.axhline(0.9, color="black", lw=1)
        ax.axhspan(0.85, 0.95, color="grey", alpha=0.2)
        ax.set_xlabel("synthetische dataset")
        ax.set_ylabel("dekking 90%-interval")
        ax.set_ylim(0.6, 1.0)
        ax.set_title(f"Dekking per dataset ({self.model}, totaal {self.coverage90:.1%})")
        fig.tight_layout()
        paths.append(out_dir / f"coverage_{self.model}.png")
        fig.savefig(paths[-1], dpi=120)
        plt.close(fig)

        table = self.by_size()
        fig, axes = plt.subplots(1, 2, figsize=(9, 3.5))
        x = np.arange(len(table))
        axes[0].bar(x - 0.2, table["mse_direct"], 0.4, label="directe schatting", color="#cc6677")
        axes[0].bar(x + 0.2, table["mse_model"], 0.4, label="model", color="#4477aa")
        axes[0].set_xticks(x, table["size"].astype(str))
        axes[0].set_yscale("log")
        axes[0].set_xlabel("respondenten in de cel")
        axes[0].set_ylabel("MSE")
        axes[0].legend()
        axes[1].plot(x, table["coverage90"], "o-", label="90%")
        axes[1].plot(x, table["coverage95"], "s-", label="95%")
        axes[1].axhline(0.9, color="black", lw=0.8)
        axes[1].axhline(0.95, color="black", lw=0.8, ls=":")
        axes[1].set_xticks(x, table["size"].astype(str))
        axes[1].set_ylim(0.6, 1.0)
        axes[1].set_xlabel("respondenten in de cel")
        axes[1].set_ylabel("dekking")
        axes[1].legend()
        fig.tight_layout()
        paths.append(out_dir / f"by_size_{self.model}.png")
        fig.savefig(paths[-1], dpi=120)
        plt.close(fig)
        return paths


def _dataset(
    source: str, seed: int, n_municipalities: int, n_events: int, respondents: int, model: str
) -> SimulatedSurvey:
    if source == "synthetic":
        from meting.synthetic import generate_national

        wave = generate_national(
            seed=seed,
            n_municipalities=n_municipalities,
            n_life_events=n_events,
            n_respondents=respondents,
        )
        return from_synthetic_wave(wave)
    # without MRP the direct estimates must be unbiased for the truth: no strata effects then
    strata_effects = model == "mrp"
    return simulate_survey(
        seed,
        n_municipalities=n_municipalities,
        n_events=n_events,
        respondents=respondents,
        age_effects=(-0.2, -0.1, 0.05, 0.25) if strata_effects else (0.0,) * 4,
        sex_effects=(0.05, -0.05) if strata_effects else (0.0, 0.0),
    )


def _one_dataset(
    i: int,
    seed: int,
    model: str,
    source: str,
    n_municipalities: int,
    n_events: int,
    respondents: int,
    sampler: Literal["nutpie", "pymc"],
    chains: int,
    draws: int,
    tune: int,
) -> tuple[pd.DataFrame, dict[str, object]]:
    """Simulate data set ``i``, fit ``model`` and compare with its truth (one task)."""
    data = _dataset(source, seed + i, n_municipalities, n_events, respondents, model)
    sampling = SampleSettings(
        sampler=sampler, chains=chains, draws=draws, tune=tune, random_seed=seed + i
    )
    stats = sufficient_statistics(data.respondents, "score", GROUPS)
    if model == "area":
        direct = smooth_variances(direct_from_statistics(stats, GROUPS))
        cells = data.truth[GROUPS].merge(direct, on=GROUPS, how="left")
        cells = cells.assign(n=cells["n"].fillna(0).astype(np.int64))
        result = fit_area_level(cells, "estimate", "se_smoothed", GROUPS, sampling=sampling)
    elif model == "unit":
        full = data.truth[GROUPS].merge(stats, on=GROUPS, how="left")
        full = full.assign(n=full["n"].fillna(0).astype(np.int64))
        result = fit_unit_level(full, GROUPS, sampling=sampling)
    else:
        strata_stats = sufficient_statistics(
            data.respondents, "score", [*GROUPS, "age_band", "sex"]
        )
        result = fit_unit_level(strata_stats, GROUPS, population=data.population, sampling=sampling)
    table = result.cells.merge(data.truth[[*GROUPS, "true_mean"]], on=GROUPS, how="left")
    truth = table["true_mean"].to_numpy(dtype=float)
    direct_values = table["direct"].to_numpy(dtype=float)
    n = table["n"].to_numpy(dtype=float)
    frame = pd.DataFrame(
        {
            "dataset": i,
            LIFE_EVENT: table[LIFE_EVENT],
            MUNICIPALITY: table[MUNICIPALITY],
            "n": n,
            "truth": truth,
            "estimate": table["estimate"],
            "direct": np.where(n >= 2, direct_values, np.nan),
            "covered90": (table["lower_90"] <= truth) & (truth <= table["upper_90"]),
            "covered95": (table["lower"] <= truth) & (truth <= table["upper"]),
        }
    )
    has = n >= 2
    d = result.diagnostics
    row: dict[str, object] = {
        "dataset": i,
        "seed": seed + i,
        "cells": len(frame),
        "coverage90": float(frame["covered90"].mean()),
        "mse_model": float(((frame["estimate"] - truth)[has] ** 2).mean()),
        "mse_direct": float(((direct_values - truth)[has] ** 2).mean()),
        "trustworthy": d.trustworthy,
        "max_rhat": d.max_rhat,
        "min_ess_bulk": d.min_ess_bulk,
        "divergences": d.n_divergences,
        "seconds": d.total_s,
    }
    return frame, row


def run_calibration(
    n_datasets: int = 20,
    *,
    seed: int = 2008,
    model: Literal["area", "unit", "mrp"] = "area",
    source: Literal["simulate", "synthetic"] = "simulate",
    n_municipalities: int = 40,
    n_events: int = 8,
    respondents: int = 3000,
    sampler: Literal["nutpie", "pymc"] = "nutpie",
    chains: int = 4,
    draws: int = 1000,
    tune: int = 1000,
    client: Any = None,
) -> CalibrationResult:
    """Fit ``model`` to ``n_datasets`` simulated waves and compare with their truth.

    Data set ``i`` uses seed ``seed + i`` for the simulation and for the sampler. With a Dask
    ``client`` (:func:`meting.report.distributed.connect`) every data set is a task on its workers;
    the results are the same, in the same order.
    """
    if model not in ("area", "unit", "mrp"):
        raise ParameterError(f"model must be 'area', 'unit' or 'mrp'; got {model!r}.")
    if source not in ("simulate", "synthetic"):
        raise ParameterError(f"source must be 'simulate' or 'synthetic'; got {source!r}.")
    if n_datasets < 1:
        raise ParameterError(f"n_datasets must be >= 1; got {n_datasets}.")
    args = (
        seed,
        model,
        source,
        n_municipalities,
        n_events,
        respondents,
        sampler,
        chains,
        draws,
        tune,
    )
    if client is None:
        done = [_one_dataset(i, *args) for i in range(n_datasets)]
    else:  # one task per data set, on the client's workers (a local or an external cluster)
        futures = [
            client.submit(_one_dataset, i, *args, key=f"calibration-{model}-{seed + i}", pure=False)
            for i in range(n_datasets)
        ]
        done = client.gather(futures)
    frames = [frame for frame, _ in done]
    rows = [row for _, row in done]
    return CalibrationResult(
        pd.concat(frames, ignore_index=True), pd.DataFrame(rows), model, source
    )


def main(argv: list[str] | None = None) -> int:
    """``python -m meting.sae.calibration``: run the calibration, print and write the figures."""
    import argparse
    import logging
    import warnings

    parser = argparse.ArgumentParser(
        prog="python -m meting.sae.calibration",
        description="Simulation-based calibration of the small-area models against the truth.",
    )
    parser.add_argument("--datasets", type=int, default=20)
    parser.add_argument("--seed", type=int, default=2008)
    parser.add_argument("--models", nargs="+", default=["area", "mrp"])
    parser.add_argument("--source", choices=["simulate", "synthetic"], default="simulate")
    parser.add_argument("--municipalities", type=int, default=40)
    parser.add_argument("--events", type=int, default=8)
    parser.add_argument("--respondents", type=int, default=3000)
    parser.add_argument("--sampler", choices=["nutpie", "pymc"], default="nutpie")
    parser.add_argument("--out", type=Path, default=None, help="folder for CSV files and figures")
    parser.add_argument(
        "--scheduler",
        default=None,
        metavar="tcp://HOST:PORT",
        help="run the data sets on this Dask scheduler (default: $DASK_SCHEDULER_ADDRESS)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=0,
        help="without a scheduler: a local Dask cluster of this many workers (0: in this process)",
    )
    args = parser.parse_args(argv)
    from contextlib import nullcontext

    from meting.report.distributed import connect, scheduler_address

    address = scheduler_address(args.scheduler)
    if address is None and args.workers == 0:
        pool: Any = nullcontext(None)
    else:
        pool = connect(address, max(1, args.workers), processes=True)
    warnings.filterwarnings("ignore", category=FutureWarning)
    logging.getLogger("pymc").setLevel(logging.ERROR)
    summaries: list[pd.DataFrame] = []
    with pool as client:
        _main_models(args, client, summaries)
    if args.out is not None:
        pd.concat(summaries).to_csv(Path(args.out) / f"summary_{args.source}.csv", index=False)
    return 0


def _main_models(args: Any, client: Any, summaries: list[pd.DataFrame]) -> None:
    import time

    for model in args.models:
        start = time.perf_counter()
        result = run_calibration(
            args.datasets,
            seed=args.seed,
            model=model,
            source=args.source,
            n_municipalities=args.municipalities,
            n_events=args.events,
            respondents=args.respondents,
            sampler=args.sampler,
            client=client,
        )
        summary = result.summary().assign(seconds=round(time.perf_counter() - start, 1))
        summaries.append(summary)
        with pd.option_context("display.width", 160, "display.max_columns", 20):
            print(summary.to_string(index=False))
            print(result.by_size().to_string(index=False), flush=True)
        if args.out is not None:
            out = Path(args.out)
            out.mkdir(parents=True, exist_ok=True)
            stem = f"{model}_{args.source}"
            result.per_dataset.to_csv(out / f"per_dataset_{stem}.csv", index=False)
            result.by_size().to_csv(out / f"by_size_{stem}.csv", index=False)
            result.plot(out)


if __name__ == "__main__":
    raise SystemExit(main())
