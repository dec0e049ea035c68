"""A stand-in project for report-build tests: a copy of params/, empty data files, and the four
report notebooks replaced by a stub."""

from __future__ import annotations

import shutil
from pathlib import Path

from meting.pipeline import wave_data_files
from meting.registry import load_registry

PROJECT_PARAMS = Path(__file__).resolve().parents[1] / "params"
NOTEBOOKS = ("10_wave", "20_comparison", "30_municipality", "40_validation")


def make_project(tmp_path: Path, stub: str) -> Path:
    shutil.copytree(PROJECT_PARAMS, tmp_path / "params")
    registry = load_registry(tmp_path / "params")
    for label in registry.waves:
        for path in wave_data_files(registry, label).values():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("")
    nbdir = tmp_path / "notebooks"
    nbdir.mkdir()
    for name in NOTEBOOKS:
        (nbdir / f"{name}_report.py").write_text(stub)
    return tmp_path
