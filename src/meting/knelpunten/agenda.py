"""Improvement agenda per municipality: life events that score low and occur often come first.

Definition (the 2010 report's advice, made exact)::

    gap       = max(0, target - score)          score: weighted mean chain score of the cell
    frequency = share of the municipality's respondents (weighted) with that life event,
                or, when population counts are given, the event's share of the population
    priority  = gap x frequency

Cells (municipality x life event) with fewer than ``min_cell_size`` respondents with a score are
suppressed: score, gap and priority are blanked (``onderdrukt = True``) and they are not ranked,
so no small-cell mean reaches a report; a cell at or above the target has no gap and is not ranked
either (it is no priority).  Within each municipality the ranked cells are ordered by
priority (highest first; ties by frequency, then by life-event code); ``rank`` 1 is the first point
on the agenda.  ``below_target`` says whether the cell is *significantly* below the target (upper
confidence limit below it): priority uses the point estimate, as defined, and this column shows
how sure that gap is.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from meting.checks import check_design_columns, check_level, check_min_n
from meting.columns import LIFE_EVENT, MUNICIPALITY, SCORE_CHAIN
from meting.design import SurveyDesign
from meting.errors import ParameterError, SchemaError
from meting.knelpunten._common import as_list, check_design
from meting.privacy_rules import SUPPRESSED

__all__ = ["improvement_agenda"]


def improvement_agenda(
    design: SurveyDesign,
    by: str | Sequence[str] = MUNICIPALITY,
    event: str = LIFE_EVENT,
    outcome: str = SCORE_CHAIN,
    target: float = 7.0,
    min_cell_size: int = 30,
    population: pd.DataFrame | None = None,
    level: float = 0.95,
) -> pd.DataFrame:
    """The improvement agenda table (see the module docstring for the definition).

    Parameters
    ----------
    design
        The (weighted) survey design.
    by
        Group columns of one agenda (default per municipality).
    event
        The life-event column.
    outcome
        The score (default the chain score).
    target
        The target (``settings.target``, een 7).
    min_cell_size
        Suppression threshold (``settings.min_cell_size``).
    population
        Optional population counts per cell: ``by`` columns, ``event``, ``population``; then
        ``frequency`` is the event's population share within the group and ``population`` is
        kept in the table.
    level
        Confidence level of the score interval.

    Returns
    -------
    pandas.DataFrame
        Group columns, ``event``, ``score, se, lower, upper, n, frequency, frequency_se,
        gap, priority, below_target, onderdrukt, rank`` (plus ``population`` when given),
        sorted by group and rank (suppressed cells last).
    """
    design = check_design(design)
    level = check_level(level)
    min_cell_size = check_min_n(min_cell_size, "min_cell_size")
    by_cols = as_list(by)
    if not np.isfinite(float(target)):
        raise ParameterError(f"target must be a finite number; got {target!r}. Use 7.")
    check_design_columns(design.data, [*by_cols, event, outcome], "agenda")
    keys = [*by_cols, event]
    scores = design.mean(outcome, by=keys, level=level)
    scores = scores.rename(columns={"estimate": "score"})[
        [*keys, "score", "se", "lower", "upper", "n"]
    ]
    if population is None:
        freq = design.proportion(event, by=by_cols or None, level=level)
        freq = freq.rename(
            columns={"category": event, "estimate": "frequency", "se": "frequency_se"}
        )
        freq = freq[[*keys, "frequency", "frequency_se"]]
    else:
        missing = [c for c in [*keys, "population"] if c not in population.columns]
        if missing:
            raise SchemaError(
                f"population table must have column {missing[0]!r}; got "
                f"{list(population.columns)}. Give counts per {' x '.join(keys)}."
            )
        freq = population[[*keys, "population"]].copy()
        total = (
            freq.groupby(by_cols)["population"].transform("sum")
            if by_cols
            else (freq["population"].sum())
        )
        freq["frequency"] = freq["population"] / total
        freq["frequency_se"] = 0.0
    out = scores.merge(freq, on=keys, how="left")
    small = out["n"] < min_cell_size
    gap = np.maximum(0.0, float(target) - out["score"])
    out["gap"] = gap
    out["priority"] = gap * out["frequency"]
    out["below_target"] = out["upper"] < float(target)
    for col in ("score", "se", "lower", "upper", "gap", "priority"):
        out[col] = out[col].astype("float64").mask(small)
    out["below_target"] = out["below_target"].astype("boolean").mask(small)
    out[SUPPRESSED] = small.to_numpy(dtype=bool)
    out = out.sort_values(
        [*by_cols, SUPPRESSED, "priority", "frequency", event],
        ascending=[True] * len(by_cols) + [True, False, False, True],
        kind="stable",
        na_position="last",
    ).reset_index(drop=True)
    # only cells below the target are priorities: a cell at or above it gets no rank
    ranked = ~out[SUPPRESSED] & (out["priority"].fillna(0.0) > 0)
    rank = ranked.groupby([out[c] for c in by_cols]).cumsum() if by_cols else ranked.cumsum()
    out["rank"] = pd.Series(rank, dtype="Int64").where(ranked, pd.NA)  # type: ignore[call-overload]
    columns = [
        *keys, "score", "se", "lower", "upper", "n", "frequency", "frequency_se",
        *(["population"] if population is not None else []),
        "gap", "priority", "below_target", SUPPRESSED, "rank",
    ]  # fmt: skip
    out = out[columns]
    out.attrs.update(target=float(target), min_n=min_cell_size)
    return out
