"""Calibration residuals of influence values, as R's ``survey::svyrecvar`` forms them.

Post-stratification, raking and GREG calibration each leave a :class:`CalibrationRecord` on the
design; the variance (:mod:`meting.variance`) replaces the influence values ``u`` by residuals:
within-post-stratum centring, ten rounds of alternating centring for a raked design, residuals
of the calibration regression.  They are kept in *coefficient form*
``z = u - sum_t diag(s_t) G_t a_t`` so that many domain columns never become an ``n x D`` dense
matrix.

The projections of a raking margin are held on the joint cells of all raking variables
(:class:`JointCells`): there the row factors ``r = 1 / w_k`` and ``s = w_k`` (the weights after
fitting margin ``k``) are a per-cell factor times the row's weight before raking, so the cross
tables of two margins, the margin sums of ``u / w_k`` and the fitted values are sums over the
cells (thousands) instead of over the rows (millions); only ``u / w`` is summed over the rows,
once for all margins.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import cast

import numpy as np
import scipy.sparse as sp

__all__ = [
    "CalibrationRecord",
    "JointCells",
    "JointFactors",
    "Projection",
    "coefficients",
    "greg_record",
    "poststrat_record",
    "raking_record",
    "residuals",
    "sym_pinv",
]

#: Most influence columns for which margin sums are taken column by column with ``bincount``.
FEW_COLUMNS = 8
#: Largest H1 x H2 cell table of two margins counted densely with ``bincount``.
_CROSS_LIMIT = 4_000_000
#: Largest H1 x H2 x k product with a cross table done densely (else the table is sparse).
_DENSE_CROSS = 10_000_000


@dataclass(frozen=True, eq=False)
class JointCells:
    """Rows grouped in cells within which the row factors of some projections are one per-cell
    factor times a row part (``base``).

    Attributes
    ----------
    codes : numpy.ndarray
        Cell of every row (n,).
    base : numpy.ndarray
        Row part (n,): the weights before raking (1 for rows of weight 0, which sit in cells of
        their own).
    counts : numpy.ndarray
        Rows per cell (float).
    """

    codes: np.ndarray
    base: np.ndarray
    counts: np.ndarray

    @property
    def size(self) -> int:
        """Number of cells."""
        return int(self.counts.size)


@dataclass(frozen=True, eq=False)
class JointFactors:
    """A projection's cells and row factors on :class:`JointCells`: the row factors are
    ``r = r_cell[codes] / base`` and ``s = s_cell[codes] * base``; ``code`` is the projection's
    cell (margin level) of every joint cell."""

    cells: JointCells
    code: np.ndarray
    r_cell: np.ndarray
    s_cell: np.ndarray


@dataclass(frozen=True, eq=False)
class Projection:
    """One residualising step ``z <- z - diag(s) G a`` with ``a = M G' diag(r) z``.

    Attributes
    ----------
    g : scipy.sparse.csr_matrix or None
        Regressors (n x H): the calibration model matrix; None for cell indicators given by
        ``cells`` (formed only when a sparse product needs them, see :attr:`matrix`).
    m : numpy.ndarray
        Inverse cross-product: a vector (diagonal) or an H x H matrix.
    cells : numpy.ndarray, optional
        Cell code of every row when the regressors are the indicators of one categorical
        margin (post-strata, a raking margin): products with them become group sums
        (``bincount``) and lookups.
    rows : (numpy.ndarray, numpy.ndarray), optional
        The row factors ``(r, s)``: ``r`` applied before projecting, ``s`` to the fitted part
        (the weights after the step).  None when ``joint`` gives them.
    joint : JointFactors, optional
        The row factors on joint cells (raking margins).
    """

    g: sp.csr_matrix | None
    m: np.ndarray
    cells: np.ndarray | None = None
    rows: tuple[np.ndarray, np.ndarray] | None = None
    joint: JointFactors | None = None

    @cached_property
    def r(self) -> np.ndarray:
        """Row factors applied before projecting (n,)."""
        if self.rows is not None:
            return self.rows[0]
        jf = cast("JointFactors", self.joint)
        return jf.r_cell[jf.cells.codes] / jf.cells.base

    @cached_property
    def s(self) -> np.ndarray:
        """Row factors applied to the fitted part (n,)."""
        if self.rows is not None:
            return self.rows[1]
        jf = cast("JointFactors", self.joint)
        return jf.s_cell[jf.cells.codes] * jf.cells.base

    @cached_property
    def matrix(self) -> sp.csr_matrix:
        """The regressors as a sparse matrix (the indicators of ``cells`` when ``g`` is None)."""
        if self.g is not None:
            return self.g
        return indicator(cast("np.ndarray", self.cells))

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
    proj = Projection(g=None, rows=(old_w / safe_new, safe_new), m=m, cells=cells)
    return CalibrationRecord(kind="poststratify", projections=(proj,), schedule=(0,))


def raking_record(
    joint: np.ndarray,
    counts: np.ndarray,
    w0: np.ndarray,
    margins: list[tuple[np.ndarray, np.ndarray, np.ndarray]],
    rounds: int = 10,
) -> CalibrationRecord:
    """Variance record of ``rake``: alternating unweighted centring of ``z / w_k`` per margin.

    Parameters
    ----------
    joint : numpy.ndarray
        Joint cell of all raking variables of every row (0 .. J - 1).
    counts : numpy.ndarray
        Rows per joint cell (J,).
    w0 : numpy.ndarray
        The weights before raking.
    margins : list of (cells, code, g)
        Per margin: its cell of every row (n,), its cell of every joint cell (J,) and the
        raking factor of every joint cell just after that margin was fitted in the last sweep
        (J,): the weights then are ``w_k = w0 * g[joint]``.
    rounds : int
        Rounds of alternation; ``survey`` uses 10.
    """
    n_joint = counts.size
    zero = w0 == 0
    if zero.any():  # rows of weight 0 (factors 1 in the variance) in cells of their own
        codes = joint + n_joint * zero
        cells = JointCells(
            codes=codes,
            base=np.where(zero, 1.0, w0),
            counts=np.bincount(codes, minlength=2 * n_joint).astype(float),
        )
    else:
        cells = JointCells(codes=joint, base=w0, counts=counts)
    projs = []
    for row_cells, code, g in margins:
        if cells.size > n_joint:
            code, g = np.concatenate([code, code]), np.concatenate([g, np.ones(n_joint)])
        h = int(code.max()) + 1 if code.size else 0
        counts = np.bincount(code, weights=cells.counts, minlength=h)
        factors = JointFactors(cells=cells, code=code, r_cell=1.0 / g, s_cell=g)
        projs.append(Projection(g=None, m=1.0 / counts, cells=row_cells, joint=factors))
    schedule = tuple(k for _ in range(rounds) for k in range(len(projs)))
    return CalibrationRecord(kind="rake", projections=tuple(projs), schedule=schedule)


def greg_record(mm: sp.csr_matrix, old_w: np.ndarray, g_factor: np.ndarray) -> CalibrationRecord:
    """Variance record of ``calibrate``: residuals of the regression on the calibration model.

    ``survey`` stores ``qr(mm * sqrt(w))`` and ``g * sqrt(w)``; the residual of ``x / (g sqrt(w))``
    on ``mm sqrt(w)``, times ``g sqrt(w)``, is ``x - (g w) mm (mm' W mm)^+ mm' (x / g)``.
    """
    xtwx = (mm.T @ mm.multiply(old_w[:, None]).tocsr()).toarray()
    m = sym_pinv(xtwx)
    proj = Projection(g=mm, rows=(1.0 / g_factor, g_factor * old_w), m=m)
    return CalibrationRecord(kind="calibrate", projections=(proj,), schedule=(0,))


def sym_pinv(a: np.ndarray, rcond: float = 1e-10) -> np.ndarray:
    """Pseudo-inverse of a symmetric positive semi-definite matrix, after equilibration."""
    d = np.sqrt(np.abs(np.diag(a)))
    d = np.where(d > 0, 1.0 / np.where(d > 0, d, 1.0), 1.0)
    inner = np.linalg.pinv(a * d[:, None] * d[None, :], rcond=rcond, hermitian=True)
    return inner * d[:, None] * d[None, :]


# ----------------------------------------------------------------------------------------------
# products
# ----------------------------------------------------------------------------------------------
def indicator(cells: np.ndarray, size: int | None = None) -> sp.csr_matrix:
    """Row-by-cell indicator matrix (n x size) of cell codes."""
    n = cells.size
    h = (int(cells.max()) + 1 if n else 0) if size is None else size
    return sp.csr_matrix((np.ones(n), (np.arange(n), cells)), shape=(n, h))


def dense(m: np.ndarray | sp.spmatrix) -> np.ndarray:
    """A dense array of a sparse matrix or array."""
    return cast("sp.spmatrix", m).toarray() if sp.issparse(m) else np.asarray(m)


def scale_rows(m: np.ndarray | sp.spmatrix, v: np.ndarray) -> np.ndarray | sp.csr_matrix:
    """``diag(v) m``, sparse for a sparse ``m``."""
    if sp.issparse(m):
        return sp.csr_matrix(cast("sp.spmatrix", m).multiply(v[:, None]))
    return m * v[:, None]


def group_sums(codes: np.ndarray, x: np.ndarray, size: int) -> np.ndarray:
    """Column sums of ``x`` (n x k) within the groups ``codes``: ``indicator(codes)' @ x``."""
    if size == 1:
        return x.sum(axis=0, keepdims=True)
    out = np.empty((size, x.shape[1]))
    for j in range(x.shape[1]):
        out[:, j] = np.bincount(codes, weights=x[:, j], minlength=size)
    return out


def coefficients(
    u: np.ndarray | sp.csr_matrix, records: tuple[CalibrationRecord, ...]
) -> list[tuple[Projection, np.ndarray]]:
    """Run every calibration schedule in coefficient form; return (projection, a) pairs."""
    terms: list[tuple[Projection, np.ndarray]] = []
    cross: dict[tuple[int, int], np.ndarray | sp.csr_matrix] = {}
    sums: dict[int, np.ndarray | sp.csr_matrix] = {}
    k = u.shape[1]
    # few columns: group sums of dense columns for categorical margins (no sparse products)
    columns = dense(u) if k <= FEW_COLUMNS else None
    for record in records:
        base = len(terms)
        for p in record.projections:
            terms.append((p, np.zeros((p.n_cols, k))))
        gu = {}
        for step in record.schedule:
            t = base + step
            p, _ = terms[t]
            if step not in gu:
                gu[step] = _project(p, u, columns, sums)
            b = gu[step].copy()
            for t2 in range(len(terms)):
                p2, a2 = terms[t2]
                if not a2.any():
                    continue
                key = (t, t2)
                if key not in cross:
                    cross[key] = _cross(p, p2, k)
                c = cross[key]
                b -= c[:, None] * a2 if isinstance(c, np.ndarray) and c.ndim == 1 else c @ a2
            terms[t] = (p, terms[t][1] + p.apply_m(b))
    return terms


def _joint_sums(
    cells: JointCells,
    u: np.ndarray | sp.csr_matrix,
    columns: np.ndarray | None,
    sums: dict[int, np.ndarray | sp.csr_matrix],
) -> np.ndarray | sp.csr_matrix:
    """Sums of ``u / base`` per joint cell (J x k), once per joint cells and influence matrix."""
    key = id(cells)
    if key not in sums:
        if columns is not None:
            sums[key] = group_sums(cells.codes, columns / cells.base[:, None], cells.size)
        else:
            ind = indicator(cells.codes, cells.size)
            sums[key] = sp.csr_matrix(ind.T @ scale_rows(u, 1.0 / cells.base))
    return sums[key]


def _project(
    p: Projection,
    u: np.ndarray | sp.csr_matrix,
    columns: np.ndarray | None,
    sums: dict[int, np.ndarray | sp.csr_matrix],
) -> np.ndarray:
    """``G' diag(r) u`` (H x k): per-cell sums for a categorical margin, else a sparse product."""
    h = p.n_cols
    jf = p.joint
    if jf is not None:
        per_cell = _joint_sums(jf.cells, u, columns, sums)
        if isinstance(per_cell, np.ndarray):
            return group_sums(jf.code, per_cell * jf.r_cell[:, None], h)
        return dense(indicator(jf.code, h).T @ scale_rows(per_cell, jf.r_cell))
    if p.cells is not None and columns is not None:
        return group_sums(p.cells, columns * p.r[:, None], h)
    return dense(p.matrix.T @ scale_rows(u, p.r))


def _cross(p: Projection, p2: Projection, k: int) -> np.ndarray | sp.csr_matrix:
    """``G' diag(r s2) G2`` (H x H2) for ``k`` influence columns: its diagonal (one margin
    with itself), a dense table when small against ``k``, else a sparse matrix."""
    h, h2 = p.n_cols, p2.n_cols
    jf, jf2 = p.joint, p2.joint
    if jf is not None and jf2 is not None and jf.cells is jf2.cells:  # sums over joint cells
        codes, codes2 = jf.code, jf2.code
        weights = jf.cells.counts * jf.r_cell * jf2.s_cell
    elif p.cells is not None and p2.cells is not None:
        codes, codes2 = p.cells, p2.cells
        weights = p.r * p2.s
    else:
        return sp.csr_matrix(p.matrix.T @ p2.matrix.multiply((p.r * p2.s)[:, None]))
    if p.cells is p2.cells:  # one margin with itself: diagonal
        return np.bincount(codes, weights=weights, minlength=h)
    if h * h2 <= _CROSS_LIMIT:
        table = np.bincount(codes * h2 + codes2, weights=weights, minlength=h * h2)
        table = table.reshape(h, h2)
        return table if h * h2 * k <= _DENSE_CROSS else sp.csr_matrix(table)
    ind, ind2 = indicator(codes, h), indicator(codes2, h2)
    return sp.csr_matrix(ind.T @ ind2.multiply(weights[:, None]))


def residuals(
    u: np.ndarray | sp.csr_matrix, records: tuple[CalibrationRecord, ...]
) -> np.ndarray | sp.csr_matrix:
    """Influence values after calibration, as a matrix (for small problems and for tests)."""
    if not records:
        return u
    z = dense(u).astype(float, copy=True)
    fitted: dict[int, tuple[JointCells, np.ndarray]] = {}  # fitted parts per joint cell
    for p, a in coefficients(u, records):
        jf = p.joint
        if jf is None:
            z -= p.s[:, None] * (a[p.cells] if p.cells is not None else dense(p.matrix @ a))
            continue
        part = jf.s_cell[:, None] * a[jf.code]
        key = id(jf.cells)
        if key in fitted:
            fitted[key][1][...] += part
        else:
            fitted[key] = (jf.cells, part)
    for cells, part in fitted.values():
        z -= cells.base[:, None] * part[cells.codes]
    return z
