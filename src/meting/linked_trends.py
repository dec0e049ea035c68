"""Changes between two waves from the small-area model linked across the waves
(:func:`meting.pipeline.fit_linked_small_areas`), per cell or aggregated per municipality or per
life event, with one verdict rule.

The aggregate of a group (a municipality over its life events, a life event over the
municipalities) is the population-weighted mean of its cells' changes *per draw*
(:func:`meting.sae.aggregate.weighted_aggregate`, weights :func:`meting.pipeline.linked_population`),
so its mean is the weighted mean of the cells' mean changes and its interval accounts for the
correlation between the cells.

**Verdict rule** (:func:`change_verdicts`): with ``p = P(later > earlier)`` from the draws,
"verbeterd" when ``p >= prob_above``, "verslechterd" when ``p <= prob_below`` (the model
thresholds of ``params/settings.yaml``), else "geen aantoonbaar verschil". A row without
respondents in one of the two waves (a cell not observed in both, an aggregate with no respondents
in a wave) is a model prediction: it keeps its change and interval but gets no verdict (reason
:data:`REASON_PREDICTION`). A life event of a fit benchmarked per life event and wave has exactly
the change of its direct estimates, so it gets no verdict of its own either (reason
:data:`REASON_BENCHMARKED`): the test of the direct estimates gives it, once.

**Publication flag**: a change is as publishable as the worse of its two waves (``publication``,
from ``publication_earlier`` and ``publication_later``, the flags of
:mod:`meting.sae.quality`; for an aggregate the rule applied to the aggregate's level in each
wave: its respondents and cv). A change with a wave flagged "niet publiceren" gets no verdict
(reason :data:`REASON_NOT_PUBLISHED`); "publiceren met voorbehoud" keeps its verdict and the
reports mark it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from meting import columns as C
from meting.errors import ParameterError

if TYPE_CHECKING:
    from meting.registry import Registry
    from meting.sae.result import SaeResult
    from meting.settings import Settings

__all__ = [
    "REASON_BENCHMARKED",
    "REASON_NOT_PUBLISHED",
    "REASON_PREDICTION",
    "VERDICTS",
    "change_verdicts",
    "linked_changes",
]

#: The verdicts of :func:`change_verdicts` (read by :func:`meting.report.summary.direction`).
VERDICTS = ("verbeterd", "verslechterd", "geen aantoonbaar verschil")
#: Why a row gets no verdict.
REASON_PREDICTION = "modelvoorspelling (geen respondenten in beide metingen)"
#: Why a life event of a benchmarked fit gets no verdict of its own: its change is that of the
#: direct estimates, whose test gives the verdict (one verdict per estimate).
REASON_BENCHMARKED = "gebenchmarkt: gelijk aan de directe schatting, die het oordeel geeft"
#: Why a change with respondents in both waves gets no verdict: the publication rule says "niet
#: publiceren" for one of the two waves.
REASON_NOT_PUBLISHED = "niet publiceren in een van beide metingen (publicatieregel)"
#: The publication classes of :mod:`meting.sae.quality`, best first (repeated here so that the
#: report modules that read this module's constants do not import the model code).
_PUBLICATION_ORDER = ("publiceren", "publiceren met voorbehoud", "niet publiceren")


def change_verdicts(table: pd.DataFrame, *, upper: float, lower: float) -> pd.DataFrame:
    """A copy of a change table with ``verdict`` and ``reason`` by the rule of the module
    docstring; needs ``prob_improved, n_earlier, n_later`` (``observed_earlier`` and
    ``observed_later`` are used when present)."""
    if not (0.0 <= lower < upper <= 1.0):
        raise ParameterError(
            f"thresholds must satisfy 0 <= lower < upper <= 1; got lower={lower!r}, "
            f"upper={upper!r}. Use e.g. prob_below: 0.05, prob_above: 0.95 in settings."
        )
    prob = table["prob_improved"].to_numpy(dtype=float)
    both = (table["n_earlier"].fillna(0).to_numpy(dtype=float) > 0) & (
        table["n_later"].fillna(0).to_numpy(dtype=float) > 0
    )
    for side in ("earlier", "later"):
        if f"observed_{side}" in table.columns:
            both &= table[f"observed_{side}"].fillna(False).to_numpy(dtype=bool)
    publication = _worse_publication(table)
    blocked = (
        both & (publication == _PUBLICATION_ORDER[-1])
        if publication is not None
        else np.zeros(both.shape, dtype=bool)
    )
    up, down, same = VERDICTS
    verdict = [
        None if not ok or no else up if p >= upper else down if p <= lower else same
        for ok, no, p in zip(both, blocked, prob, strict=True)
    ]
    out = table.copy()
    out["verdict"] = pd.Series(verdict, index=out.index, dtype="object")
    reason = [
        REASON_PREDICTION if not ok else REASON_NOT_PUBLISHED if no else None
        for ok, no in zip(both, blocked, strict=True)
    ]
    out["reason"] = pd.Series(reason, index=out.index, dtype="object")
    if publication is not None:
        out["publication"] = pd.Series(publication, index=out.index, dtype="object")
    return out


def _worse_publication(table: pd.DataFrame) -> np.ndarray | None:
    """The worse of ``publication_earlier`` and ``publication_later`` per row (None without
    them)."""
    sides = ("publication_earlier", "publication_later")
    if not all(side in table.columns for side in sides):
        return None
    rank = {label: i for i, label in enumerate(_PUBLICATION_ORDER)}
    worst = len(_PUBLICATION_ORDER) - 1
    ranks = np.maximum(*(table[side].map(rank).fillna(worst).to_numpy(dtype=int) for side in sides))
    return np.asarray(_PUBLICATION_ORDER, dtype=object)[ranks]


def linked_changes(
    registry: Registry,
    waves: Sequence[str],
    by: str | None,
    *,
    var: str = C.SCORE_CHAIN,
    sae: SaeResult | None = None,
) -> pd.DataFrame:
    """The change from the first to the last of ``waves`` (by year) in the linked model.

    ``by`` is ``"municipality"`` or ``"life_event"`` (population-weighted aggregates) or None
    (one row per life event x municipality cell). Returns a result table (:mod:`meting.results`,
    method ``linked-difference``): the group column(s), the change's posterior mean
    (``estimate``), sd, 95 % and 90 % intervals, ``prob_improved``, ``n_earlier, n_later``
    (respondents), ``wave_earlier, wave_later``, ``benchmarked`` (for a benchmarked fit),
    ``verdict, reason`` (:func:`change_verdicts`) and ``naam`` (the Dutch name of the municipality or life event), in registry order.
    The fit comes from the fit cache when it was computed before; ``sae`` passes a fit of
    :func:`meting.pipeline.fit_linked_small_areas` over ``waves`` already at hand.
    """
    from meting import pipeline  # here: report modules import this one for its constants
    from meting.sae.aggregate import weighted_aggregate
    from meting.trends import registry_order

    if by not in (None, C.MUNICIPALITY, C.LIFE_EVENT):
        raise ParameterError(
            f"by must be None, {C.MUNICIPALITY!r} or {C.LIFE_EVENT!r}; got {by!r}."
        )
    order = sorted(waves, key=lambda w: (registry.waves[w].year, w))
    if sae is None:
        sae = pipeline.fit_linked_small_areas(registry, order, var)
    elif sorted(sae.waves) != sorted(order):
        raise ParameterError(f"sae must be a linked fit over {order}; got one over {sae.waves}.")
    first, last = order[0], order[-1]
    cells = sae.change(first, last)
    s = registry.settings
    if by is None:
        table = cells
    else:
        on = max(registry.waves[w].reference_date for w in order)
        weights = sae_change_weights(cells, pipeline.linked_population(registry, on))
        table = weighted_aggregate(
            sae.change_draws(first, last),
            cells,
            [by],
            weights,
            0.0,
            variable=str(cells["variable"].iloc[0]),
            method="linked-difference",
        )
        table = table.rename(columns={"prob_ge_target": "prob_improved"})
        key = cells[by].astype(str)
        for side in ("earlier", "later"):
            counts = cells[f"n_{side}"].fillna(0).groupby(key).sum()
            table[f"n_{side}"] = table[by].astype(str).map(counts).to_numpy(dtype=np.int64)
        table["wave_earlier"], table["wave_later"] = first, last
        if "benchmarked" in cells.columns:  # an aggregate of benchmarked cells
            flags = cells["benchmarked"].astype(bool).groupby(key).all()
            table["benchmarked"] = table[by].astype(str).map(flags).fillna(False).to_numpy(bool)
        if "publication_earlier" in cells.columns:
            table = _aggregate_publication(table, sae, cells, by, weights, (first, last), s)
    table = change_verdicts(table, upper=s.prob_above, lower=s.prob_below)
    if by == C.LIFE_EVENT and "benchmarked" in table.columns:
        # benchmarked per life event and wave: the change is the direct estimates' change, whose
        # test (meting.pipeline.wave_changes) gives its verdict
        same = table["benchmarked"].to_numpy(dtype=bool) & table["verdict"].notna().to_numpy()
        table.loc[same, "verdict"] = None
        table.loc[same, "reason"] = REASON_BENCHMARKED
    if by is None:
        names = {k: v.name for k, v in registry.life_events.items()}
        table.insert(0, "naam", table[C.LIFE_EVENT].astype(str).map(names))
        return registry_order(table, "events", registry)
    source = registry.municipalities if by == C.MUNICIPALITY else registry.life_events
    table.insert(0, "naam", table[by].astype(str).map({k: v.name for k, v in source.items()}))
    return registry_order(table, "municipalities" if by == C.MUNICIPALITY else "events", registry)


def _aggregate_publication(
    table: pd.DataFrame,
    sae: SaeResult,
    cells: pd.DataFrame,
    by: str,
    weights: np.ndarray,
    waves: tuple[str, str],
    settings: Settings,
) -> pd.DataFrame:
    """``table`` with ``publication_earlier`` and ``publication_later``: the publication rule
    applied to each aggregate's level in the two waves (its respondents and its cv, from the
    population-weighted aggregate of the cells' draws in that wave)."""
    from meting.sae.aggregate import weighted_aggregate

    rule = settings.publication_rule()
    draws = sae.draws()
    draws = draws.reshape(draws.shape[0], -1, len(sae.waves))
    table = table.copy()
    for side, wave in zip(("earlier", "later"), waves, strict=True):
        counts = cells.assign(n=cells[f"n_{side}"].fillna(0).to_numpy(dtype=float))
        level = weighted_aggregate(
            draws[:, :, sae.waves.index(wave)], counts, [by], weights, sae.target
        )
        with np.errstate(divide="ignore", invalid="ignore"):
            cv = level["se"].to_numpy(dtype=float) / np.abs(level["estimate"].to_numpy(dtype=float))
        flags = dict(zip(level[by].astype(str), rule.flag(level["n"].to_numpy(), cv), strict=True))
        table[f"publication_{side}"] = table[by].astype(str).map(flags).to_numpy(dtype=object)
    return table


def sae_change_weights(cells: pd.DataFrame, population: pd.DataFrame) -> np.ndarray:
    """The population of every row of a change table (life event x municipality), 0 where the
    population table has none."""
    keys = [C.LIFE_EVENT, C.MUNICIPALITY]
    keyed = (
        cells[keys]
        .astype(str)
        .merge(population.astype({k: str for k in keys}), on=keys, how="left")
    )
    return keyed["population"].fillna(0.0).to_numpy(dtype=float)
