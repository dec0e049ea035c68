"""The publication flag of model estimates in the report tables (:mod:`meting.sae.quality`).

A model estimate or change is published, published with caution ("publiceren met voorbehoud")
or not published ("niet publiceren"); the verdict rules (:func:`meting.significance.bayes_verdicts`,
:func:`meting.linked_trends.change_verdicts`) give a row of the last class no verdict. Here the
tables show it: the verdict of a row published with caution gets :data:`CAUTION_MARK`, a row
without verdict for this reason reads :data:`NO_VERDICT_TEXT`, and :func:`publication_note`
explains both under the table when they occur. One rule, so that tables, figures and the
*Samenvatting* agree.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import pandas as pd

from meting.report.formatting import fmt_int

__all__ = [
    "CAUTION_MARK",
    "NO_VERDICT_TEXT",
    "caution_rows",
    "mark_caution",
    "publication_note",
]

#: The flag values (those of :data:`meting.sae.quality.PUBLICATION_LABELS`).
_CAUTION: Final = "publiceren met voorbehoud"
_NOT_PUBLISHED: Final = "niet publiceren"
#: Appended to the verdict of a row published with caution.
CAUTION_MARK: Final = " (met voorbehoud)"
#: The verdict cell of a row the publication rule gives no verdict.
NO_VERDICT_TEXT: Final = "geen (niet publiceren)"


def caution_rows(table: pd.DataFrame) -> np.ndarray:
    """True for the rows with a verdict that are published with caution (False without a
    ``publication`` column)."""
    if "publication" not in table.columns:
        return np.zeros(len(table), dtype=bool)
    flagged = table["publication"].astype(object).eq(_CAUTION).to_numpy(dtype=bool)
    if "verdict" not in table.columns:
        return flagged
    return flagged & table["verdict"].notna().to_numpy(dtype=bool)


def mark_caution(verdict: pd.Series, table: pd.DataFrame) -> pd.Series:
    """The displayed verdicts ``verdict`` (aligned with ``table``) with :data:`CAUTION_MARK`
    after those of the rows published with caution."""
    marked = verdict.astype(object).copy()
    caution = caution_rows(table)
    marked[caution] = [f"{v}{CAUTION_MARK}" for v in marked[caution]]
    return marked


def publication_note(
    table: pd.DataFrame, reason_not_published: str, *, of_change: bool = False
) -> str:
    """The sentence under a table of model estimates on its publication flags: how many rows are
    published with caution and how many get no verdict by the rule (empty when none is);
    ``of_change``: a table of changes, whose flag is the worse of its two waves."""
    caution = int(caution_rows(table).sum())
    blocked = (
        int(table["reason"].astype(object).eq(reason_not_published).sum())
        if "reason" in table.columns
        else 0
    )
    if not caution and not blocked:
        return ""
    parts = []
    if caution:
        parts.append(
            f"{fmt_int(caution)} {'rij' if caution == 1 else 'rijen'} met voorbehoud "
            "(weinig respondenten of een ruime onzekerheid: lees het oordeel voorzichtig)"
        )
    if blocked:
        parts.append(
            f"{fmt_int(blocked)} {'rij' if blocked == 1 else 'rijen'} zonder oordeel "
            f"('{NO_VERDICT_TEXT}': te weinig respondenten of een te onzekere schatting)"
        )
    source = "de slechtste van beide metingen; " if of_change else ""
    return (
        f"Publicatievlag ({source}params/analysis.yaml, sae_publication; zie de verantwoording): "
        + " en ".join(parts)
        + ". De modelschatting en haar interval staan er ter informatie; een oordeel volgt "
        "alleen waar de regel het toestaat."
    )
