"""A readable selection of a long municipality table (the national waves: 443 municipalities).

A wave report of the national set would list every municipality in its table and forest plot of
the small-area estimates. A reader needs a selection: :func:`select_municipalities` keeps every
row when the table is short (at most :data:`MAX_ROWS`, so the project's 14 municipalities are
shown as before), else

* the municipalities whose verdict says *probably below* the target, the most certain first
  (lowest chance of at least the target), at most :data:`PER_VERDICT`;
* those *probably at or above* the target, the most certain first, at most :data:`PER_VERDICT`;
* the :data:`LARGEST` largest municipalities by (adult) population on the wave's reference date;

in the table's own order. A table without verdicts (the TRI*M index) is cut the same way by
:func:`select_by_value`: its lowest and highest values and the largest municipalities. A table of
changes between waves is cut by :func:`select_changes` (the largest declines and rises, or the
most certain ones by the chance of improvement, and the largest municipalities), and
:func:`subset_changes` keeps those municipalities in every pair of waves.
:func:`selected_table` prints that selection and publishes the full
table: the export (``tabellen/<name>.csv`` and the workbook) always holds every municipality,
and the note under the printed table says how the rows were chosen and where the full table is.
"""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

import pandas as pd

from meting import columns as C
from meting.errors import ParameterError
from meting.privacy_rules import SUPPRESSED
from meting.report.formatting import DutchTable, count_plural

if TYPE_CHECKING:
    from meting.registry import Registry

__all__ = [
    "LARGEST",
    "MAX_ROWS",
    "PER_VERDICT",
    "Selection",
    "populations",
    "select_by_value",
    "select_changes",
    "select_municipalities",
    "selected_changes_table",
    "selected_table",
    "subset_changes",
]

#: A table of at most this many municipalities is shown whole.
MAX_ROWS: Final = 40
#: At most this many municipalities per verdict (below, at or above the target).
PER_VERDICT: Final = 15
#: The largest municipalities (by population) that are always shown.
LARGEST: Final = 10


@dataclass(frozen=True)
class Selection:
    """The rows of a municipality table to print and why (``note`` is empty when all are)."""

    rows: pd.DataFrame
    total: int
    note: str

    @property
    def complete(self) -> bool:
        """Every row of the table is shown."""
        return len(self.rows) == self.total


def populations(registry: Registry, on: dt.date | None = None) -> dict[str, float]:
    """Adult population per municipality code on ``on`` (the registry's population table)."""
    pop = registry.population(on=on)
    return {str(k): float(v) for k, v in pop.groupby(C.MUNICIPALITY)["count"].sum().items()}


def select_municipalities(
    table: pd.DataFrame,
    *,
    target: float,
    population: Mapping[str, float],
    max_rows: int = MAX_ROWS,
    per_verdict: int = PER_VERDICT,
    largest: int = LARGEST,
    where: str = "de map tabellen/ bij dit rapport",
    name: str = "gemeenten",
) -> Selection:
    """The rows of a per-municipality result table to print (see the module docstring).

    Parameters
    ----------
    table
        One row per municipality: ``municipality`` (code), ``verdict`` (the Bayesian verdict
        labels of :func:`meting.significance.bayes_verdict_labels`) and ``prob_ge_target``.
    target
        The target mark (the verdict labels name it).
    population
        Population per code (:func:`populations`); codes without one count as 0.
    where, name
        Where the full table is published and its file name (without ``.csv``), for the note.
    """
    from meting.significance import bayes_verdict_labels, format_number

    for col in (C.MUNICIPALITY, "verdict", "prob_ge_target"):
        if col not in table.columns:
            raise ParameterError(
                f"a municipality table to select from must have column {col!r}; got "
                f"{list(table.columns)}. Pass a table of meting.pipeline.sae_by(..., 'municipality')."
            )
    if min(max_rows, per_verdict, largest) < 0:
        raise ParameterError(
            f"max_rows, per_verdict and largest must be >= 0; got {max_rows}, {per_verdict}, "
            f"{largest}."
        )
    total = len(table)
    if total <= max_rows:
        return Selection(rows=table, total=total, note="")
    above, _, below = bayes_verdict_labels(target)
    verdict = table["verdict"].astype(str)
    prob = pd.to_numeric(table["prob_ge_target"], errors="coerce")
    low = prob[verdict == below].sort_values(kind="stable").index[:per_verdict]
    high = prob[verdict == above].sort_values(ascending=False, kind="stable").index[:per_verdict]
    t = format_number(target)
    parts = [
        _part(
            len(low), int((verdict == below).sum()), below, f"de kleinste kans op een {t} of meer"
        ),
        _part(
            len(high), int((verdict == above).sum()), above, f"de grootste kans op een {t} of meer"
        ),
    ]
    return _with_largest(table, low.union(high), parts, population, largest, where, name)


def select_by_value(
    table: pd.DataFrame,
    value: str,
    *,
    what: str,
    population: Mapping[str, float],
    max_rows: int = MAX_ROWS,
    per_side: int = PER_VERDICT,
    largest: int = LARGEST,
    where: str = "de map tabellen/ bij dit rapport",
    name: str,
) -> Selection:
    """The rows of a per-municipality table without verdicts to print (e.g. the TRI*M index):
    at most ``max_rows`` whole, else the ``per_side`` lowest and highest ``value`` (missing
    values, such as suppressed cells, never count) and the ``largest`` largest municipalities,
    in the table's order; ``what`` names ``value`` in the note (``"TRI*M-index"``)."""
    _check(table, "a municipality table", (C.MUNICIPALITY, value), max_rows, per_side, largest)
    if len(table) <= max_rows:
        return Selection(rows=table, total=len(table), note="")
    low, high = _ends(table[value], per_side)
    parts = [
        _the(len(low), f"gemeente met de laagste {what}", f"gemeenten met de laagste {what}"),
        _the(len(high), f"gemeente met de hoogste {what}", f"gemeenten met de hoogste {what}"),
    ]
    return _with_largest(table, low.union(high), parts, population, largest, where, name)


#: How the note names the two ends of a change table, per column it is ordered by.
_CHANGE_ENDS: Final[Mapping[str, tuple[str, str]]] = {
    "estimate": ("de grootste daling", "de grootste stijging"),
    "prob_improved": ("de kleinste kans op verbetering", "de grootste kans op verbetering"),
}


def select_changes(
    table: pd.DataFrame,
    *,
    population: Mapping[str, float],
    certainty: str = "estimate",
    min_n: int = 0,
    max_rows: int = MAX_ROWS,
    per_side: int = PER_VERDICT,
    largest: int = LARGEST,
    where: str = "de map tabellen/ bij dit rapport",
    name: str,
) -> Selection:
    """The municipalities of a change table to print: at most ``max_rows`` whole, else the
    ``per_side`` at each end of ``certainty`` and the ``largest`` largest municipalities.

    ``certainty`` is ``"estimate"`` (a direct change of :func:`meting.pipeline.wave_changes`:
    the largest declines and rises) or ``"prob_improved"`` (a linked change of
    :func:`meting.linked_trends.linked_changes`: the lowest and highest chance of improvement).
    Only a tested change is chosen by its value: one with a value, without a ``reason`` (too
    few respondents, no respondents in a wave: a model prediction) and, where the table has
    ``n_earlier``/``n_later``, at least ``min_n`` respondents in both waves; a change the report
    does not show never puts its municipality in the selection. The national row
    (:data:`meting.trends.NATIONAL`) is no municipality and never counts (:func:`subset_changes`
    keeps it)."""
    from meting.trends import NATIONAL

    if certainty not in _CHANGE_ENDS:
        raise ParameterError(f"certainty must be one of {list(_CHANGE_ENDS)}; got {certainty!r}.")
    _check(table, "a change table", (C.MUNICIPALITY, certainty), max_rows, per_side, largest)
    places = table.loc[table[C.MUNICIPALITY].astype(str) != NATIONAL]
    if len(places) <= max_rows:
        return Selection(rows=places, total=len(places), note="")
    tested = pd.Series(True, index=places.index)
    if "reason" in places.columns:
        tested &= places["reason"].isna()
    for col in ("n_earlier", "n_later"):
        if col in places.columns:
            tested &= pd.to_numeric(places[col], errors="coerce").fillna(0) >= min_n
    low, high = _ends(places.loc[tested, certainty], per_side)
    low_text, high_text = _CHANGE_ENDS[certainty]
    parts = [
        _the(len(low), "gemeente", "gemeenten") + f" met {low_text}",
        _the(len(high), "gemeente", "gemeenten") + f" met {high_text}",
    ]
    return _with_largest(places, low.union(high), parts, population, largest, where, name)


def subset_changes(
    changes: Mapping[tuple[str, str], pd.DataFrame], selection: Selection
) -> dict[tuple[str, str], pd.DataFrame]:
    """Every pair's change table cut to the municipalities of ``selection`` (and the national
    row), in each table's order; the tables themselves are not changed."""
    from meting.trends import NATIONAL

    keep = {*selection.rows[C.MUNICIPALITY].astype(str), NATIONAL}
    return {
        pair: t.loc[t[C.MUNICIPALITY].astype(str).isin(keep)] if C.MUNICIPALITY in t.columns else t
        for pair, t in changes.items()
    }


def selected_changes_table(
    changes: Mapping[tuple[str, str], pd.DataFrame],
    table: Callable[[Mapping[tuple[str, str], pd.DataFrame], str], DutchTable],
    *,
    caption: str,
    pair: tuple[str, str],
    population: Mapping[str, float],
    min_n: int,
    per_side: int = PER_VERDICT,
    largest: int = LARGEST,
    name: str,
) -> DutchTable:
    """A per-municipality table over the waves (``table(changes, caption)``, e.g.
    :func:`meting.report.trend_tables.trend_table`) printed for the municipalities
    :func:`select_changes` picks on the changes of ``pair`` (the whole period), in every pair of
    waves; published whole (every municipality in ``tabellen/``). A short table is printed whole,
    with its own caption; a selection says so in its caption and in the note under it."""
    pick = select_changes(
        changes[pair], population=population, min_n=min_n, per_side=per_side,
        largest=largest, name=name,
    )  # fmt: skip
    return selected_table(
        table(changes, caption),
        pick,
        lambda _: table(subset_changes(changes, pick), f"{caption}, een selectie"),
    )


def _check(table: pd.DataFrame, what: str, columns: tuple[str, ...], *counts: int) -> None:
    """The columns a selection needs, and ``max_rows``, ``per_side`` and ``largest`` >= 0."""
    for col in columns:
        if col not in table.columns:
            raise ParameterError(
                f"{what} to select from must have column {col!r}; got {list(table.columns)}."
            )
    if min(counts) < 0:
        raise ParameterError(
            "max_rows, per_side and largest must be >= 0; got " + ", ".join(map(str, counts)) + "."
        )


def _ends(values: pd.Series, per_side: int) -> tuple[pd.Index, pd.Index]:
    """The index of the ``per_side`` lowest and the ``per_side`` highest values (missing values
    never count; ties in the table's order)."""
    known = pd.to_numeric(values, errors="coerce").dropna()
    return (
        known.sort_values(kind="stable").index[:per_side],
        known.sort_values(ascending=False, kind="stable").index[:per_side],
    )


def _with_largest(
    table: pd.DataFrame,
    chosen: pd.Index,
    parts: list[str],
    population: Mapping[str, float],
    largest: int,
    where: str,
    name: str,
) -> Selection:
    """``chosen`` plus the ``largest`` largest municipalities, in the table's order, and the note."""
    size = table[C.MUNICIPALITY].astype(str).map(lambda c: population.get(c, 0.0))
    big = size.sort_values(ascending=False, kind="stable").index[:largest]
    rows = table.loc[table.index.isin(chosen.union(big))]
    rows.attrs = dict(table.attrs)
    if SUPPRESSED in rows.columns:  # the note under the table counts the rows it shows
        rows.attrs["suppressed"] = int(rows[SUPPRESSED].astype(bool).sum())
        rows.attrs["suppressed_secondary"] = 0
    if big.size:
        parts = [
            *parts,
            _the(len(big), "grootste gemeente", "grootste gemeenten") + " naar inwonertal",
        ]
    note = (
        f"Deze tabel toont {len(rows)} van de {count_plural(len(table), 'gemeenten')}: "
        + "; ".join(p for p in parts if p)
        + f". Alle gemeenten staan in de volledige tabel {name}.csv (en in het Excel-bestand) in "
        + f"{where}."
    )
    return Selection(rows=rows, total=len(table), note=note)


def _the(n: int, singular: str, plural: str) -> str:
    """``de gemeente``, ``de 3 gemeenten``."""
    return f"de {singular}" if n == 1 else f"de {n} {plural}"


def _part(shown: int, found: int, label: str, which: str) -> str:
    """One group of the note: every municipality with verdict ``label``, or the ``shown`` most
    certain of the ``found``."""
    if found == 0:
        return ""
    if shown == found:
        return _the(found, "gemeente", "gemeenten") + f" met het oordeel '{label}'"
    return f"{_the(shown, 'gemeente', 'gemeenten')} met {which} van de {found} met het oordeel '{label}'"


def selected_table(
    full: DutchTable,
    selection: Selection,
    shown: Callable[[pd.DataFrame], DutchTable],
) -> DutchTable:
    """The printed selection with the full table's export data: publish it under the full
    table's name and ``tabellen/`` holds every row while the report shows ``selection.rows``
    (``shown`` prints a table, e.g. ``lambda rows: tables.sae_table(rows, ...)``) and the note."""
    if selection.complete:
        return full
    printed = shown(selection.rows)
    note = f'<p class="meting-note">{html.escape(selection.note)}</p>'
    return DutchTable(printed.html + note, data=full.data, caption=full.caption)
