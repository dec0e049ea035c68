"""The one whole-wave pipeline: what the notebooks, the CLI and the benchmarks call.

Load and weight a wave (:func:`analyse_wave`), estimate the three levels, life events,
organisations, channels and the BurgerServiceCode norms, test them against the target, fit the
small-area model per life event x municipality, and compare waves.

Every table returned here is a result table (:mod:`meting.results`), aggregated (no respondent
identifiers) and numeric; formatting and suppression happen in the notebooks through
:mod:`meting.report.formatting` and :mod:`meting.report.privacy`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
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
    from meting.weighting import WeightingReport

__all__ = [
    "agenda_for",
    "WaveAnalysis",
    "analyse_wave",
    "bsc_shares",
    "cache_dir",
    "cell_population",
    "channel_shares",
    "direct_cells",
    "fit_linked_small_areas",
    "fit_small_areas",
    "level_estimates",
    "linked_population",
    "life_event_estimates",
    "load_wave_data",
    "municipality_cells",
    "municipalities_vs_rest",
    "municipality_vs_rest",
    "REASON_NO_REST",
    "organisation_design",
    "organisation_estimates",
    "sae_by",
    "sae_cells_with_verdicts",
    "sample_composition",
    "tested",
    "wave_changes",
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


REASON_NO_REST = "geen andere gemeenten in de meting om mee te vergelijken"
"""Reason of the municipality-vs-rest row when the wave holds no respondents elsewhere."""


def municipality_vs_rest(an: WaveAnalysis, code: str, var: str = C.SCORE_CHAIN) -> pd.DataFrame:
    """Design-based contrast of the municipality against the rest of the sample (``svycontrast``
    of the two domain means: municipality - rest), tested against 0 with the design's df.

    A one-row result table (``method`` ``"contrast"``) with the test columns and the verdict
    "hoger dan de rest" / "lager dan de rest" / "geen aantoonbaar verschil" (two-sided t-test at
    ``1 - confidence``); below the minimum cell size there is no verdict and no estimate.
    :func:`municipalities_vs_rest` for many municipalities at once.
    """
    return municipalities_vs_rest(an, [code], var).drop(columns=C.MUNICIPALITY)


def municipalities_vs_rest(
    an: WaveAnalysis, codes: Sequence[str], var: str = C.SCORE_CHAIN
) -> pd.DataFrame:
    """:func:`municipality_vs_rest` of every code, one row each (the column ``municipality``
    first), in one pass over the design (:func:`meting.contrast.domains_vs_rest`)."""
    from meting.contrast import domains_vs_rest
    from meting.significance import reason_too_few, t_test_arrays

    s = an.settings
    codes = [str(c) for c in codes]
    group = an.design.data[C.MUNICIPALITY].astype(str).to_numpy()
    answered = an.design.data[var].notna().to_numpy()
    n_answered = int(answered.sum())
    counts = pd.Series(group[answered]).value_counts()
    n_mine = np.array([int(counts.get(c, 0)) for c in codes], dtype=np.int64)
    reason = np.where(
        n_mine < s.min_cell_size,  # none at all, in a national wave's small municipality
        reason_too_few(s.min_cell_size),
        np.where(n_mine == n_answered, REASON_NO_REST, ""),
    )
    blank = reason != ""
    out = domains_vs_rest(an.design, var, C.MUNICIPALITY, codes, level=s.confidence)
    out.loc[blank, ["estimate", "se", "lower", "upper"]] = np.nan
    out.loc[blank, "df"] = np.nan
    t, p_two, _, _ = t_test_arrays(
        out["estimate"].to_numpy(), out["se"].to_numpy(), out["df"].to_numpy(), 0.0
    )
    out["n_gemeente"] = n_mine
    out["t"] = t  # NaN where blanked: the estimate is
    out["p_two_sided"] = p_two
    verdict = np.where(
        p_two <= 1.0 - s.confidence,
        np.where(t > 0, "hoger dan de rest", "lager dan de rest"),
        "geen aantoonbaar verschil",
    )
    nothing = np.full(len(codes), None, dtype=object)
    out["verdict"] = pd.Series(np.where(blank, nothing, verdict), index=out.index, dtype="str")
    out["reason"] = pd.Series(np.where(blank, reason, nothing), index=out.index, dtype="str")
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


# the small-area jobs live in their own module; they are part of this pipeline's public API
from meting.pipeline_sae import (  # noqa: E402
    cell_population,
    direct_cells,
    fit_linked_small_areas,
    fit_small_areas,
    linked_population,
    municipality_cells,
    sae_by,
    sae_cells_with_verdicts,
)
