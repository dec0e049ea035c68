"""Every check of input data against the data contract: the header, the cells of each column,
the codes (via :mod:`meting.lookups`) and unique keys.

The checkers take a *raw* table (every cell as read from the file, see
:func:`meting.loaders.read_table`, and :mod:`meting.raw_table` for its ``attrs``) and return every
:class:`~meting.problems.Problem` at once, each naming the file, the column, the lines and the
offending values. They are vectorised: one pass of pandas/Arrow operations per column, never a
Python loop over rows.
"""

from __future__ import annotations

import datetime as dt
import difflib
from typing import Any

import numpy as np
import pandas as pd

from meting import columns as C
from meting.contract import (
    ORGANISATION_COLUMNS,
    ORGANISATION_SPECS,
    RESPONDENT_COLUMNS,
    SPECS,
    ColumnSpec,
)
from meting.lookups import check_lookup
from meting.problems import MAX_DUPLICATE_IDS, MAX_LISTED, Problem
from meting.raw_table import RawTable, as_text, parse_numbers


def _as_date(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value))


# --- column checks -----------------------------------------------------------------------------


def _check_columns(
    t: RawTable, specs: dict[str, ColumnSpec], required: set[str], what: str
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


def _check_cells(t: RawTable, spec: ColumnSpec, nullable: bool) -> list[Problem]:
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
        numbers, comma, mixed = parse_numbers(raw, t.decimal)
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


def _duplicates(t: RawTable, keys: list[str], message: str, fix: str) -> list[Problem]:
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


def _wave_of(t: RawTable, wave: str | None) -> str | None:
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
    t = RawTable.of(df, source)
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
            problems += check_lookup(t, spec, registry, wave, on)
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
    t = RawTable.of(df, source)
    required = {s.name for s in ORGANISATION_COLUMNS if s.required}
    problems = _check_columns(t, ORGANISATION_SPECS, required, "organisation table")
    present = set(map(str, t.df.columns))
    present -= {str(c) for c in t.df.columns[t.df.columns.duplicated()]}
    for spec in ORGANISATION_COLUMNS:
        if spec.name not in present:
            continue
        problems += _check_cells(t, spec, spec.nullable)
        if spec.lookup is not None:
            problems += check_lookup(t, spec, registry, None)
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
