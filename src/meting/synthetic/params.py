"""Typed parameters of the synthetic generator: ``params/synthetic.yaml`` as pydantic models
(:class:`SyntheticFile`, one description per field) and the arrays the simulation uses
(:class:`SyntheticParams`). Every number in that file is an ASSUMPTION; see its comments."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import numpy as np
from pydantic import AfterValidator, BeforeValidator, Field

from meting import columns as C
from meting.registry import SIZE_CLASSES, default_params_dir, load_education_shares
from meting.settings.base import Frozen, Number, Whole, parse, rule
from meting.settings.parameter_set import SET_FILE, ParameterSetFile
from meting.yaml_io import load_yaml

__all__ = ["LEVELS", "N_NORMS", "NationalParams", "SyntheticFile", "SyntheticParams",
           "load_synthetic_params"]  # fmt: skip

LEVELS = ("organisations", "chain", "cooperation", "government")
N_NORMS = len(C.BSC_NORMS)


def _keys(levels: Sequence[str]) -> AfterValidator:
    def check(value: dict[str, float]) -> dict[str, float]:
        if set(value) != set(levels):
            raise rule(f"map each of {list(levels)} to a number", got=sorted(value))
        return value

    return AfterValidator(check)


def _length(n: int) -> AfterValidator:
    def check(value: list[float]) -> list[float]:
        if len(value) != n:
            raise rule(f"be a list of {n} numbers", got=value)
        return value

    return AfterValidator(check)


Positive = Annotated[Number, Field(gt=0.0)]
AgeMap = Annotated[dict[str, Number], _keys(C.AGE_BANDS)]
EduMap = Annotated[dict[str, Number], _keys(C.EDUCATION_LEVELS)]
Norms = Annotated[list[Number], _length(N_NORMS)]


class Propensity(Frozen):
    """Online-panel over-representation: relative propensity to be in the sample."""

    age_band: Annotated[dict[str, Positive], _keys(C.AGE_BANDS)] = Field(description="By age.")
    education: Annotated[dict[str, Positive], _keys(C.EDUCATION_LEVELS)] = Field(
        description="By education level."
    )


class Missing(Frozen):
    """Item non-response shares, completely at random."""

    score_government: Annotated[Number, Field(ge=0, le=0.9)] = Field(description="Government.")
    score_chain: Annotated[Number, Field(ge=0, le=0.9)] = Field(description="Chain.")
    score_cooperation: Annotated[Number, Field(ge=0, le=0.9)] = Field(description="Cooperation.")
    trim: Annotated[Number, Field(ge=0, le=0.9)] = Field(description="Each TRI*M question.")


class Sample(Frozen):
    """How the sample is drawn."""

    n_respondents: Whole = Field(ge=1, description="Respondents per wave.")
    propensity: Propensity = Field(description="Relative propensity to respond.")
    missing: Missing = Field(description="Item non-response (MCAR).")


class Effects(Frozen):
    """Additive effects on every latent score (rapportcijfer points)."""

    age_band: AgeMap = Field(description="By age band.")
    sex: Annotated[dict[str, Number], _keys(C.SEXES)] = Field(description="By sex.")
    education: EduMap = Field(description="By education level.")
    size_class: Annotated[dict[str, Number], _keys(SIZE_CLASSES)] = Field(
        description="By municipality size class."
    )
    sd_municipality: Annotated[Number, Field(ge=0, le=3)] = Field(description="Municipality sd.")
    sd_cell: Annotated[Number, Field(ge=0, le=3)] = Field(description="Persistent cell sd.")
    sd_cell_drift: Annotated[Number, Field(ge=0, le=3)] = Field(description="Wave drift sd.")


class Score(Frozen):
    """Residual sd and factor loading of one latent score."""

    sd: Annotated[Number, Field(ge=0.05, le=5)] = Field(description="Residual sd.")
    factor_loading: Annotated[Number, Field(ge=0, le=1)] = Field(
        description="Loading on the respondent's general satisfaction factor."
    )


class EventScore(Score):
    """A score that carries part of the life-event and cell effects."""

    event_weight: Annotated[Number, Field(ge=-3, le=3)] = Field(
        description="How strongly the life-event and cell effects carry over."
    )


class CooperationScore(EventScore):
    """The cooperation score, lower with longer chains."""

    per_extra_organisation: Annotated[Number, Field(ge=-3, le=3)] = Field(
        description="Shift per organisation beyond two in the chain."
    )


class Scores(Frozen):
    """The four latent scores."""

    chain: Score = Field(description="Chain score.")
    government: EventScore = Field(description="Government score.")
    cooperation: CooperationScore = Field(description="Cooperation score.")
    organisations: EventScore = Field(description="Organisation scores.")


class ContactProbability(Frozen):
    """Probability of contacting an organisation of the event's chain."""

    central: Annotated[Number, Field(ge=0.01, le=1)] = Field(description="Central organisation.")
    other: Annotated[Number, Field(ge=0.01, le=1)] = Field(description="Every other one.")


class Organisations(Frozen):
    """Organisation contacts and effects."""

    contact_probability: ContactProbability = Field(description="Contact probabilities.")
    effects: dict[str, Annotated[Number, Field(ge=-5, le=5)]] = Field(
        description="Effect per organisation code on its score."
    )


def _norm_names(value: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
    for event, offsets in value.items():
        for norm in offsets:
            if norm not in C.BSC_NORMS:
                raise rule(f"use norm names {C.BSC_NORMS[0]}..", event, norm)
    return value


class Bsc(Frozen):
    """The ten BurgerServiceCode norms and the planted drivers."""

    baseline: Annotated[list[Annotated[Number, Field(ge=1, le=5)]], _length(N_NORMS)] = Field(
        description="Baseline of each latent norm."
    )
    sd: Annotated[Number, Field(ge=0.05, le=5)] = Field(description="Sd of the latent norms.")
    rho: Annotated[Number, Field(ge=0, le=0.99)] = Field(description="Correlation of the norms.")
    chain_drivers: Annotated[list[Annotated[Number, Field(ge=-3, le=3)]], _length(N_NORMS)] = Field(
        description="PLANTED effect of each norm on the chain score."
    )
    weak: Annotated[
        dict[str, dict[str, Annotated[Number, Field(ge=-4, le=4)]]],
        BeforeValidator(lambda v: {} if v is None else v),
        AfterValidator(_norm_names),
    ] = Field(default_factory=dict, description="PLANTED weak norms: event -> {bsc_NN: offset}.")
    not_applicable: Annotated[list[Annotated[Number, Field(ge=0, le=0.95)]], _length(N_NORMS)] = (
        Field(description="Share answering n.v.t. per norm.")
    )


class Trim(Frozen):
    """The TRI*M questions."""

    intercept: Annotated[dict[str, Number], _keys(C.TRIM_QUESTIONS)] = Field(
        description="Intercept per question."
    )
    slope: Annotated[Number, Field(ge=-5, le=5)] = Field(description="Slope on the government z.")
    sd: Annotated[Number, Field(ge=0.05, le=5)] = Field(description="Noise sd.")


class NationalTargets(Frozen):
    """Population means of the national-scale wave."""

    organisations: Annotated[Number, Field(ge=1.5, le=9.5)] = Field(description="Organisations.")
    chain: Annotated[Number, Field(ge=1.5, le=9.5)] = Field(description="Chain.")
    cooperation: Annotated[Number, Field(ge=1.5, le=9.5)] = Field(description="Cooperation.")
    government: Annotated[Number, Field(ge=1.5, le=9.5)] = Field(description="Government.")


class NationalParams(Frozen):
    """National-scale mode: fake municipalities and life events (benchmarks)."""

    targets: NationalTargets = Field(description="Population means of the four levels.")
    adults_log_mean: Number = Field(description="Log of the median adults per municipality.")
    adults_log_sd: Number = Field(description="Sd of the log adults.")
    adults_min: Whole = Field(ge=1, description="Fewest adults of a municipality.")
    age_shares: AgeMap = Field(description="Mean age-band shares.")
    age_dirichlet_concentration: Number = Field(description="Dirichlet concentration of ages.")
    male_share: Number = Field(description="Share of men.")
    n_organisations: Whole = Field(ge=4, description="Number of fake organisations.")
    incidence_log_mean: Number = Field(description="Log-mean of the life-event incidence.")
    incidence_log_sd: Number = Field(description="Log-sd of the incidence.")
    sd_event: Number = Field(description="Sd of the life-event chain effects.")
    sd_organisation: Number = Field(description="Sd of the organisation effects.")


class Channels(Frozen):
    """Probability of using each contact channel."""

    balie: Annotated[Number, Field(gt=0, le=1)] = Field(description="Desk.")
    telefoon: Annotated[Number, Field(gt=0, le=1)] = Field(description="Telephone.")
    internet: Annotated[Number, Field(gt=0, le=1)] = Field(description="Internet.")
    brief: Annotated[Number, Field(gt=0, le=1)] = Field(description="Letter.")


class SyntheticFile(Frozen):
    """``params/synthetic.yaml``: the assumptions of the generator."""

    structure_seed: Whole = Field(ge=0, description="Seed of the persistent structure.")
    sample: Sample = Field(description="The sample.")
    effects: Effects = Field(description="Additive effects on the latent scores.")
    scores: Scores = Field(description="The latent scores.")
    organisations: Organisations = Field(description="Organisation contacts and effects.")
    bsc: Bsc = Field(description="The BurgerServiceCode norms.")
    channels: Annotated[dict[str, Channels], _keys(C.AGE_BANDS)] = Field(
        description="Channel use by age band."
    )
    trim: Trim = Field(description="The TRI*M questions.")
    national: NationalParams = Field(description="National-scale mode.")


@dataclass(frozen=True)
class SyntheticParams:
    """The assumptions of ``params/synthetic.yaml`` as the arrays the simulation uses, with the
    population education shares of ``params/population_education.yaml``."""

    structure_seed: int
    n_respondents: int
    propensity_age: np.ndarray  # (age bands,)
    propensity_education: np.ndarray  # (education levels,)
    missing: Mapping[str, float]
    education_shares: np.ndarray  # (age bands, education levels), rows sum to 1
    effect_age: np.ndarray
    effect_sex: np.ndarray
    effect_education: np.ndarray
    effect_size_class: Mapping[str, float]
    sd_municipality: float
    sd_cell: float
    sd_cell_drift: float
    scores: Mapping[str, Mapping[str, float]]
    contact_central: float
    contact_other: float
    organisation_effects: Mapping[str, float]
    bsc_baseline: np.ndarray  # (10,)
    bsc_sd: float
    bsc_rho: float
    bsc_drivers: np.ndarray  # (10,)
    bsc_weak: Mapping[str, Mapping[int, float]]  # event -> norm index -> offset
    bsc_not_applicable: np.ndarray  # (10,)
    channels: np.ndarray  # (age bands, channels)
    trim_intercept: np.ndarray  # (4,)
    trim_slope: float
    trim_sd: float
    national: NationalParams
    file: Path


def _vec(value: Mapping[str, float], levels: Sequence[str]) -> np.ndarray:
    return np.array([float(value[k]) for k in levels])


def to_params(f: SyntheticFile, education_shares: np.ndarray, path: Path) -> SyntheticParams:
    """The simulation's view of a validated file."""
    channels = np.vstack([_vec(f.channels[a].model_dump(), C.CHANNELS) for a in C.AGE_BANDS])
    return SyntheticParams(
        structure_seed=f.structure_seed,
        n_respondents=f.sample.n_respondents,
        propensity_age=_vec(f.sample.propensity.age_band, C.AGE_BANDS),
        propensity_education=_vec(f.sample.propensity.education, C.EDUCATION_LEVELS),
        missing=f.sample.missing.model_dump(),
        education_shares=education_shares,
        effect_age=_vec(f.effects.age_band, C.AGE_BANDS),
        effect_sex=_vec(f.effects.sex, C.SEXES),
        effect_education=_vec(f.effects.education, C.EDUCATION_LEVELS),
        effect_size_class={c: float(f.effects.size_class[c]) for c in SIZE_CLASSES},
        sd_municipality=f.effects.sd_municipality,
        sd_cell=f.effects.sd_cell,
        sd_cell_drift=f.effects.sd_cell_drift,
        scores={level: getattr(f.scores, level).model_dump() for level in LEVELS},
        contact_central=f.organisations.contact_probability.central,
        contact_other=f.organisations.contact_probability.other,
        organisation_effects=dict(f.organisations.effects),
        bsc_baseline=np.array(f.bsc.baseline, dtype=float),
        bsc_sd=f.bsc.sd,
        bsc_rho=f.bsc.rho,
        bsc_drivers=np.array(f.bsc.chain_drivers, dtype=float),
        bsc_weak={
            event: {C.BSC_NORMS.index(norm): v for norm, v in offsets.items()}
            for event, offsets in f.bsc.weak.items()
        },
        bsc_not_applicable=np.array(f.bsc.not_applicable, dtype=float),
        channels=channels,
        trim_intercept=_vec(f.trim.intercept, C.TRIM_QUESTIONS),
        trim_slope=f.trim.slope,
        trim_sd=f.trim.sd,
        national=f.national,
        file=path,
    )


def load_synthetic_params(params_dir: Path | str | None = None) -> SyntheticParams:
    """Read and validate ``params/synthetic.yaml`` (and the population education shares of
    ``params/population_education.yaml``); raises ParameterError naming file and field.

    For a parameter set (a folder with ``set.yaml``) both files come from the set when it has
    them, else from its base, and the set's ``n_respondents`` replaces ``sample.n_respondents``.
    """
    folder = Path(params_dir or default_params_dir())
    pset = _parameter_set(folder)
    base = (folder / pset.base).resolve() if pset else folder

    def find(name: str) -> Path:
        return folder / name if (folder / name).is_file() else base / name

    path = find("synthetic.yaml")
    parsed = parse(SyntheticFile, load_yaml(path), path)
    if pset is not None:
        sample = parsed.sample.model_copy(update={"n_respondents": pset.n_respondents})
        parsed = parsed.model_copy(update={"sample": sample})
    shares = load_education_shares(find("population_education.yaml").parent)
    return to_params(parsed, shares.matrix(), path)


def _parameter_set(folder: Path) -> ParameterSetFile | None:
    path = folder / SET_FILE
    return parse(ParameterSetFile, load_yaml(path), path) if path.is_file() else None
