"""Which wave structure for the linked model: compound symmetry or AR(1), by calibration.

Over simulated sets of linked waves (the issue's 14 life events x 30 municipalities x 3 waves,
about 6,800 respondents in all) from two generators,

* ``compound``: :func:`meting.sae.simulate.simulate_linked_waves` as it is (a persistent cell
  effect, sd 0.3, plus independent wave deviations, sd 0.08), and
* ``ar1``: the same with an AR(1) cell effect (``cell_rho``, default 0.8, sd 0.3, no extra
  deviations),

this fits both structures of the linked Fay-Herriot model (``Priors(wave_structure=...)``:
:mod:`meting.sae.linked_model` and :mod:`meting.sae.linked_ar1`) to the *same* data sets and
checks them against the truth: the coverage of the 90 % intervals of the cell means and of the
changes first -> last wave, the RMSE of those changes and the mean width of their intervals,
overall and by cell size (as :mod:`meting.sae.calibration_linked`), and the seconds per fit.

Run: ``python -m meting.sae.calibration_structure --datasets 20 --out
benchmarks/results/sae_calibration`` (writes ``linked_structure.txt`` and CSV files).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from meting.errors import ParameterError
from meting.sae.api import fit_area_level
from meting.sae.calibration_linked import (
    GROUPS,
    SIZE_BINS,
    SIZE_LABELS,
    WAVE,
    _covered,
    _grid_cells,
)
from meting.sae.simulate import simulate_linked_waves
from meting.sae.spec import WAVE_STRUCTURES, Priors, SampleSettings

Generator = Literal["compound", "ar1"]
GENERATORS: tuple[str, ...] = ("compound", "ar1")


def _ordered(frame: pd.DataFrame) -> pd.DataFrame:
    """Generator and structure as ordered categories (compound first), for the tables."""
    return frame.assign(
        generator=pd.Categorical(frame["generator"], categories=list(GENERATORS)),
        structure=pd.Categorical(frame["structure"], categories=list(WAVE_STRUCTURES)),
    )


@dataclass(frozen=True)
class StructureCalibration:
    """Per cell-wave (``cells``), per cell change (``changes``) and per fit (``fits``) results,
    each with the ``generator`` and ``structure`` columns."""

    cells: pd.DataFrame
    changes: pd.DataFrame
    fits: pd.DataFrame

    def summary(self) -> pd.DataFrame:
        """One row per generator x structure."""
        keys = ["generator", "structure"]
        c = _ordered(self.cells).assign(se2=(self.cells["estimate"] - self.cells["truth"]) ** 2)
        d = _ordered(self.changes).assign(
            se2=(self.changes["estimate"] - self.changes["truth"]) ** 2
        )
        cells = c.groupby(keys, observed=True).agg(
            cells_coverage90=("covered90", "mean"), cells_mse=("se2", "mean")
        )
        changes = d.groupby(keys, observed=True).agg(
            change_coverage90=("covered90", "mean"),
            change_coverage95=("covered95", "mean"),
            change_mse=("se2", "mean"),
            change_width90=("width90", "mean"),
        )
        fits = (
            _ordered(self.fits)
            .groupby(keys, observed=True)
            .agg(
                datasets=("dataset", "size"),
                trustworthy=("trustworthy", "mean"),
                divergences=("divergences", "sum"),
                max_rhat=("max_rhat", "max"),
                seconds_median=("seconds", "median"),
                rho_mean=("rho", "mean"),
            )
        )
        out = cells.join(changes).join(fits)
        out["cells_rmse"] = np.sqrt(out.pop("cells_mse"))
        out["change_rmse"] = np.sqrt(out.pop("change_mse"))
        return out.reset_index()[
            [
                *keys,
                "datasets",
                "cells_coverage90",
                "cells_rmse",
                "change_coverage90",
                "change_coverage95",
                "change_rmse",
                "change_width90",
                "trustworthy",
                "divergences",
                "max_rhat",
                "seconds_median",
                "rho_mean",
            ]
        ]

    def by_size(self) -> pd.DataFrame:
        """Coverage of the 90 % intervals and RMSE by cell size: the cell-wave's respondents for
        the cell means, the smaller of the two waves' respondents for a change."""
        out = []
        keys = ["generator", "structure"]
        for what, frame, n in (
            ("cell", self.cells, self.cells["n"]),
            ("change", self.changes, np.fmin(self.changes["n_from"], self.changes["n_to"])),
        ):
            table = _ordered(frame).assign(
                size=pd.cut(n, bins=SIZE_BINS, labels=SIZE_LABELS),
                se2=(frame["estimate"] - frame["truth"]) ** 2,
            )
            agg = table.groupby([*keys, "size"], observed=True).agg(
                rows=("truth", "size"), coverage90=("covered90", "mean"), mse=("se2", "mean")
            )
            agg["rmse"] = np.sqrt(agg.pop("mse"))
            out.append(agg.reset_index().assign(quantity=what))
        table = pd.concat(out, ignore_index=True)
        return table[["quantity", *keys, "size", "rows", "coverage90", "rmse"]]

    def text(self) -> str:
        """The tables as aligned text (decimal points; the figures are for the record)."""
        summary = self.summary()
        lines = ["Linked model: compound symmetry vs AR(1) cell effect, by generator", ""]
        with pd.option_context("display.width", 200, "display.max_columns", 30):
            lines.append(summary.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
            lines.append("")
            wide = self.by_size().pivot_table(
                index=["quantity", "generator", "size"],
                columns="structure",
                values=["coverage90", "rmse"],
                observed=True,
            )
            wide.columns = ["_".join(map(str, pair)) for pair in wide.columns.to_list()]
            rows = self.by_size().drop_duplicates(["quantity", "generator", "size"])
            wide = wide.join(rows.set_index(["quantity", "generator", "size"])["rows"])
            lines.append("By cell size (respondents; change: the smaller of the two waves):")
            lines.append(wide.to_string(float_format=lambda v: f"{v:.3f}"))
        return "\n".join(lines) + "\n"


def _simulate(generator: Generator, seed: int, cell_rho: float, **kwargs):
    if generator == "compound":
        return simulate_linked_waves(seed, **kwargs)
    return simulate_linked_waves(seed, cell_rho=cell_rho, sd_deviation=0.0, **kwargs)


def run_structure_calibration(
    n_datasets: int = 20,
    *,
    generator: Generator = "compound",
    structures: tuple[str, ...] = WAVE_STRUCTURES,
    seed: int = 2008,
    cell_rho: float = 0.8,
    n_municipalities: int = 30,
    n_events: int = 14,
    respondents_per_wave: float = 6_800 / 3,
    chains: int = 4,
    draws: int = 1000,
    tune: int = 1000,
    log: bool = True,
) -> StructureCalibration:
    """Fit every structure to ``n_datasets`` data sets of one generator (data set ``i``: seed
    ``seed + i`` for the simulation and the samplers)."""
    if generator not in GENERATORS:
        raise ParameterError(f"generator must be one of {list(GENERATORS)}; got {generator!r}.")
    unknown = sorted(set(structures) - set(WAVE_STRUCTURES))
    if unknown or not structures:
        raise ParameterError(
            f"structures must be some of {list(WAVE_STRUCTURES)}; got {list(structures)}."
        )
    if n_datasets < 1:
        raise ParameterError(f"n_datasets must be >= 1; got {n_datasets}.")
    cell_frames, change_frames, fits = [], [], []
    for i in range(n_datasets):
        sim = _simulate(
            generator,
            seed + i,
            cell_rho,
            n_municipalities=n_municipalities,
            n_events=n_events,
            respondents_per_wave=respondents_per_wave,
        )
        cells = _grid_cells(sim)
        waves = sorted(sim.truth[WAVE].unique())
        first, last = waves[0], waves[-1]
        true_wide = sim.truth.pivot_table(index=GROUPS, columns=WAVE, values="true_mean")
        true_change = (true_wide[last] - true_wide[first]).rename("truth").reset_index()
        sampling = SampleSettings(chains=chains, draws=draws, tune=tune, random_seed=seed + i)
        for structure in structures:
            start = time.perf_counter()
            fit = fit_area_level(
                cells,
                "estimate",
                "se_smoothed",
                GROUPS,
                wave=WAVE,
                priors=Priors(wave_structure=structure),  # type: ignore[arg-type]
                sampling=sampling,
            )
            seconds = time.perf_counter() - start
            tag = {"generator": generator, "structure": structure, "dataset": i}
            keyed = fit.cells.merge(sim.truth, on=[*GROUPS, WAVE], how="left")
            truth = keyed["true_mean"].to_numpy(dtype=float)
            cell_frames.append(
                pd.DataFrame(
                    {
                        **tag,
                        "n": keyed["n"].to_numpy(dtype=float),
                        "truth": truth,
                        "estimate": keyed["estimate"].to_numpy(),
                        "covered90": _covered(keyed["lower_90"], keyed["upper_90"], truth),
                    }
                )
            )
            change = fit.change(first, last).merge(true_change, on=GROUPS, how="left")
            t = change["truth"].to_numpy(dtype=float)
            change_frames.append(
                pd.DataFrame(
                    {
                        **tag,
                        "n_from": change["n_earlier"].to_numpy(dtype=float),
                        "n_to": change["n_later"].to_numpy(dtype=float),
                        "truth": t,
                        "estimate": change["estimate"].to_numpy(),
                        "width90": (change["upper_90"] - change["lower_90"]).to_numpy(),
                        "covered90": _covered(change["lower_90"], change["upper_90"], t),
                        "covered95": _covered(change["lower"], change["upper"], t),
                    }
                )
            )
            post = fit.idata.posterior  # type: ignore[attr-defined]
            d = fit.diagnostics
            fits.append(
                {
                    **tag,
                    "seed": seed + i,
                    "cells_coverage90": float(cell_frames[-1]["covered90"].mean()),
                    "change_coverage90": float(change_frames[-1]["covered90"].mean()),
                    "change_rmse": float(np.sqrt(np.mean((change["estimate"] - t) ** 2))),
                    "sd_cell": float(post["sd_cell"].mean()),
                    "sd_wave": float(post["sd_wave"].mean()) if "sd_wave" in post else np.nan,
                    "rho": float(post["rho"].mean()) if "rho" in post else np.nan,
                    "trustworthy": d.trustworthy,
                    "max_rhat": d.max_rhat,
                    "min_ess_bulk": d.min_ess_bulk,
                    "min_ess_tail": d.min_ess_tail,
                    "divergences": d.n_divergences,
                    "seconds": seconds,
                }
            )
            if log:
                row = pd.DataFrame([fits[-1]])
                print(
                    row.to_string(index=False, header=(len(fits) == 1), float_format="%.3f"),
                    flush=True,
                )
    return StructureCalibration(
        pd.concat(cell_frames, ignore_index=True),
        pd.concat(change_frames, ignore_index=True),
        pd.DataFrame(fits),
    )


def combine(results: list[StructureCalibration]) -> StructureCalibration:
    """One calibration of several (e.g. one per generator)."""
    return StructureCalibration(
        pd.concat([r.cells for r in results], ignore_index=True),
        pd.concat([r.changes for r in results], ignore_index=True),
        pd.concat([r.fits for r in results], ignore_index=True),
    )


def _write(path: Path, text: str) -> None:
    """Write atomically (temporary file, then rename)."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def main(argv: list[str] | None = None) -> int:
    """``python -m meting.sae.calibration_structure``: run both generators, print and write."""
    import argparse
    import logging
    import warnings

    parser = argparse.ArgumentParser(
        prog="python -m meting.sae.calibration_structure",
        description="Compound symmetry vs AR(1) cell effect of the linked small-area model.",
    )
    parser.add_argument("--datasets", type=int, default=20)
    parser.add_argument("--seed", type=int, default=2008)
    parser.add_argument("--generators", nargs="+", default=list(GENERATORS))
    parser.add_argument("--cell-rho", type=float, default=0.8)
    parser.add_argument("--chains", type=int, default=4)
    parser.add_argument("--draws", type=int, default=1000)
    parser.add_argument("--tune", type=int, default=1000)
    parser.add_argument("--out", type=Path, default=None, help="folder for the text and CSV files")
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", message=".*could not link to a BLAS.*")
    logging.getLogger("pymc").setLevel(logging.ERROR)
    start = time.perf_counter()
    results = []
    for generator in args.generators:
        results.append(
            run_structure_calibration(
                args.datasets,
                generator=generator,
                seed=args.seed,
                cell_rho=args.cell_rho,
                chains=args.chains,
                draws=args.draws,
                tune=args.tune,
            )
        )
    result = combine(results)
    text = result.text() + (
        f"\n{args.datasets} data sets per generator (seeds {args.seed}-"
        f"{args.seed + args.datasets - 1}), AR(1) generator rho = {args.cell_rho}, "
        f"{args.chains} chains x {args.draws} draws ({args.tune} tuning), "
        f"{time.perf_counter() - start:.0f} s in all.\n"
    )
    print(text, flush=True)
    if args.out is not None:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        _write(out / "linked_structure.txt", text)
        _write(out / "linked_structure_summary.csv", result.summary().to_csv(index=False))
        _write(out / "linked_structure_by_size.csv", result.by_size().to_csv(index=False))
        _write(out / "linked_structure_per_fit.csv", result.fits.to_csv(index=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
