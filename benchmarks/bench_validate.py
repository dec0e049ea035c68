"""Benchmark: memory and time of ``meting validate`` on a large valid respondent file.

Run:  .venv/bin/python benchmarks/bench_validate.py [--rows 1000000] [--mb 300]

Generates the synthetic 2008 wave, repeats its respondent lines with new ids up to ``--rows``
lines and/or ``--mb`` megabytes (both given: one file of each size) in a temporary folder, runs
``meting validate`` on it in a child process and prints rows, MB, wall seconds and the child's
peak RSS (``os.wait4``), and the start-up of the same command on a one-line file (importing
``meting`` and loading ``params/``), which is part of every wall time. Goal: a 300 MB file in
under 1.5 GB and 30 s, every problem still listed. No assertions: it reports figures.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def make_file(out: Path, rows: int | None, mb: float | None) -> tuple[int, float]:
    from meting.registry import load_registry
    from meting.synthetic import generate_wave

    wave = generate_wave(load_registry(), "2008-nulmeting")
    text = wave.respondents.to_csv(index=False, lineterminator="\n")
    header, *body = text.splitlines()
    tails = [line.split(",", 1)[1] for line in body]
    target_rows = rows if rows is not None else 10**12
    target_bytes = int(mb * 1e6) if mb is not None else 10**15
    written, size = 0, len(header) + 1
    with open(out, "w", encoding="utf-8", newline="") as fh:
        fh.write(header + "\n")
        while written < target_rows and size < target_bytes:
            block = []
            for tail in tails:
                if written >= target_rows or size >= target_bytes:
                    break
                line = f"B{written:09d},{tail}\n"
                block.append(line)
                size += len(line)
                written += 1
            fh.write("".join(block))
    return written, out.stat().st_size / 1e6


def measure(path: Path) -> tuple[float, float, int, str]:
    """Wall seconds, peak RSS (MB) and exit status of ``meting validate path``; its last line."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "meting.cli", "validate", str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    assert proc.stdout is not None
    output = proc.stdout.read().decode(errors="replace")
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    last = output.strip().splitlines()[-1] if output.strip() else ""
    return seconds, usage.ru_maxrss / 1024, proc.returncode, last


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=None, help="data lines (default 1,000,000)")
    parser.add_argument("--mb", type=float, default=None, help="file size in MB (also)")
    args = parser.parse_args()
    sizes: list[tuple[int | None, float | None]] = []
    if args.rows is not None or args.mb is None:
        sizes.append((args.rows if args.rows is not None else 1_000_000, None))
    if args.mb is not None:
        sizes.append((None, args.mb))
    with tempfile.TemporaryDirectory() as tmp:
        tiny = Path(tmp) / "one.csv"
        make_file(tiny, 1, None)
        startup, startup_rss, _, _ = measure(tiny)
        print(f"start-up (1 line): wall {startup:,.1f} s  peak RSS {startup_rss:,.0f} MB")
        for rows, mb in sizes:
            path = Path(tmp) / "respondents.csv"
            n, size = make_file(path, rows, mb)
            seconds, rss, code, last = measure(path)
            print(f"rows {n:,}  file {size:,.0f} MB  wall {seconds:,.1f} s  peak RSS {rss:,.0f} MB")
            print(f"  ({rss / size:.1f} x the file; exit {code}: {last[:120]})")
            path.unlink()


if __name__ == "__main__":
    main()
