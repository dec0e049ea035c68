"""A parameter set on top of another: ``<set>/set.yaml`` (:class:`ParameterSetFile`) and the one
table of its municipalities, ``<set>/municipalities.csv`` (:class:`MunicipalityRow`).

A set folder holds only what differs from its base folder (``base``, relative to the set);
every registry file it lacks is read from the base. The national set ``params/nationaal/`` uses
this: the real division of 2008-2010 (hundreds of municipalities in one table instead of one
file each), its own data and report folders, and the base's life events, organisations, waves,
settings and code changes.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BeforeValidator, Field, field_validator

from meting import columns as C
from meting.settings.base import Day, Frozen, Number, Text, Whole, matching, rule
from meting.settings.records import MUNICIPALITY_CODE, Municipality
from meting.settings.waves import Weighting

__all__ = [
    "MUNICIPALITY_TABLE",
    "POPULATION_TABLE_COLUMNS",
    "SET_FILE",
    "MunicipalityRow",
    "ParameterSetFile",
    "PopulationAssumption",
]

SET_FILE = "set.yaml"
MUNICIPALITY_TABLE = "municipalities.csv"
#: Population columns of the municipality table: ``<age band>_<sex>`` (adults).
POPULATION_TABLE_COLUMNS = tuple(f"{a}_{s}" for a in C.AGE_BANDS for s in C.SEXES)
SizeClass = Literal["<20.000", "20.000-50.000", "50.000-100.000", "100.000+"]


class PopulationAssumption(Frozen):
    """How the set's population figures were made (ASSUMPTION; read by the script that writes the
    municipality table, ``python -m meting.synthetic.national``)."""

    adults_total: Whole = Field(ge=1, description="Adults (18+) of all municipalities together.")
    area_elasticity: Number = Field(
        ge=0, le=1, description="Adults grow with area to this power (before the noise)."
    )
    log_sd: Number = Field(ge=0, le=3, description="Sd of the log adults around that.")
    adults_min: Whole = Field(ge=1, description="Fewest adults of a municipality.")
    rounding: Whole = Field(ge=1, description="Counts are rounded to a multiple of this.")
    seed: Whole = Field(ge=0, description="Seed of the density and age-mix draws.")


class ParameterSetFile(Frozen):
    """``<set>/set.yaml``: a parameter set that takes what it lacks from a base folder."""

    description: Text = Field(description="What the set is for (Dutch or English).")
    base: Text = Field(description="The base parameter folder, relative to this set's folder.")
    data_dir: Text = Field(
        description="Folder of the set's synthetic waves, relative to the project root."
    )
    reports_dir: Text = Field(description="Folder of the set's reports, relative to the root.")
    n_respondents: Whole = Field(
        ge=1, description="Respondents per synthetic wave (replaces sample.n_respondents)."
    )
    population: PopulationAssumption = Field(description="How the population was made.")
    weighting: Weighting | None = Field(
        default=None, description="Margins that replace those of every wave of the set."
    )


def _as_whole(value: object) -> object:
    """CSV cells are text: digits become an int, anything else is left for the check."""
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return value


class MunicipalityRow(Frozen):
    """One row of ``<set>/municipalities.csv``: a municipality as it is from ``reference_date``
    on (a code has a new row when its territory changed, e.g. after absorbing another)."""

    code: Annotated[Text, matching(MUNICIPALITY_CODE)] = Field(description="CBS code.")
    name: Text = Field(description="Dutch name.")
    province: str = Field(default="", description="Province (empty when not known).")
    size_class: SizeClass = Field(description="Size class by total population (all ages).")
    reference_date: Day = Field(description="First day this row holds (1 January of a division).")
    population_source: Text = Field(description="Where the population figures come from.")
    population: dict[str, Annotated[Whole, BeforeValidator(_as_whole), Field(ge=0)]] = Field(
        description="Adults per <age band>_<sex> column."
    )

    @field_validator("population")
    @classmethod
    def _complete(cls, value: dict[str, int]) -> dict[str, int]:
        if set(value) != set(POPULATION_TABLE_COLUMNS):
            raise rule(
                f"have exactly the columns {list(POPULATION_TABLE_COLUMNS)}", got=sorted(value)
            )
        if sum(value.values()) <= 0:
            raise rule("hold a positive total", got=0)
        return value

    def to_municipality(self) -> Municipality:
        """The public record; the population checked like a municipality file's."""
        return Municipality(
            self.code,
            self.name,
            self.province,
            self.size_class,
            tuple(int(self.population[c]) for c in POPULATION_TABLE_COLUMNS),
            self.reference_date,
            self.population_source,
        )
