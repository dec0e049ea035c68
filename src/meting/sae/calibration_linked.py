"""Calibration of the model linked across waves against a known truth.

Over simulated sets of linked waves (:func:`meting.sae.simulate.simulate_linked_waves`: by default
the issue's 14 life events x 30 municipalities x 3 waves, a persistent cell effect plus small
wave-to-wave deviations, about 6,800 respondents in all) this fits

* the linked model (``fit_area_level(..., wave=)`` or ``fit_unit_level(..., wave=)``), and
* independent single-wave Fay-Herriot fits per wave (the change as the difference of two fits),

and checks against the truth: the coverage of the 90 % and 95 % intervals of the cell means and of
the changes first -> last wave (goal 85-95 % for 90 %), and the RMSE of the changes (goal: the
linked model below the independent fits), overall and by cell size.

Run: ``python -m meting.sae.calibration_linked --datasets 20 --out
benchmarks/results/sae_calibration``.
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
from meting.sae.data import CellIndex, direct_from_statistics, smooth_variances
from meting.sae.simulate import SimulatedWaves, simulate_linked_waves
from meting.sae.spec import ModelSpec, SampleSettings

GROUPS = [LIFE_EVENT, MUNICIPALITY]
WAVE = "wave"
SIZE_BINS = [-1, 0, 2, 5, 10, 20, np.inf]
SIZE_LABELS = ["0", "1-2", "3-5", "6-10", "11-20", ">20"]


def _covered(lower: Any, upper: Any, truth: np.ndarray) -> np.ndarray:
    return (lower <= truth) & (truth <= upper)


@dataclass(frozen=True)
class LinkedCalibration:
    """Per cell-wave (``cells``) and per cell change (``changes``) results of all data sets."""

    cells: pd.DataFrame
    changes: pd.DataFrame
    per_dataset: pd.DataFrame
    model: str

    def summary(self) -> pd.DataFrame:
        """One row of headline figures."""
        c, d = self.cells, self.changes
        return pd.DataFrame(
            {
                "model": [self.model],
                "datasets": [len(self.per_dataset)],
                "cell_waves": [len(c)],
                "cells_coverage90": [c["covered90"].mean()],
                "cells_coverage95": [c["covered95"].mean()],
                "cells_rmse": [np.sqrt(((c["estimate"] - c["truth"]) ** 2).mean())],
                "cells_rmse_independent": [np.sqrt(((c["independent"] - c["truth"]) ** 2).mean())],
                "change_coverage90": [d["covered90"].mean()],
                "change_coverage95": [d["covered95"].mean()],
                "change_rmse": [np.sqrt(((d["estimate"] - d["truth"]) ** 2).mean())],
                "change_rmse_independent": [np.sqrt(((d["independent"] - d["truth"]) ** 2).mean())],
                "change_coverage90_independent": [d["covered90_independent"].mean()],
                "all_trustworthy": [bool(self.per_dataset["trustworthy"].all())],
                "linked_seconds_median": [float(self.per_dataset["seconds"].median())],
            }
        )

    def by_size(self) -> pd.DataFrame:
        """Coverage and RMSE by cell size: the cell-wave's respondents for the cell means, the
        smaller of the two waves' respondents for a change."""
        out = []
        for what, frame, n in (
            ("cell", self.cells, self.cells["n"]),
            ("change", self.changes, np.fmin(self.changes["n_from"], self.changes["n_to"])),
        ):
            size = pd.cut(n, bins=SIZE_BINS, labels=SIZE_LABELS)
            table = frame.assign(
                size=size,
                se_linked=(frame["estimate"] - frame["truth"]) ** 2,
                se_independent=(frame["independent"] - frame["truth"]) ** 2,
            )
            agg = table.groupby("size", observed=True).agg(
                rows=("truth", "size"),
                coverage90=("covered90", "mean"),
                coverage95=("covered95", "mean"),
                mse_linked=("se_linked", "mean"),
                mse_independent=("se_independent", "mean"),
            )
            agg["rmse_linked"] = np.sqrt(agg.pop("mse_linked"))
            agg["rmse_independent"] = np.sqrt(agg.pop("mse_independent"))
            out.append(agg.reset_index().assign(quantity=what))
        return pd.concat(out, ignore_index=True)[
            [
                "quantity",
                "size",
                "rows",
                "coverage90",
                "coverage95",
                "rmse_linked",
                "rmse_independent",
            ]
        ]

    def plot(self, out_dir: Path) -> list[Path]:
        """Coverage and RMSE by cell size for cell means and changes (PNG)."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        table = self.by_size()
        fig, axes = plt.subplots(2, 2, figsize=(10, 6.5))
        for row, what in enumerate(("cell", "change")):
            part = table[table["quantity"] == what]
            x = np.arange(len(part))
            ax = axes[row, 0]
            ax.plot(x, part["coverage90"], "o-", label="90%")
            ax.plot(x, part["coverage95"], "s-", label="95%")
            ax.axhspan(0.85, 0.95, color="grey", alpha=0.2)
            ax.axhline(0.95, color="black", lw=0.8, ls=":")
            ax.set_xticks(x, part["size"].astype(str))
            ax.set_ylim(0.6, 1.0)
            ax.set_ylabel("dekking")
            ax.set_title("celgemiddelden" if what == "cell" else "verandering eerste - laatste")
            ax.legend()
            ax = axes[row, 1]
            ax.bar(x - 0.2, part["rmse_independent"], 0.4, label="los per meting", color="#cc6677")
            ax.bar(x + 0.2, part["rmse_linked"], 0.4, label="gekoppeld model", color="#4477aa")
            ax.set_xticks(x, part["size"].astype(str))
            ax.set_ylabel("RMSE")
            ax.legend()
        for ax in axes[1]:
            ax.set_xlabel("respondenten in de cel (verandering: kleinste van de twee metingen)")
        fig.tight_layout()
        path = out_dir / f"linked_by_size_{self.model}.png"
        fig.savefig(path, dpi=120)
        plt.close(fig)
        return [path]


def _independent_model(spec: ModelSpec, index: CellIndex, y: np.ndarray, v: np.ndarray):
    """The single-wave Fay-Herriot model of :func:`meting.sae.model.build_area_model` (cell
    effects integrated out, the same priors and parameterisation) with its data in ``pm.Data``
    and the observed cells as a mask, so that nutpie compiles it once for all waves and data sets
    of one grid (``build_area_model`` has the observed cells in its graph)."""
    import pymc as pm
    import pytensor.tensor as pt

    from meting.sae.model import _cell_predictor, _coords

    mask = np.isfinite(y)
    with pm.Model(coords=_coords(index, [])) as model:
        y0 = pm.Data("y0", np.where(mask, y, 0.0), dims="cell")
        var = pm.Data("variance", np.where(mask, v, 1.0), dims="cell")
        m = pm.Data("mask", mask.astype(float), dims="cell")
        eta, sd_cell = _cell_predictor(spec, index, np.zeros((0, 0)), [])
        assert sd_cell is not None  # two groups: a cell effect
        pm.Deterministic("eta", eta, dims="cell")
        total = var + sd_cell**2
        logp = -0.5 * (pt.log(2 * np.pi * total) + (y0 - eta) ** 2 / total)
        pm.Potential("direct", (m * logp).sum())
    return model


def _independent_fit(
    cells: pd.DataFrame, wave: str, sampling: SampleSettings
) -> tuple[pd.DataFrame, np.ndarray]:
    """One wave fitted on its own; the cells (group columns, estimate) and the draws."""
    from meting.sae.conditional import draw_cell_means
    from meting.sae.data import build_index
    from meting.sae.fit import sample_model

    one = cells[cells[WAVE] == wave].reset_index(drop=True)
    index, row_cell = build_index(one, GROUPS, "cells")
    order = np.argsort(row_cell)
    y = one["estimate"].to_numpy(dtype=float)[order]
    v = one["se_smoothed"].to_numpy(dtype=float)[order] ** 2
    spec = ModelSpec(kind="area", groups=tuple(GROUPS))
    mask = np.isfinite(y)
    data = {
        "y0": np.where(mask, y, 0.0),
        "variance": np.where(mask, v, 1.0),
        "mask": mask.astype(float),
    }
    key = "calibration-independent|" + "|".join(index.labels)
    idata, _, _ = sample_model(_independent_model(spec, index, y, v), sampling, (key, data))
    post = draw_cell_means(
        idata.posterior,  # type: ignore[attr-defined]
        np.where(mask, y, np.nan),
        variance=np.where(mask, v, 1.0),
        random_seed=sampling.random_seed,
    )
    draws = post["theta"].stack(sample=("chain", "draw")).transpose("sample", "cell").to_numpy()
    table = index.table.assign(estimate=draws.mean(axis=0))
    return table, draws


def _grid_cells(sim: SimulatedWaves) -> pd.DataFrame:
    keys = [*GROUPS, WAVE]
    direct = smooth_variances(direct_from_statistics(sim.stats, keys), pool_by=[WAVE])
    cells = sim.truth[keys].merge(direct, on=keys, how="left")
    return cells.assign(n=cells["n"].fillna(0).astype(np.int64))


def run_linked_calibration(
    n_datasets: int = 20,
    *,
    seed: int = 2008,
    model: Literal["area", "unit"] = "area",
    n_municipalities: int = 30,
    n_events: int = 14,
    respondents_per_wave: float = 6_800 / 3,
    chains: int = 4,
    draws: int = 1000,
    tune: int = 1000,
) -> LinkedCalibration:
    """Fit the linked model and independent per-wave fits to ``n_datasets`` simulated sets.

    Data set ``i`` uses seed ``seed + i`` for the simulation and the samplers. Both models are
    compiled once by nutpie and sampled on every data set (their data in ``pm.Data``); the
    independent fits are the single-wave Fay-Herriot model of ``fit_area_level``
    (:func:`_independent_model`).
    """
    if model not in ("area", "unit"):
        raise ParameterError(f"model must be 'area' or 'unit'; got {model!r}.")
    if n_datasets < 1:
        raise ParameterError(f"n_datasets must be >= 1; got {n_datasets}.")
    cell_frames, change_frames, rows = [], [], []
    for i in range(n_datasets):
        sim = simulate_linked_waves(
            seed + i,
            n_municipalities=n_municipalities,
            n_events=n_events,
            respondents_per_wave=respondents_per_wave,
        )
        waves = sorted(sim.truth[WAVE].unique())
        sampling = SampleSettings(chains=chains, draws=draws, tune=tune, random_seed=seed + i)
        cells = _grid_cells(sim)
        if model == "area":
            linked = fit_area_level(
                cells, "estimate", "se_smoothed", GROUPS, wave=WAVE, sampling=sampling
            )
        else:
            full = sim.truth[[*GROUPS, WAVE]].merge(sim.stats, on=[*GROUPS, WAVE], how="left")
            full = full.assign(n=full["n"].fillna(0).astype(np.int64))
            linked = fit_unit_level(full, GROUPS, wave=WAVE, sampling=sampling)
        keyed = linked.cells.merge(sim.truth, on=[*GROUPS, WAVE], how="left")
        independent_est, independent_draws = [], {}
        for w in waves:
            table, draws_w = _independent_fit(cells, w, sampling)
            independent_est.append(table.assign(**{WAVE: w}))
            independent_draws[w] = (table[GROUPS].astype(str), draws_w)
        independent = pd.concat(independent_est).rename(columns={"estimate": "independent"})
        keyed = keyed.merge(independent, on=[*GROUPS, WAVE], how="left")
        truth = keyed["true_mean"].to_numpy(dtype=float)
        cell_frames.append(
            pd.DataFrame(
                {
                    "dataset": i,
                    "n": keyed["n"].to_numpy(dtype=float),
                    "truth": truth,
                    "estimate": keyed["estimate"].to_numpy(),
                    "independent": keyed["independent"].to_numpy(),
                    "covered90": _covered(keyed["lower_90"], keyed["upper_90"], truth),
                    "covered95": _covered(keyed["lower"], keyed["upper"], truth),
                }
            )
        )
        first, last = waves[0], waves[-1]
        change = linked.change(first, last)
        true_wide = sim.truth.pivot_table(index=GROUPS, columns=WAVE, values="true_mean")
        true_change = (true_wide[last] - true_wide[first]).rename("truth").reset_index()
        change = change.merge(true_change, on=GROUPS, how="left")
        (keys_a, draws_a), (keys_b, draws_b) = independent_draws[first], independent_draws[last]
        assert keys_a.equals(keys_b)
        diff = draws_b - draws_a  # independent fits: paired draws are draws of the difference
        q = np.quantile(diff, [0.05, 0.95], axis=0)
        ind = keys_a.assign(independent=diff.mean(axis=0), _lo=q[0], _hi=q[1])
        change = change.merge(ind, on=GROUPS, how="left")
        t = change["truth"].to_numpy(dtype=float)
        change_frames.append(
            pd.DataFrame(
                {
                    "dataset": i,
                    "n_from": change["n_earlier"].to_numpy(dtype=float),
                    "n_to": change["n_later"].to_numpy(dtype=float),
                    "truth": t,
                    "estimate": change["estimate"].to_numpy(),
                    "independent": change["independent"].to_numpy(),
                    "covered90": _covered(change["lower_90"], change["upper_90"], t),
                    "covered95": _covered(change["lower"], change["upper"], t),
                    "covered90_independent": _covered(change["_lo"], change["_hi"], t),
                }
            )
        )
        d = linked.diagnostics
        rows.append(
            {
                "dataset": i,
                "seed": seed + i,
                "cells_coverage90": float(cell_frames[-1]["covered90"].mean()),
                "change_coverage90": float(change_frames[-1]["covered90"].mean()),
                "change_rmse": float(np.sqrt(((change["estimate"] - t) ** 2).mean())),
                "change_rmse_independent": float(
                    np.sqrt(((change["independent"] - t) ** 2).mean())
                ),
                "sd_cell": float(linked.idata.posterior["sd_cell"].mean()),  # type: ignore[attr-defined]
                "sd_wave": float(linked.idata.posterior["sd_wave"].mean()),  # type: ignore[attr-defined]
                "trustworthy": d.trustworthy,
                "max_rhat": d.max_rhat,
                "min_ess_bulk": d.min_ess_bulk,
                "min_ess_tail": d.min_ess_tail,
                "divergences": d.n_divergences,
                "seconds": d.total_s,
            }
        )
        print(pd.DataFrame([rows[-1]]).to_string(index=False, header=(i == 0)), flush=True)
    return LinkedCalibration(
        pd.concat(cell_frames, ignore_index=True),
        pd.concat(change_frames, ignore_index=True),
        pd.DataFrame(rows),
        model,
    )


def main(argv: list[str] | None = None) -> int:
    """``python -m meting.sae.calibration_linked``: run, print and write the figures."""
    import argparse
    import logging
    import time
    import warnings

    parser = argparse.ArgumentParser(
        prog="python -m meting.sae.calibration_linked",
        description="Calibration of the small-area model linked across waves.",
    )
    parser.add_argument("--datasets", type=int, default=20)
    parser.add_argument("--seed", type=int, default=2008)
    parser.add_argument("--models", nargs="+", default=["area"])
    parser.add_argument("--draws", type=int, default=1000)
    parser.add_argument("--tune", type=int, default=1000)
    parser.add_argument("--out", type=Path, default=None, help="folder for CSV files and figures")
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", message=".*could not link to a BLAS.*")
    logging.getLogger("pymc").setLevel(logging.ERROR)
    for model in args.models:
        start = time.perf_counter()
        result = run_linked_calibration(
            args.datasets, seed=args.seed, model=model, draws=args.draws, tune=args.tune
        )
        summary = result.summary().assign(seconds=round(time.perf_counter() - start, 1))
        with pd.option_context("display.width", 200, "display.max_columns", 30):
            print(summary.T.to_string(header=False))
            print(result.by_size().to_string(index=False), flush=True)
        if args.out is not None:
            out = Path(args.out)
            out.mkdir(parents=True, exist_ok=True)
            result.per_dataset.to_csv(out / f"linked_per_dataset_{model}.csv", index=False)
            result.by_size().to_csv(out / f"linked_by_size_{model}.csv", index=False)
            summary.to_csv(out / f"linked_summary_{model}.csv", index=False)
            result.plot(out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
