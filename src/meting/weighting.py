"""Weighting a survey design: post-stratification, raking, calibration and trimming.

Each method takes a :class:`~meting.design.SurveyDesign` and returns ``(new design, report)``.
The new design keeps the data, carries the new weights and records the calibration so that the
Taylor variance accounts for it exactly as R's ``survey`` does (``postStratify``, ``rake``,
``calibrate``).  Impossible targets are rejected before any work; non-convergence raises
:class:`~meting.errors.ConvergenceError` (or warns when the caller passes ``strict=False``).

Targets are given per margin: a column name (or a tuple of column names for a joint margin)
mapped to ``{level: population count}`` (tuple levels for joint margins), or a pandas Series
indexed by level.
"""

from __future__ import annotations

from dataclasses import replace
from typing import overload

import numpy as np

from meting.calibration_residuals import poststrat_record
from meting.design import SurveyDesign, WeightingRecord
from meting.replicate import ReplicateDesign
from meting.weighting_calibration import INTERCEPT, calibrate, rake
from meting.weighting_diagnostics import (
    WeightingReport,
    effective_n,
    kish_deff,
    margin_gaps,
    trim,
    weighting_report,
)
from meting.weighting_margins import MarginKey, Targets, group_codes, margin_cells

__all__ = [
    "INTERCEPT",
    "MarginKey",
    "Targets",
    "WeightingReport",
    "calibrate",
    "effective_n",
    "group_codes",
    "kish_deff",
    "margin_gaps",
    "poststratify",
    "rake",
    "trim",
]


# ----------------------------------------------------------------------------------------------
# post-stratification (raking and calibration: meting.weighting_calibration)
# ----------------------------------------------------------------------------------------------
@overload
def poststratify(
    design: SurveyDesign, strata: MarginKey, population: Targets, partial: bool = ...
) -> tuple[SurveyDesign, WeightingReport]: ...
@overload
def poststratify(
    design: ReplicateDesign, strata: MarginKey, population: Targets, partial: bool = ...
) -> tuple[ReplicateDesign, WeightingReport]: ...
def poststratify(
    design: SurveyDesign | ReplicateDesign,
    strata: MarginKey,
    population: Targets,
    partial: bool = False,
) -> tuple[SurveyDesign | ReplicateDesign, WeightingReport]:
    """Post-stratify to known population counts (``survey::postStratify``).

    Parameters
    ----------
    design : SurveyDesign or ReplicateDesign
        The design to weight.  A replicate design is post-stratified in every replicate too
        (:mod:`meting.weighting_replicate`), as ``survey``.
    strata : str or tuple of str
        Post-stratification column(s); a tuple crosses them.
    population : mapping or pandas.Series
        Population count per post-stratum (tuple keys for crossed columns).
    partial : bool
        Leave out population strata absent from the sample (``postStratify(partial = TRUE)``);
        the weights then add up to the population of the strata that were sampled.  Without it
        such strata are refused.

    Returns
    -------
    (SurveyDesign, WeightingReport)
    """
    if isinstance(design, ReplicateDesign):
        from meting.weighting_replicate import poststratify_replicate

        return poststratify_replicate(design, strata, population, partial)
    cells, levels, targets = margin_cells(design, strata, population, partial=bool(partial))
    old = design.w
    sample = np.bincount(cells, weights=old, minlength=len(levels))
    new = old * (targets / sample)[cells]
    rec = poststrat_record(cells, old, new)
    out = replace(
        design,
        weight_values=new,
        calibration=(*design.calibration, rec),
        history=(
            *design.history,
            WeightingRecord("poststratify", f"poststratify({strata!r}, partial={bool(partial)})"),
        ),
    )
    gap = np.max(np.abs(np.bincount(cells, weights=new, minlength=len(levels)) - targets))
    return out, weighting_report("poststratify", out, True, 1, gap)
