"""The simulation: the exact truth of every population stratum and the seeded sample drawn from
it (see the package docstring for the model); :func:`generate_wave` and
:func:`generate_national` are the entry points."""

from __future__ import annotations

from collections.abc import Mapping
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
from meting.registry import Registry
from meting.synthetic.params import N_NORMS, SyntheticParams, load_synthetic_params
from meting.synthetic.structure import (
    NATIONAL_CODE_START,
    Structure,
    national_structure,
    registry_structure,
)

__all__ = [
    "RESPONDENT_COLUMNS",
    "SyntheticWave",
    "expected_rounded_score",
    "generate_national",
    "generate_wave",
]

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
AGE_DTYPE = pd.CategoricalDtype(list(C.AGE_BANDS), ordered=True)
SEX_DTYPE = pd.CategoricalDtype(list(C.SEXES), ordered=False)
EDU_DTYPE = pd.CategoricalDtype(list(C.EDUCATION_LEVELS), ordered=True)


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
    st: Structure,
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
    structure = registry_structure(registry, sp, wave.year, wave.reference_date)
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
    st = national_structure(
        sp, np.random.default_rng(structure_seq), n_municipalities, n_life_events
    )
    targets = {k: float(v) for k, v in sp.national.targets.model_dump().items()}
    rng = np.random.default_rng(sample_seq)
    return _simulate(st, sp, targets, n_respondents, rng, "national", "RNL", int(seed))
