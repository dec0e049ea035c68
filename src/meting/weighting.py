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

import warnings
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np
import pandas as pd
import scipy.sparse as sp

from meting.design import SurveyDesign, WeightingRecord
from meting.errors import ConvergenceError, DesignError
from meting.variance import greg_record, poststrat_record, raking_record, sym_pinv

MarginKey = str | tuple[str, ...]
Targets = Mapping | pd.Series
INTERCEPT = "(Intercept)"


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
        cells, levels, tgt = _margin_cells(design, key, target)
        got = np.bincount(cells, weights=design.w, minlength=len(levels))
        for lev, t, a in zip(levels, tgt, got, strict=True):
            rows.append(
                {"margin": _key_name(key), "level": lev, "target": t, "achieved": a, "gap": a - t}
            )
    return pd.DataFrame(rows, columns=["margin", "level", "target", "achieved", "gap"])


def _report(
    method: str, design: SurveyDesign, converged: bool, iterations: int, gap: float
) -> WeightingReport:
    w = design.w
    return WeightingReport(
        method=method,
        converged=converged,
        iterations=iterations,
        max_margin_gap=float(gap),
        weight_min=float(w.min()),
        weight_max=float(w.max()),
        kish_deff=kish_deff(w),
        effective_n=effective_n(w),
        n=design.n,
    )


# ----------------------------------------------------------------------------------------------
# target validation
# ----------------------------------------------------------------------------------------------
def group_codes(data: pd.DataFrame, cols: list[str]) -> tuple[np.ndarray, list[tuple]]:
    """Codes of the combinations of ``cols`` (sorted), and the combinations as tuples.

    Vectorised: each column is factorised once and the codes are combined arithmetically, so no
    per-row tuples are built (a MultiIndex would materialise a million of them).
    """
    per_col = [pd.factorize(data[c], sort=True) for c in cols]
    combined = np.zeros(len(data), dtype=np.int64)
    for codes, uniques in per_col:
        combined = combined * max(len(uniques), 1) + codes
    span = int(combined.max()) + 1 if combined.size else 0
    if span <= 4 * len(data) + 1024:  # compact through a lookup table instead of sorting
        present = np.bincount(combined, minlength=span) > 0
        uniq = np.flatnonzero(present)
        lookup = np.cumsum(present) - 1
        inverse = lookup[combined]
    else:
        uniq, inverse = np.unique(combined, return_inverse=True)
    rest = uniq.copy()
    parts = []
    for _codes, uniques in reversed(per_col):
        size = max(len(uniques), 1)
        parts.append(np.asarray(uniques, dtype=object)[rest % size])
        rest = rest // size
    parts.reverse()
    levels = list(zip(*parts, strict=True)) if parts else []
    return inverse.astype(np.int64), [
        tuple(x.item() if hasattr(x, "item") else x for x in lv) for lv in levels
    ]


def _key_name(key: MarginKey) -> str:
    return key if isinstance(key, str) else " x ".join(key)


def _margin_cells(
    design: SurveyDesign, key: MarginKey, target: Targets, partial: bool | None = None
) -> tuple[np.ndarray, list, np.ndarray]:
    """Cell code of every row for one margin, the levels kept, and their targets.

    Raises DesignError for negative or non-finite targets, sample categories without a
    target, and target categories (with a positive total) absent from the sample unless
    ``partial`` is True (None: partial post-stratification is not offered by the caller).
    """
    cols = [key] if isinstance(key, str) else list(key)
    name = _key_name(key)
    for c in cols:
        if c not in design.data.columns:
            raise DesignError(
                f"margin column {c!r} must be a column of the design data; got columns "
                f"{sorted(map(str, design.data.columns))[:12]}. Check the spelling."
            )
        if design.data[c].isna().any():
            raise DesignError(
                f"margin column {c!r} must have no missing values; got "
                f"{int(design.data[c].isna().sum())}. Impute or give missing its own category."
            )
    if isinstance(target, pd.Series):
        target = dict(zip(target.index.tolist(), target.to_numpy(), strict=True))
    if not isinstance(target, Mapping) or not target:
        raise DesignError(
            f"targets of margin {name!r} must be a non-empty mapping level -> population count; "
            f"got {type(target).__name__}. Give e.g. {{'man': 5000, 'vrouw': 5100}}."
        )
    tgt = {
        (k if len(cols) > 1 else (k[0] if isinstance(k, tuple) and len(k) == 1 else k)): v
        for k, v in target.items()
    }
    values = np.array([float(v) for v in tgt.values()])
    if np.any(~np.isfinite(values)) or np.any(values < 0):
        bad = [k for k, v in tgt.items() if not np.isfinite(float(v)) or float(v) < 0]
        raise DesignError(
            f"target of margin {name!r} must be a finite count >= 0; got "
            f"{bad[0]!r}: {tgt[bad[0]]!r}. Correct the population table."
        )
    codes, uniq_list = group_codes(design.data, cols)
    if len(cols) == 1:
        uniq_list = [lv[0] for lv in uniq_list]
    missing = [lv for lv in uniq_list if lv not in tgt or float(tgt[lv]) == 0]
    if missing:
        raise DesignError(
            f"every category of margin {name!r} in the sample must have a positive target; got "
            f"{len(missing)} without one: {missing[:5]}. Add them to the targets or recode them."
        )
    present = set(uniq_list)
    absent = [k for k, v in tgt.items() if k not in present and float(v) > 0]
    if absent and not partial:
        raise DesignError(
            f"every target category of margin {name!r} must occur in the sample; got "
            f"{len(absent)} absent: {absent[:5]}. Collapse them with a neighbouring category"
            + (
                ", or pass partial=True to leave them out (R's postStratify(partial = TRUE))."
                if partial is not None
                else "."
            )
        )
    targets = np.array([float(tgt[lv]) for lv in uniq_list])
    return codes.astype(np.int64), uniq_list, targets


# ----------------------------------------------------------------------------------------------
# post-stratification and raking
# ----------------------------------------------------------------------------------------------
def poststratify(
    design: SurveyDesign, strata: MarginKey, population: Targets, partial: bool = False
) -> tuple[SurveyDesign, WeightingReport]:
    """Post-stratify to known population counts (``survey::postStratify``).

    Parameters
    ----------
    design : SurveyDesign
        The design to weight.
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
    cells, levels, targets = _margin_cells(design, strata, population, partial=bool(partial))
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
    return out, _report("poststratify", out, True, 1, gap)


def _check_same_total(margins: list[tuple[str, np.ndarray]], rtol: float = 1e-6) -> None:
    totals = [(name, t.sum()) for name, t in margins]
    ref_name, ref = totals[0]
    for name, tot in totals[1:]:
        if abs(tot - ref) > rtol * max(abs(ref), 1.0):
            raise DesignError(
                f"all margins must add up to the same population total; got {ref:g} for "
                f"{ref_name!r} and {tot:g} for {name!r}. Take every margin from one population "
                "table (same date and area division)."
            )


def rake(
    design: SurveyDesign,
    margins: Mapping[MarginKey, Targets],
    max_iter: int = 100,
    epsilon: float = 1e-10,
    strict: bool = True,
) -> tuple[SurveyDesign, WeightingReport]:
    """Rake to population margins by iterative proportional fitting (``survey::rake``).

    One sweep post-stratifies on each margin in turn.  As in ``survey``, the iteration stops
    when the weighted cross-table of all raking variables changes by less than ``epsilon``
    between sweeps (``epsilon < 1`` is relative to the sum of the weights, otherwise absolute).
    The standard errors use ``survey``'s raking linearisation.

    Parameters
    ----------
    design : SurveyDesign
        The design to weight.
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
    if not margins:
        raise DesignError("margins must name at least one margin; got none. Pass {col: targets}.")
    parsed = [(k, *_margin_cells(design, k, t)) for k, t in margins.items()]
    _check_same_total([(_key_name(k), t) for k, _, _, t in parsed])
    w = design.w.copy()
    tol = epsilon * w.sum() if epsilon < 1 else epsilon
    allcols: list[str] = []
    for k, *_ in parsed:
        allcols += [k] if isinstance(k, str) else list(k)
    joint, _ = group_codes(design.data, list(dict.fromkeys(allcols)))
    n_joint = int(joint.max()) + 1
    old_table = np.bincount(joint, weights=w, minlength=n_joint)
    converged = False
    it = 0
    last: list[tuple[np.ndarray, np.ndarray]] = []
    while it < max_iter:
        last = []
        for _, cells, levels, targets in parsed:
            sample = np.bincount(cells, weights=w, minlength=len(levels))
            w = w * (targets / sample)[cells]
            last.append((cells, w))
        new_table = np.bincount(joint, weights=w, minlength=n_joint)
        delta = np.max(np.abs(new_table - old_table))
        it += 1
        if delta < tol:
            converged = True
            break
        old_table = new_table
    gap = max(
        np.max(np.abs(np.bincount(c, weights=w, minlength=len(lv)) - t)) for _, c, lv, t in parsed
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
    rec = raking_record(last)
    out = replace(
        design,
        weight_values=w,
        calibration=(*design.calibration, rec),
        history=(
            *design.history,
            WeightingRecord("rake", f"rake({[_key_name(k) for k in margins]})", converged, it),
        ),
    )
    return out, _report("rake", out, converged, it, gap)


# ----------------------------------------------------------------------------------------------
# calibration
# ----------------------------------------------------------------------------------------------
def _model_matrix(
    design: SurveyDesign, totals: Mapping[str, float | Targets]
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
            cells, levels, tgt = _margin_cells(design, key, target)
            blocks.append(
                sp.csr_matrix((np.ones(n), (np.arange(n), cells)), shape=(n, len(levels)))
            )
            pop += tgt.tolist()
            names += [f"{_key_name(key)}={lv}" for lv in levels]
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


def calibrate(
    design: SurveyDesign,
    totals: Mapping[str, float | Targets],
    method: Literal["linear", "raking", "logit"] = "linear",
    bounds: tuple[float, float] = (-np.inf, np.inf),
    max_iter: int = 50,
    epsilon: float = 1e-7,
    strict: bool = True,
) -> tuple[SurveyDesign, WeightingReport]:
    """Calibrate weights to population totals (``survey::calibrate``, ``grake``).

    Parameters
    ----------
    design : SurveyDesign
        The design to weight.
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
    return out, _report(label, out, converged, iters, gap)


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
    return out, _report("trim", out, converged, it, 0.0)
