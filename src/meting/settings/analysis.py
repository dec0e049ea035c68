"""``params/analysis.yaml``: the analysis settings (:class:`Settings`), including the priors of
the small-area models (:class:`SaePriors`) and the one place the MCMC seed of a wave is derived
(:meth:`Settings.sampling_for`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Literal, Protocol

from pydantic import Field

from meting.errors import ParameterError
from meting.settings.base import Day, Frozen, Number, Whole

if TYPE_CHECKING:
    from meting.sae.quality import PublicationRule
    from meting.sae.spec import Priors, SampleSettings

__all__ = ["BayesThresholds", "SaePriors", "SaePublication", "Settings"]

Scale = Annotated[Number, Field(gt=0.0)]


class _HasYear(Protocol):
    @property
    def year(self) -> int: ...


class BayesThresholds(Frozen):
    """Verdict thresholds on P(true mean >= target)."""

    prob_above: Number = Field(ge=0.5, le=1.0, description='"boven de 7" when P >= prob_above.')
    prob_below: Number = Field(
        ge=0.0, le=0.5, description='"onder de 7" when P <= prob_below; "onzeker" in between.'
    )


class SaePriors(Frozen):
    """Priors of the small-area models, in rapportcijfer points (see :class:`meting.sae.Priors`).

    :meth:`to_priors` maps them onto the model's :class:`~meting.sae.spec.Priors`.
    """

    intercept_mu: Number = Field(description="Mean of the normal prior of the overall mean mu.")
    intercept_sigma: Scale = Field(description="Sd of the normal prior of the overall mean mu.")
    sigma_event: Scale = Field(description="Half-normal scale of sd_life_event.")
    sigma_area: Scale = Field(description="Half-normal scale of sd_municipality.")
    sigma_cell: Scale = Field(description="Half-normal scale of the life event x area effects.")
    beta_sigma: Scale = Field(description="Normal scale of covariate coefficients.")
    sigma_unit: Scale = Field(description="Half-normal scale of the unit-level residual sd.")
    strata_sigma: Scale = Field(description="Scale of the MRP stratum (ZeroSumNormal) effects.")
    sigma_wave: Scale = Field(
        default=0.25,
        description="Half-normal scale of sd_wave, a cell's own deviation per wave in the model "
        "linked across waves (its persistent effect has sigma_cell).",
    )
    wave_structure: Literal["compound", "ar1"] = Field(
        default="compound",
        description="How the model linked across waves moves a cell's effect: 'compound' (a "
        "persistent effect plus a deviation per wave, the default chosen by the calibration "
        "meting.sae.calibration_structure) or 'ar1' (a stationary AR(1) across waves).",
    )
    rho_alpha: Scale = Field(
        default=4.0, description="AR(1) only: (1 + rho) / 2 ~ Beta(rho_alpha, rho_beta)."
    )
    rho_beta: Scale = Field(
        default=1.5, description="AR(1) only: (1 + rho) / 2 ~ Beta(rho_alpha, rho_beta)."
    )

    def to_priors(self) -> Priors:
        """The :class:`~meting.sae.spec.Priors` of these settings (groups ``life_event`` and
        ``municipality``; other groups get the default HalfNormal(1))."""
        from meting import columns as C
        from meting.sae.spec import HalfNormal, Priors, RhoPrior

        return Priors(
            mu_loc=self.intercept_mu,
            mu_scale=self.intercept_sigma,
            group_sd={
                C.LIFE_EVENT: HalfNormal(self.sigma_event),
                C.MUNICIPALITY: HalfNormal(self.sigma_area),
            },
            cell_sd=HalfNormal(self.sigma_cell),
            wave_sd=HalfNormal(self.sigma_wave),
            wave_structure=self.wave_structure,
            wave_rho=RhoPrior(self.rho_alpha, self.rho_beta),
            sigma=HalfNormal(self.sigma_unit),
            beta_scale=self.beta_sigma,
            strata_scale=self.strata_sigma,
        )


class SaePublication(Frozen):
    """The publication flag of small-area cells (see :mod:`meting.sae.quality`): "publiceren"
    from ``min_n_publish`` respondents with cv <= ``cv_publish``, "publiceren met voorbehoud"
    from ``min_n_caution`` with cv <= ``cv_caution``, otherwise "niet publiceren"."""

    min_n_publish: Whole = Field(
        default=30, ge=1, description="Respondents a cell needs to be published without caution."
    )
    cv_publish: Number = Field(
        default=0.04,
        gt=0.0,
        le=1.0,
        description="Largest cv (posterior sd / mean) of a cell published without caution.",
    )
    min_n_caution: Whole = Field(
        default=5, ge=1, description="Respondents a cell needs to be published with caution."
    )
    cv_caution: Number = Field(
        default=0.08, gt=0.0, le=1.0, description="Largest cv of a cell published with caution."
    )

    def to_rule(self) -> PublicationRule:
        """The :class:`~meting.sae.quality.PublicationRule` of these settings."""
        from meting.sae.quality import PublicationRule

        try:
            return PublicationRule(
                min_n_publish=int(self.min_n_publish),
                cv_publish=float(self.cv_publish),
                min_n_caution=int(self.min_n_caution),
                cv_caution=float(self.cv_caution),
            )
        except ParameterError as exc:
            raise ParameterError(f"analysis.yaml: field 'sae_publication': {exc}") from None


class Settings(Frozen):
    """Analysis settings from ``params/analysis.yaml`` (the file's comments explain each field)."""

    target: Number = Field(ge=1.0, le=10.0, description="Cabinet target rapportcijfer (een 7).")
    confidence: Number = Field(ge=0.5, le=0.999, description="Confidence level of intervals.")
    min_cell_size: Whole = Field(ge=1, description="Fewer respondents: the estimate is hidden.")
    multiple_testing: Literal["holm", "bh"] = Field(
        description="Correction over the cells tested against the target."
    )
    reference_division: Day = Field(description="Municipal division every wave is mapped to.")
    bayes: BayesThresholds = Field(description="Thresholds of the Bayesian verdicts.")
    sampler: Literal["nutpie", "pymc"] = Field(description="MCMC sampler of the small-area models.")
    chains: Whole = Field(ge=1, description="MCMC chains.")
    draws: Whole = Field(ge=1, description="Draws per chain after tuning.")
    tune: Whole = Field(ge=0, description="Tuning steps per chain.")
    random_seed: Whole = Field(ge=0, description="Base seed; a wave's fit uses this + its year.")
    target_accept: Number = Field(ge=0.5, le=0.999, description="NUTS target acceptance rate.")
    low_rank_mass_matrix: bool = Field(
        default=False,
        description="nutpie's low-rank modified mass matrix (SampleSettings.low_rank_mass_matrix).",
    )
    sae_priors: SaePriors = Field(description="Priors of the small-area models.")
    sae_publication: SaePublication = Field(
        default_factory=lambda: SaePublication(),
        description="Publication flag of small-area cells (n and cv thresholds).",
    )

    @property
    def prob_above(self) -> float:
        """``bayes.prob_above``."""
        return self.bayes.prob_above

    @property
    def prob_below(self) -> float:
        """``bayes.prob_below``."""
        return self.bayes.prob_below

    def seed_for(self, wave: _HasYear) -> int:
        """The MCMC seed of a wave's fits: ``random_seed + wave.year`` (the only place it is
        derived, so the provenance block always shows the seed the fit used)."""
        return int(self.random_seed) + int(wave.year)

    def sampling_for(self, wave: _HasYear) -> SampleSettings:
        """The sampling settings of a wave's fits, seeded with :meth:`seed_for`."""
        from meting.sae.spec import SampleSettings

        return SampleSettings(
            sampler=self.sampler,
            chains=self.chains,
            draws=self.draws,
            tune=self.tune,
            target_accept=self.target_accept,
            random_seed=self.seed_for(wave),
            low_rank_mass_matrix=self.low_rank_mass_matrix,
        )

    def priors(self) -> Priors:
        """The priors of the small-area models (``sae_priors``)."""
        return self.sae_priors.to_priors()

    def publication_rule(self) -> PublicationRule:
        """The publication rule of small-area cells (``sae_publication``)."""
        return self.sae_publication.to_rule()
