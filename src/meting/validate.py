"""``meting validate PATH...``: check wave files against the data contract, every problem at once.

Respondent and organisation files may be given in any order; a file is taken as an organisation
table when it has an ``organisation`` column and no ``municipality`` column. Organisation files
are checked against the respondent ids of every respondent file given. The files are only read.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from meting import columns as C
from meting.loaders import read_table
from meting.schema import Problem, ProblemsError, check_organisations, check_respondents


@dataclass(frozen=True)
class FileResult:
    """What validation found in one file."""

    path: Path
    kind: str  # "respondents", "organisations" or "unreadable"
    n_rows: int
    problems: tuple[Problem, ...]


def is_organisation_table(df: pd.DataFrame) -> bool:
    """Whether a raw table is an organisation table (by its columns)."""
    return C.ORGANISATION in df.columns and C.MUNICIPALITY not in df.columns


def check_files(paths: Sequence[str | Path], *, registry: Any) -> list[FileResult]:
    """Check each file; the result per file, in the order given."""
    tables: dict[int, pd.DataFrame] = {}
    results: dict[int, FileResult] = {}
    for i, path in enumerate(map(Path, paths)):
        try:
            tables[i] = read_table(path)
        except ProblemsError as exc:
            results[i] = FileResult(path, "unreadable", 0, tuple(exc.problems))
    organisation_files = {i for i, df in tables.items() if is_organisation_table(df)}
    respondent_ids = []
    for i, df in tables.items():
        if i in organisation_files:
            continue
        path = Path(paths[i])
        found = check_respondents(df, source=str(path), registry=registry)
        results[i] = FileResult(path, "respondents", len(df), tuple(found))
        if C.RESPONDENT_ID in df.columns:
            respondent_ids.append(df[[C.RESPONDENT_ID]])
    known = pd.concat(respondent_ids, ignore_index=True) if respondent_ids else None
    for i in organisation_files:
        path = Path(paths[i])
        found = check_organisations(tables[i], known, source=str(path), registry=registry)
        results[i] = FileResult(path, "organisations", len(tables[i]), tuple(found))
    return [results[i] for i in range(len(paths))]


def validate_files(paths: Sequence[str | Path], *, registry: Any) -> list[Problem]:
    """Every problem in the given files (respondent and organisation tables), in file order.

    Parameters
    ----------
    paths
        Respondent and organisation files, in any order.
    registry
        A :class:`meting.registry.Registry`.
    """
    return [p for result in check_files(paths, registry=registry) for p in result.problems]


def validate_command(paths: Sequence[str | Path], params_dir: Path | None = None) -> int:
    """Run ``meting validate``: print every problem and a summary line.

    Returns
    -------
    int
        1 when any file has a problem, else 0 (each file then gets an ``OK`` line).
    """
    from meting.registry import load_registry

    registry = load_registry(params_dir)
    results = check_files(paths, registry=registry)
    problems = [p for r in results for p in r.problems]
    for problem in problems:
        print(problem)
    kinds = {r.kind for r in results}
    if "organisations" in kinds and "respondents" not in kinds:
        print(
            "Note: no respondent file was given, so the organisation files were not checked "
            "against respondent ids; give both files to check that."
        )
    if problems:
        bad = sum(1 for r in results if r.problems)
        print(
            f"{len(problems)} problem{'s' if len(problems) != 1 else ''} in {bad} of "
            f"{len(results)} file{'s' if len(results) != 1 else ''}; the files were not changed."
        )
        return 1
    for r in results:
        what = "respondents" if r.kind == "respondents" else "organisation ratings"
        print(f"OK: {r.path}: {r.n_rows} {what}")
    return 0
