"""Typed records of the registry files: organisations, life events, municipalities, code changes
and the population education shares (one model per file, a description per field)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import cached_property
from typing import Annotated, Literal, Self

import numpy as np
import pandas as pd
from pydantic import BeforeValidator, ConfigDict, Field, field_validator, model_validator
from pydantic.dataclasses import dataclass as pydantic_dataclass

from meting import columns as C
from meting.settings.base import Day, Frozen, Number, Text, Whole, matching, rule

__all__ = [
    "MUNICIPALITY_CODE",
    "SIZE_CLASSES",
    "SLUG",
    "CodeChange",
    "EducationShares",
    "LifeEvent",
    "LifeEventsFile",
    "Municipality",
    "MunicipalityFile",
    "Organisation",
    "OrganisationsFile",
]

MUNICIPALITY_CODE = r"GM\d{4}"
SLUG = r"[a-z][a-z0-9_]*"
SIZE_CLASSES = ("<20.000", "20.000-50.000", "50.000-100.000", "100.000+")
SizeClass = Literal["<20.000", "20.000-50.000", "50.000-100.000", "100.000+"]
AgeBand = Literal["18-34", "35-49", "50-64", "65+"]
Slug = Annotated[Text, matching(SLUG)]
MunicipalityCode = Annotated[Text, matching(MUNICIPALITY_CODE)]


def _quoted_code(value: object) -> object:
    if not isinstance(value, str):
        raise rule(
            'be text "GM" + 4 digits (quote it in YAML, code: "GM0014", so leading zeros are kept)',
            got=value,
        )
    return value


# --------------------------------------------------------------------------------------------
# organisations.yaml, life_events.yaml
# --------------------------------------------------------------------------------------------
class Organisation(Frozen):
    """An organisation that can be part of a chain."""

    code: Slug = Field(description="ASCII slug used in the data (column `organisation`).")
    name: Text = Field(description="Dutch name as printed in reports.")


class OrganisationsFile(Frozen):
    """``params/organisations.yaml``."""

    organisations: tuple[Organisation, ...] = Field(
        min_length=1, description="The organisations, each code once."
    )

    @model_validator(mode="after")
    def _unique(self) -> Self:
        _check_unique([o.code for o in self.organisations], "organisations")
        return self


class LifeEvent(Frozen):
    """A life event (levensgebeurtenis) and the chain of organisations around it."""

    code: Slug = Field(description="ASCII slug used in the data (column `life_event`).")
    name: Text = Field(description="Dutch name as printed in reports.")
    organisations: tuple[Slug, ...] = Field(
        min_length=1,
        description="Organisation codes in the chain (organisations.yaml), central one first.",
    )
    incidence: Number = Field(
        gt=0.0, le=1.0, description="ASSUMPTION: share of adults experiencing the event a year."
    )
    chain_effect: Number = Field(
        default=0.0,
        ge=-5.0,
        le=5.0,
        description="ASSUMPTION: shift of the latent chain score (synthetic generator only).",
    )

    @field_validator("organisations")
    @classmethod
    def _no_repeats(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if len(set(value)) != len(value):
            raise rule("not repeat an organisation", got=list(value))
        return value


class LifeEventsFile(Frozen):
    """``params/life_events.yaml``."""

    life_events: tuple[LifeEvent, ...] = Field(
        min_length=1, description="The life events, each code once."
    )

    @model_validator(mode="after")
    def _unique(self) -> Self:
        _check_unique([e.code for e in self.life_events], "life_events")
        return self


def _check_unique(codes: list[str], name: str) -> None:
    seen: set[str] = set()
    for i, code in enumerate(codes):
        if code in seen:
            raise rule("be unique (remove the duplicate entry)", f"{name}.{i}.code", code)
        seen.add(code)


# --------------------------------------------------------------------------------------------
# municipalities/<GMxxxx>.yaml
# --------------------------------------------------------------------------------------------
class SexCounts(Frozen):
    """Adults of one age band by sex."""

    man: Whole = Field(ge=0, description="Adult men in the age band.")
    vrouw: Whole = Field(ge=0, description="Adult women in the age band.")


class MunicipalityFile(Frozen):
    """``params/municipalities/<code>.yaml``: a municipality and its adults by age band x sex."""

    code: Annotated[MunicipalityCode, BeforeValidator(_quoted_code)] = Field(
        description='CBS code valid on the reference date ("GM" + 4 digits); the file name.'
    )
    name: Text = Field(description="Dutch name.")
    province: Text = Field(description="Province.")
    size_class: SizeClass = Field(description="Size class by total population (all ages).")
    population_source: str | None = Field(
        default=None, description="Where the population figures come from."
    )
    reference_date: Day | None = Field(default=None, description="Date of the population.")
    population: dict[AgeBand, SexCounts] = Field(
        description="Adults per age band (18-34, 35-49, 50-64, 65+) and sex (man, vrouw)."
    )

    @field_validator("population")
    @classmethod
    def _all_bands(cls, value: dict[str, SexCounts]) -> dict[str, SexCounts]:
        if set(value) != set(C.AGE_BANDS):
            raise rule(f"have exactly the age bands {list(C.AGE_BANDS)}", got=sorted(value))
        if sum(c.man + c.vrouw for c in value.values()) <= 0:
            raise rule("hold a positive total", got=0)
        return value

    def to_municipality(self) -> Municipality:
        """The public record (population as a table in the order AGE_BANDS x SEXES)."""
        counts = tuple(
            int(getattr(self.population[band], sex)) for band in C.AGE_BANDS for sex in C.SEXES
        )
        return Municipality(
            self.code,
            self.name,
            self.province,
            self.size_class,
            counts,
            self.reference_date,
            self.population_source or "",
        )


def _population_frame(counts: tuple[int, ...]) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            C.AGE_BAND: pd.array(np.repeat(C.AGE_BANDS, len(C.SEXES)), dtype="string"),
            C.SEX: pd.array(np.tile(C.SEXES, len(C.AGE_BANDS)), dtype="string"),
            "count": np.asarray(counts, dtype="int64"),
        }
    )
    return frame


@dataclass(frozen=True, eq=False)
class Municipality:
    """A municipality with its adult population by age band and sex.

    ``counts`` holds the adults per age band x sex in the order of
    :data:`meting.columns.AGE_BANDS` x :data:`meting.columns.SEXES`; ``population`` is the same as
    a table with the columns ``age_band``, ``sex``, ``count`` (built on first use: a registry of
    hundreds of municipalities loads without building hundreds of tables).
    """

    code: str
    name: str
    province: str
    size_class: str
    counts: tuple[int, ...]
    reference_date: dt.date | None = None
    population_source: str = ""

    @cached_property
    def population(self) -> pd.DataFrame:
        """Adults per age band x sex (columns ``age_band``, ``sex``, ``count``)."""
        return _population_frame(self.counts)

    @property
    def adults(self) -> int:
        """Total adult population."""
        return int(sum(self.counts))


# --------------------------------------------------------------------------------------------
# municipality_code_changes.csv (one row each)
# --------------------------------------------------------------------------------------------
@pydantic_dataclass(frozen=True, config=ConfigDict(extra="forbid"))
class CodeChange:
    """One dated municipality code change (old code -> new code from ``valid_from`` on)."""

    old_code: MunicipalityCode = Field(description="CBS code before the change.")
    new_code: MunicipalityCode = Field(description="CBS code from valid_from on.")
    new_name: Text = Field(description="Name of the new municipality.")
    valid_from: Day = Field(description="First day the new division holds (YYYY-MM-DD).")
    population_share: float = Field(
        gt=0.0, le=1.0, description="Share of the old population that went to the new code."
    )
    note: str = Field(default="", description="Free text.")

    def __post_init__(self) -> None:
        if self.old_code == self.new_code:
            raise rule("differ from old_code", "new_code", self.new_code)


# --------------------------------------------------------------------------------------------
# population_education.yaml
# --------------------------------------------------------------------------------------------
class EducationMix(Frozen):
    """Shares of the education levels within one age band (adding up to 1)."""

    laag: Number = Field(ge=0.0, le=1.0, description="Share with a low education level.")
    midden: Number = Field(ge=0.0, le=1.0, description="Share with a middle education level.")
    hoog: Number = Field(ge=0.0, le=1.0, description="Share with a high education level.")


class EducationShares(Frozen):
    """``params/population_education.yaml``: population education shares by age band, the
    education margin of the weighting (and the population of the synthetic generator)."""

    source: Text = Field(description="Where the shares come from (or that they are assumed).")
    education_shares: dict[AgeBand, EducationMix] = Field(
        description="Per age band the shares of laag, midden, hoog (adding up to 1)."
    )

    @field_validator("education_shares")
    @classmethod
    def _complete(cls, value: dict[str, EducationMix]) -> dict[str, EducationMix]:
        if set(value) != set(C.AGE_BANDS):
            raise rule(f"have exactly the age bands {list(C.AGE_BANDS)}", got=sorted(value))
        for band, mix in value.items():
            total = mix.laag + mix.midden + mix.hoog
            if abs(total - 1.0) > 1e-6:
                raise rule("hold shares adding up to 1", band, round(total, 6))
        return value

    def matrix(self) -> np.ndarray:
        """Shares as an array (age bands x education levels, in the order of meting.columns)."""
        return np.array(
            [
                [getattr(self.education_shares[a], e) for e in C.EDUCATION_LEVELS]
                for a in C.AGE_BANDS
            ],
            dtype=float,
        )

    def frame(self) -> pd.DataFrame:
        """Shares as a table (rows AGE_BANDS, columns EDUCATION_LEVELS)."""
        return pd.DataFrame(
            self.matrix(), index=list(C.AGE_BANDS), columns=list(C.EDUCATION_LEVELS)
        )
