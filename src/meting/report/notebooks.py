"""Keep the paired report notebooks in sync: ``notebooks/NN_name.py`` (jupytext percent, the source
that is edited and reviewed) and ``notebooks/NN_name.ipynb`` (committed without outputs).

``python -m meting.report.notebooks --check`` exits 1 when a pair differs (cell types, sources or
tags), when one side is missing, or when an ``.ipynb`` holds outputs or execution counts;
``--sync`` rewrites every ``.ipynb`` from its ``.py``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import nbformat

from meting.registry import project_root

__all__ = ["check", "main", "notebook_from_py", "sync"]

KERNELSPEC = {"name": "python3", "display_name": "Python 3", "language": "python"}


def _default_dir() -> Path:
    return project_root() / "notebooks"


def notebook_from_py(path: Path) -> nbformat.NotebookNode:
    """The ``.ipynb`` content for a jupytext percent ``.py``: no outputs, kernel ``python3``."""
    import jupytext

    nb = jupytext.read(path, fmt="py:percent")
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    jt = nb.metadata.setdefault("jupytext", {})
    jt["formats"] = "ipynb,py:percent"
    jt.pop("text_representation", None)
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"cell-{i:03d}"  # stable ids: a re-sync gives the same bytes (clean diffs)
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    return nb


def _cells(nb: nbformat.NotebookNode) -> list[tuple[str, str, tuple[str, ...]]]:
    return [
        (c.cell_type, c.source.strip(), tuple(sorted(c.get("metadata", {}).get("tags", []))))
        for c in nb.cells
    ]


def check(folder: Path | None = None) -> list[str]:
    """Problems of the notebook pairs in ``folder`` (empty when all are in sync)."""
    folder = folder or _default_dir()
    problems: list[str] = []
    sources = sorted(folder.glob("*.py"))
    for py in sources:
        ipynb = py.with_suffix(".ipynb")
        if not ipynb.is_file():
            problems.append(f"{ipynb}: missing; run `python -m meting.report.notebooks --sync`")
            continue
        paired = nbformat.read(ipynb, as_version=4)
        with_outputs = [
            i
            for i, c in enumerate(paired.cells)
            if c.cell_type == "code" and (c.get("outputs") or c.get("execution_count") is not None)
        ]
        if with_outputs:
            problems.append(
                f"{ipynb}: cells {with_outputs} hold outputs or execution counts; commit it "
                "without outputs (`python -m meting.report.notebooks --sync`)"
            )
        expected, actual = _cells(notebook_from_py(py)), _cells(paired)
        if expected != actual:
            first = next(
                (i for i, (a, b) in enumerate(zip(expected, actual, strict=False)) if a != b),
                min(len(expected), len(actual)),
            )
            problems.append(
                f"{ipynb}: differs from {py.name} from cell {first} on "
                f"({len(expected)} cells in the .py, {len(actual)} in the .ipynb); edit the .py "
                "and run `python -m meting.report.notebooks --sync`"
            )
    for ipynb in sorted(folder.glob("*.ipynb")):
        if not ipynb.with_suffix(".py").is_file():
            problems.append(f"{ipynb}: has no paired .py; write one with jupytext or remove it")
    return problems


def sync(folder: Path | None = None) -> list[Path]:
    """Rewrite every ``.ipynb`` in ``folder`` from its ``.py``; returns the files written."""
    folder = folder or _default_dir()
    written = []
    for py in sorted(folder.glob("*.py")):
        target = py.with_suffix(".ipynb")
        text = nbformat.writes(notebook_from_py(py)) + "\n"
        if not target.is_file() or target.read_text(encoding="utf-8") != text:
            target.write_text(text, encoding="utf-8")
            written.append(target)
    return written


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``--check`` (default) or ``--sync``, optionally a folder."""
    parser = argparse.ArgumentParser(prog="python -m meting.report.notebooks", description=__doc__)
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true", help="fail if a pair is out of sync")
    mode.add_argument("--sync", action="store_true", help="regenerate the .ipynb files")
    parser.add_argument("folder", nargs="?", type=Path, default=None, help="default: notebooks/")
    args = parser.parse_args(argv)
    if args.sync:
        for path in sync(args.folder):
            print(f"written: {path}")
        return 0
    problems = check(args.folder)
    for problem in problems:
        print(problem, file=sys.stderr)
    if not problems:
        print(f"notebooks in sync: {args.folder or _default_dir()}")
    return 1 if problems else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
