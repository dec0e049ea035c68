"""The data contract of one wave as data: one :class:`ColumnSpec` per column.

:data:`RESPONDENT_COLUMNS` and :data:`ORGANISATION_COLUMNS` hold the columns of the two tables
(see ARCHITECTURE.md for the prose version); the checks in :mod:`meting.data_checks` and the final
dtypes in :mod:`meting.coerce` read them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from meting import columns as C

Kind = Literal["string", "int", "float", "category", "binary"]
Lookup = Literal["wave", "municipality", "life_event", "organisation"]

MUNICIPALITY_PATTERN = r"GM\d{4}"


@dataclass(frozen=True)
class ColumnSpec:
    """One column of the data contract.

    Parameters
    ----------
    name
        Column name (from :mod:`meting.columns`).
    kind
        ``string``, ``int`` (whole numbers in ``[low, high]``), ``float`` (``> low`` when
        ``low`` is set), ``category`` (one of ``levels``) or ``binary`` (0/1).
    required
        The column must be present. (``education`` is required only when the wave's weighting
        asks for it; see :func:`meting.data_checks.check_respondents`.)
    nullable
        Cells may be empty (a missing value).
    low, high
        Allowed range of ``int`` columns (inclusive); ``float`` columns must exceed ``low``.
    levels
        Allowed values of a ``category`` column, in their natural order.
    ordered
        Whether the category levels are ordered (age bands, education).
    lookup
        Registry the value must be known in.
    unique
        Values must be unique within the table.
    """

    name: str
    kind: Kind
    required: bool
    nullable: bool
    low: float | None = None
    high: float | None = None
    levels: tuple[str, ...] = ()
    ordered: bool = False
    lookup: Lookup | None = None
    unique: bool = False

    @property
    def rule(self) -> str:
        """The rule in words, as it appears in a problem message."""
        if self.kind == "int":
            return f"must be an integer {self.low:g}-{self.high:g}"
        if self.kind == "float":
            return "must be a number" + (
                f" greater than {self.low:g}" if self.low is not None else ""
            )
        if self.kind == "binary":
            return "must be 0 or 1"
        if self.kind == "category":
            return "must be one of " + ", ".join(f"'{v}'" for v in self.levels)
        return "must be text"


def _ints(names: Sequence[str], low: int, high: int, required: bool) -> tuple[ColumnSpec, ...]:
    return tuple(ColumnSpec(n, "int", required, True, low, high) for n in names)


RESPONDENT_COLUMNS: tuple[ColumnSpec, ...] = (
    ColumnSpec(C.RESPONDENT_ID, "string", True, False, unique=True),
    ColumnSpec(C.WAVE, "string", True, False, lookup="wave"),
    ColumnSpec(C.MUNICIPALITY, "string", True, False, lookup="municipality"),
    ColumnSpec(C.LIFE_EVENT, "string", True, False, lookup="life_event"),
    *_ints(C.SCORES, C.SCORE_MIN, C.SCORE_MAX, True),
    *_ints(C.BSC_NORMS, C.BSC_MIN, C.BSC_MAX, True),
    *(ColumnSpec(n, "binary", True, False) for n in C.CHANNEL_COLUMNS),
    ColumnSpec(C.AGE_BAND, "category", True, False, levels=C.AGE_BANDS, ordered=True),
    ColumnSpec(C.SEX, "category", True, False, levels=C.SEXES),
    ColumnSpec(C.EDUCATION, "category", False, True, levels=C.EDUCATION_LEVELS, ordered=True),
    ColumnSpec(C.SIZE_CLASS, "string", False, True),
    *_ints(C.TRIM_QUESTIONS, C.TRIM_MIN, C.TRIM_MAX, False),
    ColumnSpec(C.STRATUM, "string", False, False),
    ColumnSpec(C.CLUSTER, "string", False, False),
    ColumnSpec(C.DESIGN_WEIGHT, "float", False, False, low=0.0),
)

ORGANISATION_COLUMNS: tuple[ColumnSpec, ...] = (
    ColumnSpec(C.RESPONDENT_ID, "string", True, False),
    ColumnSpec(C.ORGANISATION, "string", True, False, lookup="organisation"),
    ColumnSpec(C.ORGANISATION_SCORE, "int", True, False, C.SCORE_MIN, C.SCORE_MAX),
)

SPECS: dict[str, ColumnSpec] = {s.name: s for s in RESPONDENT_COLUMNS}
ORGANISATION_SPECS: dict[str, ColumnSpec] = {s.name: s for s in ORGANISATION_COLUMNS}
FLOAT_COLUMNS: frozenset[str] = frozenset(
    s.name for s in (*RESPONDENT_COLUMNS, *ORGANISATION_COLUMNS) if s.kind == "float"
)
