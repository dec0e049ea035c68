"""The data contract of one wave, and every check of input data against it.

The contract is data: :data:`RESPONDENT_COLUMNS` and :data:`ORGANISATION_COLUMNS` hold one
:class:`ColumnSpec` per column (see ARCHITECTURE.md for the prose version). The checkers take a
*raw* table (every cell as read from the file, see :func:`meting.loaders.read_table`) and return
every :class:`Problem` at once, each naming the file, the column, the lines and the offending
values. They are vectorised: one pass of pandas operations per column, never a Python loop over
rows. :func:`coerce_respondents` and :func:`coerce_organisations` then give the final dtypes.

Raw tables carry three optional entries in ``DataFrame.attrs`` (set by the loaders):

``meting_decimal``
    ``","`` for ``;``-separated Dutch exports (decimal comma), else ``"."``.
``meting_unit``
    ``"line"`` (text files: header = line 1) or ``"row"`` (Parquet, SPSS: case number).
``meting_numbered``
    True when the index holds those line or row numbers. Without it, row ``i`` (0-based) is
    reported as line ``i + 2``, as a spreadsheet with a header line shows it.
"""

from __future__ import annotations

import datetime as dt
import difflib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from meting import columns as C
from meting.errors import SchemaError

Kind = Literal["string", "int", "float", "category", "binary"]
Lookup = Literal["wave", "municipality", "life_event", "organisation"]

#: How many lines (and values) a problem lists; the count says how many there are in all.
MAX_LISTED = 10
#: How many duplicated ids are reported one by one before the rest are summed up.
MAX_DUPLICATE_IDS = 10
MUNICIPALITY_PATTERN = r"GM\d{4}"


@dataclass(frozen=True)
class ColumnSpec:
    """One column of the data contract.

    Parameters
    ----------
    name
        Column name (from :mod:`meting.columns`).
    kind
        ``string``, ``int`` (whole numbers in ``[low, high]``), ``float`` (``> low`` when
        ``low`` is set), ``category`` (one of ``levels``) or ``binary`` (0/1).
    required
        The column must be present. (``education`` is required only when the wave's weighting
        asks for it; see :func:`check_respondents`.)
    nullable
        Cells may be empty (a missing value).
    low, high
        Allowed range of ``int`` columns (inclusive); ``float`` columns must exceed ``low``.
    levels
        Allowed values of a ``category`` column, in their natural order.
    ordered
        Whether the category levels are ordered (age bands, education).
    lookup
        Registry the value must be known in.
    unique
        Values must be unique within the table.
    """

    name: str
    kind: Kind
    required: bool
    nullable: bool
    low: float | None = None
    high: float | None = None
    levels: tuple[str, ...] = ()
    ordered: bool = False
    lookup: Lookup | None = None
    unique: bool = False

    @property
    def rule(self) -> str:
        """The rule in words, as it appears in a problem message."""
        if self.kind == "int":
            return f"must be an integer {self.low:g}-{self.high:g}"
        if self.kind == "float":
            return "must be a number" + (
                f" greater than {self.low:g}" if self.low is not None else ""
            )
        if self.kind == "binary":
            return "must be 0 or 1"
        if self.kind == "category":
            return "must be one of " + ", ".join(f"'{v}'" for v in self.levels)
        return "must be text"


def _ints(names: Sequence[str], low: int, high: int, required: bool) -> tuple[ColumnSpec, ...]:
    return tuple(ColumnSpec(n, "int", required, True, low, high) for n in names)


RESPONDENT_COLUMNS: tuple[ColumnSpec, ...] = (
    ColumnSpec(C.RESPONDENT_ID, "string", True, False, unique=True),
    ColumnSpec(C.WAVE, "string", True, False, lookup="wave"),
    ColumnSpec(C.MUNICIPALITY, "string", True, False, lookup="municipality"),
    ColumnSpec(C.LIFE_EVENT, "string", True, False, lookup="life_event"),
    *_ints(C.SCORES, C.SCORE_MIN, C.SCORE_MAX, True),
    *_ints(C.BSC_NORMS, C.BSC_MIN, C.BSC_MAX, True),
    *(ColumnSpec(n, "binary", True, False) for n in C.CHANNEL_COLUMNS),
    ColumnSpec(C.AGE_BAND, "category", True, False, levels=C.AGE_BANDS, ordered=True),
    ColumnSpec(C.SEX, "category", True, False, levels=C.SEXES),
    ColumnSpec(C.EDUCATION, "category", False, True, levels=C.EDUCATION_LEVELS, ordered=True),
    ColumnSpec(C.SIZE_CLASS, "string", False, True),
    *_ints(C.TRIM_QUESTIONS, C.TRIM_MIN, C.TRIM_MAX, False),
    ColumnSpec(C.STRATUM, "string", False, False),
    ColumnSpec(C.CLUSTER, "string", False, False),
    ColumnSpec(C.DESIGN_WEIGHT, "float", False, False, low=0.0),
)

ORGANISATION_COLUMNS: tuple[ColumnSpec, ...] = (
    ColumnSpec(C.RESPONDENT_ID, "string", True, False),
    ColumnSpec(C.ORGANISATION, "string", True, False, lookup="organisation"),
    ColumnSpec(C.ORGANISATION_SCORE, "int", True, False, C.SCORE_MIN, C.SCORE_MAX),
)

SPECS: dict[str, ColumnSpec] = {s.name: s for s in RESPONDENT_COLUMNS}
ORGANISATION_SPECS: dict[str, ColumnSpec] = {s.name: s for s in ORGANISATION_COLUMNS}
FLOAT_COLUMNS: frozenset[str] = frozenset(
    s.name for s in (*RESPONDENT_COLUMNS, *ORGANISATION_COLUMNS) if s.kind == "float"
)


# --- problems ----------------------------------------------------------------------------------


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


# --- parsing helpers (shared with the loaders) -------------------------------------------------


def as_text(series: pd.Series) -> pd.Series:
    """Cells as text (missing stays missing), so that typed frames can be checked like raw ones.

    Whole floats are written without ``.0`` (``7.0`` -> ``'7'``) and booleans as ``'1'``/``'0'``.
    """
    if pd.api.types.is_bool_dtype(series):
        out = series.astype("Int8").astype("str")
    elif pd.api.types.is_float_dtype(series):
        values = series.to_numpy(dtype=float, na_value=np.nan)
        whole = np.isfinite(values) & (np.mod(values, 1) == 0) & (np.abs(values) < 1e15)
        ints = pd.Series(np.where(whole, values, 0).astype(np.int64), index=series.index)
        out = ints.astype("str").where(whole, series.astype("str"))
    elif isinstance(series.dtype, pd.StringDtype) and series.dtype.na_value is not pd.NA:
        return series  # already text, missing as NaN (pandas' default ``str``)
    else:
        out = series.astype("str")
    return out.where(series.notna())


def _numbers(raw: pd.Series, decimal: str) -> tuple[pd.Series, pd.Series, pd.Series]:
    """Parse text cells as numbers.

    Returns the numbers (NaN where missing or unreadable), a mask of decimal commas that are not
    allowed (``"7,5"`` in a ``,``-separated file) and, in a decimal-comma file, a mask of cells
    that use a decimal point while others in the column use a comma (ambiguous: ``1.250``).
    """
    no = pd.Series(False, index=raw.index)
    comma, mixed, text = no, no, raw
    if decimal == ",":
        has_comma = text.str.contains(",", regex=False).fillna(False).astype(bool)
        if has_comma.any():
            has_point = text.str.contains(".", regex=False).fillna(False).astype(bool)
            mixed = has_point
            text = text.str.replace(",", ".", regex=False).where(~mixed)
    numbers = pd.to_numeric(text, errors="coerce").astype("float64")
    if decimal != ",":
        unreadable = text.notna() & numbers.isna()
        if unreadable.any():  # the pattern is matched on the few unreadable cells only
            matched = text[unreadable].str.fullmatch(r"\s*[+-]?\d*,\d+\s*").fillna(False)
            comma = matched.astype(bool).reindex(raw.index, fill_value=False)
    return numbers, comma, mixed


@dataclass(frozen=True)
class _Table:
    """A raw table with what is needed to report on it."""

    df: pd.DataFrame
    source: str
    lines: np.ndarray
    unit: str
    decimal: str

    @classmethod
    def of(cls, df: pd.DataFrame, source: str) -> _Table:
        if df.attrs.get("meting_numbered"):
            lines = np.asarray(df.index, dtype=np.int64)
        else:
            lines = np.arange(2, len(df) + 2, dtype=np.int64)
        return cls(
            df,
            source,
            lines,
            df.attrs.get("meting_unit", "line"),
            df.attrs.get("meting_decimal", "."),
        )

    def text(self, column: str) -> pd.Series:
        return as_text(self.df[column]).reset_index(drop=True)

    def problem(
        self,
        column: str | None,
        mask: pd.Series | np.ndarray,
        message: str,
        fix: str = "",
        *,
        values: pd.Series | None = None,
    ) -> Problem | None:
        """A problem for the lines where ``mask`` holds, or None when it holds nowhere."""
        where = np.flatnonzero(np.asarray(mask, dtype=bool))
        if where.size == 0:
            return None
        first = where[:MAX_LISTED]
        shown: tuple[str, ...] = ()
        if values is not None and column != C.RESPONDENT_ID:  # ids never reach a message
            shown = tuple(str(v) for v in values.iloc[first])
        return Problem(
            file=self.source,
            column=column,
            rows=tuple(int(x) for x in self.lines[first]),
            values=shown,
            message=message,
            fix=fix,
            count=int(where.size),
            unit=self.unit,
        )

    def whole(
        self, column: str | None, message: str, fix: str = "", values: tuple[str, ...] = ()
    ) -> Problem:
        """A problem of a whole column or file (no lines)."""
        return Problem(self.source, column, (), values, message, fix, 0, self.unit)


def _as_date(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value))


def _known(values: pd.Series, is_known: Any) -> pd.Series:
    """Mask of values that ``is_known`` rejects; calls it once per distinct value, not per row."""
    distinct = values.dropna().unique()
    verdict = {v: bool(is_known(v)) for v in distinct}
    return values.map(verdict).eq(False)


def _list_codes(codes: Any, limit: int = 15) -> str:
    codes = sorted(str(c) for c in codes)
    shown = ", ".join(codes[:limit])
    return shown + (f", ... ({len(codes)} in all)" if len(codes) > limit else "")


# --- column checks -----------------------------------------------------------------------------


def _check_columns(
    t: _Table, specs: dict[str, ColumnSpec], required: set[str], what: str
) -> list[Problem]:
    names = [str(c) for c in t.df.columns]
    problems = []
    counts = pd.Series(names).value_counts()
    for name, n in counts[counts > 1].items():
        problems.append(
            t.whole(
                str(name),
                "must appear once in the header",
                "Remove or rename the copies.",
                (f"{n} times",),
            )
        )
    extra = [n for n in dict.fromkeys(names) if n not in specs]
    for name in sorted(required - set(names), key=list(specs).index):
        close = difflib.get_close_matches(name, extra, n=1)
        hint = f" Column '{close[0]}' looks like it: rename it to '{name}'." if close else ""
        problems.append(
            t.whole(
                name, f"must be present (a required column of the {what})", f"Add the column.{hint}"
            )
        )
    for name in extra:
        close = difflib.get_close_matches(name, list(specs), n=1)
        hint = f"Did you mean '{close[0]}'? " if close else ""
        label = name if name.strip() else f"(no name, column {names.index(name) + 1})"
        problems.append(
            t.whole(
                label,
                f"must be a column of the {what} in the data contract (see ARCHITECTURE.md)",
                f"{hint}Rename or remove the column.",
            )
        )
    return problems


def _check_cells(t: _Table, spec: ColumnSpec, nullable: bool) -> list[Problem]:
    """Type, range and level checks of one column."""
    raw = t.text(spec.name)
    missing = raw.isna()
    out: list[Problem | None] = []
    if not nullable:
        fix = "Fill in every cell of this column."
        if spec.name == C.LIFE_EVENT:
            fix = "Every respondent needs a life event: fill in its code (params/life_events.yaml) or drop the respondent."
        out.append(t.problem(spec.name, missing, "must not be empty", fix))
    if spec.kind in ("int", "float", "binary"):
        numbers, comma, mixed = _numbers(raw, t.decimal)
        if comma.any():
            example = raw[comma].iloc[0]
            out.append(
                t.problem(
                    spec.name,
                    comma,
                    "must be written with a decimal point, not a decimal comma",
                    (
                        f"This file is comma-separated, so write {example.replace(',', '.')} for "
                        f"{example} (or save the whole file ;-separated with decimal commas, as "
                        "Dutch Excel does)."
                    )
                    if spec.kind == "float"
                    else (
                        f"This file is comma-separated, so {example} is not a number here; the "
                        f"column takes whole numbers only ({spec.rule.removeprefix('must be ')})."
                    ),
                    values=raw,
                )
            )
        out.append(
            t.problem(
                spec.name,
                mixed,
                "must use a decimal comma, like the rest of this ;-separated column",
                "A point may be a thousands separator here (1.250 = 1250?): write 1,25 or 1250.",
                values=raw,
            )
        )
        unreadable = ~missing & numbers.isna() & ~comma & ~mixed
        out.append(
            t.problem(
                spec.name,
                unreadable,
                f"must be a number ({spec.rule.removeprefix('must be ')})",
                "Use digits only; leave the cell empty for a missing value.",
                values=raw,
            )
        )
        ok = numbers.notna()
        if spec.kind == "int":
            fraction = ok & (np.mod(numbers, 1) != 0) & np.isfinite(numbers)
            out.append(
                t.problem(spec.name, fraction, spec.rule, "Use whole numbers only.", values=raw)
            )
            outside = ok & ~fraction & ((numbers < spec.low) | (numbers > spec.high))
            fix = "Correct the value, or leave the cell empty for a missing value."
            out.append(t.problem(spec.name, outside, spec.rule, fix, values=raw))
        elif spec.kind == "binary":
            out.append(
                t.problem(
                    spec.name,
                    ok & ~numbers.isin([0, 1]),
                    spec.rule,
                    "Write 1 if used, else 0.",
                    values=raw,
                )
            )
        else:
            bad = ok & ~(
                np.isfinite(numbers) & (numbers > (spec.low if spec.low is not None else -np.inf))
            )
            fix = "A design weight is 1 / inclusion probability, so it is positive; correct or drop the respondent."
            out.append(t.problem(spec.name, bad, spec.rule, fix, values=raw))
    elif spec.kind == "category":
        bad = ~missing & ~raw.isin(spec.levels)
        out.append(
            t.problem(
                spec.name, bad, spec.rule, "Recode to these levels (case matters).", values=raw
            )
        )
    return [p for p in out if p is not None]


_LOOKUPS = {
    "life_event": ("a life-event code from params/life_events.yaml", "life_events"),
    "organisation": ("an organisation code from params/organisations.yaml", "organisations"),
    "wave": ("a wave label from params/waves/", "waves"),
}


def _code_on(registry: Any, code: str, on: dt.date) -> tuple[str, str] | None:
    """Why ``code`` is not the code of its municipality on ``on`` (``(kind, fix)``), or None.

    A code that a dated change introduces exists from its ``valid_from`` on; a code that a change
    replaced before ``on`` is no longer the code of that municipality then.
    """
    changes = tuple(getattr(registry, "code_changes", ()))
    created = [c.valid_from for c in changes if c.new_code == code]
    if created and min(created) > on:
        return (
            f"must be a municipality code valid on the wave's reference date {on.isoformat()}",
            f"{code} exists from {min(created).isoformat()} on; use the code of the "
            "municipality as it was on the reference date.",
        )
    map_code = getattr(registry, "map_code", None)
    mapped = map_code(code, on) if map_code is not None else code
    if mapped != code:
        when = max(c.valid_from for c in changes if c.old_code == code and c.valid_from <= on)
        return (
            f"must be a municipality code valid on the wave's reference date {on.isoformat()}",
            f"{code} became {mapped} on {when.isoformat()}: write {mapped}, or check the wave.",
        )
    return None


def _check_code_dates(
    t: _Table, spec: ColumnSpec, codes: pd.Series, registry: Any, on: dt.date
) -> list[Problem]:
    """Municipality codes checked against the wave's reference date (the dated code changes)."""
    out = []
    verdicts = {c: _code_on(registry, str(c), on) for c in codes.dropna().unique()}
    by_reason: dict[tuple[str, str], list[str]] = {}
    for code, verdict in verdicts.items():
        if verdict is not None:
            by_reason.setdefault(verdict, []).append(code)
    for (message, fix), bad in by_reason.items():
        p = t.problem(spec.name, codes.isin(bad), message, fix, values=codes)
        if p is not None:
            out.append(p)
    return out


def _check_lookup(
    t: _Table, spec: ColumnSpec, registry: Any, wave: str | None, on: dt.date | None = None
) -> list[Problem]:
    raw = t.text(spec.name)
    out: list[Problem | None] = []
    if spec.lookup == "municipality":
        distinct = pd.Series(raw.dropna().unique(), dtype="str")  # a few hundred codes at most
        formed = raw.isin(distinct[distinct.str.fullmatch(MUNICIPALITY_PATTERN)])
        malformed = raw.notna() & ~formed
        digits = raw[malformed].str.extract(r"^(?:[Gg][Mm])?\s*(\d{1,4})$")[0].dropna()
        suggestion = "GM" + digits.str.zfill(4)
        fix = "In Excel, format the column as text so that leading zeros stay."
        if len(suggestion):
            i = suggestion.index[0]
            fix = f"Write '{suggestion[i]}' for '{raw[i]}'. " + fix
        out.append(
            t.problem(
                spec.name,
                malformed,
                "must be a CBS municipality code: 'GM' followed by 4 digits, kept as text with leading zeros (GM0505)",
                fix,
                values=raw,
            )
        )
        unknown = formed & _known(raw.where(formed), registry.is_known_municipality)
        out.append(
            t.problem(
                spec.name,
                unknown,
                "must be a municipality in params/municipalities/ (or an old code in the dated code changes)",
                "Correct the code, or add the municipality to params/municipalities/.",
                values=raw,
            )
        )
        if on is not None:
            out += _check_code_dates(t, spec, raw.where(formed & ~unknown), registry, on)
    elif spec.lookup in ("life_event", "organisation", "wave"):
        what, attribute = _LOOKUPS[spec.lookup]
        known = getattr(registry, attribute)
        where = (what, known)
        unknown = raw.notna() & ~raw.isin(list(known))
        out.append(
            t.problem(
                spec.name,
                unknown,
                f"must be {where[0]}",
                f"Known: {_list_codes(known)}.",
                values=raw,
            )
        )
        if spec.lookup == "wave":
            out.append(_check_one_wave(t, raw, unknown, wave))
    return [p for p in out if p is not None]


def _check_one_wave(
    t: _Table, raw: pd.Series, unknown: pd.Series, wave: str | None
) -> Problem | None:
    """One file holds one wave: the one asked for, or else the one on most lines."""
    valid = raw.where(~unknown).dropna()
    if valid.empty:
        return None
    expected = wave if wave is not None else str(valid.value_counts().index[0])
    other = raw.notna() & ~unknown & raw.ne(expected)
    said = "the wave being loaded" if wave is not None else "the wave on most lines"
    return t.problem(
        C.WAVE,
        other,
        f"must be '{expected}' on every line ({said})",
        "Put each wave in a file of its own.",
        values=raw,
    )


def _duplicates(t: _Table, keys: list[str], message: str, fix: str) -> list[Problem]:
    """One problem per duplicated key (each naming all its lines), then one summing up the rest."""
    frame = pd.DataFrame({k: t.text(k) for k in keys})
    dup = frame.duplicated(keep=False) & frame.notna().all(axis=1)
    if not dup.any():
        return []
    lines = pd.Series(t.lines, index=frame.index)[dup]
    label = frame.loc[dup, keys[0]]
    for k in keys[1:]:
        label = label + " / " + frame.loc[dup, k]
    groups = lines.groupby(label, sort=False).agg(list)
    column = keys[0] if len(keys) == 1 else " + ".join(keys)
    out = [
        Problem(
            t.source,
            column,
            tuple(int(x) for x in ls[:MAX_LISTED]),
            () if C.RESPONDENT_ID in keys else (str(key),),  # the lines name it; ids stay out
            message,
            fix,
            len(ls),
            t.unit,
        )
        for key, ls in groups.iloc[:MAX_DUPLICATE_IDS].items()
    ]
    rest = groups.iloc[MAX_DUPLICATE_IDS:]
    if len(rest):
        n = int(rest.map(len).sum())
        out.append(
            t.whole(
                column, message, f"{len(rest)} more values occur more than once ({n} lines). {fix}"
            )
        )
    return out


# --- public checks -----------------------------------------------------------------------------


def _wave_of(t: _Table, wave: str | None) -> str | None:
    if wave is not None or list(t.df.columns).count(C.WAVE) != 1:
        return wave
    labels = t.text(C.WAVE).dropna()
    return str(labels.value_counts().index[0]) if not labels.empty else None


def check_respondents(
    df: pd.DataFrame, *, source: str, registry: Any, wave: str | None = None
) -> list[Problem]:
    """Every way in which a respondent table breaks the data contract.

    Parameters
    ----------
    df
        The raw table (see :func:`meting.loaders.read_table`) or a typed one.
    source
        The file name to put in the messages.
    registry
        A :class:`meting.registry.Registry` (``waves``, ``life_events``,
        ``is_known_municipality``).
    wave
        The wave being loaded; every line must carry it. By default the wave on most lines.
        Its ``require_education`` decides whether ``education`` is required.

    Returns
    -------
    list of Problem
        Empty when the table follows the contract.
    """
    t = _Table.of(df, source)
    label = _wave_of(t, wave)
    need_education = label in registry.waves and bool(registry.waves[label].require_education)
    on = _as_date(registry.waves[label].reference_date) if label in registry.waves else None
    required = {s.name for s in RESPONDENT_COLUMNS if s.required} | (
        {C.EDUCATION} if need_education else set()
    )
    problems = _check_columns(t, SPECS, required, "respondent table")
    if len(t.df) == 0:
        problems.append(
            t.whole(None, "must hold at least one respondent", "The file has no data lines.")
        )
    present = set(map(str, t.df.columns))
    present -= {str(c) for c in t.df.columns[t.df.columns.duplicated()]}
    for spec in RESPONDENT_COLUMNS:
        if spec.name not in present:
            continue
        nullable = spec.nullable and not (spec.name == C.EDUCATION and need_education)
        problems += _check_cells(t, spec, nullable)
        if spec.lookup is not None:
            problems += _check_lookup(t, spec, registry, wave, on)
        if spec.unique:
            problems += _duplicates(
                t,
                [spec.name],
                "must be unique within the wave",
                "Give every respondent an id of its own, or remove the repeated line.",
            )
    return problems


def check_organisations(
    df: pd.DataFrame, respondents: pd.DataFrame | None, *, source: str, registry: Any
) -> list[Problem]:
    """Every way in which an organisation table (long: respondent x organisation) breaks the contract.

    Parameters
    ----------
    df
        The raw organisation table.
    respondents
        The respondent table of the same wave (raw or typed); every ``respondent_id`` here must
        occur there. None skips that check (no respondent table given).
    source
        The file name to put in the messages.
    registry
        A :class:`meting.registry.Registry` (``organisations``).
    """
    t = _Table.of(df, source)
    required = {s.name for s in ORGANISATION_COLUMNS if s.required}
    problems = _check_columns(t, ORGANISATION_SPECS, required, "organisation table")
    present = set(map(str, t.df.columns))
    present -= {str(c) for c in t.df.columns[t.df.columns.duplicated()]}
    for spec in ORGANISATION_COLUMNS:
        if spec.name not in present:
            continue
        problems += _check_cells(t, spec, spec.nullable)
        if spec.lookup is not None:
            problems += _check_lookup(t, spec, registry, None)
    if (
        C.RESPONDENT_ID in present
        and respondents is not None
        and C.RESPONDENT_ID in respondents.columns
    ):
        ids = t.text(C.RESPONDENT_ID)
        known = as_text(respondents[C.RESPONDENT_ID]).dropna()
        p = t.problem(
            C.RESPONDENT_ID,
            ids.notna() & ~ids.isin(known),
            "must be a respondent_id of the respondent table",
            "Every organisation rating belongs to a respondent: correct the id or drop the line.",
            values=ids,
        )
        problems += [p] if p else []
    if {C.RESPONDENT_ID, C.ORGANISATION} <= present:
        problems += _duplicates(
            t,
            [C.RESPONDENT_ID, C.ORGANISATION],
            "must be unique: a respondent rates each organisation once",
            "Remove the repeated line.",
        )
    return problems


# --- final dtypes ------------------------------------------------------------------------------


def _coerce(df: pd.DataFrame, specs: Sequence[ColumnSpec], what: str) -> pd.DataFrame:
    t = _Table.of(df, what)
    present = set(map(str, df.columns))
    out: dict[str, pd.Series] = {}
    for spec in specs:
        if spec.name not in present:
            continue
        raw = t.text(spec.name)
        if spec.kind in ("int", "binary", "float"):
            numbers, comma, mixed = _numbers(raw, t.decimal)
            if (raw.notna() & numbers.isna()).any() or comma.any() or mixed.any():
                raise SchemaError(
                    f"column '{spec.name}' of {what} must be checked first (see meting.schema.check_*)"
                )
            if spec.kind == "float":
                out[spec.name] = numbers
            else:
                dtype: Literal["Int16", "Int8"] = (
                    "Int16" if spec.high is not None and spec.high > 127 else "Int8"
                )
                out[spec.name] = numbers.astype(dtype)
        elif spec.kind == "category":
            out[spec.name] = raw.astype(
                pd.CategoricalDtype(list(spec.levels), ordered=spec.ordered)
            )
        else:
            out[spec.name] = raw.astype("string")
    return pd.DataFrame(out)


def coerce_respondents(df: pd.DataFrame) -> pd.DataFrame:
    """The checked respondent table with its final dtypes, columns in contract order.

    Strings become pandas ``string``, marks and norms ``Int8`` (missing = ``<NA>``), channels
    ``Int8`` 0/1, weighting variables ordered or unordered categoricals with the contract's
    levels, and ``design_weight`` ``float64``. The index is a fresh ``RangeIndex``.

    Raises
    ------
    SchemaError
        If a numeric cell cannot be read (run :func:`check_respondents` first).
    """
    return _coerce(df, RESPONDENT_COLUMNS, "the respondent table")


def coerce_organisations(df: pd.DataFrame) -> pd.DataFrame:
    """The checked organisation table with final dtypes (``string``, ``string``, ``Int8``)."""
    return _coerce(df, ORGANISATION_COLUMNS, "the organisation table")
