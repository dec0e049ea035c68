"""Benchmark: wall time of a full ``nox -s report`` (3 waves, comparison, validation, 14 municipalities).

Run:  python benchmarks/bench_report.py [--mode cold|warm|both] [--yes]

* **cold**: a fresh session environment (``.nox/report`` removed, so nox recreates it and installs
  from the lock file) and empty caches (``data/cache`` with the model fits and ``data/synthetic``
  removed), as on a fresh clone. Removing those folders needs ``--yes``.
* **warm**: ``nox -R -s report``: the environment is reused (installs skipped) and the model fits
  come from ``data/cache``.

Needs ``nox`` (and preferably ``uv``) on PATH. Prints one line per run; no assertions. Goal of
issue 6: warm under 5 minutes on 2 cores. Timings on a shared machine are disturbed by other
processes: report the load average printed beside each run.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COLD_PATHS = (ROOT / ".nox" / "report", ROOT / "data" / "cache", ROOT / "data" / "synthetic")


def run(args: list[str]) -> tuple[float, int]:
    """Run a command in the project root; return (wall seconds, exit status)."""
    t0 = time.perf_counter()
    status = subprocess.run(args, cwd=ROOT, check=False).returncode
    return time.perf_counter() - t0, status


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=["cold", "warm", "both"], default="both")
    parser.add_argument("--yes", action="store_true", help="allow removing .nox/report and caches")
    args = parser.parse_args()
    nox = shutil.which("nox")
    if nox is None:
        print("nox is not on PATH: python -m pip install nox uv", file=sys.stderr)
        return 2
    results = []
    if args.mode in ("cold", "both"):
        if not args.yes:
            print(
                "cold mode removes " + ", ".join(str(p) for p in COLD_PATHS) + "; pass --yes",
                file=sys.stderr,
            )
            return 2
        for path in COLD_PATHS:
            shutil.rmtree(path, ignore_errors=True)
        seconds, status = run([nox, "-s", "report"])
        results.append(("cold (fresh env, empty caches)", seconds, status))
    if args.mode in ("warm", "both"):
        seconds, status = run([nox, "-R", "-s", "report"])
        results.append(("warm (nox -R, cached fits)", seconds, status))
    load = os.getloadavg()[0]
    for name, seconds, status in results:
        minutes, rest = divmod(seconds, 60)
        print(
            f"nox -s report, {name}: {int(minutes)} min {rest:.0f} s (exit {status}; "
            f"{os.cpu_count()} cores, load average {load:.1f})"
        )
    return max(status for _, _, status in results)


if __name__ == "__main__":
    sys.exit(main())
