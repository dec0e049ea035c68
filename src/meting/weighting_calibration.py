"""Raking (``survey::rake``) and calibration (``survey::calibrate``: linear, raking, logit, with
bounds) of a design to population margins and totals."""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import replace
from typing import Literal, overload

import numpy as np
import pandas as pd
import scipy.sparse as sp

from meting.calibration_residuals import greg_record, raking_record, sym_pinv
from meting.design import SurveyDesign, WeightingRecord
from meting.errors import ConvergenceError, DesignError
from meting.replicate import ReplicateDesign
from meting.weighting_diagnostics import WeightingReport, weighting_report
from meting.weighting_margins import (
    MarginKey,
    Targets,
    check_same_total,
    design_joint_cells,
    key_name,
    margin_cells,
)

INTERCEPT = "(Intercept)"


@overload
def rake(
    design: SurveyDesign,
    margins: Mapping[MarginKey, Targets],
    max_iter: int = ...,
    epsilon: float = ...,
    strict: bool = ...,
) -> tuple[SurveyDesign, WeightingReport]: ...
@overload
def rake(
    design: ReplicateDesign,
    margins: Mapping[MarginKey, Targets],
    max_iter: int = ...,
    epsilon: float = ...,
    strict: bool = ...,
) -> tuple[ReplicateDesign, WeightingReport]: ...
def rake(
    design: SurveyDesign | ReplicateDesign,
    margins: Mapping[MarginKey, Targets],
    max_iter: int = 100,
    epsilon: float = 1e-10,
    strict: bool = True,
) -> tuple[SurveyDesign | ReplicateDesign, WeightingReport]:
    """Rake to population margins by iterative proportional fitting (``survey::rake``).

    One sweep post-stratifies on each margin in turn.  As in ``survey``, the iteration stops
    when the weighted cross-table of all raking variables changes by less than ``epsilon``
    between sweeps (``epsilon < 1`` is relative to the sum of the weights, otherwise absolute).
    The standard errors use ``survey``'s raking linearisation.

    Parameters
    ----------
    design : SurveyDesign or ReplicateDesign
        The design to weight.  A replicate design is raked in every replicate too (same
        margins, same number of sweeps; :mod:`meting.weighting_replicate`), as ``survey``.
    margins : mapping
        Margin (column, or tuple of columns) -> population counts per level.
    max_iter : int
        Most sweeps (``control$maxit``; survey's default is 10).
    epsilon : float
        Tolerance (``control$epsilon``; survey's default is 1).
    strict : bool
        Raise ConvergenceError when not converged (else warn).

    Returns
    -------
    (SurveyDesign, WeightingReport)
    """
    if isinstance(design, ReplicateDesign):
        from meting.weighting_replicate import rake_replicate

        return rake_replicate(design, margins, max_iter, epsilon, strict)
    if not margins:
        raise DesignError("margins must name at least one margin; got none. Pass {col: targets}.")
    parsed = [(k, *margin_cells(design, k, t)) for k, t in margins.items()]
    check_same_total([(key_name(k), t) for k, _, _, t in parsed])
    w0 = design.w
    tol = epsilon * w0.sum() if epsilon < 1 else epsilon
    allcols: list[str] = []
    for k, *_ in parsed:
        allcols += [k] if isinstance(k, str) else list(k)
    # rows of a joint cell of all raking variables share every raking factor: the sweeps run
    # on the joint table (factor g per cell), the rows' weights are formed once at the end
    joint, first, counts = design_joint_cells(design, list(dict.fromkeys(allcols)))
    n_joint = first.size
    maps = [(cells[first], targets) for _, cells, _, targets in parsed]
    table0 = np.bincount(joint, weights=w0, minlength=n_joint)
    g = np.ones(n_joint)
    old_table: np.ndarray = table0
    converged = False
    it = 0
    delta = np.inf
    last: list[np.ndarray] = []
    while it < max_iter:
        last = []
        for code, targets in maps:
            sample = np.bincount(code, weights=table0 * g, minlength=targets.size)
            g = g * (targets / sample)[code]
            last.append(g)
        new_table = table0 * g
        delta = np.max(np.abs(new_table - old_table))
        it += 1
        if delta < tol:
            converged = True
            break
        old_table = new_table
    table = table0 * g
    gap = max(
        np.max(np.abs(np.bincount(code, weights=table, minlength=t.size) - t)) for code, t in maps
    )
    if not converged:
        msg = (
            f"raking must converge within max_iter={max_iter} sweeps; got a last change of "
            f"{delta:.3g} (tolerance {tol:.3g}) and a largest margin gap of {gap:.3g}. Raise "
            "max_iter, collapse sparse categories, or pass strict=False to accept the weights."
        )
        if strict:
            raise ConvergenceError(msg)
        warnings.warn(msg, RuntimeWarning, stacklevel=2)
    w = w0 * g[joint]
    rec = raking_record(
        joint,
        counts,
        w0,
        [(c, code, gk) for (_, c, _, _), (code, _), gk in zip(parsed, maps, last, strict=True)],
    )
    out = replace(
        design,
        weight_values=w,
        calibration=(*design.calibration, rec),
        history=(
            *design.history,
            WeightingRecord("rake", f"rake({[key_name(k) for k in margins]})", converged, it),
        ),
    )
    return out, weighting_report("rake", out, converged, it, gap)


# ----------------------------------------------------------------------------------------------
# calibration
# ----------------------------------------------------------------------------------------------
def _model_matrix(
    design: SurveyDesign | ReplicateDesign, totals: Mapping[str, float | Targets]
) -> tuple[sp.csr_matrix, np.ndarray, list[str]]:
    n = design.n
    blocks: list[sp.csr_matrix] = []
    pop: list[float] = []
    names: list[str] = []
    for key, target in totals.items():
        if key == INTERCEPT:
            blocks.append(sp.csr_matrix(np.ones((n, 1))))
            pop.append(_finite_total(key, target))
            names.append(INTERCEPT)
            continue
        if isinstance(target, Mapping | pd.Series):
            cells, levels, tgt = margin_cells(design, key, target)
            blocks.append(
                sp.csr_matrix((np.ones(n), (np.arange(n), cells)), shape=(n, len(levels)))
            )
            pop += tgt.tolist()
            names += [f"{key_name(key)}={lv}" for lv in levels]
            continue
        if key not in design.data.columns:
            raise DesignError(
                f"calibration variable {key!r} must be a column of the design data; got "
                f"columns {sorted(map(str, design.data.columns))[:12]}. Check the spelling."
            )
        col = pd.to_numeric(design.data[key], errors="coerce").to_numpy(dtype=float)
        if np.isnan(col).any():
            raise DesignError(
                f"calibration variable {key!r} must be numeric without missing values; got "
                f"{int(np.isnan(col).sum())} missing or non-numeric. Impute or drop them."
            )
        blocks.append(sp.csr_matrix(col[:, None]))
        pop.append(_finite_total(key, target))
        names.append(key)
    if not blocks:
        raise DesignError("totals must name at least one calibration variable; got none.")
    return sp.hstack(blocks, format="csr"), np.array(pop), names


def _finite_total(key: str, value: object) -> float:
    try:
        v = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        v = np.nan
    if not np.isfinite(v):
        raise DesignError(
            f"population total of {key!r} must be a finite number; got {value!r}. Correct it."
        )
    if key == INTERCEPT and v <= 0:
        raise DesignError(f"population size {INTERCEPT!r} must be positive; got {v:g}.")
    return v


def _calfun(method: str, lo: float, hi: float):
    if method == "linear":

        def fm1(u):
            return np.minimum(np.maximum(u + 1, lo), hi) - 1

        def df(u):
            return ((u < hi - 1) & (u > lo - 1)).astype(float)
    elif method == "raking":

        def fm1(u):
            return np.minimum(np.maximum(np.exp(u), lo), hi) - 1

        def df(u):
            return np.where((u < hi - 1) & (u > lo - 1), np.exp(u), 0.0)
    else:
        a = (hi - lo) / ((hi - 1) * (1 - lo))

        def fm1(u):
            e = np.exp(a * u)
            return (lo * (hi - 1) + hi * (1 - lo) * e) / (hi - 1 + (1 - lo) * e) - 1

        def df(u):
            e = np.exp(a * u)
            den = hi - 1 + (1 - lo) * e
            return (
                hi * (1 - lo) * e * a / den
                - (lo * (hi - 1) + hi * (1 - lo) * e) * ((1 - lo) * e * a) / den**2
            )

    return fm1, df


@overload
def calibrate(
    design: SurveyDesign,
    totals: Mapping[str, float | Targets],
    method: Literal["linear", "raking", "logit"] = ...,
    bounds: tuple[float, float] = ...,
    max_iter: int = ...,
    epsilon: float = ...,
    strict: bool = ...,
) -> tuple[SurveyDesign, WeightingReport]: ...
@overload
def calibrate(
    design: ReplicateDesign,
    totals: Mapping[str, float | Targets],
    method: Literal["linear", "raking", "logit"] = ...,
    bounds: tuple[float, float] = ...,
    max_iter: int = ...,
    epsilon: float = ...,
    strict: bool = ...,
) -> tuple[ReplicateDesign, WeightingReport]: ...
def calibrate(
    design: SurveyDesign | ReplicateDesign,
    totals: Mapping[str, float | Targets],
    method: Literal["linear", "raking", "logit"] = "linear",
    bounds: tuple[float, float] = (-np.inf, np.inf),
    max_iter: int = 50,
    epsilon: float = 1e-7,
    strict: bool = True,
) -> tuple[SurveyDesign | ReplicateDesign, WeightingReport]:
    """Calibrate weights to population totals (``survey::calibrate``, ``grake``).

    Parameters
    ----------
    design : SurveyDesign or ReplicateDesign
        The design to weight.  A replicate design is calibrated in every replicate too (same
        totals and bounds; :mod:`meting.weighting_replicate`), as ``survey``.
    totals : mapping
        ``"(Intercept)"`` -> population size; a numeric column -> its population total; a
        categorical column (or tuple of columns) -> ``{level: count}`` for every level.
    method : {"linear", "raking", "logit"}
        Calibration function (GREG, multiplicative, bounded logit).
    bounds : (float, float)
        Bounds on ``g = new weight / old weight``; ``logit`` needs finite bounds.
    max_iter, epsilon : int, float
        Newton steps and relative tolerance ``|misfit| / (1 + |total|)``, as in ``survey``.
    strict : bool
        Raise ConvergenceError when the totals cannot be met (else warn and keep the weights).

    Returns
    -------
    (SurveyDesign, WeightingReport)
    """
    if method not in ("linear", "raking", "logit"):
        raise DesignError(
            f"method must be 'linear', 'raking' or 'logit'; got {method!r}. Pick one of them."
        )
    lo, hi = (float(bounds[0]), float(bounds[1]))
    if not lo < 1 < hi:
        raise DesignError(
            f"bounds must satisfy lower < 1 < upper (ratios of new to old weights); got "
            f"{bounds!r}. Widen them, e.g. (0.5, 3)."
        )
    if method == "logit" and not (np.isfinite(lo) and np.isfinite(hi)):
        raise DesignError(
            f"bounds must be finite for logit calibration; got {bounds!r}. Give e.g. (0.5, 3)."
        )
    if isinstance(design, ReplicateDesign):
        from meting.weighting_replicate import calibrate_replicate

        return calibrate_replicate(design, totals, method, (lo, hi), max_iter, epsilon, strict)
    mm, pop, names = _model_matrix(design, totals)
    ww = design.w
    sample_total = np.asarray(mm.T @ ww).ravel()
    keep = ~((sample_total == 0) & (pop == 0))
    if not keep.all():
        mm, pop, sample_total = mm[:, keep], pop[keep], sample_total[keep]
        names = [nm for nm, k in zip(names, keep, strict=True) if k]
    converged, iters = True, 1
    if method == "linear" and np.isneginf(lo) and np.isposinf(hi):
        xtwx = (mm.T @ mm.multiply(ww[:, None]).tocsr()).toarray()
        t_vec = sym_pinv(xtwx) @ (pop - sample_total)
        g = 1 + mm @ t_vec
    else:
        g, converged, iters = _grake(mm, ww, pop, method, lo, hi, max_iter, epsilon)
    new_w = ww * g
    achieved = np.asarray(mm.T @ new_w).ravel()
    gap = float(np.max(np.abs(achieved - pop)))
    if not converged:
        worst = int(np.argmax(np.abs(achieved - pop) / (1 + np.abs(pop))))
        msg = (
            f"calibration must meet the totals within {max_iter} steps; got a gap of "
            f"{achieved[worst] - pop[worst]:.4g} on {names[worst]!r}. The bounds {bounds!r} may "
            "be infeasible: widen them, drop a variable, or pass strict=False."
        )
        if strict:
            raise ConvergenceError(msg)
        warnings.warn(msg, RuntimeWarning, stacklevel=2)
    rec = greg_record(mm, ww, g)
    label = f"calibrate-{method}"
    out = replace(
        design,
        weight_values=new_w,
        calibration=(*design.calibration, rec),
        history=(
            *design.history,
            WeightingRecord(
                label, f"calibrate({names}, {method!r}, bounds={bounds!r})", converged, iters
            ),
        ),
    )
    return out, weighting_report(label, out, converged, iters, gap)


def _grake(
    mm: sp.csr_matrix,
    ww: np.ndarray,
    pop: np.ndarray,
    method: str,
    lo: float,
    hi: float,
    max_iter: int,
    epsilon: float,
) -> tuple[np.ndarray, bool, int]:
    """Newton iteration of ``survey:::grake`` (including its rescaling of large weights)."""
    fm1, dfun = _calfun(method, lo, hi)
    sample_total = np.asarray(mm.T @ ww).ravel()
    eta = np.zeros(mm.shape[1])
    xeta = mm @ eta
    scale = None
    with np.errstate(divide="ignore"):
        scales = pop / sample_total
    if np.min(scales) > 20:
        scale = float(np.mean(scales))
        ww = ww * scale
        sample_total = sample_total * scale
    it = 1
    converged = False
    while True:
        deriv = dfun(xeta)
        tmat = (mm.T @ mm.multiply((ww * deriv)[:, None]).tocsr()).toarray()
        misfit = pop - sample_total - np.asarray(mm.T @ (ww * fm1(xeta))).ravel()
        deta = sym_pinv(tmat, rcond=256 * np.finfo(float).eps) @ misfit
        eta = eta + deta
        xeta = mm @ eta
        g = 1 + fm1(xeta)
        deriv = dfun(xeta)
        while it < max_iter and not (np.all(np.isfinite(g)) and np.all(np.isfinite(deriv))):
            it += 1
            deta = deta / 2
            eta = eta - deta
            xeta = mm @ eta
            g = 1 + fm1(xeta)
            deriv = dfun(xeta)
        misfit = pop - sample_total - np.asarray(mm.T @ (ww * fm1(xeta))).ravel()
        if np.all(np.abs(misfit) / (1 + np.abs(pop)) < epsilon):
            converged = True
            break
        it += 1
        if it > max_iter:
            break
    g = 1 + fm1(xeta)
    if scale is not None:
        g = g * scale
    return g, converged, it
