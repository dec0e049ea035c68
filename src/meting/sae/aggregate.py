"""Posterior summaries per cell and population-weighted aggregates computed on the draws.

An aggregate (a life event nationally, a municipality over all life events) is the
population-weighted mean of the cell means *per draw*; its mean, sd and intervals are then taken
over the draws. It is therefore coherent with the cells: the aggregate's posterior mean is exactly
the weighted mean of the cells' posterior means, and its uncertainty accounts for the correlation
between cells (they share mu and the group effects).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from meting.errors import SchemaError
from meting.results import ExtraColumn, result_table

#: Level of the central credible interval in ``lower``/``upper`` (the 90% one is extra).
INTERVAL_LEVEL = 0.95
SUMMARY_COLUMNS = ("estimate", "se", "lower", "upper", "lower_90", "upper_90", "prob_ge_target")


def summarise_draws(draws: np.ndarray, target: float) -> pd.DataFrame:
    """Summaries of ``draws`` (shape draws x quantities), one row per quantity: the posterior
    mean (``estimate``), sd (``se``), the central 95% (``lower``, ``upper``) and 90% intervals
    and the probability of reaching ``target``."""
    q = np.quantile(draws, [0.025, 0.975, 0.05, 0.95], axis=0)
    return pd.DataFrame(
        {
            "estimate": draws.mean(axis=0),
            "se": draws.std(axis=0, ddof=1),
            "lower": q[0],
            "upper": q[1],
            "lower_90": q[2],
            "upper_90": q[3],
            "prob_ge_target": (draws >= target).mean(axis=0),
        }
    )


def summary_table(
    groups: pd.DataFrame | None,
    draws: np.ndarray,
    *,
    target: float,
    variable: str,
    method: str,
    n: np.ndarray,
    extra: Mapping[str, ExtraColumn] | None = None,
) -> pd.DataFrame:
    """The result table (:mod:`meting.results`) of posterior draws (draws x quantities)."""
    summary = summarise_draws(draws, target)
    return result_table(
        groups,
        variable=variable,
        estimate=summary["estimate"],
        se=summary["se"],
        lower=summary["lower"],
        upper=summary["upper"],
        level=INTERVAL_LEVEL,
        df=np.nan,
        n=n,
        method=method,
        extra={
            "lower_90": summary["lower_90"].to_numpy(),
            "upper_90": summary["upper_90"].to_numpy(),
            "prob_ge_target": summary["prob_ge_target"].to_numpy(),
            **(extra or {}),
        },
    )


def weighted_aggregate(
    draws: np.ndarray,
    cells: pd.DataFrame,
    by: list[str],
    weights: np.ndarray,
    target: float,
    *,
    variable: str = "",
    method: str = "",
) -> pd.DataFrame:
    """Population-weighted aggregate of cell draws within each ``by`` group.

    Parameters
    ----------
    draws
        Cell draws, shape (number of draws, number of cells), columns in the order of ``cells``.
    cells
        The cell table (its ``by`` columns define the aggregates).
    by
        Columns to aggregate to; ``[]`` gives one national figure.
    weights
        Population weight of each cell (>= 0; cells with weight 0 do not count).
    target
        Threshold for ``prob_ge_target``.
    """
    missing = [b for b in by if b not in cells.columns]
    if missing:
        raise SchemaError(
            f"by must name group columns of the result {list(cells.columns[:4])}; got {missing}. "
            "Aggregate over the model's groups."
        )
    if by:
        key = cells[by].astype(str)
        labels, inverse = np.unique(key.agg("\x1f".join, axis=1).to_numpy(), return_inverse=True)
        first = np.unique(inverse, return_index=True)[1]
        out_keys = key.iloc[first].reset_index(drop=True)
    else:
        inverse = np.zeros(len(cells), dtype=np.int64)
        labels = np.array(["all"])
        out_keys = pd.DataFrame(index=range(1))
    n_groups = len(labels)
    # indicator (cells x groups) scaled by weight; one matrix product aggregates every draw
    member = np.zeros((len(cells), n_groups))
    member[np.arange(len(cells)), inverse] = weights
    totals = member.sum(axis=0)
    if (totals <= 0).any():
        empty = out_keys.iloc[int(np.flatnonzero(totals <= 0)[0])].to_dict() if by else "all"
        raise SchemaError(
            f"weights must be positive for at least one cell of every aggregate; got total 0 for "
            f"{empty}. Give population counts for those cells."
        )
    aggregated = draws @ (member / totals)
    n = cells["n"].to_numpy(dtype=float) if "n" in cells.columns else np.zeros(len(cells))
    n_by = np.bincount(inverse, weights=np.nan_to_num(n), minlength=n_groups).astype(np.int64)
    return summary_table(
        out_keys,
        aggregated,
        target=target,
        variable=variable,
        method=method,
        n=n_by,
        extra={"population": totals},
    )


#: Benchmarking rules of :func:`benchmark_draws`.
BENCHMARK_METHODS = ("additive", "ratio")


def benchmark_draws(
    draws: np.ndarray,
    group: np.ndarray,
    weights: np.ndarray,
    direct: np.ndarray,
    direct_se: np.ndarray,
    *,
    method: str = "additive",
    random_seed: int,
) -> np.ndarray:
    """Benchmark cell draws so that every group's weighted aggregate equals its direct estimate.

    Parameters
    ----------
    draws
        Cell draws (number of draws, cells).
    group
        The benchmark group of each cell (an integer code ``0 .. G-1``; -1: not benchmarked).
    weights
        Population weight of each cell (>= 0).
    direct, direct_se
        Per group: the design-based direct estimate and its standard error.
    method
        ``"additive"``: ``theta*_c = theta_c + (D_g - A_g)``; ``"ratio"``: ``theta*_c = theta_c
        * D_g / A_g``; ``A_g`` is the group's weighted aggregate of the same draw.
    random_seed
        Seed of the draws of the direct estimate.

    Notes
    -----
    The direct estimate is itself uncertain, so per draw ``s`` the target is ``D_g^(s) = D_g +
    se_g z_g^(s)`` with ``z_g`` standard normal draws, standardised over the draws (mean 0, sd 1
    exactly). The benchmarked aggregate of group ``g`` then has posterior mean ``D_g`` and
    posterior sd ``se_g`` exactly, and the cells carry both their own uncertainty relative to the
    aggregate and that of the direct estimate (as in the Bayesian benchmarking of Datta et al.
    2011, with the design-based estimate's sampling distribution in place of a fixed total).
    """
    if method not in BENCHMARK_METHODS:
        raise SchemaError(f"method must be one of {list(BENCHMARK_METHODS)}; got {method!r}.")
    draws = np.asarray(draws, dtype=float)
    group = np.asarray(group, dtype=np.int64)
    n_groups = len(direct)
    inside = group >= 0
    member = np.zeros((draws.shape[1], n_groups))
    member[np.flatnonzero(inside), group[inside]] = np.asarray(weights, dtype=float)[inside]
    totals = member.sum(axis=0)
    if (totals <= 0).any():
        raise SchemaError(
            "weights must be positive for at least one cell of every benchmark group; got total "
            f"0 for group {int(np.flatnonzero(totals <= 0)[0])}. Give population counts."
        )
    aggregate = draws @ (member / totals)  # (draws, groups)
    rng = np.random.default_rng(random_seed)
    z = rng.standard_normal(aggregate.shape)
    if z.shape[0] > 1:
        z = (z - z.mean(axis=0)) / z.std(axis=0, ddof=1)
    target = np.asarray(direct, dtype=float)[None, :] + np.asarray(direct_se, float)[None, :] * z
    out = draws.copy()
    cols = np.flatnonzero(inside)
    if method == "additive":
        out[:, cols] += (target - aggregate)[:, group[cols]]
    else:
        out[:, cols] *= (target / aggregate)[:, group[cols]]
    return out
