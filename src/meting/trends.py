"""Estimates compared over the waves: the families of the comparison report and a municipality's
trend.

A *family* is one table of the comparison report: the levels, the life events, the organisations,
the BurgerServiceCode norms, the municipalities (chain, direct estimate) and the TRI*M index.
:func:`family_estimates` gives a wave's estimate table of a family; :func:`meting.pipeline.
wave_changes` tests the change between two waves with :func:`meting.comparison.compare_waves`
(one Holm family per table and pair) and puts the rows in registry order
(:func:`registry_order`): the order of ``params/`` (life events and organisations as listed in
their YAML files, municipalities by CBS code after the national row, norms 1 to 10, the levels
government, chain, cooperation, organisations), never by estimate.

Municipality codes of an earlier wave are mapped to the division of the later wave through the
registry's dated code changes *before* estimating
(:func:`meting.comparison.remap_design_municipalities`), so a merged municipality is one domain
with the design's own variance.

:func:`municipality_trend` gives one municipality's overall figures (government as a whole and the
chain, direct design-based estimates) per wave, mapped to its current code, and their changes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Final

import numpy as np
import pandas as pd

from meting import columns as C
from meting.errors import ParameterError
from meting.labels import LEVEL_NAMES

if TYPE_CHECKING:
    from meting.pipeline import WaveAnalysis
    from meting.registry import Registry

__all__ = [
    "FAMILIES",
    "NATIONAL",
    "TREND_VARIABLES",
    "family_estimates",
    "family_label",
    "municipality_estimates",
    "municipality_trend",
    "municipality_trends",
    "registry_order",
    "trim_estimates",
]

#: The tables of the comparison over time, in report order.
FAMILIES: Final = ("levels", "events", "organisations", "norms", "municipalities", "trim")
#: The key of the national row of the TRI*M table (all municipalities in the sample together).
NATIONAL: Final = "landelijk"
NATIONAL_NAME: Final = "alle gemeenten in de steekproef"
#: The two overall figures of a municipality's trend, in report order.
TREND_VARIABLES: Final = (C.SCORE_GOVERNMENT, C.SCORE_CHAIN)

#: Per family: the key columns the waves are joined on and the column with the Dutch name.
_KEYS: Final[Mapping[str, tuple[list[str], str]]] = {
    "levels": (["niveau"], "niveau"),
    "events": ([C.LIFE_EVENT], "levensgebeurtenis"),
    "organisations": ([C.ORGANISATION], "organisatie"),
    "norms": (["norm"], "norm"),
    "municipalities": ([C.MUNICIPALITY], "gemeente"),
    "trim": ([C.MUNICIPALITY], "gemeente"),
}


def _check_family(table: str) -> None:
    if table not in _KEYS:
        raise ParameterError(f"table must be one of {list(FAMILIES)}; got {table!r}.")


def family_label(table: str) -> str:
    """The column holding the Dutch name of a family's rows (``niveau``, ``gemeente``, ...)."""
    _check_family(table)
    return _KEYS[table][1]


def family_keys(table: str) -> list[str]:
    """The key columns a family's waves are joined on."""
    _check_family(table)
    return list(_KEYS[table][0])


def _names(registry: Registry) -> dict[str, str]:
    names = {k: v.name for k, v in registry.municipalities.items()}
    names[NATIONAL] = NATIONAL_NAME
    return names


def municipality_estimates(
    an: WaveAnalysis, *, on: dt.date | None = None, var: str = C.SCORE_CHAIN
) -> pd.DataFrame:
    """Direct (design-based) mean of ``var`` per municipality, codes mapped to the division valid
    on ``on`` (default: the wave's own), with the Dutch name in ``gemeente``."""
    from meting.comparison import remap_design_municipalities

    design = an.design
    if on is not None:
        design = remap_design_municipalities(design, an.registry, on)
    out = design.mean(var, by=C.MUNICIPALITY, level=an.settings.confidence)
    out[C.MUNICIPALITY] = out[C.MUNICIPALITY].astype(str)
    names = _names(an.registry)
    out.insert(0, "gemeente", out[C.MUNICIPALITY].map(lambda c: names.get(c, c)))
    return out


def trim_estimates(an: WaveAnalysis, *, on: dt.date | None = None) -> pd.DataFrame | None:
    """TRI*M index (:func:`meting.knelpunten.trim_index`) for all municipalities together (key
    :data:`NATIONAL`) and per municipality (codes mapped as in :func:`municipality_estimates`);
    None when the wave lacks the four TRI*M questions."""
    from meting.comparison import remap_design_municipalities
    from meting.knelpunten import trim_index

    if not all(c in an.design.data.columns for c in C.TRIM_QUESTIONS):
        return None
    design = an.design
    if on is not None:
        design = remap_design_municipalities(design, an.registry, on)
    level = an.settings.confidence
    national = trim_index(design, by=None, level=level).assign(**{C.MUNICIPALITY: NATIONAL})
    per = trim_index(design, by=C.MUNICIPALITY, level=level)
    per[C.MUNICIPALITY] = per[C.MUNICIPALITY].astype(str)
    out = pd.concat([national[per.columns], per], ignore_index=True)
    out.attrs = {}
    names = _names(an.registry)
    out.insert(0, "gemeente", out[C.MUNICIPALITY].map(lambda c: names.get(c, c)))
    return out


def family_estimates(
    an: WaveAnalysis, table: str, *, on: dt.date | None = None
) -> pd.DataFrame | None:
    """A wave's estimate table of one family (None when the wave lacks its data, e.g. no
    organisation table or no TRI*M questions); ``on`` maps municipality codes."""
    from meting import pipeline

    _check_family(table)
    if table == "levels":
        return pipeline.level_estimates(an)
    if table == "events":
        return pipeline.life_event_estimates(an)
    if table == "organisations":
        return pipeline.organisation_estimates(an)
    if table == "norms":
        return pipeline.bsc_shares(an)
    if table == "municipalities":
        return municipality_estimates(an, on=on)
    return trim_estimates(an, on=on)


def _order_keys(table: str, registry: Registry) -> tuple[str, list[str]]:
    if table == "levels":
        return "variable", list(LEVEL_NAMES)
    if table == "events":
        return C.LIFE_EVENT, list(registry.life_events)
    if table == "organisations":
        return C.ORGANISATION, list(registry.organisations)
    if table == "norms":
        return "variable", list(C.BSC_NORMS)
    return C.MUNICIPALITY, [NATIONAL, *registry.municipalities]


def registry_order(frame: pd.DataFrame, table: str, registry: Registry) -> pd.DataFrame:
    """The rows of a family's table in registry order (see the module docstring); rows the
    registry does not know come last, in their order of appearance."""
    _check_family(table)
    column, order = _order_keys(table, registry)
    if column not in frame.columns:
        return frame.reset_index(drop=True)
    rank = {k: i for i, k in enumerate(order)}
    key = frame[column].astype(str).map(lambda k: rank.get(k, len(rank))).to_numpy()
    return frame.iloc[np.argsort(key, kind="stable")].reset_index(drop=True)


def municipality_trend(
    waves: Mapping[str, WaveAnalysis], code: str, *, order: Sequence[str] | None = None
) -> tuple[pd.DataFrame, dict[tuple[str, str], pd.DataFrame]]:
    """One municipality's overall figures per wave and their changes.

    Parameters
    ----------
    waves
        The analysed waves by label.
    code
        The municipality's code in the latest wave's division; each wave's respondents are mapped
        to that division (the registry's code changes, on the latest wave's reference date), so a
        municipality formed by a merger gathers its predecessors.
    order
        The wave labels in time order (default: by year).

    Returns
    -------
    estimates, changes
        ``estimates``: one row per wave x variable (``meting``, ``niveau`` and the result columns
        of :func:`municipality_estimates`; waves without respondents of the municipality are left
        out). ``changes``: per pair (consecutive waves and the whole period) the table of
        :func:`meting.comparison.compare_waves` for the two variables (one Holm family per pair).
    """
    return municipality_trends(waves, [code], order=order)[code]


def municipality_trends(
    waves: Mapping[str, WaveAnalysis],
    codes: Sequence[str] | None = None,
    *,
    order: Sequence[str] | None = None,
) -> dict[str, tuple[pd.DataFrame, dict[tuple[str, str], pd.DataFrame]]]:
    """:func:`municipality_trend` of many municipalities (default: every municipality of the
    latest wave's registry), each wave's estimates computed once for all of them (the per-wave
    work of :mod:`meting.artefacts`)."""
    from meting.comparison import compare_waves

    labels = list(order) if order is not None else sorted(waves, key=lambda w: waves[w].wave.year)
    if not labels:
        raise ParameterError("waves must hold at least one analysed wave; got none.")
    latest = waves[labels[-1]]
    codes = list(codes) if codes is not None else sorted(latest.registry.municipalities)
    unknown = [c for c in codes if c not in latest.registry.municipalities]
    if unknown:
        raise ParameterError(
            f"municipality must be a code in {latest.registry.params_dir / 'municipalities'}; "
            f"got {unknown[0]!r}."
        )
    on = latest.wave.reference_date
    all_waves: dict[str, pd.DataFrame] = {}
    for label in labels:
        parts = [
            municipality_estimates(waves[label], on=on, var=v).assign(
                niveau=LEVEL_NAMES[v].removeprefix("de ")
            )
            for v in TREND_VARIABLES
        ]
        all_waves[label] = pd.concat(parts, ignore_index=True)
    s = latest.settings
    out: dict[str, tuple[pd.DataFrame, dict[tuple[str, str], pd.DataFrame]]] = {}
    for code in codes:
        per_wave: dict[str, pd.DataFrame] = {}
        for label in labels:
            table = all_waves[label]
            table = table.loc[table[C.MUNICIPALITY] == code].reset_index(drop=True)
            if len(table):
                per_wave[label] = table
        estimates = (
            pd.concat([t.assign(meting=label) for label, t in per_wave.items()], ignore_index=True)
            if per_wave
            else pd.DataFrame()
        )
        present = [w for w in labels if w in per_wave]
        pairs = list(zip(present, present[1:], strict=False))
        if len(present) > 2:
            pairs.append((present[0], present[-1]))
        changes = {
            (a, b): _by_variable(
                compare_waves(
                    per_wave[a],
                    per_wave[b],
                    keys=["niveau"],
                    registry=latest.registry,
                    earlier_wave=a,
                    later_wave=b,
                    level=s.confidence,
                    adjust=s.multiple_testing,
                    min_n=s.min_cell_size,
                )
            )
            for a, b in pairs
        }
        out[code] = (estimates, changes)
    return out


def _by_variable(frame: pd.DataFrame) -> pd.DataFrame:
    rank = {v: i for i, v in enumerate(TREND_VARIABLES)}
    key = frame["variable"].astype(str).map(lambda v: rank.get(v, len(rank))).to_numpy()
    return frame.iloc[np.argsort(key, kind="stable")].reset_index(drop=True)
