"""Faults during ``meting report``: a killed run leaves nothing half-written that a later run keeps,
workers die with their parent, and a failing notebook is kept outside ``reports/`` without ids."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
from stub_project import make_project

from meting.errors import ReportError
from meting.report.build import report_command
from meting.report.render import recover

pytestmark = pytest.mark.integration  # real renders: `pytest -m integration`

GOOD = Path(__file__).parent / "data" / "good" / "respondents.csv"
LATEST = "2010-vervolgmeting"
CODES = ["GM0505", "GM0014", "GM0114", "GM0153"]

SLOW_STUB = """# %% tags=["parameters"]
params_dir = ""
wave = ""
municipality = ""

# %%
import time
time.sleep(1.5)
print("gemeente", municipality)
"""

LOADING_STUB = """# %% tags=["parameters"]
params_dir = ""
wave = ""
municipality = ""
data = ""

# %%
from meting.loaders import load_wave
from meting.registry import load_registry

load_wave(data, registry=load_registry(params_dir))
"""


def debris(out: Path) -> list[Path]:
    return [p for p in out.rglob(".*") if p.name.startswith((".tmp-", ".commit-", ".index-"))]


def test_recover_removes_uncommitted_and_finishes_committed(tmp_path: Path) -> None:
    folder = tmp_path / LATEST / "gemeenten"
    stale = folder / ".tmp-GM0505-abc"
    stale.mkdir(parents=True)
    (stale / "GM0505.html").write_text("complete but never committed")
    committed = folder / ".commit-GM0014-abc"
    committed.mkdir()
    for kind in ("ipynb", "html"):
        (committed / f"GM0014.{kind}").write_text(f"new {kind}")
    (folder / "GM0014.pdf").write_text("old pdf, gone in the new report")
    (committed / "MANIFEST.json").write_text(
        json.dumps({"files": ["GM0014.ipynb", "GM0014.html"], "remove": ["GM0014.pdf"]})
    )
    (tmp_path / ".index-0123.html").write_text("half an index")
    done = recover(tmp_path)
    assert len(done) == 3
    assert debris(tmp_path) == []
    assert sorted(p.name for p in folder.iterdir()) == ["GM0014.html", "GM0014.ipynb"]
    assert (folder / "GM0014.html").read_text() == "new html"


def _children(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True)
    return [int(x) for x in out.stdout.split()]


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state not in ("Z", "X")


@pytest.mark.slow  # two builds with pool workers and kernels: a few minutes on 2 cores
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="uses /proc and ps")
def test_sigkill_mid_run_then_rerun_is_complete_and_clean(tmp_path: Path) -> None:
    project = make_project(tmp_path, SLOW_STUB)
    out = project / "reports"
    script = (
        "import sys\n"
        "from meting.report.build import report_command\n"
        f"sys.exit(report_command({CODES!r}, params_dir={str(project / 'params')!r}, "
        f"out_dir={str(out)!r}, jobs=2, notebooks_dir={str(project / 'notebooks')!r}))\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    assert proc.stdout is not None
    deadline = time.monotonic() + 240
    seen = []
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        seen.append(line)
        if line.startswith("[1/"):
            break
        assert line or proc.poll() is None, "".join(seen)
    else:  # pragma: no cover
        proc.kill()
        pytest.fail("no report finished in time:\n" + "".join(seen))
    workers = _children(proc.pid)
    assert workers, "the run should render in pool workers"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    time.sleep(3)
    assert [w for w in workers if _alive(w)] == [], "pool workers outlived their parent"

    lines: list[str] = []
    assert (
        report_command(
            CODES,
            params_dir=project / "params",
            out_dir=out,
            jobs=2,
            notebooks_dir=project / "notebooks",
            emit=lines.append,
        )
        == 0
    )
    assert debris(out) == []
    folder = out / LATEST / "gemeenten"
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        f"{code}.{kind}" for code in CODES for kind in ("html", "ipynb", "pdf")
    )
    assert (out / "index.html").is_file()


def test_failed_notebook_is_kept_outside_reports_without_ids(tmp_path: Path) -> None:
    """A notebook that fails stops the build, leaves the earlier report and index in place, names
    the notebook, cell and source, and is kept outside ``reports/`` without respondent ids.

    (Also the failing-notebook case of test_report_build.py: one render checks both.)
    """
    project = make_project(tmp_path, LOADING_STUB)
    rows = GOOD.read_text(encoding="utf-8").splitlines()
    rows[5] = "R0002" + rows[5][5:]  # a duplicate respondent id on line 6
    data = project / "dup.csv"
    data.write_text("\n".join(rows) + "\n", encoding="utf-8")
    # the stub reads `data`: give it through the params of the municipality report
    nb = project / "notebooks" / "30_municipality_report.py"
    nb.write_text(LOADING_STUB.replace('data = ""', f"data = {str(data)!r}"))
    out = project / "reports"
    folder = out / LATEST / "gemeenten"
    folder.mkdir(parents=True)
    (folder / "GM0505.html").write_text("OLD")
    (out / "index.html").write_text("OLD INDEX")
    with pytest.raises(ReportError) as info:
        report_command(
            ["GM0505"],
            params_dir=project / "params",
            out_dir=out,
            jobs=1,
            notebooks_dir=project / "notebooks",
            pdf=False,
            emit=lambda _: None,
        )
    message = str(info.value)
    assert "30_municipality_report.py (GM0505)" in message
    assert re.search(r"failed in cell \d+ \(In \[\d+\]\)", message)
    assert "load_wave(data, registry=load_registry(params_dir))" in message  # the cell's source
    assert "must be unique within the wave" in message and "lines 3, 6" in message
    assert "R0002" not in message
    assert (folder / "GM0505.html").read_text() == "OLD"
    assert (out / "index.html").read_text() == "OLD INDEX"
    kept = project / ".meting" / "failed" / "GM0505.ipynb"
    assert kept.is_file()
    assert "R0002" not in kept.read_text(encoding="utf-8")
    assert "must be unique within the wave" in kept.read_text(encoding="utf-8")
    errors = [
        o
        for c in nbformat.read(kept, as_version=4).cells
        if c.cell_type == "code"
        for o in c.outputs
        if o.output_type == "error"
    ]
    assert errors and errors[0].ename == "ProblemsError"  # the loader's error, in the notebook
    assert not (out / "_failed").exists()
    served = sorted(p for p in out.rglob("*") if p.is_file() and p.name != ".meting-report.lock")
    assert served == sorted([folder / "GM0505.html", out / "index.html"])  # only the old ones
    assert debris(out) == []


def test_environment_paths_never_reach_the_executed_notebook(tmp_path: Path) -> None:
    import nbformat

    from meting.report.render import _scrub_paths

    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("import pymc")
    cell.outputs = [
        nbformat.v4.new_output(
            "stream",
            name="stderr",
            text="/x/.venv/lib/python3.11/site-packages/pytensor/configdefaults.py:123: "
            "UserWarning: g++ not available\n",
        ),
        nbformat.v4.new_output("stream", name="stdout", text="gemeente GM0505\n"),
    ]
    nb.cells.append(cell)
    path = tmp_path / "x.ipynb"
    nbformat.write(nb, path)
    _scrub_paths(path)
    text = path.read_text(encoding="utf-8")
    assert "site-packages" not in text
    assert "gemeente GM0505" in text
