"""Where the CPU time of one municipality report goes: kernel start, each notebook cell, HTML, PDF.

Renders one municipality report the way :func:`meting.report.render.render` does (the same
notebook, parameters, kernel manager, HTML exporter and PDF writer), but cell by cell, and prints
the CPU seconds (user + system) of each part:

* **kernel start**: the notebook kernel's process from launch until it answers (ipykernel,
  IPython, ZeroMQ), measured on the kernel process;
* **cells**: the kernel's CPU seconds per code cell (its first source line names it); the first
  cells import the package, so their time is mostly imports;
* **html**: nbconvert's HTML export in this process (the exporter is built once per process: the
  first report pays for it, the figure of a second report is printed too);
* **pdf**: WeasyPrint (HTML -> tagged PDF) in this process, first and second call;
* **tables**: the XLSX workbook beside the CSV files.

The wave's artefacts (:mod:`meting.artefacts`) must exist or are computed first (not counted).
CPU seconds, unlike wall seconds, hardly depend on the other load of a shared machine.

    PYTHONHASHSEED=0 MPLBACKEND=Agg nice -n 10 python benchmarks/bench_report_parts.py GM1711
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).parent / "results" / "bench_report_parts.txt"


def _cpu(proc: Any) -> float:
    t = proc.cpu_times()
    return float(t.user + t.system + t.children_user + t.children_system)


def _self_cpu() -> float:
    t = os.times()
    return t.user + t.system


def _label(source: str) -> str:
    for line in source.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            return line[:60]
    return "(empty)"


async def _execute(nb: Any, cwd: str) -> tuple[float, float, list[tuple[str, float, float]]]:
    """Run ``nb`` in a fresh report kernel; (kernel start CPU, wall, [(cell, CPU, wall)])."""
    import psutil
    from nbclient import NotebookClient

    from meting.report.kernel import IPCKernelManager

    km = IPCKernelManager(kernel_name="python3")
    client = NotebookClient(nb, km=km, timeout=1800, resources={"metadata": {"path": cwd}})
    t0 = time.perf_counter()
    cells: list[tuple[str, float, float]] = []
    async with client.async_setup_kernel(cwd=cwd):
        start_wall = time.perf_counter() - t0
        proc = psutil.Process(km.provisioner.process.pid)  # type: ignore[union-attr]
        start_cpu = _cpu(proc)
        for index, cell in enumerate(nb.cells):
            if cell.cell_type != "code":
                continue
            c0, w0 = _cpu(proc), time.perf_counter()
            await client.async_execute_cell(cell, index)
            cells.append((_label(cell.source), _cpu(proc) - c0, time.perf_counter() - w0))
    return start_cpu, start_wall, cells


def _images(html: str) -> tuple[int, int]:
    """Number and total base64 size (kB) of the embedded images."""
    found = re.findall(r"data:image/[a-z+]+;base64,([A-Za-z0-9+/=]+)", html)
    return len(found), sum(len(f) for f in found) // 1024


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("municipality", nargs="?", default=None, help="a municipality code")
    parser.add_argument("--params", type=Path, default=None, help="parameter folder")
    parser.add_argument("--write", action="store_true", help=f"append the figures to {RESULTS}")
    args = parser.parse_args(argv)
    os.environ.setdefault("PYTHONHASHSEED", "0")
    os.environ.setdefault("MPLBACKEND", "Agg")
    os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")

    c0 = _self_cpu()
    from papermill.parameterize import parameterize_notebook

    from meting.artefacts import wave_artefacts
    from meting.registry import load_registry
    from meting.report.build import NOTEBOOKS, _latest, default_notebooks_dir
    from meting.report.export import write_workbook
    from meting.report.render import TABLES_PARAMETER, export_html, html_to_pdf, load_notebook

    parent_imports = _self_cpu() - c0
    registry = load_registry(args.params)
    wave = _latest(registry)
    assert wave is not None
    code = (
        args.municipality
        or sorted(registry.municipalities_on(registry.waves[wave].reference_date))[0]
    )
    wave_artefacts(registry, wave)  # found, or computed now (not counted)

    rows: list[tuple[str, float, float]] = [("parent: imports of the renderer", parent_imports, 0)]
    with tempfile.TemporaryDirectory(prefix="bench-parts-") as tmp:
        tables = Path(tmp) / "tabellen"
        nb = load_notebook(default_notebooks_dir() / NOTEBOOKS["municipality"])
        for cell in nb.cells:  # as papermill's loader does
            cell.metadata.setdefault("tags", [])
        nb.metadata.setdefault("papermill", {})
        nb = parameterize_notebook(
            nb,
            {
                "params_dir": str(registry.params_dir),
                "wave": wave,
                "municipality": code,
                TABLES_PARAMETER: str(tables),
            },
        )
        here = os.getcwd()
        os.chdir(tmp)  # as papermill does (the kernel's relative ipc paths)
        try:
            start_cpu, start_wall, cells = asyncio.run(_execute(nb, tmp))
        finally:
            os.chdir(here)
        rows.append(("kernel start", start_cpu, start_wall))
        rows += [(f"cell {i:2d}: {label}", cpu, wall) for i, (label, cpu, wall) in enumerate(cells)]
        title = f"Gemeente {registry.municipalities[code].name} ({code}), {wave}"
        for attempt in ("first", "second"):
            c0, w0 = _self_cpu(), time.perf_counter()
            html = export_html(nb, title)
            rows.append(
                (f"html (nbconvert, {attempt})", _self_cpu() - c0, time.perf_counter() - w0)
            )
        for attempt in ("first", "second"):
            c0, w0 = _self_cpu(), time.perf_counter()
            pages = html_to_pdf(html, Path(tmp) / "report.pdf", base_url=Path(tmp))
            rows.append(
                (f"pdf (WeasyPrint, {attempt})", _self_cpu() - c0, time.perf_counter() - w0)
            )
        c0, w0 = _self_cpu(), time.perf_counter()
        write_workbook(tables, code, title)
        rows.append(("tables (xlsx)", _self_cpu() - c0, time.perf_counter() - w0))
        n_img, kb_img = _images(html)
        pdf_kb = (Path(tmp) / "report.pdf").stat().st_size // 1024

    kernel = start_cpu + sum(c for _, c, _ in cells)
    by_name = {name: cpu for name, cpu, _ in rows}
    per_report = (
        kernel
        + by_name["html (nbconvert, second)"]
        + by_name["pdf (WeasyPrint, second)"]
        + by_name["tables (xlsx)"]
    )
    load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    lines = [
        f"bench_report_parts: municipality report {code} of {wave} "
        f"({len(registry.municipalities)} municipalities in the parameters); load average {load}",
        f"{'part':<64} {'CPU s':>7} {'wall s':>7}",
        *(f"{name:<64} {cpu:7.2f} {wall:7.2f}" for name, cpu, wall in rows),
        f"kernel total (start + cells): {kernel:.2f} s CPU; per report on a warm worker (kernel + "
        f"html + pdf + tables, second calls): {per_report:.2f} s CPU",
        f"HTML {len(html) // 1024} kB with {n_img} embedded images ({kb_img} kB base64); "
        f"PDF {pages} pages, {pdf_kb} kB",
    ]
    print("\n".join(lines))
    if args.write:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        with RESULTS.open("a", encoding="utf-8") as handle:
            handle.write(time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()) + "\n")
            handle.write("\n".join(lines) + "\n\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
