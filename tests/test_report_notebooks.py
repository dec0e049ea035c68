"""Paired notebooks (.py <-> .ipynb): the check and the sync (meting.report.notebooks)."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from meting.report.notebooks import check, main, sync

SOURCE = """# %% tags=["parameters"]
wave = "2008-nulmeting"

# %% [markdown]
# # Titel

# %%
print(wave)
"""


def test_sync_then_check_passes_and_ipynb_has_no_outputs(tmp_path: Path) -> None:
    (tmp_path / "10_x.py").write_text(SOURCE)
    assert check(tmp_path) and "missing" in check(tmp_path)[0]
    assert sync(tmp_path) == [tmp_path / "10_x.ipynb"]
    assert sync(tmp_path) == []  # idempotent: nothing rewritten
    assert check(tmp_path) == []
    nb = nbformat.read(tmp_path / "10_x.ipynb", as_version=4)
    assert nb.metadata["kernelspec"]["name"] == "python3"
    assert [c.cell_type for c in nb.cells] == ["code", "markdown", "code"]
    assert nb.cells[0].metadata["tags"] == ["parameters"]
    assert all(c.outputs == [] for c in nb.cells if c.cell_type == "code")


def test_check_finds_outputs_edits_and_orphans(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "10_x.py").write_text(SOURCE)
    sync(tmp_path)
    ipynb = tmp_path / "10_x.ipynb"
    nb = nbformat.read(ipynb, as_version=4)
    nb.cells[2].outputs = [nbformat.v4.new_output("stream", name="stdout", text="2008\n")]
    nb.cells[2].execution_count = 1
    nbformat.write(nb, ipynb)
    problems = check(tmp_path)
    assert len(problems) == 1 and "hold outputs" in problems[0]
    sync(tmp_path)
    (tmp_path / "10_x.py").write_text(SOURCE.replace("print(wave)", "print(wave, 1)"))
    problems = check(tmp_path)
    assert len(problems) == 1 and "differs from 10_x.py from cell 2" in problems[0]
    sync(tmp_path)
    (tmp_path / "99_orphan.ipynb").write_text(nbformat.writes(nbformat.v4.new_notebook()))
    assert main(["--check", str(tmp_path)]) == 1
    assert "no paired .py" in capsys.readouterr().err
    (tmp_path / "99_orphan.ipynb").unlink()
    assert main(["--check", str(tmp_path)]) == 0


def test_project_notebooks_are_in_sync() -> None:
    folder = Path(__file__).resolve().parents[1] / "notebooks"
    names = sorted(p.name for p in folder.glob("*.py"))
    assert names == [
        "10_wave_report.py",
        "20_comparison_report.py",
        "30_municipality_report.py",
        "40_validation_report.py",
    ]
    assert check(folder) == []
