"""Diagnostics of weighting (:class:`WeightingReport`, Kish design effect, effective sample
size, the gaps between achieved and target margins) and trimming of extreme weights."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from meting.design import SurveyDesign, WeightingRecord
from meting.errors import DesignError
from meting.replicate import ReplicateDesign
from meting.weighting_margins import MarginKey, Targets, key_name, margin_cells


@dataclass(frozen=True)
class WeightingReport:
    """Diagnostics of one weighting step.

    Attributes
    ----------
    method : str
        ``"poststratify"``, ``"rake"``, ``"calibrate-linear"`` ... or ``"trim"``.
    converged : bool
        Whether the iteration met its tolerance (always True for one-step methods).
    iterations : int
        Sweeps (raking) or Newton steps (calibration) used.
    max_margin_gap : float
        Largest absolute difference between achieved and target totals after weighting.
    weight_min, weight_max : float
        Range of the new weights.
    kish_deff : float
        Kish design effect from unequal weights, ``n sum(w^2) / sum(w)^2``.
    effective_n : float
        Kish effective sample size, ``sum(w)^2 / sum(w^2)``.
    n : int
        Number of respondents.
    """

    method: str
    converged: bool
    iterations: int
    max_margin_gap: float
    weight_min: float
    weight_max: float
    kish_deff: float
    effective_n: float
    n: int


# ----------------------------------------------------------------------------------------------
# small pure diagnostics
# ----------------------------------------------------------------------------------------------
def kish_deff(w: np.ndarray) -> float:
    """Kish design effect of unequal weights: ``n * sum(w**2) / sum(w)**2`` (1 for equal weights)."""
    w = np.asarray(w, dtype=float)
    return float(w.size * np.sum(w**2) / np.sum(w) ** 2)


def effective_n(w: np.ndarray) -> float:
    """Kish effective sample size: ``sum(w)**2 / sum(w**2)``."""
    w = np.asarray(w, dtype=float)
    return float(np.sum(w) ** 2 / np.sum(w**2))


def margin_gaps(design: SurveyDesign, margins: Mapping[MarginKey, Targets]) -> pd.DataFrame:
    """Achieved weighted totals against targets, one row per margin level.

    Returns
    -------
    pandas.DataFrame
        Columns ``margin, level, target, achieved, gap`` (gap = achieved - target).
    """
    rows = []
    for key, target in margins.items():
        cells, levels, tgt = margin_cells(design, key, target)
        got = np.bincount(cells, weights=design.w, minlength=len(levels))
        for lev, t, a in zip(levels, tgt, got, strict=True):
            rows.append(
                {"margin": key_name(key), "level": lev, "target": t, "achieved": a, "gap": a - t}
            )
    return pd.DataFrame(rows, columns=["margin", "level", "target", "achieved", "gap"])


def weighting_report(
    method: str,
    design: SurveyDesign | ReplicateDesign,
    converged: bool,
    iterations: int,
    gap: float,
) -> WeightingReport:
    w = np.asarray(design.w, dtype=float)
    total, squares = np.sum(w), np.sum(w**2)  # as kish_deff and effective_n sum them
    return WeightingReport(
        method=method,
        converged=converged,
        iterations=iterations,
        max_margin_gap=float(gap),
        weight_min=float(w.min()),
        weight_max=float(w.max()),
        kish_deff=float(w.size * squares / total**2),
        effective_n=float(total**2 / squares),
        n=design.n,
    )


# ----------------------------------------------------------------------------------------------
# trimming
# ----------------------------------------------------------------------------------------------
def trim(
    design: SurveyDesign,
    lower: float = -np.inf,
    upper: float = np.inf,
    redistribute: bool = True,
    max_iter: int = 100,
) -> tuple[SurveyDesign, WeightingReport]:
    """Trim weights to ``[lower, upper]`` (``survey::trimWeights(strict = TRUE)``).

    With ``redistribute`` the trimmed amount is shared equally over the untrimmed weights (so
    the sum of the weights is kept) and the step repeats until every weight is within bounds.
    The calibration record of the design is kept unchanged, as ``survey`` does.
    """
    if not lower < upper:
        raise DesignError(f"lower must be below upper; got lower={lower!r}, upper={upper!r}.")
    w = design.w.copy()
    if redistribute and not (lower * design.n <= w.sum() <= upper * design.n):
        raise DesignError(
            f"bounds must allow the total weight {w.sum():g} over {design.n} rows; got "
            f"[{lower:g}, {upper:g}]. Widen the bounds."
        )
    it = 0
    converged = True
    while True:
        outside = (w < lower) | (w > upper)
        if not outside.any():
            break
        if it >= max_iter:
            converged = False
            break
        it += 1
        new = np.clip(w, lower, upper)
        if redistribute:
            new[~outside] += (w - new).sum() / np.count_nonzero(~outside)
        w = new
        if not redistribute:
            break
    out = replace(
        design,
        weight_values=w,
        history=(
            *design.history,
            WeightingRecord("trim", f"trim(lower={lower!r}, upper={upper!r})", converged, it),
        ),
    )
    return out, weighting_report("trim", out, converged, it, 0.0)
