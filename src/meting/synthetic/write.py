"""Writing synthetic waves (same wave, same bytes) and the ``meting generate`` command."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from meting import columns as C
from meting.errors import ParameterError
from meting.registry import default_params_dir, load_registry, project_root
from meting.synthetic.simulate import SyntheticWave, generate_national, generate_wave

__all__ = ["FLOAT_FORMAT", "generate_command", "write_wave"]

FLOAT_FORMAT = "%.10f"


def _write_csv_atomic(frame: pd.DataFrame, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")  # same folder: os.replace is atomic
    try:
        with open(tmp, "w", encoding="utf-8", newline="") as fh:
            frame.to_csv(fh, index=False, lineterminator="\n", float_format=FLOAT_FORMAT)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_wave(wave: SyntheticWave, out_dir: Path) -> list[Path]:
    """Write ``respondents.csv``, ``organisations.csv``, ``truth_cells.csv`` and
    ``truth_strata.csv`` into ``out_dir`` (created if needed).

    Each file is written to a temporary file and moved into place, so a reader never sees half a
    file; the same wave gives the same bytes (fixed row order and float format, no timestamps).
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, frame in (
        ("respondents.csv", wave.respondents),
        ("organisations.csv", wave.organisations),
        ("truth_cells.csv", wave.truth_cells),
        ("truth_strata.csv", wave.truth_strata),
    ):
        path = out_dir / name
        _write_csv_atomic(frame, path)
        written.append(path)
    return written


def generate_command(
    waves: Sequence[str],
    out_dir: Path | None = None,
    params_dir: Path | None = None,
    national: bool = False,
    *,
    respondents: int | None = None,
    benchmark: bool = False,
) -> int:
    """The ``meting generate`` command: write synthetic waves and print what was written.

    Without wave labels every synthetic wave of the registry is written. With ``national`` the
    waves of the national parameter set (``<params>/nationaal/``: every municipality of the real
    division of each wave's reference date) go to its ``data_dir``
    (``data/synthetic/nationaal/<label>/``); with ``benchmark`` the fake national-scale wave of
    the benchmarks (``generate_national``) goes to ``data/synthetic/national/``. Otherwise output
    goes to ``<out_dir>/<label>/``, default ``<project root>/data/synthetic``. ``respondents``
    replaces the number of respondents per wave.
    """
    if respondents is not None and respondents < 1:
        raise ParameterError(f"--respondents must be at least 1; got {respondents}.")
    if benchmark:
        if waves or national:
            raise ParameterError(
                "waves and --national must not be given with --benchmark; got "
                f"{list(waves)}{' --national' if national else ''}. Drop them."
            )
        pdir = Path(params_dir) if params_dir else default_params_dir()
        root = Path(out_dir) if out_dir else project_root() / "data" / "synthetic"
        wave = generate_national(params_dir=pdir, n_respondents=respondents or 100_000)
        _report(wave, write_wave(wave, root / wave.label))
        return 0
    if national:
        from meting.synthetic.national import national_params_dir

        params_dir = national_params_dir(params_dir)
    registry = load_registry(params_dir)
    labels = list(waves) or registry.synthetic_waves()
    root = Path(out_dir) if out_dir else registry.synthetic_dir
    for label in labels:
        wave = generate_wave(registry, label, n_respondents=respondents)
        _report(wave, write_wave(wave, root / label))
    return 0


def _report(wave: SyntheticWave, paths: list[Path]) -> None:
    nonempty = int((wave.respondents.groupby([C.MUNICIPALITY, C.LIFE_EVENT]).size() > 0).sum())
    print(
        f"{wave.label}: {len(wave.respondents)} respondenten, {len(wave.organisations)} "
        f"organisatieoordelen, {nonempty} van {len(wave.truth_cells)} cellen gevuld (seed {wave.seed})"
    )
    for p in paths:
        print(f"  {p}")
