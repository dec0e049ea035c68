"""Checks of coded columns against the registry: waves, municipalities (with the dated code
changes), life events and organisations; and one wave per file."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd

from meting import columns as C
from meting.contract import MUNICIPALITY_PATTERN, ColumnSpec
from meting.problems import Problem
from meting.raw_table import RawTable


def _known(values: pd.Series, is_known: Any) -> pd.Series:
    """Mask of values that ``is_known`` rejects; calls it once per distinct value, not per row."""
    distinct = values.dropna().unique()
    rejected = [v for v in distinct if not is_known(v)]
    return values.isin(rejected)


def _list_codes(codes: Any, limit: int = 15) -> str:
    codes = sorted(str(c) for c in codes)
    shown = ", ".join(codes[:limit])
    return shown + (f", ... ({len(codes)} in all)" if len(codes) > limit else "")


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
    introduced_on = getattr(registry, "introduced_on", None)
    if introduced_on is not None:
        first = introduced_on(code)
    else:
        created = [c.valid_from for c in changes if c.new_code == code]
        first = min(created) if created else None
    if first is not None and first > on:
        return (
            f"must be a municipality code valid on the wave's reference date {on.isoformat()}",
            f"{code} exists from {first.isoformat()} on; use the code of the "
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
    t: RawTable, spec: ColumnSpec, codes: pd.Series, registry: Any, on: dt.date
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


def check_lookup(
    t: RawTable, spec: ColumnSpec, registry: Any, wave: str | None, on: dt.date | None = None
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
    t: RawTable, raw: pd.Series, unknown: pd.Series, wave: str | None
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
