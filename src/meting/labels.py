"""The Dutch names that reports print for codes of the data contract, defined once.

Import these (never re-spell them): the norm names per BurgerServiceCode column, the channel
names per channel (both the short code of :data:`meting.columns.CHANNELS` and the 0/1 column of
:data:`meting.columns.CHANNEL_COLUMNS`), and the names of the levels rated.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from meting import columns as C

__all__ = [
    "CHANNEL_COLUMN_LABELS",
    "CHANNEL_LABELS",
    "LEVEL_NAMES",
    "NORM_NAMES",
    "NORM_NUMBERS",
    "norm_label",
]

#: Dutch names of the ten BurgerServiceCode norms, per norm column (verbatim from the Burgerlink
#: Werkschrift BurgerServiceCode; shared/published/burgerservicecode_norms.csv).
NORM_NAMES: Final[Mapping[str, str]] = MappingProxyType(
    dict(
        zip(
            C.BSC_NORMS,
            (
                "Keuzevrijheid contactkanaal",
                "Vindbare overheidsproducten",
                "Begrijpelijke voorzieningen",
                "Persoonlijke informatieservice",
                "Gemakkelijke dienstverlening",
                "Transparante werkwijzen",
                "Digitale betrouwbaarheid",
                "Ontvankelijk bestuur",
                "Verantwoordelijk beheer",
                "Actieve betrokkenheid",
            ),
            strict=True,
        )
    )
)
#: The number of each norm (``"bsc_04"`` -> 4), as the BurgerServiceCode counts them.
NORM_NUMBERS: Final[Mapping[str, int]] = MappingProxyType(
    {c: i for i, c in enumerate(C.BSC_NORMS, start=1)}
)

#: Dutch names of the contact channels, per channel code (``"balie"``, ...).
CHANNEL_LABELS: Final[Mapping[str, str]] = MappingProxyType(
    dict(zip(C.CHANNELS, ("balie", "telefoon", "internet", "brief of e-mail"), strict=True))
)
#: The same names per 0/1 channel column (``"channel_balie"``, ...).
CHANNEL_COLUMN_LABELS: Final[Mapping[str, str]] = MappingProxyType(
    {col: CHANNEL_LABELS[c] for c, col in zip(C.CHANNELS, C.CHANNEL_COLUMNS, strict=True)}
)

#: The levels rated, in report order (the three scores and the organisations' own marks).
LEVEL_NAMES: Final[Mapping[str, str]] = MappingProxyType(
    {
        C.SCORE_GOVERNMENT: "de overheid als geheel",
        C.SCORE_CHAIN: "de keten rond de levensgebeurtenis",
        C.SCORE_COOPERATION: "de samenwerking tussen organisaties",
        "organisations": "de afzonderlijke organisaties",
    }
)


def norm_label(norm: str) -> str:
    """``"bsc_04"`` -> ``"4. Persoonlijke informatieservice"``."""
    return f"{NORM_NUMBERS[norm]}. {NORM_NAMES[norm]}"
