"""The population structure of a synthetic wave: municipalities, life events and their chains,
and the persistent effects, from the registry (:func:`registry_structure`) or faked at national
scale (:func:`national_structure`)."""

from __future__ import annotations

import datetime as dt
import zlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from meting import columns as C
from meting.registry import SIZE_CLASSES, Registry
from meting.synthetic.params import N_NORMS, SyntheticParams
from meting.yaml_io import fail

__all__ = ["ADULT_SHARE", "NATIONAL_CODE_START", "Structure", "national_structure",
           "registry_structure", "size_class_of"]  # fmt: skip

NATIONAL_CODE_START = 7001  # fake municipality codes GM7001.. (no real code is that high)


@dataclass(frozen=True, eq=False)
class Structure:
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


def registry_structure(
    registry: Registry, sp: SyntheticParams, year: int, on: dt.date | None = None
) -> Structure:
    """The structure of a wave of ``year``: the municipalities that exist on ``on`` (the wave's
    reference date), each with its population of that date (:meth:`Registry.municipality_on`)."""
    munis = registry.municipalities_on(on)
    rows = {m: registry.municipality_on(m, on) for m in munis}
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
            rows[m].population["count"].to_numpy(float).reshape(len(C.AGE_BANDS), len(C.SEXES))
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
    size = np.array([rows[m].size_class for m in munis])
    cell_keys = [f"{m}|{e}" for m in munis for e in events]
    s = sp.structure_seed
    cell = sp.sd_cell * _stable_normals([s, 2], cell_keys) + sp.sd_cell_drift * _stable_normals(
        [s, 3, year], cell_keys
    )
    return Structure(
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


ADULT_SHARE = 0.79  # ASSUMPTION: adults are ~79% of all inhabitants (size classes count everyone)


def size_class_of(adults: np.ndarray) -> np.ndarray:
    """The size class of municipalities with these adult totals (all ages = adults / 0.79)."""
    total = np.asarray(adults, dtype=float) / ADULT_SHARE
    bounds = np.array([20_000, 50_000, 100_000])
    return np.array(SIZE_CLASSES)[np.searchsorted(bounds, total, side="right")]


def national_structure(
    sp: SyntheticParams, rng: np.random.Generator, n_munis: int, n_events: int
) -> Structure:
    nat = sp.national
    adults_total = np.maximum(
        np.exp(rng.normal(nat.adults_log_mean, nat.adults_log_sd, n_munis)),
        nat.adults_min,
    )
    age_mean = np.array([nat.age_shares[a] for a in C.AGE_BANDS], dtype=float)
    age = rng.dirichlet(age_mean / age_mean.sum() * nat.age_dirichlet_concentration, n_munis)
    male = np.array([nat.male_share, 1 - nat.male_share])
    adults = np.round(adults_total[:, None, None] * age[:, :, None] * male[None, None, :])
    n_org = int(nat.n_organisations)
    kmax = 4
    chain = np.full((n_events, kmax), -1, dtype=np.int64)
    n_orgs = rng.integers(2, kmax + 1, n_events)
    for i in range(n_events):  # one small draw per life event
        chain[i, : n_orgs[i]] = rng.choice(n_org, n_orgs[i], replace=False)
    size = size_class_of(adults.sum(axis=(1, 2)))
    muni_eff = sp.sd_municipality * rng.standard_normal(n_munis) + np.array(
        [sp.effect_size_class[c] for c in size]
    )
    weak = np.zeros((n_events, N_NORMS))
    weak[rng.choice(n_events, min(3, n_events), replace=False), 5] = -0.8  # norm 6 weak somewhere
    return Structure(
        municipalities=np.array([f"GM{NATIONAL_CODE_START + i:04d}" for i in range(n_munis)]),
        size_class=size,
        adults=adults,
        events=np.array([f"le{i + 1:02d}" for i in range(n_events)]),
        incidence=np.exp(rng.normal(nat.incidence_log_mean, nat.incidence_log_sd, n_events)),
        event_effect=nat.sd_event * rng.standard_normal(n_events),
        n_orgs=n_orgs,
        chain=chain,
        organisations=np.array([f"org{i + 1:02d}" for i in range(n_org)]),
        org_effect=nat.sd_organisation * rng.standard_normal(n_org),
        muni_effect=muni_eff,
        cell_effect=(sp.sd_cell + sp.sd_cell_drift) * rng.standard_normal((n_munis, n_events)),
        weak=weak,
    )
