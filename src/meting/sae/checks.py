"""Model checking of a small-area fit (linked across waves or not), for the validation report.

* :func:`predictive_check`: the **posterior predictive check** of the direct estimates. For every
  cell (x wave) with respondents, replicated direct estimates ``y_rep = theta + e`` with ``theta``
  a posterior draw of the cell mean and ``e ~ Normal(0, se)`` (``se`` the sampling standard error
  the model used, ``direct_se``); the cell's central predictive interval and its PIT value
  ``P(y_rep <= y)``. When the model fits, about ``level`` of the direct estimates lie inside their
  interval and the PIT values are roughly uniform; because ``theta`` was fitted on the same
  ``y``, the share inside tends to be a little above ``level`` (the check is conservative), a
  share far below it signals a misfit. In a Gaussian model with ``theta | y ~ Normal(m, v)`` the
  interval is ``m +/- z sqrt(v + se^2)`` (``tests/test_sae_checks.py`` checks that closed form).
* :func:`predictive_summary`: the share inside per wave; :func:`pit_histogram`: PIT counts.
* :func:`shrinkage_by_size`: the shrinkage ``1 - gamma`` (the fit's ``shrinkage`` column,
  :mod:`meting.sae.quality`) summarised per cell-size class.
* :func:`scale_parameters`: the scale parameters (``sd_cell``, ``sd_wave``, the group sds,
  ``sigma``) with posterior mean, central interval, R-hat and ESS, and whether each meets the
  strict rule of :mod:`meting.sae.diagnostics` (R-hat <= 1,01, bulk and tail ESS >= 400).

Everything is computed from the result's draws (:meth:`SaeResult.draws`) and posterior; nothing
here refits. Only aggregates per cell are returned (no respondent-level values).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Final

import numpy as np
import pandas as pd

from meting.errors import SchemaError
from meting.sae.diagnostics import ESS_MIN, RHAT_MAX, ess_bulk, ess_tail, rhat_rank

if TYPE_CHECKING:
    from meting.sae.result import SaeResult

__all__ = [
    "SCALE_ORDER",
    "SIZE_CLASSES",
    "pit_histogram",
    "predictive_check",
    "predictive_summary",
    "scale_parameters",
    "shrinkage_by_size",
]

#: Cell-size classes: (label, lowest n, highest n); the validation report's classes.
SIZE_CLASSES: Final[tuple[tuple[str, int, float], ...]] = (
    ("0 (voorspelling)", 0, 0),
    ("1-9", 1, 9),
    ("10-29", 10, 29),
    ("30 en meer", 30, np.inf),
)
#: The scale parameters in the order the reports list them (others follow by name).
SCALE_ORDER: Final = ("sd_cell", "sd_wave", "sd_life_event", "sd_municipality", "sigma")
_CHUNK = 512  # cells at a time: a national linked fit has 15,300 cell-waves x 8,000 draws


def _cells_and_draws(sae: SaeResult) -> tuple[pd.DataFrame, np.ndarray]:
    cells = sae.cells
    for column in ("direct", "direct_se", "observed", "n"):
        if column not in cells.columns:
            raise SchemaError(
                f"a fit's cells must have column {column!r} for the model checks; got "
                f"{list(map(str, cells.columns))}. Pass a result of fit_area_level."
            )
    return cells, sae.draws()


def predictive_check(sae: SaeResult, *, level: float = 0.90, random_seed: int) -> pd.DataFrame:
    """The posterior predictive check of every observed cell's direct estimate.

    Returns one row per cell (x wave) with a direct estimate and a standard error: the group
    columns, ``n``, ``direct``, ``direct_se``, ``pred_mean`` (mean of ``y_rep``), ``pred_lower``
    and ``pred_upper`` (the central ``level`` interval of ``y_rep``), ``inside`` (the direct
    estimate lies in it) and ``pit`` (``P(y_rep <= y)`` over the draws). ``random_seed`` seeds the
    sampling errors ``e`` (one per draw and cell).
    """
    if not 0 < level < 1:
        raise SchemaError(f"level must be in (0, 1); got {level!r}. Use e.g. 0.90.")
    cells, draws = _cells_and_draws(sae)
    direct = cells["direct"].to_numpy(dtype=float)
    se = cells["direct_se"].to_numpy(dtype=float)
    keep = (
        cells["observed"].fillna(False).to_numpy(dtype=bool)
        & np.isfinite(direct)
        & np.isfinite(se)
        & (se > 0)
    )
    columns = np.flatnonzero(keep)
    rng = np.random.default_rng(random_seed)
    q = [(1.0 - level) / 2.0, (1.0 + level) / 2.0]
    mean, lower, upper, pit = (np.empty(len(columns)) for _ in range(4))
    for start in range(0, len(columns), _CHUNK):
        part = columns[start : start + _CHUNK]
        out = slice(start, start + len(part))
        y_rep = draws[:, part] + se[part][None, :] * rng.standard_normal((len(draws), len(part)))
        mean[out] = y_rep.mean(axis=0)
        lower[out], upper[out] = np.quantile(y_rep, q, axis=0)
        pit[out] = (y_rep <= direct[part][None, :]).mean(axis=0)
    groups = sae.groups
    table = cells.loc[keep, [*groups, "n"]].reset_index(drop=True)
    y = direct[keep]
    return table.assign(
        direct=y,
        direct_se=se[keep],
        pred_mean=mean,
        pred_lower=lower,
        pred_upper=upper,
        inside=(lower <= y) & (y <= upper),
        pit=pit,
    )


def predictive_summary(check: pd.DataFrame, by: str | None) -> pd.DataFrame:
    """Per ``by`` group (e.g. the wave; None: all cells together): ``cellen`` (observed cells),
    ``binnen`` (how many direct estimates lie inside their predictive interval) and ``aandeel
    binnen`` (their share), and the mean PIT value (about 0,5 when the model is centred)."""
    keys = check[by].astype(str) if by else pd.Series("alle", index=check.index)
    grouped = check.groupby(keys, sort=True)
    out = pd.DataFrame(
        {
            "cellen": grouped.size(),
            "binnen": grouped["inside"].sum().astype(int),
            "aandeel binnen": grouped["inside"].mean(),
            "gemiddelde PIT": grouped["pit"].mean(),
        }
    )
    out.index.name = by or "groep"
    return out.reset_index()


def pit_histogram(check: pd.DataFrame, bins: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """The counts of the PIT values in ``bins`` equal bins on [0, 1], and the bin edges."""
    if bins < 2:
        raise SchemaError(f"bins must be at least 2; got {bins!r}.")
    edges = np.linspace(0.0, 1.0, bins + 1)
    counts, _ = np.histogram(np.clip(check["pit"].to_numpy(dtype=float), 0.0, 1.0), edges)
    return counts, edges


def shrinkage_by_size(
    cells: pd.DataFrame, classes: Sequence[tuple[str, int, float]] = SIZE_CLASSES
) -> pd.DataFrame:
    """The shrinkage ``1 - gamma`` per cell-size class: ``respondenten per cel`` (the class),
    ``cellen``, ``gemiddelde krimp`` and its ``laagste`` and ``hoogste`` value. A well-behaved
    model shrinks small cells most: near 1 without respondents, near 0 for large cells."""
    for column in ("n", "shrinkage"):
        if column not in cells.columns:
            raise SchemaError(
                f"cells must have column {column!r} (a small-area result's cells); got "
                f"{list(map(str, cells.columns))}."
            )
    n = pd.to_numeric(cells["n"], errors="coerce").fillna(0).to_numpy(dtype=float)
    shrink = cells["shrinkage"].to_numpy(dtype=float)
    rows = []
    for label, lo, hi in classes:
        mine = (n >= lo) & (n <= hi) & np.isfinite(shrink)
        if not mine.any():
            continue
        s = shrink[mine]
        rows.append(
            {
                "respondenten per cel": label,
                "cellen": int(mine.sum()),
                "gemiddelde krimp": float(s.mean()),
                "laagste": float(s.min()),
                "hoogste": float(s.max()),
            }
        )
    return pd.DataFrame(
        rows, columns=["respondenten per cel", "cellen", "gemiddelde krimp", "laagste", "hoogste"]
    )


def _scale_names(posterior) -> list[str]:
    scalar = [
        str(name)
        for name, array in posterior.data_vars.items()
        if set(array.dims) == {"chain", "draw"}
        and (str(name).startswith("sd_") or str(name) == "sigma")
    ]
    known = [n for n in SCALE_ORDER if n in scalar]
    return known + sorted(set(scalar) - set(known))


def scale_parameters(sae: SaeResult, *, level: float = 0.90) -> pd.DataFrame:
    """The scale parameters of the fit, one row each (``sd_cell`` and ``sd_wave`` first):
    ``parameter``, ``estimate`` (posterior mean), ``lower`` and ``upper`` (central ``level``
    interval), ``rhat``, ``ess_bulk``, ``ess_tail`` (as :mod:`meting.sae.diagnostics` computes
    them) and ``converged`` (R-hat <= 1,01 and both ESS >= 400)."""
    if not 0 < level < 1:
        raise SchemaError(f"level must be in (0, 1); got {level!r}. Use e.g. 0.90.")
    posterior = sae.idata.posterior  # type: ignore[attr-defined]
    names = _scale_names(posterior)
    if not names:
        return pd.DataFrame(
            columns=["parameter", "estimate", "lower", "upper", "rhat", "ess_bulk", "ess_tail"]
            + ["converged"]
        )
    values = np.stack([posterior[n].transpose("chain", "draw").to_numpy() for n in names])
    flat = values.reshape(len(names), -1)
    lower, upper = np.quantile(flat, [(1 - level) / 2, (1 + level) / 2], axis=1)
    rhat, bulk, tail = rhat_rank(values), ess_bulk(values), ess_tail(values)
    return pd.DataFrame(
        {
            "parameter": names,
            "estimate": flat.mean(axis=1),
            "lower": lower,
            "upper": upper,
            "rhat": rhat,
            "ess_bulk": bulk,
            "ess_tail": tail,
            "converged": (rhat <= RHAT_MAX) & (bulk >= ESS_MIN) & (tail >= ESS_MIN),
        }
    )
