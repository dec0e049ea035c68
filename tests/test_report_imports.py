"""A municipality report reads stored tables: its imports load no analysis library.

Every ``import`` of ``notebooks/30_municipality_report.py`` runs in a fresh interpreter; SciPy's
statistics, statsmodels, PyMC, ArviZ, the survey design and the pipeline must not be loaded (they
cost seconds of CPU per report and the artefacts already hold the numbers).
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "30_municipality_report.py"
#: Modules a municipality report must not import (directly or through the package).
HEAVY = (
    "scipy.stats",
    "statsmodels",
    "pymc",
    "arviz",
    "pytensor",
    "meting.design",
    "meting.pipeline",
    "meting.significance",
    "meting.weighting",
    "meting.knelpunten.agenda",
)


def _imports(source: str) -> str:
    tree = ast.parse(source)
    nodes = [n for n in ast.walk(tree) if isinstance(n, ast.Import | ast.ImportFrom)]
    return "\n".join(ast.unparse(n) for n in nodes)


def _loaded(code: str) -> dict[str, bool]:
    script = code + (
        f"\nimport json, sys\nprint(json.dumps({{m: m in sys.modules for m in {list(HEAVY)!r}}}))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        check=True,
        env={"MPLBACKEND": "Agg", "PATH": "/usr/bin:/bin"},
        cwd=ROOT,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_the_municipality_report_imports_no_analysis_library() -> None:
    code = _imports(NOTEBOOK.read_text(encoding="utf-8"))
    assert "meting.artefacts" in code  # the scan found the notebook's imports
    loaded = _loaded(code)
    assert not any(loaded.values()), sorted(m for m, v in loaded.items() if v)


@pytest.mark.parametrize("module", ["meting.knelpunten", "meting.report.sections"])
def test_lazy_packages_still_give_every_name(module: str) -> None:
    """The lazy packages import each name on first use: every name in ``__all__`` resolves."""
    loaded = _loaded(
        f"import importlib\nm = importlib.import_module({module!r})\n"
        "[getattr(m, n) for n in m.__all__]"
    )
    assert loaded["scipy.stats"]  # resolving the analyses did import them (the scan can fail)


def test_the_constants_the_report_tables_read_load_no_analysis_library() -> None:
    """``trend_tables.linked_change_table`` and ``comparison_text`` read the reason constants of
    ``meting.linked_trends`` at call time; importing it must not pull in the pipeline (it cost a
    municipality report 8 s of CPU)."""
    loaded = _loaded("import meting.linked_trends\nfrom meting.report import linked_text")
    assert not any(loaded.values()), sorted(m for m, v in loaded.items() if v)
