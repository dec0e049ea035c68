"""Seeded generator of synthetic waves, calibrated to the published figures, with the truth kept.

The model and every assumption are documented in ``params/synthetic.yaml``. In short: for every
population stratum (municipality x life event x age band x sex x education) the latent score is
normal with a mean built from additive effects; the observed rapportcijfer is the latent score
rounded and clipped to 1..10. Because the latent score is normal, the expectation of the observed
score is known exactly (:func:`expected_rounded_score`); the base of each score is solved so that
the population expectation hits the wave's target, and that exact expectation is the truth kept
beside the sample (``truth_strata``, ``truth_cells``).

The sample over-represents older and higher educated people, who score higher, so the unweighted
mean is biased; post-stratification to the population margins removes the bias. Life-event
incidence is assumed independent of age, sex and education within a municipality, so weights to a
municipality's margins are right for each of its life-event cells too.

Same seed, same bytes: every random draw comes from ``np.random.default_rng`` in a fixed order,
rows are written in a fixed order with fixed float formatting, and nothing depends on the clock.
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from dataclasses import field as dc_field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.optimize import brentq
from scipy.special import ndtr

from meting import columns as C
from meting.errors import ParameterError
from meting.registry import (
    SIZE_CLASSES,
    Registry,
    as_float,
    as_int,
    fail,
    get,
    load_registry,
    load_yaml,
)

__all__ = [
    "SyntheticParams",
    "SyntheticWave",
    "expected_rounded_score",
    "generate_command",
    "generate_national",
    "generate_wave",
    "load_synthetic_params",
    "write_wave",
]

LEVELS = ("organisations", "chain", "cooperation", "government")
N_NORMS = len(C.BSC_NORMS)
TRUTH_CELL_COLUMNS = (
    C.WAVE, C.MUNICIPALITY, C.LIFE_EVENT, "population",
    "true_chain", "true_government", "true_cooperation",
)  # fmt: skip
TRUTH_STRATA_COLUMNS = (
    C.WAVE, C.MUNICIPALITY, C.LIFE_EVENT, C.AGE_BAND, C.SEX, C.EDUCATION, "population",
    "true_chain", "true_government", "true_cooperation",
)  # fmt: skip
RESPONDENT_COLUMNS = (
    C.RESPONDENT_ID, C.WAVE, C.MUNICIPALITY, C.LIFE_EVENT, *C.SCORES, *C.BSC_NORMS,
    *C.CHANNEL_COLUMNS, C.AGE_BAND, C.SEX, C.EDUCATION, C.SIZE_CLASS, *C.TRIM_QUESTIONS,
)  # fmt: skip
ORGANISATION_COLUMNS = (C.RESPONDENT_ID, C.ORGANISATION, C.ORGANISATION_SCORE)
AGE_DTYPE = pd.CategoricalDtype(list(C.AGE_BANDS), ordered=True)
SEX_DTYPE = pd.CategoricalDtype(list(C.SEXES), ordered=False)
EDU_DTYPE = pd.CategoricalDtype(list(C.EDUCATION_LEVELS), ordered=True)
FLOAT_FORMAT = "%.10f"
NATIONAL_CODE_START = 7001  # fake municipality codes GM7001.. (no real code is that high)


# --------------------------------------------------------------------------------------------
# results
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class SyntheticWave:
    """One generated wave: the sample and the truth beside it.

    Attributes
    ----------
    label
        Wave label (``"national"`` for :func:`generate_national`).
    respondents, organisations
        The two tables of the data contract (ARCHITECTURE.md), in contract column order.
    truth_cells
        Per municipality x life event: population (expected adults experiencing the event in the
        year) and the exact population means of the observed chain, government and cooperation
        scores.
    truth_strata
        The same per municipality x life event x age band x sex x education.
    seed
        Seed of the sample draws.
    truth_overall
        Exact population means of the four levels (``organisations`` is the mean over all
        respondent x organisation contacts); equal to the wave's targets by construction.
    """

    label: str
    respondents: pd.DataFrame
    organisations: pd.DataFrame
    truth_cells: pd.DataFrame
    truth_strata: pd.DataFrame
    seed: int
    truth_overall: Mapping[str, float] = dc_field(default_factory=dict)


@dataclass(frozen=True)
class SyntheticParams:
    """The assumptions of ``params/synthetic.yaml`` (see that file for every field)."""

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
    national: Mapping[str, Any]
    file: Path


# --------------------------------------------------------------------------------------------
# exact expectation of a rounded and clipped normal score
# --------------------------------------------------------------------------------------------
def expected_rounded_score(
    mean: np.ndarray | float,
    sd: np.ndarray | float,
    low: int = C.SCORE_MIN,
    high: int = C.SCORE_MAX,
) -> np.ndarray:
    """Exact expectation of ``clip(floor(X + 0.5), low, high)`` for ``X ~ N(mean, sd**2)``.

    ``E[Y] = low + sum_{j=low}^{high-1} P(Y > j)`` and ``P(Y > j) = P(X >= j + 0.5)``.
    """
    mean = np.asarray(mean, dtype=float)
    thresholds = np.arange(low, high) + 0.5
    z = (mean[..., None] - thresholds) / np.asarray(sd, dtype=float)[..., None]
    return low + ndtr(z).sum(axis=-1)


def _round_clip(x: np.ndarray, low: int, high: int) -> np.ndarray:
    return np.clip(np.floor(x + 0.5), low, high).astype(np.int64)


# --------------------------------------------------------------------------------------------
# parameters
# --------------------------------------------------------------------------------------------
def _levels_vector(value: Any, levels: Sequence[str], path: Path, field: str) -> np.ndarray:
    if not isinstance(value, Mapping) or set(map(str, value)) != set(levels):
        raise fail(path, field, f"map each of {list(levels)} to a number", value)
    return np.array([as_float(value[k], path, f"{field}.{k}") for k in levels])


def _vector(value: Any, n: int, path: Path, field: str, lo=None, hi=None) -> np.ndarray:
    if not isinstance(value, list) or len(value) != n:
        raise fail(path, field, f"be a list of {n} numbers", value)
    return np.array([as_float(v, path, f"{field}[{i}]", lo, hi) for i, v in enumerate(value)])


def load_synthetic_params(params_dir: Path | str | None = None) -> SyntheticParams:
    """Read and validate ``params/synthetic.yaml`` (raises ParameterError naming the field)."""
    from meting.registry import default_params_dir

    path = Path(params_dir or default_params_dir()) / "synthetic.yaml"
    d = load_yaml(path)
    sample = get(d, "sample", path)
    prop = get(sample, "propensity", path, "sample.propensity")
    prop_age = _levels_vector(
        get(prop, "age_band", path, "sample.propensity.age_band"), C.AGE_BANDS, path,
        "sample.propensity.age_band",
    )  # fmt: skip
    prop_edu = _levels_vector(
        get(prop, "education", path, "sample.propensity.education"), C.EDUCATION_LEVELS, path,
        "sample.propensity.education",
    )  # fmt: skip
    if (prop_age <= 0).any() or (prop_edu <= 0).any():
        raise fail(path, "sample.propensity", "hold positive numbers", prop)
    miss = get(sample, "missing", path, "sample.missing")
    missing = {
        k: as_float(get(miss, k, path, f"sample.missing.{k}"), path, f"sample.missing.{k}", 0, 0.9)
        for k in (*C.SCORES, "trim")
    }
    edu = get(d, "education_shares", path)
    if not isinstance(edu, Mapping) or set(map(str, edu)) != set(C.AGE_BANDS):
        raise fail(path, "education_shares", f"map each of {list(C.AGE_BANDS)}", edu)
    shares = np.vstack(
        [
            _levels_vector(edu[a], C.EDUCATION_LEVELS, path, f"education_shares.{a}")
            for a in C.AGE_BANDS
        ]
    )
    if (shares < 0).any() or not np.allclose(shares.sum(axis=1), 1.0, atol=1e-6):
        raise fail(path, "education_shares", "hold shares >= 0 adding up to 1 per age band", edu)
    eff = get(d, "effects", path)
    size_eff = get(eff, "size_class", path, "effects.size_class")
    size_vec = _levels_vector(size_eff, SIZE_CLASSES, path, "effects.size_class")
    scores_raw = get(d, "scores", path)
    scores: dict[str, dict[str, float]] = {}
    for level in LEVELS:
        s = get(scores_raw, level, path, f"scores.{level}")
        f = f"scores.{level}"
        entry = {
            "sd": as_float(get(s, "sd", path, f"{f}.sd"), path, f"{f}.sd", 0.05, 5),
            "factor_loading": as_float(
                get(s, "factor_loading", path, f"{f}.factor_loading"),
                path,
                f"{f}.factor_loading",
                0,
                1,
            ),
        }
        if level != "chain":
            entry["event_weight"] = as_float(
                get(s, "event_weight", path, f"{f}.event_weight"), path, f"{f}.event_weight", -3, 3
            )
        if level == "cooperation":
            key = "per_extra_organisation"
            entry[key] = as_float(get(s, key, path, f"{f}.{key}"), path, f"{f}.{key}", -3, 3)
        scores[level] = entry
    orgs = get(d, "organisations", path)
    contact = get(orgs, "contact_probability", path, "organisations.contact_probability")
    f = "organisations.contact_probability"
    central = as_float(get(contact, "central", path, f"{f}.central"), path, f"{f}.central", 0.01, 1)
    other = as_float(get(contact, "other", path, f"{f}.other"), path, f"{f}.other", 0.01, 1)
    org_eff_raw = get(orgs, "effects", path, "organisations.effects")
    if not isinstance(org_eff_raw, Mapping):
        raise fail(path, "organisations.effects", "map organisation code -> effect", org_eff_raw)
    org_eff = {
        str(k): as_float(v, path, f"organisations.effects.{k}", -5, 5)
        for k, v in org_eff_raw.items()
    }
    bsc = get(d, "bsc", path)
    weak_raw = get(bsc, "weak", path, "bsc.weak") or {}
    if not isinstance(weak_raw, Mapping):
        raise fail(path, "bsc.weak", "map life event -> {bsc_NN: offset}", weak_raw)
    weak: dict[str, dict[int, float]] = {}
    for event, offsets in weak_raw.items():
        if not isinstance(offsets, Mapping):
            raise fail(path, f"bsc.weak.{event}", "map bsc_NN -> offset", offsets)
        weak[str(event)] = {}
        for norm, value in offsets.items():
            if norm not in C.BSC_NORMS:
                raise fail(path, f"bsc.weak.{event}", f"use norm names {C.BSC_NORMS[0]}..", norm)
            weak[str(event)][C.BSC_NORMS.index(norm)] = as_float(
                value, path, f"bsc.weak.{event}.{norm}", -4, 4
            )
    chan = get(d, "channels", path)
    if not isinstance(chan, Mapping) or set(map(str, chan)) != set(C.AGE_BANDS):
        raise fail(path, "channels", f"map each of {list(C.AGE_BANDS)}", chan)
    channels = np.vstack(
        [_levels_vector(chan[a], C.CHANNELS, path, f"channels.{a}") for a in C.AGE_BANDS]
    )
    if ((channels <= 0) | (channels > 1)).any():
        raise fail(path, "channels", "hold probabilities in (0, 1]", chan)
    trim = get(d, "trim", path)
    national = get(d, "national", path)
    nat_targets = get(national, "targets", path, "national.targets")
    for level in LEVELS:
        as_float(get(nat_targets, level, path, f"national.targets.{level}"), path,
                 f"national.targets.{level}", 1.5, 9.5)  # fmt: skip
    for key in ("adults_log_mean", "adults_log_sd", "incidence_log_mean", "incidence_log_sd",
                "sd_event", "sd_organisation", "male_share", "age_dirichlet_concentration"):  # fmt: skip
        as_float(get(national, key, path, f"national.{key}"), path, f"national.{key}")
    as_int(get(national, "adults_min", path, "national.adults_min"), path, "national.adults_min", 1)
    as_int(get(national, "n_organisations", path, "national.n_organisations"), path,
           "national.n_organisations", 4)  # fmt: skip
    _levels_vector(get(national, "age_shares", path, "national.age_shares"), C.AGE_BANDS, path,
                   "national.age_shares")  # fmt: skip
    return SyntheticParams(
        structure_seed=as_int(get(d, "structure_seed", path), path, "structure_seed", 0),
        n_respondents=as_int(
            get(sample, "n_respondents", path, "sample.n_respondents"),
            path,
            "sample.n_respondents",
            1,
        ),  # fmt: skip
        propensity_age=prop_age,
        propensity_education=prop_edu,
        missing=missing,
        education_shares=shares,
        effect_age=_levels_vector(
            get(eff, "age_band", path, "effects.age_band"), C.AGE_BANDS, path, "effects.age_band"
        ),  # fmt: skip
        effect_sex=_levels_vector(
            get(eff, "sex", path, "effects.sex"), C.SEXES, path, "effects.sex"
        ),
        effect_education=_levels_vector(
            get(eff, "education", path, "effects.education"),
            C.EDUCATION_LEVELS,
            path,
            "effects.education",
        ),  # fmt: skip
        effect_size_class=dict(zip(SIZE_CLASSES, size_vec, strict=True)),
        sd_municipality=as_float(
            get(eff, "sd_municipality", path, "effects.sd_municipality"),
            path,
            "effects.sd_municipality",
            0,
            3,
        ),  # fmt: skip
        sd_cell=as_float(
            get(eff, "sd_cell", path, "effects.sd_cell"), path, "effects.sd_cell", 0, 3
        ),
        sd_cell_drift=as_float(
            get(eff, "sd_cell_drift", path, "effects.sd_cell_drift"),
            path,
            "effects.sd_cell_drift",
            0,
            3,
        ),  # fmt: skip
        scores=scores,
        contact_central=central,
        contact_other=other,
        organisation_effects=org_eff,
        bsc_baseline=_vector(
            get(bsc, "baseline", path, "bsc.baseline"), N_NORMS, path, "bsc.baseline", 1, 5
        ),  # fmt: skip
        bsc_sd=as_float(get(bsc, "sd", path, "bsc.sd"), path, "bsc.sd", 0.05, 5),
        bsc_rho=as_float(get(bsc, "rho", path, "bsc.rho"), path, "bsc.rho", 0, 0.99),
        bsc_drivers=_vector(
            get(bsc, "chain_drivers", path, "bsc.chain_drivers"),
            N_NORMS,
            path,
            "bsc.chain_drivers",
            -3,
            3,
        ),  # fmt: skip
        bsc_weak=weak,
        bsc_not_applicable=_vector(
            get(bsc, "not_applicable", path, "bsc.not_applicable"),
            N_NORMS,
            path,
            "bsc.not_applicable",
            0,
            0.95,
        ),  # fmt: skip
        channels=channels,
        trim_intercept=_levels_vector(
            get(trim, "intercept", path, "trim.intercept"), C.TRIM_QUESTIONS, path, "trim.intercept"
        ),  # fmt: skip
        trim_slope=as_float(get(trim, "slope", path, "trim.slope"), path, "trim.slope", -5, 5),
        trim_sd=as_float(get(trim, "sd", path, "trim.sd"), path, "trim.sd", 0.05, 5),
        national=national,
        file=path,
    )


# --------------------------------------------------------------------------------------------
# the population structure (registry-based or national fake)
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class _Structure:
    municipalities: np.ndarray  # (M,) codes, sorted
    size_class: np.ndarray  # (M,)
    adults: np.ndarray  # (M, A, S)
    events: np.ndarray  # (L,) codes, sorted
    incidence: np.ndarray  # (L,)
    event_effect: np.ndarray  # (L,)
    n_orgs: np.ndarray  # (L,)
    chain: np.ndarray  # (L, K) organisation index, -1 = none; central first
    organisations: np.ndarray  # (O,) codes
    org_effect: np.ndarray  # (O,)
    muni_effect: np.ndarray  # (M,) includes the size-class effect
    cell_effect: np.ndarray  # (M, L) includes the wave drift
    weak: np.ndarray  # (L, 10) offsets of the latent norms


def _stable_normals(seed: Sequence[int], keys: Sequence[str]) -> np.ndarray:
    """One N(0, 1) draw per key, from a generator seeded by (seed, crc32(key)).

    Adding a municipality or life event leaves the effects of the others unchanged.
    """
    return np.array(
        [np.random.default_rng([*seed, zlib.crc32(k.encode())]).standard_normal() for k in keys]
    )


def _registry_structure(registry: Registry, sp: SyntheticParams, year: int) -> _Structure:
    munis = sorted(registry.municipalities)
    events = sorted(registry.life_events)
    orgs = list(registry.organisations)
    missing = [o for o in orgs if o not in sp.organisation_effects]
    if missing:
        raise fail(sp.file, "organisations.effects", "give an effect for every organisation",
                   missing, "Add them (0 for none).")  # fmt: skip
    for event in sp.bsc_weak:
        if event not in registry.life_events:
            raise fail(sp.file, "bsc.weak", "name life events from life_events.yaml", event)
    adults = np.stack(
        [
            registry.municipalities[m]
            .population["count"]
            .to_numpy(float)
            .reshape(len(C.AGE_BANDS), len(C.SEXES))
            for m in munis
        ]
    )
    le = [registry.life_events[e] for e in events]
    kmax = max(len(e.organisations) for e in le)
    chain = np.full((len(le), kmax), -1, dtype=np.int64)
    for i, e in enumerate(le):
        chain[i, : len(e.organisations)] = [orgs.index(o) for o in e.organisations]
    weak = np.zeros((len(events), N_NORMS))
    for event, offsets in sp.bsc_weak.items():
        for j, v in offsets.items():
            weak[events.index(event), j] = v
    size = np.array([registry.municipalities[m].size_class for m in munis])
    cell_keys = [f"{m}|{e}" for m in munis for e in events]
    s = sp.structure_seed
    cell = sp.sd_cell * _stable_normals([s, 2], cell_keys) + sp.sd_cell_drift * _stable_normals(
        [s, 3, year], cell_keys
    )
    return _Structure(
        municipalities=np.array(munis),
        size_class=size,
        adults=adults,
        events=np.array(events),
        incidence=np.array([e.incidence for e in le]),
        event_effect=np.array([e.chain_effect for e in le]),
        n_orgs=np.array([len(e.organisations) for e in le]),
        chain=chain,
        organisations=np.array(orgs),
        org_effect=np.array([sp.organisation_effects[o] for o in orgs]),
        muni_effect=sp.sd_municipality * _stable_normals([s, 1], munis)
        + np.array([sp.effect_size_class[c] for c in size]),
        cell_effect=cell.reshape(len(munis), len(events)),
        weak=weak,
    )


def _size_class(total: np.ndarray) -> np.ndarray:
    bounds = np.array([20_000, 50_000, 100_000])
    return np.array(SIZE_CLASSES)[np.searchsorted(bounds, total, side="right")]


def _national_structure(
    sp: SyntheticParams, rng: np.random.Generator, n_munis: int, n_events: int
) -> _Structure:
    nat = sp.national
    adults_total = np.maximum(
        np.exp(rng.normal(nat["adults_log_mean"], nat["adults_log_sd"], n_munis)),
        nat["adults_min"],
    )
    age_mean = np.array([nat["age_shares"][a] for a in C.AGE_BANDS], dtype=float)
    age = rng.dirichlet(age_mean / age_mean.sum() * nat["age_dirichlet_concentration"], n_munis)
    male = np.array([nat["male_share"], 1 - nat["male_share"]])
    adults = np.round(adults_total[:, None, None] * age[:, :, None] * male[None, None, :])
    n_org = int(nat["n_organisations"])
    kmax = 4
    chain = np.full((n_events, kmax), -1, dtype=np.int64)
    n_orgs = rng.integers(2, kmax + 1, n_events)
    for i in range(n_events):  # one small draw per life event
        chain[i, : n_orgs[i]] = rng.choice(n_org, n_orgs[i], replace=False)
    size = _size_class(adults.sum(axis=(1, 2)) / 0.79)  # adults are ~79% of everyone
    muni_eff = sp.sd_municipality * rng.standard_normal(n_munis) + np.array(
        [sp.effect_size_class[c] for c in size]
    )
    weak = np.zeros((n_events, N_NORMS))
    weak[rng.choice(n_events, min(3, n_events), replace=False), 5] = -0.8  # norm 6 weak somewhere
    return _Structure(
        municipalities=np.array([f"GM{NATIONAL_CODE_START + i:04d}" for i in range(n_munis)]),
        size_class=size,
        adults=adults,
        events=np.array([f"le{i + 1:02d}" for i in range(n_events)]),
        incidence=np.exp(rng.normal(nat["incidence_log_mean"], nat["incidence_log_sd"], n_events)),
        event_effect=nat["sd_event"] * rng.standard_normal(n_events),
        n_orgs=n_orgs,
        chain=chain,
        organisations=np.array([f"org{i + 1:02d}" for i in range(n_org)]),
        org_effect=nat["sd_organisation"] * rng.standard_normal(n_org),
        muni_effect=muni_eff,
        cell_effect=(sp.sd_cell + sp.sd_cell_drift) * rng.standard_normal((n_munis, n_events)),
        weak=weak,
    )


# --------------------------------------------------------------------------------------------
# truth and sample
# --------------------------------------------------------------------------------------------
def _solve_base(mu: np.ndarray, sd: float, weights: np.ndarray, target: float, what: str) -> float:
    """The base b with sum(w * E[Y | b + mu, sd]) / sum(w) == target, solved exactly.

    The population mean is smooth and strictly increasing in b, so Newton's method (analytic
    derivative) converges in a few steps; brentq on a wide bracket is the fallback.
    """
    w = weights / weights.sum()
    thresholds = np.arange(C.SCORE_MIN, C.SCORE_MAX) + 0.5

    def gap(b: float) -> float:
        return float((w * expected_rounded_score(b + mu, sd)).sum() - target)

    b = target - float((w * mu).sum())
    for _ in range(30):
        z = (b + mu[:, None] - thresholds) / sd
        value = float((w * (C.SCORE_MIN + ndtr(z).sum(axis=1))).sum()) - target
        slope = float((w * np.exp(-0.5 * z**2).sum(axis=1)).sum()) / (sd * np.sqrt(2 * np.pi))
        if abs(value) < 1e-12:
            return b
        if slope <= 1e-12:
            break
        b -= value / slope
    lo, hi = -10.0 - mu.max(), 20.0 - mu.min()
    if gap(lo) > 0 or gap(hi) < 0:  # pragma: no cover - targets are validated to 1.5..9.5
        raise ParameterError(f"target of {what} must be reachable on 1-10; got {target}.")
    return float(brentq(gap, lo, hi, xtol=1e-13, rtol=1e-15, maxiter=200))


def _simulate(
    st: _Structure,
    sp: SyntheticParams,
    targets: Mapping[str, float],
    n: int,
    rng: np.random.Generator,
    label: str,
    id_prefix: str,
    seed: int,
) -> SyntheticWave:
    n_m, n_l, n_a, n_s, n_e = (
        len(st.municipalities), len(st.events), len(C.AGE_BANDS), len(C.SEXES),
        len(C.EDUCATION_LEVELS),
    )  # fmt: skip
    # strata grid in (m, ev, a, s, e) order
    m, ev, a, s, e = (g.ravel() for g in np.indices((n_m, n_l, n_a, n_s, n_e)))
    pop = st.adults[m, a, s] * sp.education_shares[a, e] * st.incidence[ev]
    demo = sp.effect_age[a] + sp.effect_sex[s] + sp.effect_education[e] + st.muni_effect[m]
    event_cell = st.event_effect[ev] + st.cell_effect[m, ev]
    sc = sp.scores
    beta = sp.bsc_drivers
    corr = sp.bsc_rho * np.ones((N_NORMS, N_NORMS)) + (1 - sp.bsc_rho) * np.eye(N_NORMS)
    var_norms = float(sp.bsc_sd**2 * beta @ corr @ beta)
    mu = {
        "chain": event_cell + demo + st.weak[ev] @ beta,
        "government": sc["government"]["event_weight"] * event_cell + demo,
        "cooperation": sc["cooperation"]["event_weight"] * event_cell + demo
        + sc["cooperation"]["per_extra_organisation"] * (st.n_orgs[ev] - 2),
    }  # fmt: skip
    sd_total = {
        "chain": float(np.sqrt(sc["chain"]["sd"] ** 2 + var_norms)),
        "government": sc["government"]["sd"],
        "cooperation": sc["cooperation"]["sd"],
        "organisations": sc["organisations"]["sd"],
    }
    base = {k: _solve_base(mu[k], sd_total[k], pop, targets[k], k) for k in mu}
    # organisations: one latent per stratum x chain position
    has = st.chain[ev] >= 0  # (H, K)
    p_contact = np.where(np.arange(st.chain.shape[1]) == 0, sp.contact_central, sp.contact_other)
    w_org = pop[:, None] * p_contact[None, :] * has
    mu_org = (
        st.org_effect[np.where(has, st.chain[ev], 0)]
        + sc["organisations"]["event_weight"] * event_cell[:, None]
        + demo[:, None]
    )
    base["organisations"] = _solve_base(
        mu_org[has],
        sd_total["organisations"],
        w_org[has],
        targets["organisations"],
        "organisations",
    )
    truth = {k: expected_rounded_score(base[k] + mu[k], sd_total[k]) for k in mu}
    org_truth = expected_rounded_score(
        base["organisations"] + mu_org[has], sd_total["organisations"]
    )
    overall = {k: float((pop * truth[k]).sum() / pop.sum()) for k in truth}
    overall["organisations"] = float((w_org[has] * org_truth).sum() / w_org[has].sum())

    # ---- truth tables
    codes_m, codes_l = st.municipalities, st.events
    strata = pd.DataFrame(
        {
            C.WAVE: pd.array(np.full(len(pop), label), dtype="string"),
            C.MUNICIPALITY: pd.array(codes_m[m], dtype="string"),
            C.LIFE_EVENT: pd.array(codes_l[ev], dtype="string"),
            C.AGE_BAND: pd.Categorical.from_codes(a, dtype=AGE_DTYPE),
            C.SEX: pd.Categorical.from_codes(s, dtype=SEX_DTYPE),
            C.EDUCATION: pd.Categorical.from_codes(e, dtype=EDU_DTYPE),
            "population": pop,
            "true_chain": truth["chain"],
            "true_government": truth["government"],
            "true_cooperation": truth["cooperation"],
        }
    )
    pop_cell = pop.reshape(n_m * n_l, -1)
    cells = pd.DataFrame(
        {
            C.WAVE: pd.array(np.full(n_m * n_l, label), dtype="string"),
            C.MUNICIPALITY: pd.array(np.repeat(codes_m, n_l), dtype="string"),
            C.LIFE_EVENT: pd.array(np.tile(codes_l, n_m), dtype="string"),
            "population": pop_cell.sum(axis=1),
            **{
                f"true_{k}": (pop_cell * truth[k].reshape(n_m * n_l, -1)).sum(axis=1)
                / pop_cell.sum(axis=1)
                for k in ("chain", "government", "cooperation")
            },
        }
    )

    # ---- sample: strata drawn with probability ~ population x panel propensity
    p = pop * sp.propensity_age[a] * sp.propensity_education[e]
    counts = rng.multinomial(n, p / p.sum())
    idx = np.repeat(np.arange(len(pop)), counts)[rng.permutation(n)]
    ri, rl, ra = m[idx], ev[idx], a[idx]
    f = rng.standard_normal(n)  # general satisfaction factor shared by all scores
    g = rng.standard_normal(n)  # common factor of the norms
    u = rng.standard_normal((n, N_NORMS))
    dev = sp.bsc_sd * (np.sqrt(sp.bsc_rho) * g[:, None] + np.sqrt(1 - sp.bsc_rho) * u)
    eta = sp.bsc_baseline + st.weak[rl] + dev

    def latent(level: str, mean: np.ndarray, extra: np.ndarray | float = 0.0) -> np.ndarray:
        lam, sd = sc[level]["factor_loading"], sc[level]["sd"]
        return (
            base[level]
            + mean
            + extra
            + sd * (lam * f + np.sqrt(1 - lam**2) * rng.standard_normal(n))
        )

    lat = {
        "chain": latent("chain", mu["chain"][idx], dev @ beta),
        "government": latent("government", mu["government"][idx]),
        "cooperation": latent("cooperation", mu["cooperation"][idx]),
    }
    resp: dict[str, Any] = {
        C.RESPONDENT_ID: pd.array(
            [f"{id_prefix}-{i:06d}" for i in range(1, n + 1)], dtype="string"
        ),
        C.WAVE: pd.array(np.full(n, label), dtype="string"),
        C.MUNICIPALITY: pd.array(codes_m[ri], dtype="string"),
        C.LIFE_EVENT: pd.array(codes_l[rl], dtype="string"),
    }
    for col, level in zip(C.SCORES, ("government", "chain", "cooperation"), strict=True):
        values = _round_clip(lat[level], C.SCORE_MIN, C.SCORE_MAX)
        resp[col] = _with_missing(values, rng.random(n) < sp.missing[col])
    norms = _round_clip(eta, C.BSC_MIN, C.BSC_MAX)
    na = rng.random((n, N_NORMS)) < sp.bsc_not_applicable
    for j, col in enumerate(C.BSC_NORMS):
        resp[col] = _with_missing(norms[:, j], na[:, j])
    used = rng.random((n, len(C.CHANNELS))) < sp.channels[ra]
    none = ~used.any(axis=1)
    used[none, sp.channels[ra[none]].argmax(axis=1)] = True
    for j, col in enumerate(C.CHANNEL_COLUMNS):
        resp[col] = pd.array(used[:, j].astype(np.int8), dtype="Int8")
    resp[C.AGE_BAND] = pd.Categorical.from_codes(ra, dtype=AGE_DTYPE)
    resp[C.SEX] = pd.Categorical.from_codes(s[idx], dtype=SEX_DTYPE)
    resp[C.EDUCATION] = pd.Categorical.from_codes(e[idx], dtype=EDU_DTYPE)
    resp[C.SIZE_CLASS] = pd.array(st.size_class[ri], dtype="string")
    z = (lat["government"] - targets["government"]) / sc["government"]["sd"]
    trim_lat = (
        sp.trim_intercept + sp.trim_slope * z[:, None]
        + sp.trim_sd * rng.standard_normal((n, len(C.TRIM_QUESTIONS)))
    )  # fmt: skip
    trim = _round_clip(trim_lat, C.TRIM_MIN, C.TRIM_MAX)
    trim_na = rng.random((n, len(C.TRIM_QUESTIONS))) < sp.missing["trim"]
    for j, col in enumerate(C.TRIM_QUESTIONS):
        resp[col] = _with_missing(trim[:, j], trim_na[:, j])
    respondents = pd.DataFrame(resp)[list(RESPONDENT_COLUMNS)]

    # ---- organisation ratings: each organisation of the chain contacted with its probability
    r_has = has[idx]
    contacted = r_has & (rng.random(r_has.shape) < p_contact[None, :])
    lam, sd = sc["organisations"]["factor_loading"], sc["organisations"]["sd"]
    org_lat = (
        base["organisations"] + mu_org[idx]
        + sd * (lam * f[:, None] + np.sqrt(1 - lam**2) * rng.standard_normal(r_has.shape))
    )  # fmt: skip
    rows, k = np.nonzero(contacted)  # row-major: by respondent, then chain position
    organisations = pd.DataFrame(
        {
            C.RESPONDENT_ID: resp[C.RESPONDENT_ID][rows],
            C.ORGANISATION: pd.array(st.organisations[st.chain[rl[rows], k]], dtype="string"),
            C.ORGANISATION_SCORE: pd.array(
                _round_clip(org_lat[rows, k], C.SCORE_MIN, C.SCORE_MAX).astype(np.int8),
                dtype="Int8",
            ),
        }
    ).reset_index(drop=True)
    return SyntheticWave(
        label=label,
        respondents=respondents,
        organisations=organisations,
        truth_cells=cells,
        truth_strata=strata,
        seed=seed,
        truth_overall=overall,
    )


def _with_missing(values: np.ndarray, missing: np.ndarray) -> pd.arrays.IntegerArray:
    """Small integers (marks 1-10, norms 1-5) as nullable ``Int8``, as meting.schema types them."""
    return pd.arrays.IntegerArray(values.astype(np.int8), missing)


# --------------------------------------------------------------------------------------------
# public entry points
# --------------------------------------------------------------------------------------------
def generate_wave(
    registry: Registry, label: str, *, seed: int | None = None, n_respondents: int | None = None
) -> SyntheticWave:
    """Generate the synthetic wave ``label`` of the registry.

    Parameters
    ----------
    registry
        The loaded parameters (municipalities, life events, organisations, waves).
    label
        A wave label from ``params/waves/`` whose source is synthetic (or that has
        ``synthetic_targets`` and gets an explicit ``seed``).
    seed
        Seed of the sample draws (default: the wave's seed). The population truth does not depend
        on it, only on the parameters and the wave.
    n_respondents
        Sample size (default: ``sample.n_respondents`` of ``params/synthetic.yaml``).
    """
    if label not in registry.waves:
        raise ParameterError(
            f"wave must be one of {', '.join(registry.waves)}; got {label!r}. "
            f"Add {registry.params_dir / 'waves' / (label + '.yaml')} or fix the label."
        )
    wave = registry.waves[label]
    seed = wave.seed if seed is None else seed
    if seed is None or not wave.targets:
        raise ParameterError(
            f"{wave.file}: field 'source.type' must be synthetic (with a seed and "
            f"synthetic_targets) to generate the wave; got {wave.source!r}."
        )
    sp = load_synthetic_params(registry.params_dir)
    n = sp.n_respondents if n_respondents is None else int(n_respondents)
    if n < 1:
        raise ParameterError(f"n_respondents must be at least 1; got {n}.")
    structure = _registry_structure(registry, sp, wave.year)
    rng = np.random.default_rng(seed)
    return _simulate(structure, sp, wave.targets, n, rng, label, f"R{wave.year}", int(seed))


def generate_national(
    seed: int = 20080,
    n_municipalities: int = 340,
    n_life_events: int = 15,
    n_respondents: int = 100_000,
    *,
    params_dir: Path | str | None = None,
) -> SyntheticWave:
    """A national-scale wave for benchmarks: fake municipalities (``GM7001``...) and life events
    (``le01``...), organisations ``org01``...; only ``params/synthetic.yaml`` is read.

    The structure (populations, effects, chains) and the sample both derive from ``seed``.
    """
    if n_municipalities < 1 or n_life_events < 1 or n_respondents < 1:
        raise ParameterError(
            "n_municipalities, n_life_events and n_respondents must be at least 1; got "
            f"{n_municipalities}, {n_life_events}, {n_respondents}."
        )
    if NATIONAL_CODE_START + n_municipalities > 10_000:
        raise ParameterError(f"n_municipalities must be at most 2999; got {n_municipalities}.")
    sp = load_synthetic_params(params_dir)
    structure_seq, sample_seq = np.random.SeedSequence(seed).spawn(2)
    st = _national_structure(
        sp, np.random.default_rng(structure_seq), n_municipalities, n_life_events
    )
    targets = {k: float(v) for k, v in sp.national["targets"].items()}
    rng = np.random.default_rng(sample_seq)
    return _simulate(st, sp, targets, n_respondents, rng, "national", "RNL", int(seed))


def _write_csv_atomic(frame: pd.DataFrame, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")  # same folder: os.replace is atomic
    try:
        with open(tmp, "w", encoding="utf-8", newline="") as fh:
            frame.to_csv(fh, index=False, lineterminator="\n", float_format=FLOAT_FORMAT)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_wave(wave: SyntheticWave, out_dir: Path) -> list[Path]:
    """Write ``respondents.csv``, ``organisations.csv``, ``truth_cells.csv`` and
    ``truth_strata.csv`` into ``out_dir`` (created if needed).

    Each file is written to a temporary file and moved into place, so a reader never sees half a
    file; the same wave gives the same bytes (fixed row order and float format, no timestamps).
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, frame in (
        ("respondents.csv", wave.respondents),
        ("organisations.csv", wave.organisations),
        ("truth_cells.csv", wave.truth_cells),
        ("truth_strata.csv", wave.truth_strata),
    ):
        path = out_dir / name
        _write_csv_atomic(frame, path)
        written.append(path)
    return written


def generate_command(
    waves: Sequence[str],
    out_dir: Path | None = None,
    params_dir: Path | None = None,
    national: bool = False,
) -> int:
    """The ``meting generate`` command: write synthetic waves and print what was written.

    Without wave labels every synthetic wave of the registry is written (or, with ``national``,
    the national-scale wave). Output goes to ``<out_dir>/<label>/``; the default ``out_dir`` is
    ``<project root>/data/synthetic``.
    """
    if national:
        if waves:
            raise ParameterError(
                f"waves must not be given with --national; got {list(waves)}. Drop one of them."
            )
        from meting.registry import default_params_dir, project_root

        pdir = Path(params_dir) if params_dir else default_params_dir()
        root = Path(out_dir) if out_dir else project_root() / "data" / "synthetic"
        wave = generate_national(params_dir=pdir)
        _report(wave, write_wave(wave, root / wave.label))
        return 0
    registry = load_registry(params_dir)
    labels = list(waves) or registry.synthetic_waves()
    root = Path(out_dir) if out_dir else registry.project_root / "data" / "synthetic"
    for label in labels:
        wave = generate_wave(registry, label)
        _report(wave, write_wave(wave, root / label))
    return 0


def _report(wave: SyntheticWave, paths: list[Path]) -> None:
    nonempty = int((wave.respondents.groupby([C.MUNICIPALITY, C.LIFE_EVENT]).size() > 0).sum())
    print(
        f"{wave.label}: {len(wave.respondents)} respondenten, {len(wave.organisations)} "
        f"organisatieoordelen, {nonempty} van {len(wave.truth_cells)} cellen gevuld (seed {wave.seed})"
    )
    for p in paths:
        print(f"  {p}")
