"""Reports through an existing Dask cluster: a real ``dask scheduler`` and two ``dask worker``
processes on localhost (no mock of Dask), reached with ``--scheduler``."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest
from stub_project import make_project

from meting.errors import ParameterError, ReportError
from meting.report.build import report_command
from meting.report.distributed import scheduler_address

pytestmark = pytest.mark.integration  # a real scheduler and workers: `pytest -m integration`

LATEST = "2010-vervolgmeting"
CODES = ["GM0505", "GM0014"]
DASK = Path(sys.executable).with_name("dask")

#: Prints the pid of the process that started the kernel: the worker that rendered the report.
STUB = """# %% tags=["parameters"]
params_dir = ""
wave = ""
municipality = ""

# %%
import os

if municipality == "GM0794":
    raise RuntimeError("kapot voor " + municipality)
print("gemeente", municipality, "werker", os.getppid())
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[tuple[str, list[int]]]:
    """A scheduler and two single-threaded workers (without nanny: the worker pid is the process
    we start), as subprocesses; stopped (by pid) afterwards."""
    from distributed import Client

    address = f"tcp://127.0.0.1:{_free_port()}"
    env = {**os.environ, "PYTHONHASHSEED": "0", "MPLBACKEND": "Agg"}
    common = ["--no-dashboard"]
    procs = [
        subprocess.Popen(
            [str(DASK), "scheduler", "--host", "127.0.0.1", "--port", address.rsplit(":", 1)[1]]
            + common,
            cwd=tmp_path,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
    ]
    try:
        for _ in range(2):
            procs.append(
                subprocess.Popen(
                    [
                        str(DASK),
                        "worker",
                        address,
                        "--nworkers",
                        "1",
                        "--nthreads",
                        "1",
                        "--no-nanny",
                        *common,
                    ],
                    cwd=tmp_path,
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )  # fmt: skip
            )
        deadline = time.monotonic() + 60
        while True:
            try:
                with Client(address, timeout="5s") as client:
                    client.wait_for_workers(2, timeout=60)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
        yield address, [p.pid for p in procs[1:]]
    finally:
        for p in reversed(procs):
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:  # pragma: no cover
                p.kill()


def test_reports_render_on_an_external_cluster(
    tmp_path: Path, cluster: tuple[str, list[int]]
) -> None:
    address, workers = cluster
    project = make_project(tmp_path, STUB)
    out = project / "reports"
    lines: list[str] = []
    code = report_command(
        CODES,
        params_dir=project / "params",
        out_dir=out,
        notebooks_dir=project / "notebooks",
        scheduler=address,
        emit=lines.append,
        pdf=False,  # the cluster is what is tested here; PDFs are tested in test_report_render
    )
    assert code == 0
    assert lines[0].startswith(f"2 rapporten, op {address}")
    progress = [line for line in lines if line.startswith("[")]
    assert len(progress) == 2 and progress[0].startswith("[1/2]") and "nog 1" in progress[0]
    folder = out / LATEST / "gemeenten"
    ran_on = set()
    for c in CODES:
        for kind in ("html", "ipynb"):
            assert (folder / f"{c}.{kind}").is_file()
        nb = nbformat.read(folder / f"{c}.ipynb", as_version=4)
        text = "".join(o.get("text", "") for cell in nb.cells for o in cell.get("outputs", []))
        assert f"gemeente {c}" in text
        ran_on.add(int(text.split("werker")[1].split()[0]))
        assert f"gemeente {c}" in (folder / f"{c}.html").read_text(encoding="utf-8")
    assert ran_on <= set(workers), "the kernels must have been started by the cluster's workers"

    # a failing report on the cluster names itself and leaves the reports above in place
    before = (folder / "GM0505.html").read_bytes()
    with pytest.raises(ReportError, match="GM0794") as err:
        report_command(
            ["GM0794"],
            params_dir=project / "params",
            out_dir=out,
            notebooks_dir=project / "notebooks",
            scheduler=address,
            emit=lines.append,
            pdf=False,
        )
    assert "cell" in str(err.value) and "kapot voor GM0794" in str(err.value)
    assert (folder / "GM0505.html").read_bytes() == before
    assert not (folder / "GM0794.html").exists()


def test_scheduler_address_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DASK_SCHEDULER_ADDRESS", "tcp://10.0.0.1:8786")
    assert scheduler_address(None) == "tcp://10.0.0.1:8786"
    assert scheduler_address("tcp://127.0.0.1:1") == "tcp://127.0.0.1:1"
    monkeypatch.delenv("DASK_SCHEDULER_ADDRESS")
    assert scheduler_address(None) is None
    with pytest.raises(ParameterError, match="tcp://HOST:PORT"):
        scheduler_address("nergens")


@pytest.mark.slow  # real municipality notebooks (about 15 s of CPU each) on the cluster
def test_municipality_reports_through_scheduler_cli(
    tmp_path: Path, cluster: tuple[str, list[int]], sampling_mock
) -> None:
    from meting.artefacts import wave_artefacts
    from meting.cli import main
    from meting.registry import load_registry
    from meting.synthetic import generate_command

    address, _ = cluster
    params = Path(__file__).resolve().parents[1] / "params"
    shutil.copytree(params, tmp_path / "params")
    # every wave: the municipality report's trend covers the waves up to this one
    generate_command(
        list(load_registry(tmp_path / "params").waves),
        out_dir=tmp_path / "data" / "synthetic",
        params_dir=tmp_path / "params",
    )
    with sampling_mock():  # the workers find the stored whole-wave tables and compute nothing
        wave_artefacts(load_registry(tmp_path / "params"), LATEST)
    out = tmp_path / "reports"
    argv = ["--params", str(tmp_path / "params"), "report", *CODES, "--out", str(out)]
    assert main([*argv, "--scheduler", address]) == 0
    registry = load_registry(tmp_path / "params")
    for c in CODES:
        html = (out / LATEST / "gemeenten" / f"{c}.html").read_text(encoding="utf-8")
        assert f"Gemeente {registry.municipalities[c].name}" in html
        assert "Tabel 1. Keten per levensgebeurtenis" in html
        assert (out / LATEST / "gemeenten" / f"{c}.pdf").stat().st_size > 10_000
