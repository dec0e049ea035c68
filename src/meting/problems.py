"""Problems: one way in which an input file breaks the data contract, and the error listing them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from meting.errors import SchemaError

#: How many lines (and values) a problem lists; the count says how many there are in all.
MAX_LISTED = 10
#: How many duplicated ids are reported one by one before the rest are summed up.
MAX_DUPLICATE_IDS = 10


@dataclass(frozen=True)
class Problem:
    """One way in which an input file breaks the data contract.

    Parameters
    ----------
    file
        The file as the user named it.
    column
        The column, or None for a problem of the whole file.
    rows
        Line numbers as a spreadsheet shows them (header = line 1), or case numbers for Parquet
        and SPSS files (``unit == "row"``); at most :data:`MAX_LISTED` of them.
    values
        The offending values, in the order of ``rows`` (at most :data:`MAX_LISTED`).
    message
        The rule that is broken, starting with "must".
    fix
        How to put it right.
    count
        How many lines have this problem in all (``>= len(rows)``).
    unit
        ``"line"`` or ``"row"``.
    quote
        Whether the values are quoted in the message (cell contents are; counts are not).
    """

    file: str
    column: str | None
    rows: tuple[int, ...]
    values: tuple[str, ...]
    message: str
    fix: str = ""
    count: int = 0
    unit: str = "line"
    quote: bool = True

    def __str__(self) -> str:
        where = [self.file]
        if self.column is not None:
            where.append(f"column '{self.column}'")
        if self.rows:
            where.append(self._where_rows())
        text = f"{', '.join(where)}: {self.message}"
        if self.values:
            text += f"; got {self._got()}"
        text += "."
        if self.fix:
            text += f" {self.fix}"
        return text

    def _where_rows(self) -> str:
        listed = ", ".join(str(r) for r in self.rows)
        if len(self.rows) == 1 and self.count <= 1:
            return f"{self.unit} {listed}"
        if self.count > len(self.rows):
            return f"{self.count} {self.unit}s (first {len(self.rows)}: {listed})"
        return f"{self.unit}s {listed}"

    def _got(self) -> str:
        q = "'" if self.quote else ""
        if len(set(self.values)) == 1:
            return f"{q}{self.values[0]}{q}"
        return ", ".join(f"{q}{v}{q}" for v in self.values) + (
            ", ..." if self.count > len(self.values) else ""
        )


class ProblemsError(SchemaError):
    """Input breaks the data contract; ``problems`` holds every problem found.

    The message lists every problem, one a line, and their number.
    """

    def __init__(self, problems: Sequence[Problem], what: str = "input") -> None:
        self.problems = list(problems)
        super().__init__(format_problems(self.problems, what))


def format_problems(problems: Sequence[Problem], what: str = "input") -> str:
    """Every problem on a line of its own, after a line with their number."""
    n = len(problems)
    head = f"{n} problem{'s' if n != 1 else ''} in {what}:"
    return "\n".join([head, *(f"  {p}" for p in problems)])


def file_error(
    path: object,
    message: str,
    fix: str = "",
    *,
    line: int | None = None,
    values: Sequence[str] = (),
) -> ProblemsError:
    """The error for one problem of a whole file (optionally at one line)."""
    rows = (line,) if line is not None else ()
    problem = Problem(str(path), None, rows, tuple(values), message, fix, len(rows))
    return ProblemsError([problem], str(path))
