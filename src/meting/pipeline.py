"""The one whole-wave pipeline: what the notebooks, the CLI and the benchmarks call.

Load and weight a wave (:func:`analyse_wave`), estimate the three levels, life events,
organisations, channels and the BurgerServiceCode norms, test them against the target, fit the
small-area model per life event x municipality, and compare waves.

Every table returned here is a result table (:mod:`meting.results`), aggregated (no respondent
identifiers) and numeric; formatting and suppression happen in the notebooks through
:mod:`meting.report.formatting` and :mod:`meting.report.privacy`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from meting import columns as C
from meting.errors import ParameterError
from meting.labels import CHANNEL_COLUMN_LABELS, LEVEL_NAMES, norm_label

if TYPE_CHECKING:  # imported on use: PyMC and the loaders are heavy
    from meting.design import SurveyDesign
    from meting.loaders import WaveData
    from meting.registry import Registry, Settings, Wave
    from meting.sae import SaeResult
    from meting.weighting import WeightingReport

__all__ = [
    "agenda_for",
    "WaveAnalysis",
    "analyse_wave",
    "bsc_shares",
    "cache_dir",
    "channel_shares",
    "direct_cells",
    "fit_linked_small_areas",
    "fit_small_areas",
    "level_estimates",
    "linked_population",
    "life_event_estimates",
    "load_wave_data",
    "organisation_estimates",
    "sample_composition",
    "tested",
]


def cache_dir(registry: Registry) -> Path:
    """Where model fits are cached: ``<project>/data/cache``."""
    return Path(registry.project_root) / "data" / "cache"


def wave_data_files(registry: Registry, label: str) -> dict[str, Path]:
    """The data files of a wave, by role (``respondents``, ``organisations``).

    Synthetic waves live in ``<project>/data/synthetic/<wave>/`` (written by ``meting generate``;
    a parameter set's ``data_dir`` instead, e.g. ``data/synthetic/nationaal/<wave>/``);
    file waves name their files in the wave's parameter file.
    """
    wave = registry.waves[label]
    if wave.source == "synthetic":
        folder = Path(registry.synthetic_dir) / label
        return {
            "respondents": folder / "respondents.csv",
            "organisations": folder / "organisations.csv",
        }
    assert wave.respondents is not None  # a file wave names its respondents (checked on load)
    files = {"respondents": wave.respondents}
    if wave.organisations is not None:
        files["organisations"] = wave.organisations
    return {k: Path(v) for k, v in files.items()}


def load_wave_data(registry: Registry, label: str) -> WaveData:
    """Load and validate the data of one wave (see :func:`wave_data_files`)."""
    from meting.loaders import load_wave

    if label not in registry.waves:
        raise ParameterError(
            f"wave must be a label in {registry.params_dir / 'waves'}; got {label!r}. "
            f"Choose from {sorted(registry.waves)}."
        )
    files = wave_data_files(registry, label)
    return load_wave(
        files["respondents"], files.get("organisations"), registry=registry, wave=label
    )


def _prepare(respondents: pd.DataFrame) -> pd.DataFrame:
    """Float scores, norms and 0/1 channel indicators, NaN where not applicable."""
    df = respondents.copy()
    for col in (*C.SCORES, *C.BSC_NORMS, *C.CHANNEL_COLUMNS):
        df[col] = df[col].astype("Float64").astype("float64")
    return df


@dataclass(frozen=True, eq=False)
class WaveAnalysis:
    """One weighted wave, ready for the report tables.

    Attributes
    ----------
    registry, label, wave
        The parameters and the wave.
    data
        The loaded :class:`~meting.loaders.WaveData`.
    unweighted, design
        The design before and after weighting.
    weighting
        The :class:`~meting.weighting.WeightingReport` of the raking.
    margins
        The population margins weighted to: margin (tuple of columns) -> {levels: count}.
    """

    registry: Registry
    label: str
    wave: Wave
    data: WaveData
    unweighted: SurveyDesign
    design: SurveyDesign
    weighting: WeightingReport
    margins: Mapping[tuple[str, ...], Mapping[tuple[object, ...], float]]

    @property
    def settings(self) -> Settings:
        return self.registry.settings


def analyse_wave(registry: Registry, label: str) -> WaveAnalysis:
    """Load the wave and rake it to its population margins
    (:func:`meting.wave_weighting.design_for_wave`)."""
    from meting.design import SurveyDesign
    from meting.wave_weighting import design_for_wave, population_margins

    data = load_wave_data(registry, label)
    frame = _prepare(data.respondents)
    weights = C.DESIGN_WEIGHT if C.DESIGN_WEIGHT in frame.columns else None
    unweighted = SurveyDesign(frame, weights=weights)
    design, report = design_for_wave(frame, registry, label, max_iter=200, epsilon=1e-8)
    wave = registry.waves[label]
    municipalities = sorted(frame[C.MUNICIPALITY].astype(str).unique().tolist())
    margins = population_margins(
        registry, tuple(tuple(m) for m in wave.weighting), municipalities, on=wave.reference_date
    )
    return WaveAnalysis(registry, label, wave, data, unweighted, design, report, margins)


def tested(an: WaveAnalysis, table: pd.DataFrame, family: str | None = None) -> pd.DataFrame:
    """Add the test against the target (settings: target, min cell size, level, adjustment)."""
    from meting.significance import test_against_target

    s = an.settings
    return test_against_target(
        table,
        target=s.target,
        min_n=s.min_cell_size,
        level=s.confidence,
        adjust=s.multiple_testing,
        family=family,
    )


def organisation_design(an: WaveAnalysis) -> SurveyDesign | None:
    """Design over the long organisation table: respondent weights, respondents as clusters.

    The raking is not carried into these standard errors (the weights are taken as fixed), which
    makes them slightly conservative.
    """
    from meting.design import SurveyDesign

    org = an.data.organisations
    if org is None:
        return None
    w = pd.DataFrame({C.RESPONDENT_ID: an.design.data[C.RESPONDENT_ID], "weight": an.design.w})
    long = org.merge(w, on=C.RESPONDENT_ID, how="inner", validate="many_to_one")
    long[C.ORGANISATION_SCORE] = long[C.ORGANISATION_SCORE].astype("Float64").astype("float64")
    return SurveyDesign(long, weights="weight", ids=C.RESPONDENT_ID)


def level_estimates(an: WaveAnalysis) -> pd.DataFrame:
    """National means of the three rated levels plus the organisations, with ``level`` names."""
    level = an.settings.confidence
    parts = [an.design.mean(v, level=level) for v in C.SCORES]
    org = organisation_design(an)
    if org is not None:
        org_mean = org.mean(C.ORGANISATION_SCORE, level=level)
        parts.append(org_mean.assign(variable="organisations"))
    out = pd.concat(parts, ignore_index=True)
    out.insert(0, "niveau", out["variable"].map(LEVEL_NAMES))
    return out


def life_event_estimates(an: WaveAnalysis, var: str = C.SCORE_CHAIN) -> pd.DataFrame:
    """Mean of ``var`` per life event, with the Dutch name in ``levensgebeurtenis``."""
    from meting.trends import registry_order

    out = an.design.mean(var, by=C.LIFE_EVENT, level=an.settings.confidence)
    names = {k: v.name for k, v in an.registry.life_events.items()}
    out.insert(0, "levensgebeurtenis", out[C.LIFE_EVENT].astype(str).map(names))
    return registry_order(out, "events", an.registry)


def organisation_estimates(an: WaveAnalysis) -> pd.DataFrame | None:
    """Mean organisation score per organisation (None without an organisation table)."""
    org = organisation_design(an)
    if org is None:
        return None
    from meting.trends import registry_order

    out = org.mean(C.ORGANISATION_SCORE, by=C.ORGANISATION, level=an.settings.confidence)
    names = {k: v.name for k, v in an.registry.organisations.items()}
    out.insert(0, "organisatie", out[C.ORGANISATION].astype(str).map(names))
    return registry_order(out, "organisations", an.registry)


def channel_shares(an: WaveAnalysis) -> pd.DataFrame:
    """Share of respondents who used each channel (several may apply), with the Korn-Graubard
    interval of ``svyciprop(method = "beta")`` (it stays within [0, 1], also near 0 or 1)."""
    level = an.settings.confidence
    out = pd.concat(
        [an.design.ciprop(c, method="beta", level=level) for c in C.CHANNEL_COLUMNS],
        ignore_index=True,
    )
    out.insert(0, "kanaal", out["variable"].map(CHANNEL_COLUMN_LABELS))
    return out


def bsc_shares(an: WaveAnalysis) -> pd.DataFrame:
    """Per norm: share 'goed' (4-5) among those for whom the norm applied, with interval
    (:func:`meting.knelpunten.norm_shares`, the one implementation), labelled in ``norm``."""
    from meting.knelpunten import norm_shares

    out = norm_shares(an.design, by=None, level=an.settings.confidence)
    out = out.loc[out["outcome"] == "goed"].drop(columns=["outcome", "norm_name"])
    out["norm"] = out["norm"].map(norm_label)
    return out.reset_index(drop=True)


#: The meaning order of the categorical columns of the data contract.
_LEVEL_ORDER: dict[str, tuple[str, ...]] = {
    C.EDUCATION: tuple(C.EDUCATION_LEVELS),
    C.AGE_BAND: tuple(C.AGE_BANDS),
    C.SEX: tuple(C.SEXES),
}


def sample_composition(an: WaveAnalysis, column: str) -> pd.DataFrame:
    """Respondents per level of ``column``: n, share in the sample, share after weighting, and the
    population share where the margin is known; levels in their meaning order (the data
    contract's order: ``laag, midden, hoog``; age bands young to old), not alphabetically."""
    data = an.design.data
    key = data[column].astype(str)
    order = _LEVEL_ORDER.get(column)
    n = key.value_counts()
    n = n.reindex([v for v in order if v in n.index]) if order else n.sort_index()
    weighted = pd.Series(an.design.w, index=data.index).groupby(key).sum().reindex(n.index)
    out = pd.DataFrame({"n": n, "steekproef": n / n.sum(), "gewogen": weighted / weighted.sum()})
    pop = None
    margin = next((k for k in an.margins if column in k), None)
    if margin is not None:
        pos = margin.index(column)
        m = pd.Series(an.margins[margin])
        pop = m.groupby([k[pos] for k in an.margins[margin]]).sum()
    if pop is not None:
        pop.index = pop.index.astype(str)
        out["populatie"] = (pop / pop.sum()).reindex(out.index)
    out.index.name = column
    return out.reset_index()


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
    (:func:`life_event_estimates`, additive, :meth:`~meting.sae.SaeResult.benchmarked`) with the
    cell populations of the wave's reference date (:func:`cell_population`) as weights: the
    population-weighted mean of a life event's cells is then its direct estimate. The reports
    publish the benchmarked fit; the validation report checks the model itself.
    """
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
    verdict (settings.bayes thresholds) and the Dutch name in ``naam``."""
    from meting.significance import bayes_verdicts

    s = an.settings
    out = sae.aggregate(by, weights=cell_population(an.registry, on=an.wave.reference_date))
    out = bayes_verdicts(out, upper=s.prob_above, lower=s.prob_below, target=s.target)
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
    estimate is a model prediction), as it gets no verdict.
    """
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
    out["kans_hoger"] = np.where(out["observed"].to_numpy(dtype=bool), prob, np.nan)
    from meting.trends import registry_order

    return registry_order(out, "events", an.registry)


def municipality_vs_rest(an: WaveAnalysis, code: str, var: str = C.SCORE_CHAIN) -> pd.DataFrame:
    """Design-based contrast of the municipality against the rest of the sample (``svycontrast``
    of the two domain means: municipality - rest), tested against 0 with the design's df.

    A one-row result table (``method`` ``"contrast"``) with the test columns and the verdict
    "hoger dan de rest" / "lager dan de rest" / "geen aantoonbaar verschil" (two-sided t-test at
    ``1 - confidence``); below the minimum cell size there is no verdict and no estimate.
    """
    import dataclasses

    from meting.contrast import contrast
    from meting.significance import reason_too_few, t_test_arrays

    s = an.settings
    mine = an.design.data[C.MUNICIPALITY].astype(str).to_numpy() == code
    data = an.design.data.assign(_deel=np.where(mine, "gemeente", "rest"))
    design = dataclasses.replace(an.design, data=data)
    out = contrast(design, var, "_deel", {"gemeente": 1.0, "rest": -1.0}, level=s.confidence)
    n_mine = int((mine & an.design.data[var].notna().to_numpy()).sum())
    t, p_two, _, _ = t_test_arrays(
        out["estimate"].to_numpy(), out["se"].to_numpy(), out["df"].to_numpy(), 0.0
    )
    out["n_gemeente"] = n_mine
    out["t"] = t
    out["p_two_sided"] = p_two
    significant = p_two <= 1.0 - s.confidence
    verdict = np.where(
        significant,
        np.where(t > 0, "hoger dan de rest", "lager dan de rest"),
        "geen aantoonbaar verschil",
    )
    out["verdict"] = pd.Series(verdict, index=out.index, dtype="str")
    out["reason"] = pd.Series([None], index=out.index, dtype="str")
    if n_mine < s.min_cell_size:
        out.loc[:, ["estimate", "se", "lower", "upper", "t", "p_two_sided"]] = np.nan
        out["verdict"] = pd.Series([None], index=out.index, dtype="str")
        out["reason"] = reason_too_few(s.min_cell_size)
    return out


def wave_changes(earlier: WaveAnalysis, later: WaveAnalysis, table: str = "levels") -> pd.DataFrame:
    """Change later - earlier of one family of :mod:`meting.trends` (``"levels"``, ``"events"``,
    ``"organisations"``, ``"norms"``, ``"municipalities"``, ``"trim"``), tested with
    :func:`meting.comparison.compare_waves` (independent samples, one multiple-testing family per
    table), rows in registry order (:func:`meting.trends.registry_order`) with the Dutch name in
    :func:`meting.trends.family_label`. Municipality codes of the earlier wave are mapped to the
    later wave's division before estimating. An empty table when a wave lacks the family's data
    (no organisation table, no TRI*M questions)."""
    from meting import trends
    from meting.comparison import compare_waves

    s = later.settings
    on = later.wave.reference_date
    label = trends.family_label(table)
    a = trends.family_estimates(earlier, table, on=on)
    b = trends.family_estimates(later, table, on=on)
    if a is None or b is None:
        return pd.DataFrame(columns=[label, "estimate", "verdict", "reason"])
    out = compare_waves(
        a,
        b,
        keys=trends.family_keys(table),
        registry=later.registry,
        earlier_wave=earlier.label,
        later_wave=later.label,
        level=s.confidence,
        adjust=s.multiple_testing,
        min_n=s.min_cell_size,
    )
    if label not in out.columns:
        keys = trends.family_keys(table)
        names = pd.concat([a, b])[[*keys, label]].astype(str).drop_duplicates(keys, keep="last")
        out = out.astype({k: str for k in keys}).merge(names, on=keys, how="left")
        out.insert(0, label, out.pop(label))
    return trends.registry_order(out, table, later.registry)


def agenda_for(an: WaveAnalysis, agenda: pd.DataFrame, code: str) -> pd.DataFrame:
    """One municipality's rows of :func:`meting.knelpunten.improvement_agenda`, by rank, with the
    Dutch life-event name in ``levensgebeurtenis``."""
    mine = agenda.loc[agenda[C.MUNICIPALITY].astype(str) == code].sort_values("rank")
    names = {k: v.name for k, v in an.registry.life_events.items()}
    mine = mine.assign(levensgebeurtenis=mine[C.LIFE_EVENT].astype(str).map(names))
    return mine.reset_index(drop=True)
