"""Importance x performance matrix of the norms, with the quadrant names of the TRI*M grid.

Importance is *derived* (not asked): by default each norm's LMG share of the explained variance
of the chain score (:func:`meting.knelpunten.drivers.key_drivers`), or its standardised
coefficient.  Performance is the weighted share "goed" (4-5) of the norm, or its mean (1-5).

Quadrants (the rule, exactly)
-----------------------------
With split values ``s_imp`` and ``s_perf`` (per group: the mean, the median, or given numbers),
an aspect has *high importance* when ``importance >= s_imp`` and *high performance* when
``performance >= s_perf`` (a value on the split counts as high).  Then

=================  ===============  ================  ==================================
importance         performance      quadrant          Dutch label (TRI*M, BPZ 2007)
=================  ===============  ================  ==================================
high               high             ``motivator``     Motivatoren
high               low              ``hidden``        Verborgen mogelijkheden
low                low              ``potential``     (Potentiële) kansen
low                high             ``hygiene``       Hygiënefactoren
=================  ===============  ================  ==================================

Source of the names: the Benchmark Publiekszaken 2007 presentation (``shared/seeds/003_*``):
motivators have a high impact on the overall judgement; hidden opportunities have a strong
potential to raise support and quality; (potential) opportunities could in potential be turned
into opportunities; hygiene factors matter to citizens but have little impact on the overall
judgement, "often because the quality is already high enough: keep it".  The original TRI*M grid
crosses *stated* with derived importance; the life-events survey asks no stated importance, so
(as the issue asks) performance takes that axis, and the mapping above follows the BPZ texts:
high impact + high performance = motivator (invest and keep), high impact + low performance =
hidden opportunity (first to improve), low impact + high performance = hygiene (keep the level),
low impact + low performance = potential.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final, Literal

import numpy as np
import pandas as pd

from meting.columns import BSC_NORMS, SCORE_CHAIN
from meting.design import SurveyDesign
from meting.errors import ParameterError
from meting.knelpunten._common import as_list, check_design, numeric, with_columns
from meting.knelpunten.drivers import INTERCEPT, key_drivers
from meting.knelpunten.norms import OUTCOME_POSITIVE, norm_shares
from meting.labels import NORM_NAMES

__all__ = [
    "QUADRANT_LABELS",
    "QUADRANTS",
    "assign_quadrants",
    "importance_performance",
]

QUADRANTS: Final = ("motivator", "hidden", "potential", "hygiene")
QUADRANT_LABELS: Final = {
    "motivator": "Motivatoren",
    "hidden": "Verborgen mogelijkheden",
    "potential": "(Potentiële) kansen",
    "hygiene": "Hygiënefactoren",
}
Split = Literal["mean", "median"] | tuple[float, float]
Importance = Literal["lmg_share", "lmg", "std_estimate"]
Performance = Literal["share", "mean"]


def _split_value(values: np.ndarray, rule: str | float) -> float:
    if isinstance(rule, int | float) and not isinstance(rule, bool):
        return float(rule)
    if rule == "mean":
        return float(np.mean(values))
    if rule == "median":
        return float(np.median(values))
    raise ParameterError(
        f"split must be 'mean', 'median' or a pair of numbers; got {rule!r}. Use split='mean'."
    )


def assign_quadrants(
    importance: np.ndarray | pd.Series | Sequence[float],
    performance: np.ndarray | pd.Series | Sequence[float],
    split: Split = "mean",
) -> tuple[np.ndarray, float, float]:
    """Quadrant of each aspect (see the module docstring for the rule).

    Parameters
    ----------
    importance, performance
        One value per aspect (finite).
    split
        ``"mean"``, ``"median"`` (of the given aspects) or ``(importance_split,
        performance_split)``.

    Returns
    -------
    (numpy.ndarray, float, float)
        Quadrant codes (from :data:`QUADRANTS`), and the importance and performance splits.
    """
    imp = np.asarray(importance, dtype=float)
    perf = np.asarray(performance, dtype=float)
    if imp.shape != perf.shape or imp.ndim != 1 or imp.size == 0:
        raise ParameterError(
            "importance and performance must be 1-d arrays of the same non-zero length; got "
            f"shapes {imp.shape} and {perf.shape}."
        )
    if not (np.isfinite(imp).all() and np.isfinite(perf).all()):
        raise ParameterError(
            "importance and performance must be finite; got missing values. Leave out aspects "
            "without an estimate."
        )
    if isinstance(split, tuple):
        if len(split) != 2:
            raise ParameterError(f"split must be a pair (importance, performance); got {split!r}.")
        s_imp, s_perf = _split_value(imp, split[0]), _split_value(perf, split[1])
    else:
        s_imp, s_perf = _split_value(imp, split), _split_value(perf, split)
    high_imp = imp >= s_imp
    high_perf = perf >= s_perf
    quadrant = np.where(
        high_imp,
        np.where(high_perf, "motivator", "hidden"),
        np.where(high_perf, "hygiene", "potential"),
    ).astype(object)
    return quadrant, s_imp, s_perf


def importance_performance(
    design: SurveyDesign,
    outcome: str = SCORE_CHAIN,
    aspects: Sequence[str] = BSC_NORMS,
    by: str | Sequence[str] | None = None,
    importance: Importance = "lmg_share",
    performance: Performance = "share",
    split: Split = "mean",
    min_n: int = 100,
    level: float = 0.95,
) -> pd.DataFrame:
    """Importance x performance table of the aspects, per group, with the quadrant of each.

    Parameters
    ----------
    design
        The (weighted) survey design.
    outcome
        The overall judgement whose drivers give the importance (default the chain score).
    aspects
        Aspect columns (default the ten norms, 1-5).
    by
        Group columns (one matrix per group); None for one matrix.
    importance
        ``"lmg_share"`` (share of R^2, default), ``"lmg"`` (R^2 points) or ``"std_estimate"``
        (standardised coefficient).
    performance
        ``"share"`` (weighted share "goed", 4-5; default) or ``"mean"`` (1-5).
    split
        Split rule of :func:`assign_quadrants`, applied per group.
    min_n
        Fewest complete cases for a group's regression (see :func:`key_drivers`).
    level
        Confidence level of the intervals.

    Returns
    -------
    pandas.DataFrame
        Group columns, ``aspect, aspect_name, importance, importance_se, performance,
        performance_se, performance_lower, performance_upper, quadrant, quadrant_label,
        split_importance, split_performance, n`` (complete cases of the regression).
        ``importance_se`` of ``lmg_share`` is ``lmg_se / r2`` (R^2 taken as fixed).
        ``attrs``: ``importance``, ``performance``, ``split`` and ``skipped`` groups.
    """
    design = check_design(design)
    if importance not in ("lmg_share", "lmg", "std_estimate"):
        raise ParameterError(
            f"importance must be 'lmg_share', 'lmg' or 'std_estimate'; got {importance!r}."
        )
    if performance not in ("share", "mean"):
        raise ParameterError(f"performance must be 'share' or 'mean'; got {performance!r}.")
    by_cols = as_list(by)
    aspects = as_list(aspects)
    drivers = key_drivers(
        design, outcome, aspects, by=by_cols or None, min_n=min_n, level=level,
        lmg=importance != "std_estimate",
    )  # fmt: skip
    drivers = drivers[drivers["term"] != INTERCEPT].rename(columns={"term": "aspect"})
    if importance == "lmg_share":
        drivers["importance_se"] = drivers["lmg_se"] / drivers["r2"]
    elif importance == "lmg":
        drivers["importance_se"] = drivers["lmg_se"]
    else:
        drivers["importance_se"] = np.nan
    drivers["importance"] = drivers[importance]
    if performance == "share":
        perf = norm_shares(design, by=by_cols or None, norms=aspects, level=level)
        perf = perf[perf["outcome"] == OUTCOME_POSITIVE].rename(columns={"norm": "aspect"})
    else:
        cols = {f"__knelpunt_aspect_{j}": numeric(design.data, a) for j, a in enumerate(aspects)}
        work = with_columns(design, cols)
        parts = []
        for tmp, aspect in zip(cols, aspects, strict=True):
            t = work.mean(tmp, by=by_cols or None, level=level)
            parts.append(t.assign(aspect=aspect))
        perf = pd.concat(parts, ignore_index=True)
    perf = perf[[*by_cols, "aspect", "estimate", "se", "lower", "upper"]].rename(
        columns={
            "estimate": "performance",
            "se": "performance_se",
            "lower": "performance_lower",
            "upper": "performance_upper",
        }
    )
    table = drivers[[*by_cols, "aspect", "importance", "importance_se", "n"]].merge(
        perf, on=[*by_cols, "aspect"], how="left"
    )
    table.insert(len(by_cols) + 1, "aspect_name", [NORM_NAMES.get(a, a) for a in table["aspect"]])
    groups = table.groupby(by_cols, sort=False).groups if by_cols else {None: table.index}
    table["quadrant"] = None
    table["split_importance"] = np.nan
    table["split_performance"] = np.nan
    for idx in groups.values():
        sub = table.loc[idx]
        ok = sub["importance"].notna() & sub["performance"].notna()
        if not ok.any():
            continue
        q, s_imp, s_perf = assign_quadrants(
            sub.loc[ok, "importance"], sub.loc[ok, "performance"], split
        )
        table.loc[sub.index[ok], "quadrant"] = q
        table.loc[idx, "split_importance"] = s_imp
        table.loc[idx, "split_performance"] = s_perf
    table["quadrant_label"] = table["quadrant"].map(QUADRANT_LABELS)
    columns = [
        *by_cols, "aspect", "aspect_name", "importance", "importance_se", "performance",
        "performance_se", "performance_lower", "performance_upper", "quadrant", "quadrant_label",
        "split_importance", "split_performance", "n",
    ]  # fmt: skip
    table = table[columns]
    table.attrs.update(
        importance=importance,
        performance=performance,
        split=split,
        level=level,
        skipped=drivers.attrs.get("skipped"),
    )
    return table
