"""Taylor-linearisation variance for stratified multi-stage designs, as R's ``survey`` computes it.

The estimators in :mod:`meting.design` reduce every statistic to influence values ``u`` (one row
per respondent, one column per estimate).  This module turns them into variances:

1. Calibration (post-stratification, raking, GREG calibration) replaces ``u`` by residuals, exactly
   as ``survey::svyrecvar`` does for ``design$postStrata``: within-post-stratum centring, ten rounds
   of alternating centring for a raked design, and residuals of the calibration regression.
   The residuals are kept in *coefficient form* ``z = u - sum_t diag(s_t) G_t a_t`` so that many
   domain columns never become an ``n x D`` dense matrix.
2. Per stage, PSU totals of ``z`` are centred within strata and summed with the stratum weights of
   ``survey:::onestrat`` (finite population correction ``(N - n) / N``, factor ``n / (n - 1)``,
   lonely-PSU rules of ``options(survey.lonely.psu)``).  Later stages enter only where an fpc is
   given for them, weighted by the sampling fractions of the stages above (``survey:::multistage``).

Small problems form the residual matrix directly (and give the full covariance matrix); large
domain problems use the expanded sum of squares (Gram form) and give the variances only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import cast

import numpy as np
import scipy.sparse as sp

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


# ----------------------------------------------------------------------------------------------
# calibration residuals
# ----------------------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class Projection:
    """One residualising step ``z <- z - diag(s) G a`` with ``a = M G' diag(r) z``.

    Attributes
    ----------
    g : scipy.sparse.csr_matrix or None
        Regressors (n x H): the calibration model matrix; None for cell indicators given by
        ``cells`` (formed only when a sparse product needs them, see :attr:`matrix`).
    r : numpy.ndarray
        Row factors applied before projecting.
    s : numpy.ndarray
        Row factors applied to the fitted part (the weights after the step).
    m : numpy.ndarray
        Inverse cross-product: a vector (diagonal) or an H x H matrix.
    cells : numpy.ndarray, optional
        Cell code of every row when the regressors are the indicators of one categorical
        margin (post-strata, a raking margin): products with them become group sums
        (``bincount``) and lookups, the same sums in the same order as the sparse products.
    """

    g: sp.csr_matrix | None
    r: np.ndarray
    s: np.ndarray
    m: np.ndarray
    cells: np.ndarray | None = None

    @cached_property
    def matrix(self) -> sp.csr_matrix:
        """The regressors as a sparse matrix (the indicators of ``cells`` when ``g`` is None)."""
        if self.g is not None:
            return self.g
        return _indicator(cast("np.ndarray", self.cells))

    @property
    def n_cols(self) -> int:
        """Number of regressors H."""
        if self.g is not None:
            return int(self.g.shape[1])
        return int(self.m.shape[0])

    def apply_m(self, b: np.ndarray) -> np.ndarray:
        """Multiply ``b`` (H x k) by the inverse cross-product."""
        if self.m.ndim == 1:
            return self.m[:, None] * b
        return self.m @ b


@dataclass(frozen=True, eq=False)
class CalibrationRecord:
    """What a weighting step means for the variance: projections applied in a schedule.

    ``schedule`` lists indices into ``projections`` in the order they are applied: one entry for
    post-stratification and GREG calibration, ten rounds over the margins for raking (as
    ``survey::svyrecvar`` does for a ``raking`` object).
    """

    kind: str
    projections: tuple[Projection, ...]
    schedule: tuple[int, ...] = field(default=())


def poststrat_record(cells: np.ndarray, old_w: np.ndarray, new_w: np.ndarray) -> CalibrationRecord:
    """Variance record of ``postStratify``: centring within post-strata (survey's psmeans)."""
    h = int(cells.max()) + 1 if cells.size else 0
    safe_new = np.where((new_w == 0) & (old_w == 0), 1.0, new_w)
    with np.errstate(divide="ignore"):
        m = 1.0 / np.bincount(cells, weights=old_w, minlength=h)
    proj = Projection(g=None, r=old_w / safe_new, s=safe_new, m=m, cells=cells)
    return CalibrationRecord(kind="poststratify", projections=(proj,), schedule=(0,))


def raking_record(
    margins: list[tuple[np.ndarray, np.ndarray]], rounds: int = 10
) -> CalibrationRecord:
    """Variance record of ``rake``: alternating unweighted centring of ``z / w_k`` per margin.

    Parameters
    ----------
    margins : list of (cells, weights)
        Cell codes of each margin and the weights just after that margin was fitted in the last
        raking sweep.
    rounds : int
        Rounds of alternation; ``survey`` uses 10.
    """
    projs = []
    for cells, w in margins:
        h = int(cells.max()) + 1 if cells.size else 0
        counts = np.bincount(cells, minlength=h).astype(float)
        safe = np.where(w == 0, 1.0, w)
        projs.append(Projection(g=None, r=1.0 / safe, s=safe, m=1.0 / counts, cells=cells))
    schedule = tuple(k for _ in range(rounds) for k in range(len(projs)))
    return CalibrationRecord(kind="rake", projections=tuple(projs), schedule=schedule)


def greg_record(mm: sp.csr_matrix, old_w: np.ndarray, g_factor: np.ndarray) -> CalibrationRecord:
    """Variance record of ``calibrate``: residuals of the regression on the calibration model.

    ``survey`` stores ``qr(mm * sqrt(w))`` and ``g * sqrt(w)``; the residual of ``x / (g sqrt(w))``
    on ``mm sqrt(w)``, times ``g sqrt(w)``, is ``x - (g w) mm (mm' W mm)^+ mm' (x / g)``.
    """
    xtwx = (mm.T @ mm.multiply(old_w[:, None]).tocsr()).toarray()
    m = sym_pinv(xtwx)
    proj = Projection(g=mm, r=1.0 / g_factor, s=g_factor * old_w, m=m)
    return CalibrationRecord(kind="calibrate", projections=(proj,), schedule=(0,))


def sym_pinv(a: np.ndarray, rcond: float = 1e-10) -> np.ndarray:
    """Pseudo-inverse of a symmetric positive semi-definite matrix, after equilibration."""
    d = np.sqrt(np.abs(np.diag(a)))
    d = np.where(d > 0, 1.0 / np.where(d > 0, d, 1.0), 1.0)
    inner = np.linalg.pinv(a * d[:, None] * d[None, :], rcond=rcond, hermitian=True)
    return inner * d[:, None] * d[None, :]


def _indicator(cells: np.ndarray) -> sp.csr_matrix:
    n = cells.size
    h = int(cells.max()) + 1 if n else 0
    return sp.csr_matrix((np.ones(n), (np.arange(n), cells)), shape=(n, h))


def _dense(m: np.ndarray | sp.spmatrix) -> np.ndarray:
    return cast("sp.spmatrix", m).toarray() if sp.issparse(m) else np.asarray(m)


def _scale_rows(m: np.ndarray | sp.spmatrix, v: np.ndarray) -> np.ndarray | sp.csr_matrix:
    if sp.issparse(m):
        return sp.csr_matrix(cast("sp.spmatrix", m).multiply(v[:, None]))
    return m * v[:, None]


def _coefficients(
    u: np.ndarray | sp.csr_matrix, records: tuple[CalibrationRecord, ...]
) -> list[tuple[Projection, np.ndarray]]:
    """Run every calibration schedule in coefficient form; return (projection, a) pairs."""
    terms: list[tuple[Projection, np.ndarray]] = []
    cross: dict[tuple[int, int], sp.csr_matrix] = {}
    k = u.shape[1]
    # few columns: group sums of dense columns for categorical margins (no sparse products)
    columns = _dense(u) if k <= _FEW_COLUMNS else None
    for record in records:
        base = len(terms)
        for p in record.projections:
            terms.append((p, np.zeros((p.n_cols, k))))
        gu = {}
        for step in record.schedule:
            t = base + step
            p, _ = terms[t]
            if step not in gu:
                gu[step] = _project(p, u, columns)
            b = gu[step].copy()
            for t2 in range(len(terms)):
                p2, a2 = terms[t2]
                if not a2.any():
                    continue
                key = (t, t2)
                if key not in cross:
                    cross[key] = _cross(p, p2)
                b -= cross[key] @ a2
            terms[t] = (p, terms[t][1] + p.apply_m(b))
    return terms


#: Most influence columns for which margin sums are taken column by column with ``bincount``.
_FEW_COLUMNS = 8
#: Largest H1 x H2 cell table of two margins counted densely with ``bincount``.
_CROSS_LIMIT = 4_000_000


def _project(
    p: Projection, u: np.ndarray | sp.csr_matrix, columns: np.ndarray | None
) -> np.ndarray:
    """``G' diag(r) u`` (H x k): per-cell sums for a categorical margin, else a sparse product."""
    if p.cells is not None and columns is not None:
        h = p.n_cols
        out = np.empty((h, columns.shape[1]))
        for j in range(columns.shape[1]):
            out[:, j] = np.bincount(p.cells, weights=columns[:, j] * p.r, minlength=h)
        return out
    return _dense(p.matrix.T @ _scale_rows(u, p.r))


def _cross(p: Projection, p2: Projection) -> sp.csr_matrix:
    """``G' diag(r s2) G2`` (H x H2), as a sparse matrix (its product keeps the sparse order)."""
    h, h2 = p.n_cols, p2.n_cols
    if p.cells is not None and p2.cells is p.cells:  # one margin with itself: diagonal
        diag = np.bincount(p.cells, weights=p.r * p2.s, minlength=h)
        return sp.csr_matrix(sp.diags(diag))
    if p.cells is not None and p2.cells is not None and h * h2 <= _CROSS_LIMIT:
        table = np.bincount(p.cells * h2 + p2.cells, weights=p.r * p2.s, minlength=h * h2)
        return sp.csr_matrix(table.reshape(h, h2))
    return sp.csr_matrix(p.matrix.T @ p2.matrix.multiply((p.r * p2.s)[:, None]))


def _fitted(p: Projection, a: np.ndarray) -> np.ndarray:
    """``G a`` (n x k): a lookup of the cell coefficients for a categorical margin."""
    if p.cells is not None:
        return a[p.cells]
    return _dense(p.matrix @ a)


def residuals(
    u: np.ndarray | sp.csr_matrix, records: tuple[CalibrationRecord, ...]
) -> np.ndarray | sp.csr_matrix:
    """Influence values after calibration, as a matrix (for small problems and for tests)."""
    if not records:
        return u
    z = _dense(u).astype(float, copy=True)
    for p, a in _coefficients(u, records):
        z -= p.s[:, None] * _fitted(p, a)
    return z


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
    if covariance or n * k <= _DENSE_LIMIT:
        z = residuals(u, records)
        parts = [_stage_dense(z, stage, covariance) for stage in structure.stages]
    else:
        terms = _coefficients(u, records)
        parts = [_stage_gram(u, terms, stage) for stage in structure.stages]
    if stage1_factor is not None:
        ratio = np.asarray(stage1_factor, dtype=float) / structure.stages[0].average_factor
        parts[0] = parts[0] * (np.sqrt(np.outer(ratio, ratio)) if covariance else ratio)
    return np.sum(parts, axis=0)


def _group_sums(codes: np.ndarray, x: np.ndarray, size: int) -> np.ndarray:
    """Column sums of ``x`` (n x k) within the groups ``codes``: ``indicator(codes)' @ x``."""
    out = np.empty((size, x.shape[1]))
    for j in range(x.shape[1]):
        out[:, j] = np.bincount(codes, weights=x[:, j], minlength=size)
    return out


def _stage_dense(z: np.ndarray | sp.csr_matrix, stage: Stage, covariance: bool) -> np.ndarray:
    kappa_j = stage.kappa[stage.stratum_of_psu]
    n_strata = stage.kappa.size
    n_psu = stage.stratum_of_psu.size
    t: np.ndarray | sp.csr_matrix
    big_t: np.ndarray | sp.csr_matrix
    if not sp.issparse(z) and z.shape[1] <= _FEW_COLUMNS:
        t = _group_sums(stage.psu, np.asarray(z), n_psu)  # PSU totals (J x k)
        big_t = _group_sums(stage.stratum_of_psu, t, n_strata)  # stratum totals
    else:
        t = stage.psu_matrix.T @ z  # PSU totals (J x k)
        s = sp.csr_matrix(
            (np.ones(n_psu), (np.arange(n_psu), stage.stratum_of_psu)),
            shape=(n_psu, n_strata),
        )
        big_t = s.T @ t  # stratum totals
    w_h = np.where(stage.centre, stage.kappa / stage.n_psu, 0.0)
    if covariance:
        t = _dense(t)
        big_t = _dense(big_t)
        return (t * kappa_j[:, None]).T @ t - (big_t * w_h[:, None]).T @ big_t
    if sp.issparse(t):
        t, big_t = cast("sp.csr_matrix", t), cast("sp.csr_matrix", big_t)
        first = np.asarray(t.multiply(t).T @ kappa_j).ravel()
        second = np.asarray(big_t.multiply(big_t).T @ w_h).ravel()
    else:
        first = kappa_j @ (t * t)
        big_t = _dense(big_t)
        second = w_h @ (big_t * big_t)
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
    kcu = _scale_rows(cu, kappa_j)
    for (_, a), q in zip(terms, qs, strict=True):
        out -= 2.0 * np.einsum("hk,hk->k", a, _dense(q.T @ kcu))
    for i, ((_, a), q) in enumerate(zip(terms, qs, strict=True)):
        kq = _scale_rows(q, kappa_j)
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
        big_t = _dense(su[:, lo:hi]).astype(float)
        for (_, a), q in zip(terms, sq, strict=True):
            big_t -= q @ a[:, lo:hi]
        out[lo:hi] -= w_h @ (big_t * big_t)
    return out
