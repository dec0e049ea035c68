"""The small-area jobs of the whole-wave pipeline (:mod:`meting.pipeline` re-exports them).

The direct estimates per life event x municipality on the full grid (:func:`direct_cells`), the
Fay-Herriot fit of a wave (:func:`fit_small_areas`) and of the waves linked on the latest division
(:func:`fit_linked_small_areas`), the population weights of the cells, and the model's tables:
aggregated per municipality or life event with Bayesian verdicts (:func:`sae_by`), per cell
(:func:`sae_cells_with_verdicts`) and one municipality's cells beside the national figure
(:func:`municipality_cells`). Call them as ``meting.pipeline.<name>``.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from meting import columns as C
from meting.errors import ParameterError

if TYPE_CHECKING:  # imported on use: PyMC and the loaders are heavy
    from meting.design import SurveyDesign
    from meting.pipeline import WaveAnalysis
    from meting.registry import Registry
    from meting.sae import SaeResult

__all__ = [
    "cell_population",
    "direct_cells",
    "fit_linked_small_areas",
    "fit_small_areas",
    "linked_population",
    "municipality_cells",
    "sae_by",
    "sae_cells_with_verdicts",
]


def direct_cells(an: WaveAnalysis, var: str = C.SCORE_CHAIN) -> pd.DataFrame:
    """Direct estimates per life event x municipality on the full grid (empty cells as NaN), with
    smoothed standard errors for the small-area model."""
    return _direct_grid(
        an.design, an.registry, list(an.registry.municipalities_on(an.wave.reference_date)), var
    )


def _direct_grid(
    design: SurveyDesign, registry: Registry, municipalities: list[str], var: str
) -> pd.DataFrame:
    """Direct estimates of ``design`` per life event x municipality on the grid of the life
    events and ``municipalities`` (empty cells as NaN), with smoothed standard errors."""
    from meting.sae import smooth_variances

    groups = [C.LIFE_EVENT, C.MUNICIPALITY]
    est = design.mean(var, by=groups, level=registry.settings.confidence)
    for g in groups:
        est[g] = est[g].astype(str)
    grid = pd.MultiIndex.from_product(
        [sorted(registry.life_events), municipalities], names=groups
    ).to_frame(index=False)
    cells = grid.merge(est, on=groups, how="left")
    cells["n"] = cells["n"].fillna(0).astype(int)
    # every cell with respondents keeps its estimate; cells with n = 1 or se = 0 get the pooled
    # variance from smooth_variances, so no observed cell is thrown away
    observed = cells["estimate"].notna() & (cells["n"] >= 1)
    smoothed = smooth_variances(cells.loc[observed], pool_by=[C.LIFE_EVENT])
    cells["se_smoothed"] = smoothed["se_smoothed"].reindex(cells.index)
    cells.loc[~observed, "estimate"] = np.nan
    return cells


def fit_small_areas(
    an: WaveAnalysis, var: str = C.SCORE_CHAIN, *, benchmark: bool = False
) -> SaeResult:
    """Fay-Herriot fit per life event x municipality (cached in ``data/cache``).

    ``benchmark=True`` benchmarks every life event to its design-based estimate
    (:func:`~meting.pipeline.life_event_estimates`, additive,
    :meth:`~meting.sae.SaeResult.benchmarked`) with the cell populations of the wave's reference
    date (:func:`cell_population`) as weights: the population-weighted mean of a life event's
    cells is then its direct estimate. The reports publish the benchmarked fit; the validation
    report checks the model itself.
    """
    from meting.pipeline import cache_dir, life_event_estimates
    from meting.sae import fit_area_level

    s = an.settings
    cells = direct_cells(an, var)
    result = fit_area_level(
        cells,
        "estimate",
        "se_smoothed",
        [C.LIFE_EVENT, C.MUNICIPALITY],
        priors=s.priors(),
        sampling=s.sampling_for(an.wave),
        target=s.target,
        cache_dir=cache_dir(an.registry),
        publication=s.publication_rule(),
    )
    if not benchmark:
        return result
    return result.benchmarked(
        life_event_estimates(an, var),
        cell_population(an.registry, on=an.wave.reference_date),
        by=C.LIFE_EVENT,
        random_seed=s.seed_for(an.wave),
        publication=s.publication_rule(),
    )


def fit_linked_small_areas(
    registry: Registry,
    waves: list[str],
    var: str = C.SCORE_CHAIN,
    *,
    benchmark: bool = False,
) -> SaeResult:
    """The Fay-Herriot model linked across ``waves`` (``sae.fit_area_level(..., wave=)``).

    Every wave's design is mapped to the municipal division of the latest wave's reference date
    through the registry's dated code changes (:func:`meting.comparison.remap_design_municipalities`),
    so a merged municipality's respondents of an earlier wave form one cell under the new code,
    estimated with the design's own variance. The cells are the life events x the municipalities
    of that division; ``.cells`` has one row per cell x wave (``wave`` holds the wave label) and
    ``.change(earlier, later)`` gives the change per cell. Sampling uses the settings of the
    latest wave (``Settings.sampling_for``); the fit is cached in ``data/cache``.

    ``benchmark=True`` benchmarks every life event x wave to its design-based estimate
    (:func:`life_event_estimates`, additive, :meth:`~meting.sae.SaeResult.benchmarked`) with the
    cell populations of :func:`cell_population` (summed over merged municipalities) as weights.
    """
    from meting.comparison import remap_design_municipalities
    from meting.pipeline import analyse_wave, cache_dir, life_event_estimates
    from meting.sae import fit_area_level

    if len(waves) < 2 or len(set(waves)) != len(waves):
        raise ParameterError(f"waves must name at least two different waves; got {waves!r}.")
    unknown = [w for w in waves if w not in registry.waves]
    if unknown:
        raise ParameterError(
            f"waves must be waves in the registry {sorted(registry.waves)}; got {unknown}."
        )
    latest = max(waves, key=lambda w: registry.waves[w].reference_date)
    on = registry.waves[latest].reference_date
    s = registry.settings
    codes = sorted({registry.map_code(m, on=on) for m in registry.municipalities})
    frames, directs = [], []
    for label in waves:
        an = analyse_wave(registry, label)
        design = remap_design_municipalities(an.design, registry, on)
        frames.append(_direct_grid(design, registry, codes, var).assign(wave=label))
        if benchmark:
            directs.append(life_event_estimates(an, var).assign(wave=label))
    cells = pd.concat(frames, ignore_index=True)
    result = fit_area_level(
        cells,
        "estimate",
        "se_smoothed",
        [C.LIFE_EVENT, C.MUNICIPALITY],
        wave="wave",
        priors=s.priors(),
        sampling=s.sampling_for(registry.waves[latest]),
        target=s.target,
        cache_dir=cache_dir(registry),
        publication=s.publication_rule(),
    )
    if not benchmark:
        return result
    return result.benchmarked(
        pd.concat(directs, ignore_index=True),
        linked_population(registry, on),
        by=C.LIFE_EVENT,
        random_seed=s.seed_for(registry.waves[latest]),
        publication=s.publication_rule(),
    )


def linked_population(registry: Registry, on: dt.date) -> pd.DataFrame:
    """:func:`cell_population` on the municipal division of ``on`` (the latest wave of a linked
    fit): a merged municipality's populations summed under its new code."""
    from meting.comparison import map_municipality_codes

    population = cell_population(registry)
    population[C.MUNICIPALITY] = map_municipality_codes(population[C.MUNICIPALITY], registry, on)
    keys = [C.LIFE_EVENT, C.MUNICIPALITY]
    return population.groupby(keys)["population"].sum().reset_index()


def cell_population(registry: Registry, on: dt.date | None = None) -> pd.DataFrame:
    """Adults experiencing each life event per municipality (adults x incidence): the weights
    that aggregate small-area cells to a municipality or a life event; with ``on`` (a wave's
    reference date) the municipalities and populations of that date."""
    adults = registry.population(on=on).groupby(C.MUNICIPALITY, observed=True)["count"].sum()
    rows = [
        (e, m, float(adults.get(m, 0.0)) * ev.incidence)
        for e, ev in sorted(registry.life_events.items())
        for m in registry.municipalities_on(on)
    ]
    return pd.DataFrame(rows, columns=[C.LIFE_EVENT, C.MUNICIPALITY, "population"])


def sae_by(an: WaveAnalysis, sae: SaeResult, by: str) -> pd.DataFrame:
    """Small-area estimates aggregated to ``by`` (municipality or life event), with the Bayesian
    verdict (settings.bayes thresholds; none where the publication rule, applied to the
    aggregate's respondents and cv, says "niet publiceren") and the Dutch name in ``naam``."""
    from meting.significance import bayes_verdicts

    s = an.settings
    out = sae.aggregate(by, weights=cell_population(an.registry, on=an.wave.reference_date))
    out = bayes_verdicts(
        out,
        upper=s.prob_above,
        lower=s.prob_below,
        target=s.target,
        publication=s.publication_rule(),
    )
    out["shrinkage"] = out[by].astype(str).map(_shrinkage_by(an, sae, by)).to_numpy(dtype=float)
    if "benchmarked" in sae.cells.columns:  # an aggregate of benchmarked cells
        flags = sae.cells["benchmarked"].astype(bool).groupby(sae.cells[by].astype(str)).all()
        out["benchmarked"] = out[by].astype(str).map(flags).fillna(False).to_numpy(dtype=bool)
    from meting.trends import registry_order

    source = an.registry.municipalities if by == C.MUNICIPALITY else an.registry.life_events
    out.insert(0, "naam", out[by].astype(str).map({k: v.name for k, v in source.items()}))
    family = "municipalities" if by == C.MUNICIPALITY else "events"
    return registry_order(out, family, an.registry)


def _shrinkage_by(an: WaveAnalysis, sae: SaeResult, by: str) -> pd.Series:
    """The population-weighted mean of the cells' shrinkage weights per ``by`` group: the share
    of an aggregate that comes from the model."""
    keys = [C.LIFE_EVENT, C.MUNICIPALITY]
    cells = sae.cells[keys].astype(str).assign(shrinkage=sae.cells["shrinkage"].to_numpy())
    cells = cells.merge(cell_population(an.registry), on=keys, how="left")
    w = cells["population"].fillna(0.0)
    return (cells["shrinkage"] * w).groupby(cells[by]).sum() / w.groupby(cells[by]).sum()


def sae_cells_with_verdicts(an: WaveAnalysis, sae: SaeResult) -> pd.DataFrame:
    """The per-cell small-area table with Bayesian verdicts, Dutch life-event names and the
    shrinkage weight (``shrinkage``: the share of the estimate from the model,
    the fit's quality column, :mod:`meting.sae.quality`)."""
    from meting.significance import bayes_verdicts

    s = an.settings
    out = bayes_verdicts(sae.cells, upper=s.prob_above, lower=s.prob_below, target=s.target)
    names = {k: v.name for k, v in an.registry.life_events.items()}
    out.insert(0, "levensgebeurtenis", out[C.LIFE_EVENT].astype(str).map(names))
    return out


def municipality_cells(an: WaveAnalysis, sae: SaeResult, code: str | None) -> pd.DataFrame:
    """One municipality's life events (every municipality's with ``code=None``, for the per-wave
    artefacts of :mod:`meting.artefacts`): model estimate (with verdict) beside the direct
    estimate, the national figure of the life event, the difference and P(municipality >
    national).

    ``kans_hoger`` accounts for the uncertainty of both: the national figure is the design-based
    estimate ``N ~ Normal(m, se)``, so over the posterior draws of the cell,
    ``P(theta > N) = mean(Phi((theta - m) / se))``. A cell without respondents gets none (its
    estimate is a model prediction), nor does a cell flagged "niet publiceren", as they get no
    verdict.
    """
    from meting.pipeline import life_event_estimates

    if code is not None and code not in an.registry.municipalities:
        raise ParameterError(
            f"municipality must be a code in {an.registry.params_dir / 'municipalities'}; got "
            f"{code!r}. Add params/municipalities/{code}.yaml or fix the code."
        )
    cells = sae_cells_with_verdicts(an, sae)
    codes = cells[C.MUNICIPALITY].astype(str).to_numpy()
    mine = np.ones(len(cells), dtype=bool) if code is None else codes == code
    from scipy import stats

    national = life_event_estimates(an).set_index(C.LIFE_EVENT)
    out = cells.loc[mine].reset_index(drop=True)
    key = out[C.LIFE_EVENT].astype(str)
    out["landelijk"] = key.map(national["estimate"]).to_numpy(dtype=float)
    national_se = key.map(national["se"]).to_numpy(dtype=float)
    out["verschil"] = out["estimate"] - out["landelijk"]
    draws = sae.draws()[:, mine]
    centre = out["landelijk"].to_numpy()
    prob = np.empty(len(out))
    step = 512  # cells at a time: a national wave has thousands of cells x thousands of draws
    with np.errstate(divide="ignore", invalid="ignore"):
        for i in range(0, len(out), step):
            z = (draws[:, i : i + step] - centre[None, i : i + step]) / national_se[i : i + step]
            prob[i : i + step] = stats.norm.cdf(z).mean(axis=0)
    from meting.significance import REASON_NOT_PUBLISHED

    judged = (
        out["observed"].to_numpy(dtype=bool) & out["reason"].ne(REASON_NOT_PUBLISHED).to_numpy()
    )
    out["kans_hoger"] = np.where(judged, prob, np.nan)
    from meting.trends import registry_order

    return registry_order(out, "events", an.registry)
