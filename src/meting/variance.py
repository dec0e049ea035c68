"""Taylor-linearisation variance for stratified multi-stage designs, as R's ``survey`` computes it.

The estimators in :mod:`meting.design` reduce every statistic to influence values ``u`` (one row
per respondent, one column per estimate).  This module turns them into variances:

1. Calibration (post-stratification, raking, GREG calibration) replaces ``u`` by residuals, exactly
   as ``survey::svyrecvar`` does for ``design$postStrata`` (:mod:`meting.calibration_residuals`:
   within-post-stratum centring, ten rounds of alternating centring for a raked design, and
   residuals of the calibration regression, in coefficient form).
2. Per stage, PSU totals of ``z`` are centred within strata and summed with the stratum weights of
   ``survey:::onestrat`` (finite population correction ``(N - n) / N``, factor ``n / (n - 1)``,
   lonely-PSU rules of ``options(survey.lonely.psu)``).  Later stages enter only where an fpc is
   given for them, weighted by the sampling fractions of the stages above (``survey:::multistage``).

Small problems form the residual matrix directly (and give the full covariance matrix); large
domain problems use the expanded sum of squares (Gram form) and give the variances only.
"""

from __future__ import annotations

from typing import cast

import numpy as np
import scipy.sparse as sp

from meting.calibration_residuals import (
    FEW_COLUMNS,
    CalibrationRecord,
    JointCells,
    JointFactors,
    Projection,
    coefficients,
    dense,
    greg_record,
    group_sums,
    poststrat_record,
    raking_record,
    residuals,
    scale_rows,
    sym_pinv,
)
from meting.design_structure import (
    LONELY_PSU_OPTIONS,
    DesignStructure,
    LonelyPsu,
    Stage,
    build_structure,
    degf,
)

__all__ = [
    "LONELY_PSU_OPTIONS",
    "CalibrationRecord",
    "DesignStructure",
    "JointCells",
    "JointFactors",
    "LonelyPsu",
    "Projection",
    "Stage",
    "build_structure",
    "degf",
    "greg_record",
    "linearised_variance",
    "poststrat_record",
    "raking_record",
    "residuals",
    "sym_pinv",
]


#: Largest n x k residual matrix formed directly; beyond this the Gram form is used.
_DENSE_LIMIT = 20_000_000
#: Columns per block when many variances are wanted at once (their results do not depend on it).
VARIANCE_BLOCK = 2048


# ----------------------------------------------------------------------------------------------
# variance
# ----------------------------------------------------------------------------------------------
def linearised_variance(
    u: np.ndarray | sp.csr_matrix,
    structure: DesignStructure,
    records: tuple[CalibrationRecord, ...] = (),
    covariance: bool = False,
    stage1_factor: np.ndarray | None = None,
) -> np.ndarray:
    """Variance of the totals of the influence columns ``u`` under the design.

    Parameters
    ----------
    u : numpy.ndarray or scipy.sparse.csr_matrix
        Influence values, n x k (rows of respondents, one column per estimate).
    structure : DesignStructure
        The stages of the design.
    records : tuple of CalibrationRecord
        Weighting steps, in the order they were done.
    covariance : bool
        Return the k x k covariance matrix (forms the residuals densely; for small k).
    stage1_factor : numpy.ndarray, optional
        Per-column ``average`` rescaling of the first stage, replacing the one over all strata
        (``svyby`` on an uncalibrated design counts only the strata present in the domain).

    Returns
    -------
    numpy.ndarray
        Variances (k,) or the covariance matrix (k, k).
    """
    if u.ndim == 1:
        u = u[:, None]
    n, k = u.shape
    if not covariance and k > VARIANCE_BLOCK and n * k > _DENSE_LIMIT:
        # each column's variance depends on that column alone: in blocks, the calibration's
        # coefficient arrays (margin cells x columns) stay small (the chain view of a national
        # wave, 59.000 columns on a 443-cell margin: 7,7 s in one go, 3,3 s in blocks of 2.048)
        cols = sp.csc_matrix(u) if sp.issparse(u) else u
        return np.concatenate(
            [
                linearised_variance(
                    sp.csr_matrix(cols[:, j : j + VARIANCE_BLOCK]) if sp.issparse(u)
                    else cols[:, j : j + VARIANCE_BLOCK],
                    structure, records, False,
                    None if stage1_factor is None else stage1_factor[j : j + VARIANCE_BLOCK],
                )
                for j in range(0, k, VARIANCE_BLOCK)
            ]
        )  # fmt: skip
    if covariance or n * k <= _DENSE_LIMIT:
        z = residuals(u, records)
        parts = [_stage_dense(z, stage, covariance) for stage in structure.stages]
    else:
        terms = coefficients(u, records)
        parts = [_stage_gram(u, terms, stage) for stage in structure.stages]
    if stage1_factor is not None:
        ratio = np.asarray(stage1_factor, dtype=float) / structure.stages[0].average_factor
        parts[0] = parts[0] * (np.sqrt(np.outer(ratio, ratio)) if covariance else ratio)
    return np.sum(parts, axis=0)


def _stage_dense(z: np.ndarray | sp.csr_matrix, stage: Stage, covariance: bool) -> np.ndarray:
    n_strata = stage.kappa.size
    n_psu = stage.stratum_of_psu.size
    w_h = np.where(stage.centre, stage.kappa / stage.n_psu, 0.0)
    if not sp.issparse(z) and z.shape[1] <= FEW_COLUMNS:
        z = np.asarray(z)
        # PSU totals (J x k; the rows themselves when every row is its own unit), stratum totals
        t = z if stage.rows_are_units else group_sums(stage.psu, z, n_psu)
        big = group_sums(stage.stratum_of_psu, t, n_strata)
        if covariance:
            kappa_j = stage.kappa[stage.stratum_of_psu]
            return (t * kappa_j[:, None]).T @ t - (big * w_h[:, None]).T @ big
        first = stage.kappa @ group_sums(stage.stratum_of_psu, t * t, n_strata)
        return first - w_h @ (big * big)
    kappa_j = stage.kappa[stage.stratum_of_psu]
    t_sp = stage.psu_matrix.T @ z  # PSU totals (J x k)
    s = sp.csr_matrix(
        (np.ones(n_psu), (np.arange(n_psu), stage.stratum_of_psu)),
        shape=(n_psu, n_strata),
    )
    big_t = s.T @ t_sp  # stratum totals
    if covariance:
        t_d, big_d = dense(t_sp), dense(big_t)
        return (t_d * kappa_j[:, None]).T @ t_d - (big_d * w_h[:, None]).T @ big_d
    if sp.issparse(t_sp):
        t_sp, big_t = cast("sp.csr_matrix", t_sp), cast("sp.csr_matrix", big_t)
        first = np.asarray(t_sp.multiply(t_sp).T @ kappa_j).ravel()
        second = np.asarray(big_t.multiply(big_t).T @ w_h).ravel()
    else:
        first = kappa_j @ (t_sp * t_sp)
        big_d = dense(big_t)
        second = w_h @ (big_d * big_d)
    return first - second


def _stage_gram(
    u: np.ndarray | sp.csr_matrix, terms: list[tuple[Projection, np.ndarray]], stage: Stage
) -> np.ndarray:
    """Variance for many columns without forming the residual matrix (diagonal only)."""
    c = stage.psu_matrix
    kappa_j = stage.kappa[stage.stratum_of_psu]
    cu = sp.csr_matrix(c.T @ u) if sp.issparse(u) else c.T @ u
    if sp.issparse(cu):
        out = np.asarray(cu.multiply(cu).T @ kappa_j).ravel()
    else:
        out = kappa_j @ (cu * cu)
    qs = [sp.csr_matrix(c.T @ p.matrix.multiply(p.s[:, None])) for p, _ in terms]
    kcu = scale_rows(cu, kappa_j)
    for (_, a), q in zip(terms, qs, strict=True):
        out -= 2.0 * np.einsum("hk,hk->k", a, dense(q.T @ kcu))
    for i, ((_, a), q) in enumerate(zip(terms, qs, strict=True)):
        kq = scale_rows(q, kappa_j)
        for (_, a2), q2 in zip(terms[i:], qs[i:], strict=True):
            cross = sp.csr_matrix(kq.T @ q2)
            part = np.einsum("hk,hk->k", a, cross @ a2)
            out += part if q2 is q else 2.0 * part
    # stratum totals, in column blocks
    n_strata = stage.kappa.size
    s = sp.csr_matrix(
        (np.ones(kappa_j.size), (np.arange(kappa_j.size), stage.stratum_of_psu)),
        shape=(kappa_j.size, n_strata),
    )
    w_h = np.where(stage.centre, stage.kappa / stage.n_psu, 0.0)
    su = s.T @ cu
    sq = [sp.csr_matrix(s.T @ q) for q in qs]
    k = u.shape[1]
    block = max(1, _DENSE_LIMIT // max(n_strata, 1))
    for lo in range(0, k, block):
        hi = min(k, lo + block)
        big_t = dense(su[:, lo:hi]).astype(float)
        for (_, a), q in zip(terms, sq, strict=True):
            big_t -= q @ a[:, lo:hi]
        out[lo:hi] -= w_h @ (big_t * big_t)
    return out
