"""Weighting a :class:`~meting.replicate.ReplicateDesign`: post-stratification, raking and
calibration redone in every replicate (``postStratify``, ``rake`` and ``calibrate`` on an
``svyrep.design`` in R's ``survey``).

The full-sample weights and each column of replicate weights are adjusted to the same population
targets, so the replicate variance of an estimate reflects the weighting.  As in ``survey``:

* post-stratification scales the weights of each replicate to the population count of each
  post-stratum (the replicate's own totals in the denominator);
* raking post-stratifies on each margin in turn, full sample and replicates together, and stops
  when the full-sample weighted table of the raking variables changes by less than ``epsilon``
  (the replicates get the same number of sweeps);
* calibration solves the calibration equations (``grake``) once for the full sample and once per
  replicate, with the same totals, bounds and calibration function.

Post-stratification and raking work on the table of joint cells of the margins (rows of a cell
share every factor), so a sweep costs cells x replicates, not rows x replicates; the new weights
are formed once at the end, block by block, without n x R temporaries.  The design keeps its
``type``, ``scale``, ``rscales``, ``mse`` and degrees of freedom.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import replace

import numpy as np
import scipy.sparse as sp

from meting.calibration_residuals import sym_pinv
from meting.errors import ConvergenceError, DesignError
from meting.replicate import ReplicateDesign, replicate_rank
from meting.weighting_calibration import _grake, _model_matrix
from meting.weighting_diagnostics import WeightingReport, weighting_report
from meting.weighting_margins import (
    MarginKey,
    Targets,
    check_same_total,
    design_group_codes,
    key_name,
    margin_cells,
)

_BLOCK = 1 << 15  # rows per block when the n x R weights are rescaled


def _joint_table(
    design: ReplicateDesign, joint: np.ndarray, n_joint: int
) -> tuple[np.ndarray, np.ndarray]:
    """Full-sample and replicate weight totals per joint cell: (n_joint,), (n_joint, R)."""
    reps = np.asarray(design.repweight_values)
    full = np.bincount(joint, weights=design.w, minlength=n_joint)
    ind = sp.csr_matrix(
        (np.ones(design.n), (joint, np.arange(design.n))), shape=(n_joint, design.n)
    )
    return full, np.asarray(ind @ reps)


def _rescaled(design: ReplicateDesign, joint: np.ndarray, t0: tuple, t1: tuple) -> ReplicateDesign:
    """The design with every row's weights multiplied by its joint cell's factor ``t1 / t0``."""
    with np.errstate(divide="ignore", invalid="ignore"):
        f_full = np.where(t0[0] > 0, t1[0] / t0[0], 0.0)
        f_reps = np.where(t0[1] > 0, t1[1] / t0[1], 0.0)
    reps = np.asarray(design.repweight_values)
    new = np.empty_like(reps)
    for start in range(0, design.n, _BLOCK):
        stop = min(start + _BLOCK, design.n)
        np.multiply(reps[start:stop], f_reps[joint[start:stop]], out=new[start:stop])
    return _with_weights(design, design.w * f_full[joint], new, True)


def _with_weights(
    design: ReplicateDesign, w: np.ndarray, reps: np.ndarray, new_degf: bool
) -> ReplicateDesign:
    """The design with new weights; ``new_degf``: degrees of freedom recomputed as the rank of
    the new replicate weights minus 1, as ``survey`` does after ``postStratify``, ``rake`` and
    unbounded linear ``calibrate`` (its other calibrations keep them)."""
    degf = replicate_rank(reps) - 1 if new_degf else design.degf
    return replace(design, weight_values=w, repweight_values=reps, degf=degf)


def _check_no_empty_cells(name: str, levels: list, sums: np.ndarray) -> None:
    empty = np.argwhere(sums <= 0)
    if empty.size:
        cell, rep = empty[0]
        raise DesignError(
            f"every replicate must have weight in every category of margin {name!r}; got "
            f"replicate {int(rep) + 1} with none in {levels[int(cell)]!r} ({len(empty)} such "
            "cases). Collapse that category with a neighbouring one."
        )


def _ipf(
    design: ReplicateDesign,
    parsed: list[tuple[MarginKey, np.ndarray, list, np.ndarray]],
    joint: np.ndarray,
    max_iter: int,
    tol: float,
) -> tuple[ReplicateDesign, bool, int]:
    """Iterative proportional fitting of the full sample and all replicates on the joint table."""
    n_joint = int(joint.max()) + 1
    t0 = _joint_table(design, joint, n_joint)
    full, reps = t0[0].copy(), t0[1].copy()
    first = np.full(n_joint, -1, dtype=np.int64)
    first[joint[::-1]] = np.arange(joint.size)[::-1]
    maps = []
    for key, cells, levels, targets in parsed:
        code = cells[first]  # margin cell of each joint cell
        agg = sp.csr_matrix(
            (np.ones(n_joint), (code, np.arange(n_joint))), shape=(len(levels), n_joint)
        )
        _check_no_empty_cells(key_name(key), levels, np.asarray(agg @ reps))
        maps.append((code, agg, targets))
    converged, it = False, 0
    old = full.copy()
    while it < max_iter:
        for code, agg, targets in maps:
            full = full * (targets / np.bincount(code, weights=full, minlength=targets.size))[code]
            reps = reps * (targets[:, None] / np.asarray(agg @ reps))[code]
        it += 1
        if np.max(np.abs(full - old)) < tol:
            converged = True
            break
        old = full.copy()
    return _rescaled(design, joint, t0, (full, reps)), converged, it


def poststratify_replicate(
    design: ReplicateDesign, strata: MarginKey, population: Targets, partial: bool = False
) -> tuple[ReplicateDesign, WeightingReport]:
    """:func:`meting.weighting.poststratify` of a replicate design (documented there)."""
    cells, levels, targets = margin_cells(design, strata, population, partial=bool(partial))
    out, _, _ = _ipf(design, [(strata, cells, levels, targets)], cells, 1, np.inf)
    gap = np.max(np.abs(np.bincount(cells, weights=out.w, minlength=len(levels)) - targets))
    return out, weighting_report("poststratify", out, True, 1, gap)


def rake_replicate(
    design: ReplicateDesign,
    margins: Mapping[MarginKey, Targets],
    max_iter: int = 100,
    epsilon: float = 1e-10,
    strict: bool = True,
) -> tuple[ReplicateDesign, WeightingReport]:
    """:func:`meting.weighting.rake` of a replicate design (documented there)."""
    if not margins:
        raise DesignError("margins must name at least one margin; got none. Pass {col: targets}.")
    parsed = [(k, *margin_cells(design, k, t)) for k, t in margins.items()]
    check_same_total([(key_name(k), t) for k, _, _, t in parsed])
    tol = epsilon * design.w.sum() if epsilon < 1 else epsilon
    allcols: list[str] = []
    for k, *_ in parsed:
        allcols += [k] if isinstance(k, str) else list(k)
    joint, _ = design_group_codes(design, list(dict.fromkeys(allcols)))
    out, converged, it = _ipf(design, parsed, joint, max_iter, tol)
    gap = max(
        np.max(np.abs(np.bincount(c, weights=out.w, minlength=len(lv)) - t))
        for _, c, lv, t in parsed
    )
    if not converged:
        msg = (
            f"raking must converge within max_iter={max_iter} sweeps; got a largest margin gap "
            f"of {gap:.3g} (tolerance {tol:.3g}). Raise max_iter, collapse sparse categories, "
            "or pass strict=False to accept the weights."
        )
        if strict:
            raise ConvergenceError(msg)
        warnings.warn(msg, RuntimeWarning, stacklevel=3)
    return out, weighting_report("rake", out, converged, it, gap)


def calibrate_replicate(
    design: ReplicateDesign,
    totals: Mapping,
    method: str,
    bounds: tuple[float, float],
    max_iter: int,
    epsilon: float,
    strict: bool,
) -> tuple[ReplicateDesign, WeightingReport]:
    """:func:`meting.weighting.calibrate` of a replicate design (checked and documented there)."""
    lo, hi = bounds
    mm, pop, names = _model_matrix(design, totals)
    sample_total = np.asarray(mm.T @ design.w).ravel()
    keep = ~((sample_total == 0) & (pop == 0))
    if not keep.all():
        mm, pop = mm[:, keep], pop[keep]
        names = [nm for nm, k in zip(names, keep, strict=True) if k]
    closed = bool(method == "linear" and np.isneginf(lo) and np.isposinf(hi))

    def factors(ww: np.ndarray) -> tuple[np.ndarray, bool, int]:
        if closed:
            xtwx = (mm.T @ mm.multiply(ww[:, None]).tocsr()).toarray()
            t_vec = sym_pinv(xtwx) @ (pop - np.asarray(mm.T @ ww).ravel())
            return 1 + mm @ t_vec, True, 1
        return _grake(mm, ww, pop, method, lo, hi, max_iter, epsilon)

    g, converged, iters = factors(design.w)
    reps = np.asarray(design.repweight_values)
    new = np.empty_like(reps)
    failed = []
    for r in range(reps.shape[1]):
        g_r, ok, _ = factors(np.ascontiguousarray(reps[:, r]))
        new[:, r] = reps[:, r] * g_r
        if not ok:
            failed.append(r + 1)
    achieved = np.asarray(mm.T @ (design.w * g)).ravel()
    gap = float(np.max(np.abs(achieved - pop)))
    if not converged or failed:
        worst = int(np.argmax(np.abs(achieved - pop) / (1 + np.abs(pop))))
        msg = (
            f"calibration must meet the totals within {max_iter} steps in the full sample and "
            f"every replicate; got a full-sample gap of {achieved[worst] - pop[worst]:.4g} on "
            f"{names[worst]!r} and {len(failed)} replicate(s) not converged {failed[:5]}. The "
            f"bounds {bounds!r} may be infeasible: widen them, drop a variable, or pass "
            "strict=False."
        )
        if strict:
            raise ConvergenceError(msg)
        warnings.warn(msg, RuntimeWarning, stacklevel=3)
    out = _with_weights(design, design.w * g, new, closed)
    return out, weighting_report(f"calibrate-{method}", out, converged, iters, gap)
