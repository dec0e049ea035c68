"""The whole comparison across waves, computed once for the comparison report.

:func:`analyse_comparison` analyses every wave (:func:`meting.pipeline.analyse_wave`), forms the
pairs of waves (each wave against its previous one, plus first -> last for the whole period),
tests every family of estimates per pair (:func:`meting.pipeline.wave_changes`) and takes the
changes first -> last from the small-area model linked over the waves
(:func:`meting.linked_trends.linked_changes` on one :func:`meting.pipeline.fit_linked_small_areas`
fit, benchmarked per life event and wave). The notebook only displays what it returns.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import pandas as pd

if TYPE_CHECKING:
    from meting.pipeline import WaveAnalysis
    from meting.registry import Registry

__all__ = ["FAMILIES", "Comparison", "analyse_comparison", "wave_pairs"]

#: The families the comparison tests, in the report's order.
FAMILIES: tuple[str, ...] = ("levels", "events", "organisations", "norms", "municipalities", "trim")

Pair = tuple[str, str]


@dataclass(frozen=True)
class Comparison:
    """Everything the comparison report shows.

    ``order``: wave labels oldest first; ``waves``: each wave analysed; ``pairs``: the compared
    pairs; ``changes[family][pair]``: the tested changes; ``levels``: the level estimates of
    every wave (column ``meting``); ``linked[by]``: the linked model's changes first -> last per
    ``"municipality"`` and ``"life_event"`` (benchmarked per life event and wave,
    :func:`meting.pipeline.fit_linked_small_areas`); ``short``: a wave's year as printed in
    tables; ``linked_parameters``: the linked fit's scale parameters
    (:func:`meting.sae.checks.scale_parameters`), None without a linked fit;
    ``linked_converged``: the linked fit meets the strict convergence rule.
    """

    order: list[str]
    waves: dict[str, WaveAnalysis]
    pairs: list[Pair]
    changes: dict[str, dict[Pair, pd.DataFrame]]
    levels: pd.DataFrame
    linked: dict[str, pd.DataFrame]
    short: dict[str, str]
    linked_parameters: pd.DataFrame | None = None
    linked_converged: bool = True


def wave_pairs(registry: Registry, order: list[str]) -> list[Pair]:
    """Each wave against its previous wave (when both are in ``order``), plus first -> last
    when there are more than two waves (the whole period)."""
    present = set(order)
    pairs = [
        (str(registry.waves[w].previous), w) for w in order if registry.waves[w].previous in present
    ]
    if len(order) > 2 and (order[0], order[-1]) not in pairs:
        pairs.append((order[0], order[-1]))
    return pairs


def analyse_comparison(registry: Registry, *, linked: bool = True) -> Comparison:
    """Analyse every wave of ``registry`` and compare them (see the module docstring); with
    ``linked=False`` no linked small-area model is fitted (``Comparison.linked`` is empty)."""
    from meting import linked_trends, pipeline

    order = sorted(registry.waves, key=lambda w: (registry.waves[w].year, w))
    waves = {label: pipeline.analyse_wave(registry, label) for label in order}
    pairs = wave_pairs(registry, order)
    changes = {
        f: {p: pipeline.wave_changes(waves[p[0]], waves[p[1]], f) for p in pairs} for f in FAMILIES
    }
    levels = pd.concat(
        [pipeline.level_estimates(an).assign(meting=label) for label, an in waves.items()]
    )
    model: dict[str, pd.DataFrame] = {}
    parameters = None
    converged = True
    if linked:
        from meting.sae.checks import scale_parameters

        fit = pipeline.fit_linked_small_areas(registry, order, benchmark=True)
        model = {
            by: linked_trends.linked_changes(registry, order, by, sae=fit)
            for by in ("municipality", "life_event")
        }
        parameters = scale_parameters(fit)
        converged = fit.diagnostics.trustworthy
    short = {w: str(registry.waves[w].year) for w in order}
    return Comparison(order, waves, pairs, changes, levels, model, short, parameters, converged)
