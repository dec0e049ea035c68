"""A seeded simulator with the structure of the small-area models, the truth kept.

Used by the calibration (:mod:`meting.sae.calibration`), the benchmark and the tests as a stand-in
until ``meting.synthetic`` provides waves with their truth. The structure follows TOOLCHAIN.md
section 2 (the measured sampler comparison)::

    theta_{e,m,s} = mu + a_e + b_m + c_{e,m} + age_{s} + sex_{s}
    score_i ~ Normal(theta_{cell(i)}, sigma)

with ``a_e ~ N(0, sd_event)``, ``b_m ~ N(0, sd_municipality)``, ``c ~ N(0, sd_cell)``. Cell sizes are
very skewed: ``n ~ Poisson(size_m * prevalence_e * noise * response_s)`` with lognormal municipality
sizes, event prevalences and noise, so that about half of the cells have five respondents or fewer and
some have none. Response propensity rises with age, so the sample over-represents older people and
post-stratification matters when the age effect is not zero.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from meting.columns import AGE_BAND, AGE_BANDS, LIFE_EVENT, MUNICIPALITY, SEX, SEXES


@dataclass(frozen=True)
class SimulatedSurvey:
    """A simulated wave.

    Attributes
    ----------
    respondents
        One row per respondent: life event, municipality, age band, sex and ``score`` (float).
    population
        One row per life event x municipality x age band x sex with its ``population`` count.
    truth
        One row per life event x municipality: ``population`` and ``true_mean`` (the
        population-weighted mean of the true stratum means).
    parameters
        The true hyperparameters.
    """

    respondents: pd.DataFrame
    population: pd.DataFrame
    truth: pd.DataFrame
    parameters: dict[str, float]


def simulate_survey(
    seed: int,
    *,
    n_municipalities: int = 342,
    n_events: int = 15,
    respondents: int = 100_000,
    mu: float = 6.6,
    sd_event: float = 0.3,
    sd_municipality: float = 0.2,
    sd_cell: float = 0.15,
    sigma: float = 1.0,
    age_effects: tuple[float, ...] = (-0.2, -0.1, 0.05, 0.25),
    sex_effects: tuple[float, ...] = (0.05, -0.05),
    age_response: tuple[float, ...] = (0.6, 0.8, 1.0, 1.4),
) -> SimulatedSurvey:
    """Simulate one wave with a known truth (see the module docstring for the model).

    ``respondents`` is the expected total number of respondents. Set ``age_effects`` and
    ``sex_effects`` to zeros for data exactly from the Fay-Herriot / unit-level model without strata.
    """
    rng = np.random.default_rng(seed)
    events = np.array([f"LE{e + 1:02d}" for e in range(n_events)])
    munis = np.array([f"GM{m + 1:04d}" for m in range(n_municipalities)])
    a = rng.normal(0.0, sd_event, n_events)
    b = rng.normal(0.0, sd_municipality, n_municipalities)
    c = rng.normal(0.0, sd_cell, (n_events, n_municipalities))
    size = rng.lognormal(0.0, 1.0, n_municipalities)
    prevalence = rng.lognormal(0.0, 0.7, n_events)
    noise = rng.lognormal(0.0, 0.5, (n_events, n_municipalities))
    people = 1_000 * size[None, :] * prevalence[:, None] * noise  # adults with the event
    # strata shares per municipality around a national age x sex profile
    profile = np.outer([0.28, 0.26, 0.25, 0.21], [0.49, 0.51]).ravel()
    shares = rng.dirichlet(200 * profile, n_municipalities)  # (muni, 8)
    pop = np.rint(people[:, :, None] * shares[None, :, :]).astype(np.int64) + 1  # (e, m, 8)
    age_idx = np.repeat(np.arange(len(AGE_BANDS)), len(SEXES))
    sex_idx = np.tile(np.arange(len(SEXES)), len(AGE_BANDS))
    stratum_effect = np.asarray(age_effects)[age_idx] + np.asarray(sex_effects)[sex_idx]
    theta_cell = mu + a[:, None] + b[None, :] + c
    theta = theta_cell[:, :, None] + stratum_effect[None, None, :]
    # expected respondents per stratum row, scaled to the requested total
    propensity = pop * np.asarray(age_response)[age_idx][None, None, :]
    lam = propensity / propensity.sum() * respondents
    n = rng.poisson(lam)
    e_idx, m_idx, s_idx = np.meshgrid(
        np.arange(n_events), np.arange(n_municipalities), np.arange(len(profile)), indexing="ij"
    )
    flat_n = n.ravel()
    rows = np.repeat(np.arange(flat_n.size), flat_n)
    scores = rng.normal(theta.ravel()[rows], sigma)
    resp = pd.DataFrame(
        {
            LIFE_EVENT: events[e_idx.ravel()[rows]],
            MUNICIPALITY: munis[m_idx.ravel()[rows]],
            AGE_BAND: np.asarray(AGE_BANDS)[age_idx[s_idx.ravel()[rows]]],
            SEX: np.asarray(SEXES)[sex_idx[s_idx.ravel()[rows]]],
            "score": scores,
        }
    )
    population = pd.DataFrame(
        {
            LIFE_EVENT: events[e_idx.ravel()],
            MUNICIPALITY: munis[m_idx.ravel()],
            AGE_BAND: np.asarray(AGE_BANDS)[age_idx[s_idx.ravel()]],
            SEX: np.asarray(SEXES)[sex_idx[s_idx.ravel()]],
            "population": pop.ravel(),
        }
    )
    pop_cell = pop.sum(axis=2)
    truth = pd.DataFrame(
        {
            LIFE_EVENT: np.repeat(events, n_municipalities),
            MUNICIPALITY: np.tile(munis, n_events),
            "population": pop_cell.ravel(),
            "true_mean": ((pop * theta).sum(axis=2) / pop_cell).ravel(),
        }
    )
    parameters = {
        "mu": mu,
        "sd_event": sd_event,
        "sd_municipality": sd_municipality,
        "sd_cell": sd_cell,
        "sigma": sigma,
    }
    return SimulatedSurvey(resp, population, truth, parameters)


def from_synthetic_wave(
    wave, score: str = "score_chain", strata: tuple[str, ...] = (AGE_BAND, SEX)
) -> SimulatedSurvey:
    """View a ``meting.synthetic.SyntheticWave`` as a :class:`SimulatedSurvey`.

    ``respondents`` gets the chosen score as ``score``; ``population`` sums the truth strata over
    the weighting variables not in ``strata``; ``truth.true_mean`` is the exact population mean of
    the observed score per life event x municipality (``true_<level>`` of ``truth_cells``).
    """
    level = score.removeprefix("score_")
    groups = [LIFE_EVENT, MUNICIPALITY]
    resp = wave.respondents[[*groups, *strata, score]].rename(columns={score: "score"})
    resp = resp.astype({c: str for c in (*groups, *strata)})
    ts = wave.truth_strata.astype({c: str for c in (*groups, *strata)})
    population = ts.groupby([*groups, *strata], observed=True, sort=True)["population"].sum()
    truth = wave.truth_cells.astype({c: str for c in groups})[[*groups, "population"]].assign(
        true_mean=wave.truth_cells[f"true_{level}"].to_numpy(dtype=float)
    )
    return SimulatedSurvey(resp, population.reset_index(), truth, {"seed": float(wave.seed)})


@dataclass(frozen=True)
class SimulatedWaves:
    """Simulated waves linked through persistent cell effects (:func:`simulate_linked_waves`).

    Attributes
    ----------
    stats
        One row per life event x municipality x wave with respondents: ``n``, ``mean`` and
        ``sumsq`` (the sufficient statistics of normal scores, drawn directly).
    truth
        One row per life event x municipality x wave: ``population`` and ``true_mean``.
    parameters
        The true hyperparameters.
    """

    stats: pd.DataFrame
    truth: pd.DataFrame
    parameters: dict[str, float]


def simulate_linked_waves(
    seed: int,
    *,
    n_municipalities: int = 30,
    n_events: int = 14,
    waves: tuple[str, ...] = ("2008", "2009", "2010"),
    respondents_per_wave: float = 6_800 / 3,
    mu: float = 6.6,
    sd_event: float = 0.3,
    sd_event_wave: float = 0.1,
    sd_municipality: float = 0.2,
    sd_cell: float = 0.3,
    sd_deviation: float = 0.08,
    sigma: float = 1.2,
    cell_rho: float | None = None,
) -> SimulatedWaves:
    """Simulate waves with a known truth, linked through a persistent cell effect::

        theta_{e,m,w} = mu + a_e + t_{e,w} + b_m + c_{e,m} + d_{e,m,w}
        score_i ~ Normal(theta_{cell(i),w}, sigma)

    with ``a ~ N(0, sd_event)``, the life events' own changes ``t ~ N(0, sd_event_wave)``,
    ``b ~ N(0, sd_municipality)``, the persistent cell effects ``c ~ N(0, sd_cell)`` and small
    wave-to-wave deviations ``d ~ N(0, sd_deviation)``. Population sizes (lognormal municipality
    sizes x event prevalences x noise, as :func:`simulate_survey`) are the same in every wave; the
    respondents per cell and wave are Poisson with mean proportional to the population (the
    defaults: the issue's 14 life events x 30 municipalities x 3 waves with about 6,800
    respondents in all, half the cell-waves with five respondents or fewer). The cell statistics
    are drawn directly: ``mean ~ N(theta, sigma / sqrt(n))`` and ``sumsq ~ sigma^2 chi2(n - 1)``,
    the distribution of the statistics of ``n`` normal scores.

    With ``cell_rho`` the cell effect is an AR(1) across the waves instead of persistent (the
    generator of the AR(1) structure, :mod:`meting.sae.linked_ar1`): ``c_{e,m,1} ~ N(0,
    sd_cell)``, ``c_{e,m,w} = rho c_{e,m,w-1} + sqrt(1 - rho^2) N(0, sd_cell)``, so every wave's
    cell effects have sd ``sd_cell`` and waves ``k`` apart correlate ``rho^k``; the deviations
    ``d`` are added as before (pass ``sd_deviation=0`` for a pure AR(1)). Without ``cell_rho``
    the random stream is the one of the persistent model.
    """
    rng = np.random.default_rng(seed)
    events = np.array([f"LE{e + 1:02d}" for e in range(n_events)])
    munis = np.array([f"GM{m + 1:04d}" for m in range(n_municipalities)])
    n_waves = len(waves)
    a = rng.normal(0.0, sd_event, n_events)
    t = rng.normal(0.0, sd_event_wave, (n_events, n_waves))
    b = rng.normal(0.0, sd_municipality, n_municipalities)
    c = rng.normal(0.0, sd_cell, (n_events, n_municipalities))
    d = rng.normal(0.0, sd_deviation, (n_events, n_municipalities, n_waves))
    size = rng.lognormal(0.0, 1.0, n_municipalities)
    prevalence = rng.lognormal(0.0, 0.7, n_events)
    noise = rng.lognormal(0.0, 0.5, (n_events, n_municipalities))
    people = np.rint(1_000 * size[None, :] * prevalence[:, None] * noise) + 1
    if cell_rho is None:
        cell = np.broadcast_to(c[:, :, None], d.shape)
    else:
        if not -1.0 < cell_rho < 1.0:
            raise ValueError(f"cell_rho must lie in (-1, 1); got {cell_rho!r}.")
        steps = [c]
        shocks = rng.normal(0.0, sd_cell, (n_waves - 1, n_events, n_municipalities))
        for shock in shocks:
            steps.append(cell_rho * steps[-1] + np.sqrt(1.0 - cell_rho**2) * shock)
        cell = np.stack(steps, axis=2)
    theta = mu + a[:, None, None] + t[:, None, :] + b[None, :, None] + cell + d
    lam = people / people.sum() * respondents_per_wave
    n = rng.poisson(np.broadcast_to(lam[:, :, None], theta.shape))
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = rng.normal(theta, sigma / np.sqrt(np.maximum(n, 1)))
    sumsq = sigma**2 * rng.chisquare(np.maximum(n - 1, 1)) * (n >= 2)
    e_idx, m_idx, w_idx = np.meshgrid(
        np.arange(n_events), np.arange(n_municipalities), np.arange(n_waves), indexing="ij"
    )
    keys = {
        LIFE_EVENT: events[e_idx.ravel()],
        MUNICIPALITY: munis[m_idx.ravel()],
        "wave": np.asarray(waves)[w_idx.ravel()],
    }
    truth = pd.DataFrame(
        {**keys, "population": people[e_idx.ravel(), m_idx.ravel()], "true_mean": theta.ravel()}
    )
    flat_n = n.ravel()
    has = flat_n > 0
    stats = pd.DataFrame(
        {
            **{k: v[has] for k, v in keys.items()},
            "n": flat_n[has].astype(np.int64),
            "mean": mean.ravel()[has],
            "sumsq": sumsq.ravel()[has],
        }
    ).reset_index(drop=True)
    parameters = {
        "mu": mu,
        "sd_event": sd_event,
        "sd_event_wave": sd_event_wave,
        "sd_municipality": sd_municipality,
        "sd_cell": sd_cell,
        "sd_deviation": sd_deviation,
        "sigma": sigma,
    }
    if cell_rho is not None:
        parameters["cell_rho"] = cell_rho
    return SimulatedWaves(stats, truth, parameters)
