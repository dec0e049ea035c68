"""Priors and the model specification of the small-area models, as plain dataclasses.

Nothing here imports PyMC: a specification says *what* model is fitted (which groups, which
priors, which levels are centred); :mod:`meting.sae.model` turns it into a ``pm.Model``. This keeps
the choices reviewable and hashable (the cache key includes :func:`spec_fingerprint`).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Literal

from meting.errors import ParameterError

ScaleFamily = Literal["halfnormal", "halfcauchy", "halfstudentt", "exponential"]
_SCALE_FAMILIES: tuple[str, ...] = ("halfnormal", "halfcauchy", "halfstudentt", "exponential")
Sampler = Literal["nutpie", "pymc"]
WaveStructure = Literal["compound", "ar1"]
WAVE_STRUCTURES: tuple[str, ...] = ("compound", "ar1")
SAMPLERS: tuple[str, ...] = ("nutpie", "pymc")


@dataclass(frozen=True)
class SampleSettings:
    """Settings of one MCMC run (all part of the cache key).

    The one typed settings object for sampling: ``fit_area_level`` and ``fit_unit_level`` take
    it as ``sampling=``; :meth:`meting.registry.Settings.sampling_for` gives the seeded settings
    of a wave from ``params/analysis.yaml``.
    """

    sampler: Sampler = "nutpie"
    chains: int = 4
    draws: int = 1000
    tune: int = 1000
    target_accept: float = 0.8
    random_seed: int = 0
    #: nutpie's low-rank modified mass matrix (``low_rank_modified_mass_matrix``): adapts a
    #: diagonal plus the few directions in which the posterior is correlated (the levels of the
    #: linked model all move with the mean of the municipality effects); ignored by PyMC's NUTS.
    low_rank_mass_matrix: bool = False

    def __post_init__(self) -> None:
        if self.sampler not in SAMPLERS:
            raise ParameterError(
                f"sampler must be one of {list(SAMPLERS)}; got {self.sampler!r}. "
                "Use 'nutpie' (fast) or 'pymc'."
            )
        for name in ("chains", "draws"):
            value = getattr(self, name)
            if not (isinstance(value, int) and value >= 1):
                raise ParameterError(f"{name} must be an integer >= 1; got {value!r}.")
        if not (isinstance(self.tune, int) and self.tune >= 0):
            raise ParameterError(f"tune must be an integer >= 0; got {self.tune!r}.")
        if not 0 < self.target_accept < 1:
            raise ParameterError(
                f"target_accept must be in (0, 1); got {self.target_accept!r}. Use e.g. 0.9."
            )
        if not isinstance(self.low_rank_mass_matrix, bool):
            raise ParameterError(
                f"low_rank_mass_matrix must be True or False; got {self.low_rank_mass_matrix!r}."
            )
        if isinstance(self.random_seed, bool) or not isinstance(self.random_seed, int):
            raise ParameterError(
                f"random_seed must be an integer; got {self.random_seed!r}. Pass e.g. "
                "random_seed=20080 (derive it from wave and model, never from the clock)."
            )


@dataclass(frozen=True)
class ScalePrior:
    """Prior of a standard deviation (a group-level sd, the cell sd or the unit-level sigma).

    Parameters
    ----------
    family
        ``"halfnormal"``, ``"halfcauchy"``, ``"halfstudentt"`` (with ``nu`` degrees of freedom)
        or ``"exponential"`` (``scale`` is then the mean, i.e. ``lam = 1 / scale``).
    scale
        Scale of the distribution, in the units of the score (marks on the 1-10 scale).
    nu
        Degrees of freedom, used by ``"halfstudentt"`` only.
    """

    family: ScaleFamily = "halfnormal"
    scale: float = 1.0
    nu: float = 3.0

    def __post_init__(self) -> None:
        if self.family not in _SCALE_FAMILIES:
            raise ParameterError(
                f"ScalePrior.family must be one of {sorted(_SCALE_FAMILIES)}; got {self.family!r}. "
                "Pick one of the listed families."
            )
        if not self.scale > 0:
            raise ParameterError(
                f"ScalePrior.scale must be > 0; got {self.scale!r}. Give a positive scale."
            )
        if not self.nu > 0:
            raise ParameterError(f"ScalePrior.nu must be > 0; got {self.nu!r}. Give nu > 0.")


@dataclass(frozen=True)
class RhoPrior:
    """Prior of the autocorrelation ``rho`` of the AR(1) cell effect (linked waves only).

    ``(1 + rho) / 2 ~ Beta(alpha, beta)``, so ``rho`` lies in (-1, 1). The default ``Beta(4,
    1.5)`` has its mode at ``rho = 0.71``, its median at 0.51 and 90 % of its mass between -0.21
    and 0.92 (``tests/test_sae_linked_ar1.py`` checks these figures): a cell that scores above
    its life event and municipality in one wave probably does so in the next, but how strongly
    is left to the data (hundreds of cells with three waves each); the density vanishes at
    ``rho = 1`` (a fixed cell effect), so the sampler does not run into the boundary.
    """

    alpha: float = 4.0
    beta: float = 1.5

    def __post_init__(self) -> None:
        for name in ("alpha", "beta"):
            value = getattr(self, name)
            if not value > 0:
                raise ParameterError(
                    f"RhoPrior.{name} must be > 0; got {value!r}. Give a positive Beta shape."
                )


def HalfNormal(scale: float) -> ScalePrior:
    """A half-normal prior with the given scale."""
    return ScalePrior("halfnormal", scale)


def HalfCauchy(scale: float) -> ScalePrior:
    """A half-Cauchy prior with the given scale (as in the eight schools model)."""
    return ScalePrior("halfcauchy", scale)


@dataclass(frozen=True)
class Priors:
    """Priors of the small-area models, with defaults for marks on the 1-10 scale.

    The linear predictor of cell ``c`` is::

        theta_c = mu + sum_g effect_g[level_g(c)] + cell_c (+ x_c @ beta)

    with ``effect_g ~ Normal(0, sd_g)`` per group ``g`` (life event, municipality, ...),
    ``cell_c ~ Normal(0, sd_cell)`` (only with two or more groups: with one group the cell *is*
    the group level) and, in the unit-level model, ``score ~ Normal(theta_cell, sigma)``.

    Parameters
    ----------
    mu_loc, mu_scale
        ``mu ~ Normal(mu_loc, mu_scale)``. Default ``Normal(6.5, 2.5)``: centred near the
        published national marks (6,5-7), two sds cover the whole 1-10 scale.
    group_sd
        Prior of every group-level sd (``sd_<group>``). Default ``HalfNormal(1)``: life events or
        municipalities that differ by more than about two marks are a priori unlikely.
        A dict ``{group: ScalePrior}`` gives a prior per group (missing groups get the default).
    cell_sd
        Prior of the sd of the cell (interaction) effects. Default ``HalfNormal(0.5)``. In the
        model linked across waves (``wave=``) this is the sd of the persistent cell effect.
    wave_sd
        Linked waves only: prior of the sd of the wave-specific deviation of a cell from its
        persistent effect (``sd_wave``). Default ``HalfNormal(0.25)``: a cell's own change between
        waves, beyond the change of its life event, is a priori a fraction of a mark.
    wave_structure
        Linked waves only: how the cell effect moves across waves. ``"compound"`` (default): a
        persistent cell effect (``cell_sd``) plus an independent deviation per wave
        (``wave_sd``), :mod:`meting.sae.linked_model`. ``"ar1"``: a stationary AR(1) cell effect
        with sd ``cell_sd`` and autocorrelation ``rho`` between consecutive waves
        (:mod:`meting.sae.linked_ar1`; ``wave_sd`` is then unused). The calibration that chose
        the default is in :mod:`meting.sae.calibration_structure`.
    wave_rho
        Linked waves with ``wave_structure="ar1"`` only: the prior of ``rho`` (:class:`RhoPrior`).
    sigma
        Prior of the unit-level residual sd (``fit_unit_level`` only). Default ``HalfNormal(3)``:
        the sd of individual marks is typically 1-2.
    beta_scale
        ``beta_k ~ Normal(0, beta_scale)`` for covariates (numeric covariates are centred first,
        categorical ones dummy-coded against their first level). Default 1.
    strata_scale
        In the MRP model, each weighting variable (e.g. age band, sex) gets a sum-to-zero effect
        ``ZeroSumNormal(strata_scale)``. Default 0.5.
    centred
        Names of the groups whose effects are written centred (``level_g ~ Normal(mu, sd_g)``)
        instead of non-centred (``mu + sd_g * z_g``). ``None`` (default) centres the first group
        only: the life events are each backed by thousands of respondents, and the non-centred
        form then makes mu, sd and z fight each other (see TOOLCHAIN.md section 2.2). Use ``()``
        for a fully non-centred model (the right choice when every level has little data, as in
        eight schools).
    """

    mu_loc: float = 6.5
    mu_scale: float = 2.5
    group_sd: ScalePrior | dict[str, ScalePrior] = field(default_factory=lambda: HalfNormal(1.0))
    cell_sd: ScalePrior = field(default_factory=lambda: HalfNormal(0.5))
    wave_sd: ScalePrior = field(default_factory=lambda: HalfNormal(0.25))
    wave_structure: WaveStructure = "compound"
    wave_rho: RhoPrior = field(default_factory=RhoPrior)
    sigma: ScalePrior = field(default_factory=lambda: HalfNormal(3.0))
    beta_scale: float = 1.0
    strata_scale: float = 0.5
    centred: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        for name in ("mu_scale", "beta_scale", "strata_scale"):
            value = getattr(self, name)
            if not value > 0:
                raise ParameterError(
                    f"Priors.{name} must be > 0; got {value!r}. Give a positive scale."
                )
        if self.wave_structure not in WAVE_STRUCTURES:
            raise ParameterError(
                f"Priors.wave_structure must be one of {list(WAVE_STRUCTURES)}; got "
                f"{self.wave_structure!r}. Use 'compound' (default) or 'ar1'."
            )
        if self.centred is not None and isinstance(self.centred, str):
            raise ParameterError(
                f"Priors.centred must be a tuple of group names or None; got {self.centred!r}. "
                f"Write centred=({self.centred!r},)."
            )

    def sd_prior(self, group: str) -> ScalePrior:
        """The prior of ``sd_<group>``."""
        if isinstance(self.group_sd, dict):
            return self.group_sd.get(group, HalfNormal(1.0))
        return self.group_sd

    def centred_groups(self, groups: list[str]) -> tuple[str, ...]:
        """The groups written centred, for a model on ``groups``."""
        if self.centred is None:
            return tuple(groups[:1])
        unknown = sorted(set(self.centred) - set(groups))
        if unknown:
            raise ParameterError(
                f"Priors.centred must name model groups {groups}; got unknown {unknown}. "
                "Remove them or add them to groups."
            )
        return tuple(self.centred)


@dataclass(frozen=True)
class ModelSpec:
    """What is fitted: the kind of likelihood, the groups, covariates and priors."""

    kind: Literal["area", "unit"]
    groups: tuple[str, ...]
    covariates: tuple[str, ...] = ()
    strata: tuple[str, ...] = ()
    priors: Priors = field(default_factory=Priors)
    marginalise_cells: bool = True
    wave: str | None = None

    @property
    def has_cell_effect(self) -> bool:
        """Cells get their own effect only when they are an interaction of two or more groups."""
        return len(self.groups) >= 2

    @property
    def marginal_cells(self) -> bool:
        """True when the cell effects are integrated out of the likelihood while sampling.

        With a normal likelihood and ``cell_c ~ Normal(0, sd_cell)``, the cell effect can be
        integrated out exactly: ``direct_c ~ Normal(eta_c, sqrt(se_c^2 + sd_cell^2))`` (the
        textbook Fay-Herriot form, Rao & Molina 2015, ch. 6), and likewise for the cell mean of
        the unit-level model with ``sigma^2 / n_c`` in place of ``se_c^2``. The sampler then
        explores only the hyperparameters and group effects (about 360 instead of 5,500
        parameters at national scale), and each draw of the cell means is drawn afterwards from
        its exact normal conditional (:mod:`meting.sae.conditional`): the same joint posterior,
        reached faster. With weighting strata (MRP) the rows of a cell share its effect; it is
        integrated out in closed form as well (:func:`meting.sae.model.build_unit_model`).
        """
        return self.marginalise_cells and self.has_cell_effect


def settings_fingerprint(settings: SampleSettings) -> dict[str, object]:
    """The sampling settings of a cache key; the default diagonal mass matrix is left out, so the
    keys of fits cached before ``low_rank_mass_matrix`` existed still hold."""
    payload = asdict(settings)
    if not settings.low_rank_mass_matrix:
        payload.pop("low_rank_mass_matrix")
    return payload


def spec_fingerprint(spec: ModelSpec) -> str:
    """A canonical JSON text of the specification (for the cache key).

    A fit on one wave leaves out what only the linked model reads (``wave``, ``priors.wave_sd``,
    the wave structure and its ``rho`` prior), so the keys of the single-wave fits cached before
    the linked model existed still hold; a linked fit of the default (compound) structure leaves
    out the structure and ``wave_rho``, so its keys from before the AR(1) option hold too (an
    AR(1) fit leaves out ``wave_sd``, which it does not read).
    """
    payload = asdict(spec)
    structure = payload["priors"].pop("wave_structure")
    rho = payload["priors"].pop("wave_rho")
    if spec.wave is None:
        payload.pop("wave")
        payload["priors"].pop("wave_sd")
    elif structure == "ar1":
        payload["priors"].pop("wave_sd")
        payload["priors"]["wave_structure"] = structure
        payload["priors"]["wave_rho"] = rho
    return json.dumps(payload, sort_keys=True, default=str)
