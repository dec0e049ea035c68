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
from typing import Literal, cast

import numpy as np
import pandas as pd
import scipy.sparse as sp

from meting.errors import DesignError

LonelyPsu = Literal["fail", "certainty", "remove", "adjust", "average"]
LONELY_PSU_OPTIONS: tuple[str, ...] = ("fail", "certainty", "remove", "adjust", "average")

#: survey:::onestrat treats a stratum with sampling fraction above 1 - 1e-7 as self-representing.
_CERTAINTY_TOL = 1e-7
#: Largest n x k residual matrix formed directly; beyond this the Gram form is used.
_DENSE_LIMIT = 20_000_000


# ----------------------------------------------------------------------------------------------
# design structure
# ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Stage:
    """One sampling stage as the variance sees it.

    Attributes
    ----------
    psu : numpy.ndarray
        Code of the sampling unit of this stage for every row (0 .. n_psu - 1).
    stratum_of_psu : numpy.ndarray
        Stratum code (0 .. n_strata - 1) of each sampling unit.
    kappa : numpy.ndarray
        Weight of each stratum's centred sum of squares (fpc, ``n/(n-1)``, sampling fractions
        of the stages above, lonely-PSU rescaling); 0 for strata that contribute nothing.
    centre : numpy.ndarray
        False for strata whose single PSU is compared with zero (``lonely_psu="adjust"``).
    n_psu : numpy.ndarray
        Number of sampling units per stratum, as designed (over the full sample).
    usable : numpy.ndarray
        False for lonely strata left out under ``lonely_psu="average"``.
    average_factor : float
        The ``average`` rescaling (strata / usable strata) folded into ``kappa`` (stage 1).
    undefined : numpy.ndarray
        True for strata in a unit of the stage above where ``lonely_psu="average"`` has no
        usable stratum to average over (every stratum lonely): R's survey gives NaN there, so
        an estimate with rows in such a stratum is refused (see :meth:`SurveyDesign.mean`).
    """

    psu: np.ndarray
    stratum_of_psu: np.ndarray
    kappa: np.ndarray
    centre: np.ndarray
    n_psu: np.ndarray
    usable: np.ndarray
    average_factor: float = 1.0
    undefined: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))

    @property
    def psu_matrix(self) -> sp.csr_matrix:
        """Row-by-PSU indicator matrix ``C`` (n x J)."""
        n = self.psu.size
        return sp.csr_matrix(
            (np.ones(n), (np.arange(n), self.psu)), shape=(n, self.stratum_of_psu.size)
        )


@dataclass(frozen=True)
class DesignStructure:
    """Codes of the stages used by the variance, plus the first-stage units for ``degf``."""

    stages: tuple[Stage, ...]
    psu1: np.ndarray
    stratum1: np.ndarray


def _plain(value: object) -> object:
    """A numpy scalar as a plain Python value (for readable messages)."""
    return value.item() if isinstance(value, np.generic) else value


def _codes(values: pd.Series | np.ndarray) -> np.ndarray:
    """Integer codes of a column (sorted levels), as ``factor()`` would number them."""
    codes, _ = pd.factorize(pd.Series(values), sort=True)
    return codes.astype(np.int64)


def _interaction(*code_arrays: np.ndarray) -> np.ndarray:
    """Codes of the combinations of several code arrays."""
    frame = pd.DataFrame({i: c for i, c in enumerate(code_arrays)})
    codes = frame.groupby(list(frame.columns), sort=True).ngroup().to_numpy()
    return codes.astype(np.int64)


def build_structure(
    ids: list[np.ndarray],
    strata: list[np.ndarray],
    strata_labels: list[np.ndarray],
    fpc: list[np.ndarray] | None,
    lonely_psu: str,
    strata_names: list[str],
) -> tuple[DesignStructure, np.ndarray | None]:
    """Build the stage structure of a design (``svydesign`` + ``as.fpc`` + ``onestrat`` rules).

    Parameters
    ----------
    ids : list of numpy.ndarray
        Codes of the clusters per stage (stage 1 first); each row its own unit when a stage
        has no clusters.
    strata : list of numpy.ndarray
        Stratum codes per given strata column (at least one; all zero when unstratified).
    strata_labels : list of numpy.ndarray
        Stratum labels for error messages, parallel to ``strata``.
    fpc : list of numpy.ndarray or None
        Finite population corrections per stage: population sizes (all values >= 1, some > 1)
        or sampling fractions (all values <= 1).
    lonely_psu : str
        One of :data:`LONELY_PSU_OPTIONS`.
    strata_names : list of str
        Names of the strata columns (for messages).

    Returns
    -------
    (DesignStructure, numpy.ndarray or None)
        The structure, and the weights implied by population-size fpcs (None otherwise).
    """
    n = ids[0].size
    n_stages = len(ids)
    # nest later-stage clusters in earlier ones; later-stage strata are the clusters above
    psus = [ids[0]]
    for i in range(1, n_stages):
        psus.append(_interaction(psus[i - 1], ids[i]))
    stratas = [strata[0]]
    for i in range(1, n_stages):
        stratas.append(_interaction(strata[min(i, len(strata) - 1)], psus[i - 1]))

    # clusters must be nested in strata at the top level (svydesign check.strata)
    per_psu = pd.Series(stratas[0]).groupby(psus[0]).nunique()
    if (per_psu > 1).any():
        bad = int(per_psu.index[int(np.argmax(per_psu.to_numpy() > 1))])
        raise DesignError(
            "clusters of ids must be nested in strata at the top level; got a cluster "
            f"(code {bad}) that appears in {int(per_psu.max())} strata. Give clusters labels that "
            "are unique across strata, or pass nest=True."
        )

    sampsize = []
    for i in range(n_stages):
        counts = pd.Series(psus[i]).groupby(stratas[i]).nunique()
        sampsize.append(counts.reindex(stratas[i]).to_numpy().astype(float))

    popsize: list[np.ndarray] | None = None
    implied_weights = None
    if fpc is not None:
        all_fpc = np.concatenate(fpc)
        if np.any(~np.isfinite(all_fpc)) or np.any(all_fpc <= 0):
            raise DesignError(
                f"fpc must be positive and finite; got {all_fpc[~(all_fpc > 0)][:3].tolist()}. "
                "Give population sizes (all >= 1) or sampling fractions (all <= 1)."
            )
        is_popsize = bool(np.any(all_fpc > 1))
        if is_popsize != bool(np.all(all_fpc >= 1)):
            raise DesignError(
                "fpc must hold either population sizes (all >= 1) or sampling fractions "
                f"(all <= 1); got values from {all_fpc.min():g} to {all_fpc.max():g}. "
                "Use one kind for every stage."
            )
        popsize = []
        for i, f in enumerate(fpc):
            ps = f.astype(float) if is_popsize else sampsize[i] / f
            if np.any(ps < sampsize[i] * (1 - 1e-12)):
                raise DesignError(
                    f"fpc at stage {i + 1} must not imply more than 100% sampling; got a "
                    f"population of {ps[ps < sampsize[i]].min():g} units with "
                    f"{sampsize[i][ps < sampsize[i]].max():g} sampled. Check the fpc column."
                )
            varies = pd.Series(ps).groupby(stratas[i]).nunique()
            if (varies > 1).any():
                raise DesignError(
                    f"fpc at stage {i + 1} must be constant within each stratum; got "
                    f"{int((varies > 1).sum())} strata where it varies. Check the fpc column."
                )
            popsize.append(ps)
        if len(popsize) == n_stages:
            # svydesign without weights: 1 / product of the stage sampling fractions, whether the
            # fpc was given as population sizes or as fractions (popsize = sampsize / fraction)
            implied_weights = np.prod([popsize[i] / sampsize[i] for i in range(n_stages)], axis=0)

    var_stages = 1 if popsize is None else min(n_stages, len(popsize))
    stages = []
    parent_frac = np.ones(n)
    for s in range(var_stages):
        psu_codes = psus[s]
        n_j = int(psu_codes.max()) + 1 if n else 0
        first_row = np.full(n_j, -1, dtype=np.int64)
        first_row[psu_codes[::-1]] = np.arange(n)[::-1]
        strat_of_psu = stratas[s][first_row]
        n_h_count = int(stratas[s].max()) + 1 if n else 0
        first_row_h = np.full(n_h_count, -1, dtype=np.int64)
        first_row_h[stratas[s][::-1]] = np.arange(n)[::-1]
        n_h = sampsize[s][first_row_h]
        if popsize is None:
            f = np.ones(n_h_count)
        else:
            big_n = popsize[s][first_row_h]
            f = np.where(np.isinf(big_n), 1.0, (big_n - n_h) / big_n)
        scale = np.where(n_h > 1, f * n_h / np.maximum(n_h - 1, 1), f)
        certain = f < _CERTAINTY_TOL
        lonely = (n_h == 1) & ~certain
        centre = np.ones(n_h_count, dtype=bool)
        ok = np.ones(n_h_count, dtype=bool)
        if lonely.any():
            if lonely_psu == "fail":
                h = int(np.flatnonzero(lonely)[0])
                row = first_row_h[h]
                if s == 0:
                    label = _plain(strata_labels[0][row])
                    where = (
                        f"stratum {label!r} of {strata_names[0]!r}"
                        if strata_names
                        else ("the single stratum")
                    )
                else:
                    label = _plain(strata_labels[min(s, len(strata_labels) - 1)][row])
                    where = f"stage-{s + 1} stratum {label!r} within stage-{s} unit (row {row})"
                raise DesignError(
                    f"{where} must have at least two sampled units at stage {s + 1}; got 1 "
                    f"({int(lonely.sum())} such strata in all). Merge it with a similar stratum, "
                    "or choose lonely_psu='adjust', 'average', 'certainty' or 'remove'."
                )
            if lonely_psu == "adjust":
                centre[lonely] = False
            elif lonely_psu == "average":
                ok[lonely] = False
            elif lonely_psu not in ("certainty", "remove"):
                raise DesignError(
                    f"lonely_psu must be one of {LONELY_PSU_OPTIONS}; got {lonely_psu!r}."
                )
        kappa = np.where(certain, 0.0, scale)
        kappa = np.where(ok, kappa, 0.0)
        # average: rescale the usable strata within each unit of the stage above
        parent_of_h = np.zeros(n_h_count, dtype=np.int64) if s == 0 else psus[s - 1][first_row_h]
        n_parent = int(parent_of_h.max()) + 1 if n_h_count else 0
        nstrat = np.bincount(parent_of_h, minlength=n_parent).astype(float)
        nok = np.bincount(parent_of_h, weights=ok.astype(float), minlength=n_parent)
        with np.errstate(divide="ignore", invalid="ignore"):
            factor = nstrat / nok
        undefined = (nok == 0)[parent_of_h] if n_h_count else np.zeros(0, dtype=bool)
        # no usable stratum to average over: R's onestage gives 0 * nstrat / 0 = NaN; keep the
        # variance finite here and let the estimators refuse the rows concerned
        safe = np.where(nok[parent_of_h] > 0, factor[parent_of_h], 0.0) if n_h_count else factor
        kappa = kappa * safe * parent_frac[first_row_h]
        stages.append(
            Stage(
                psu=psu_codes,
                stratum_of_psu=strat_of_psu,
                kappa=kappa,
                centre=centre,
                n_psu=n_h,
                usable=ok,
                average_factor=float(factor[0]) if s == 0 and factor.size else 1.0,
                undefined=undefined,
            )
        )
        if popsize is not None and s + 1 < var_stages:
            parent_frac = parent_frac * sampsize[s] / popsize[s]
    structure = DesignStructure(stages=tuple(stages), psu1=psus[0], stratum1=stratas[0])
    return structure, implied_weights


# ----------------------------------------------------------------------------------------------
# calibration residuals
# ----------------------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class Projection:
    """One residualising step ``z <- z - diag(s) G a`` with ``a = M G' diag(r) z``.

    Attributes
    ----------
    g : scipy.sparse.csr_matrix
        Regressors (n x H): post-stratum indicators or the calibration model matrix.
    r : numpy.ndarray
        Row factors applied before projecting.
    s : numpy.ndarray
        Row factors applied to the fitted part (the weights after the step).
    m : numpy.ndarray
        Inverse cross-product: a vector (diagonal) or an H x H matrix.
    """

    g: sp.csr_matrix
    r: np.ndarray
    s: np.ndarray
    m: np.ndarray

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
    g = _indicator(cells)
    safe_new = np.where((new_w == 0) & (old_w == 0), 1.0, new_w)
    with np.errstate(divide="ignore"):
        m = 1.0 / np.bincount(cells, weights=old_w, minlength=g.shape[1])
    proj = Projection(g=g, r=old_w / safe_new, s=safe_new, m=m)
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
        g = _indicator(cells)
        counts = np.bincount(cells, minlength=g.shape[1]).astype(float)
        safe = np.where(w == 0, 1.0, w)
        projs.append(Projection(g=g, r=1.0 / safe, s=safe, m=1.0 / counts))
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
    for record in records:
        base = len(terms)
        for p in record.projections:
            terms.append((p, np.zeros((p.g.shape[1], u.shape[1]))))
        gu = {}
        for step in record.schedule:
            t = base + step
            p, _ = terms[t]
            if step not in gu:
                gu[step] = _dense(p.g.T @ _scale_rows(u, p.r))
            b = gu[step].copy()
            for t2 in range(len(terms)):
                p2, a2 = terms[t2]
                if not a2.any():
                    continue
                key = (t, t2)
                if key not in cross:
                    cross[key] = sp.csr_matrix(p.g.T @ p2.g.multiply((p.r * p2.s)[:, None]))
                b -= cross[key] @ a2
            terms[t] = (p, terms[t][1] + p.apply_m(b))
    return terms


def residuals(
    u: np.ndarray | sp.csr_matrix, records: tuple[CalibrationRecord, ...]
) -> np.ndarray | sp.csr_matrix:
    """Influence values after calibration, as a matrix (for small problems and for tests)."""
    if not records:
        return u
    z = _dense(u).astype(float, copy=True)
    for p, a in _coefficients(u, records):
        z -= p.s[:, None] * _dense(p.g @ a)
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


def _stage_dense(z: np.ndarray | sp.csr_matrix, stage: Stage, covariance: bool) -> np.ndarray:
    c = stage.psu_matrix
    t = c.T @ z  # PSU totals (J x k)
    kappa_j = stage.kappa[stage.stratum_of_psu]
    n_strata = stage.kappa.size
    s = sp.csr_matrix(
        (np.ones(t.shape[0]), (np.arange(t.shape[0]), stage.stratum_of_psu)),
        shape=(t.shape[0], n_strata),
    )
    big_t = s.T @ t  # stratum totals
    w_h = np.where(stage.centre, stage.kappa / stage.n_psu, 0.0)
    if covariance:
        t = _dense(t)
        big_t = _dense(big_t)
        return (t * kappa_j[:, None]).T @ t - (big_t * w_h[:, None]).T @ big_t
    if sp.issparse(t):
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
    qs = [sp.csr_matrix(c.T @ p.g.multiply(p.s[:, None])) for p, _ in terms]
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


def degf(structure: DesignStructure, mask: np.ndarray) -> int:
    """Design degrees of freedom: first-stage units minus strata among the rows in ``mask``."""
    psu = np.count_nonzero(np.bincount(structure.psu1[mask]))
    strata = np.count_nonzero(np.bincount(structure.stratum1[mask]))
    return int(psu - strata)
