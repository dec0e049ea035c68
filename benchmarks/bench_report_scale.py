"""Municipality reports at scale: per-report seconds, total wall and speed-up, memory per worker.

Renders the first N municipality reports of the latest wave (``--wave`` for another) (with the project's parameters, or
``--params`` for another set, e.g. the national waves) through Dask distributed:

1. a local cluster with 1 worker process (one thread);
2. a local cluster with 2 worker processes (the speed-up over 1);
3. an external scheduler and 2 workers started on localhost (``dask scheduler`` / ``dask worker``)
   and reached by its address, as ``meting report --scheduler`` does.

The whole-wave work (:mod:`meting.artefacts`) is computed (or found) first and timed on its own:
it is done once per wave, the reports then only read it. Per report: wall seconds on its worker
and CPU seconds (the worker plus the notebook kernel it started), median and max; per mode the
total wall; the peak resident memory of a worker and of a kernel. The load average is printed
beside the figures: on a shared machine wall times and the speed-up depend on it, CPU seconds
much less.

    PYTHONHASHSEED=0 MPLBACKEND=Agg nice -n 10 python benchmarks/bench_report_scale.py -n 6
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from meting.artefacts import wave_artefacts
from meting.registry import load_registry
from meting.report.build import _select, _tasks, municipality_codes, plan_reports
from meting.report.distributed import TaskStats, connect, run_tasks

RESULTS = Path(__file__).parent / "results" / "bench_report_scale.txt"


def _load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run(
    registry, wave: str, codes, out: Path, address: str | None, workers: int
) -> tuple[float, list]:
    plan = _select(plan_reports(registry, out, municipalities_of=wave), codes)
    tasks = [t for t in _tasks(plan, registry, precompute=True)]
    t0 = time.perf_counter()
    with connect(address, workers, processes=True) as client:
        stats, failures = run_tasks(tasks, client, lambda line: None)
    if failures:
        raise SystemExit("\n".join(failures))
    return time.perf_counter() - t0, [s for s in stats if s.kind == "municipality"]


def _external(n_workers: int, cwd: Path) -> tuple[str, list[subprocess.Popen]]:
    from distributed import Client

    dask = str(Path(sys.executable).with_name("dask"))
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "cwd": cwd}
    procs = [subprocess.Popen([dask, "scheduler", "--host", "127.0.0.1", "--port", str(port),
                               "--no-dashboard"], **quiet)]  # fmt: skip
    procs += [
        subprocess.Popen(
            [dask, "worker", address, "--nworkers", "1", "--nthreads", "1", "--no-dashboard"],
            **quiet,
        )  # fmt: skip
        for _ in range(n_workers)
    ]
    deadline = time.monotonic() + 120
    while True:
        try:
            with Client(address, timeout="5s") as client:
                client.wait_for_workers(n_workers, timeout=120)
            return address, procs
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def _line(name: str, wall: float, stats: list[TaskStats], base: float | None) -> str:
    per = [s.wall_s for s in stats]
    cpu = [s.cpu_s for s in stats]
    worker_peak = max(s.peak_rss_mb for s in stats)
    kernel_peak = max(s.kernel_peak_mb for s in stats)
    speed = f"  speed-up {base / wall:4.2f}" if base else ""
    stages = {
        k: statistics.median(s.stages.get(k, 0.0) for s in stats)
        for k in ("notebook", "html", "pdf")
    }
    return (
        f"{name:<28} N={len(stats):3d}  total wall {wall:7.1f} s{speed}\n"
        f"{'':28} per report wall median {statistics.median(per):5.1f} s, max {max(per):5.1f} s"
        f"; CPU median {statistics.median(cpu):5.1f} s, max {max(cpu):5.1f} s\n"
        f"{'':28} stages (median wall): notebook {stages['notebook']:.1f} s, html "
        f"{stages['html']:.1f} s, pdf {stages['pdf']:.1f} s\n"
        f"{'':28} peak memory: worker {worker_peak:.0f} MB, kernel {kernel_peak:.0f} MB"
        f"; load average now {_load()}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=6, help="municipality reports per mode")
    parser.add_argument("--params", type=Path, default=None, help="parameter folder")
    parser.add_argument("--wave", default=None, help="wave label (default: the latest)")
    parser.add_argument("--no-external", action="store_true", help="skip the external cluster")
    parser.add_argument("--write", action="store_true", help=f"append the figures to {RESULTS}")
    args = parser.parse_args(argv)
    os.environ.setdefault("PYTHONHASHSEED", "0")
    os.environ.setdefault("MPLBACKEND", "Agg")
    registry = load_registry(args.params)
    latest = max(registry.waves.values(), key=lambda w: (w.year, w.reference_date, w.label))
    if args.wave is not None:
        if args.wave not in registry.waves:
            parser.error(f"--wave {args.wave!r}: choose from {sorted(registry.waves)}")
        latest = registry.waves[args.wave]
    # the municipalities existing on the wave's reference date (a merged code has no report)
    codes = municipality_codes(registry, latest.label)[: args.n]
    lines = [
        f"bench_report_scale: {len(codes)} municipality reports of {latest.label} "
        f"({len(registry.municipalities)} municipalities in the parameters), "
        f"{os.cpu_count()} cores, load average at start {_load()}"
    ]
    t0, c0 = time.perf_counter(), time.process_time()
    art = wave_artefacts(registry, latest.label)
    lines.append(
        f"whole-wave artefacts: {time.perf_counter() - t0:.1f} s here (found or computed; "
        f"computing took {art.meta.get('seconds', 0):.1f} s once), {time.process_time() - c0:.1f}"
        " s CPU"
    )
    print(lines[-1], flush=True)
    base = None
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp:
        for workers in (1, 2):
            wall, stats = _run(
                registry, latest.label, codes, Path(tmp) / f"local{workers}", None, workers
            )
            base = base or wall
            lines.append(_line(f"local cluster, {workers} worker(s)", wall, stats, base))
            print(lines[-1], flush=True)
        if not args.no_external:
            address, procs = _external(2, Path(tmp))
            try:
                wall, stats = _run(
                    registry, latest.label, codes, Path(tmp) / "external", address, 2
                )
                lines.append(_line("external scheduler, 2 workers", wall, stats, base))
                print(lines[-1], flush=True)
            finally:
                for p in reversed(procs):
                    p.terminate()
                for p in procs:
                    p.wait(timeout=30)
    if args.write:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        with RESULTS.open("a", encoding="utf-8") as handle:
            handle.write(time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()) + "\n")
            handle.write("\n".join(lines) + "\n\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
