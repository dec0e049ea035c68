"""Weighted means and totals by domain and their influence values (the linear statistics of
:meth:`SurveyDesign.mean <meting.design.SurveyDesign.mean>`, ``total`` and ``proportion``).

One pass of group sums (``bincount``) per column gives the domain totals, means, the weighted
sample variance for the design effect and the influence values ``u`` (one column per domain and
level): dense when there are few columns, else a sparse matrix built row by row in CSR order.
Rows outside every domain or with a missing value are left out (``na.rm = TRUE``); when every
row counts, no masked copies of the data are made.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from meting.calibration_residuals import FEW_COLUMNS


@dataclass(frozen=True, eq=False)
class LinearStatistic:
    """Domain estimates of a mean or total and what their variance needs.

    Attributes
    ----------
    estimate, vsrs : numpy.ndarray
        Estimates and SRS variances (for the design effect), n_dom x n_lev.
    u : numpy.ndarray or scipy.sparse.csr_matrix
        Influence values, n x (n_dom * n_lev), columns domain by domain, levels within.
    wsum, cnt, nobs : numpy.ndarray
        Per domain: sum of the weights, rows with a non-zero weight, rows (valid rows only).
    valid : numpy.ndarray or None
        Rows in a domain and observed (None: every row).
    bad_dom : numpy.ndarray
        Domains with a missing value when ``na_rm`` is False.
    """

    estimate: np.ndarray
    vsrs: np.ndarray
    u: np.ndarray | sp.csr_matrix
    wsum: np.ndarray
    cnt: np.ndarray
    nobs: np.ndarray
    valid: np.ndarray | None
    bad_dom: np.ndarray


def linear_statistic(
    w: np.ndarray,
    y: np.ndarray,
    dom: np.ndarray,
    n_dom: int,
    kind: str,
    na_rm: bool,
    srs_replace: bool,
) -> LinearStatistic:
    """Means (``kind="mean"``) or totals of the columns of ``y`` (n x n_lev) per domain.

    ``dom`` holds the domain code of every row (-1: in no domain).  ``srs_replace``: the SRS
    variance of the design effect with replacement (``deff = "replace"``), else without
    (NaN where the weights sum to less than the sample).
    """
    n, n_lev = y.shape
    missing = np.isnan(y).any(axis=1) if n_lev > 1 else np.isnan(y[:, 0])
    in_dom = dom >= 0
    bad_dom = np.zeros(n_dom, dtype=bool)
    if not na_rm and missing.any():
        bad_dom = np.bincount(dom[in_dom & missing], minlength=n_dom) > 0
    observed = in_dom & ~missing
    valid: np.ndarray | None = None if observed.all() else observed
    d, wv, yv = dom, w, y
    if valid is not None:
        d = np.where(valid, dom, 0)
        wv = np.where(valid, w, 0.0)
        yv = np.where(valid[:, None], y, 0.0)
    wsum = _sums(d, wv, n_dom)
    nonzero = w != 0 if valid is None else valid & (w != 0)
    cnt = _counts(d, nonzero, n_dom)
    nobs = _counts(d, valid, n_dom)
    tot = np.empty((n_dom, n_lev))
    for j in range(n_lev):
        tot[:, j] = _sums(d, wv * yv[:, j], n_dom)
    with np.errstate(divide="ignore", invalid="ignore"):
        means = tot / wsum[:, None]
        one = n_dom == 1  # one domain: broadcast its mean and weight sum, no lookups
        centred = yv - (means if one else means[d])
        ss = np.empty((n_dom, n_lev))
        for j in range(n_lev):
            ss[:, j] = _sums(d, wv * centred[:, j] ** 2, n_dom)
        svyvar = ss / wsum[:, None] * (cnt / (cnt - 1))[:, None]
        # SRS variance for the design effect: without replacement (svymean's deff = TRUE) or
        # with replacement (deff = "replace"); undefined when the weights sum to less than the
        # sample (R: NA with a warning), never negative
        if srs_replace:
            srs = 1.0 / cnt
        else:
            srs = np.where(wsum >= cnt, (wsum - cnt) / (wsum * cnt), np.nan)
        if kind == "mean":
            est = means
            vals = wv[:, None] * centred / (wsum if one else wsum[d])[:, None]
            vsrs = svyvar * srs[:, None]
        else:
            est = tot
            vals = wv[:, None] * yv
            vsrs = svyvar * (wsum**2 * srs)[:, None]
    u = _influence(vals, d, valid, n_dom)
    return LinearStatistic(est, vsrs, u, wsum, cnt, nobs, valid, bad_dom)


def _sums(d: np.ndarray, x: np.ndarray, n_dom: int) -> np.ndarray:
    """Sum of ``x`` per domain (a plain sum for one domain)."""
    if n_dom == 1:
        return np.array([x.sum()])
    return np.bincount(d, weights=x, minlength=n_dom)


def _counts(d: np.ndarray, mask: np.ndarray | None, n_dom: int) -> np.ndarray:
    """Rows per domain among ``mask`` (None: all rows), as floats."""
    if mask is None or mask.all():
        return (
            np.array([float(d.size)])
            if n_dom == 1
            else np.bincount(d, minlength=n_dom).astype(float)
        )
    if n_dom == 1:
        return np.array([float(np.count_nonzero(mask))])
    return np.bincount(d, weights=mask.astype(float), minlength=n_dom)


def _influence(
    vals: np.ndarray, d: np.ndarray, valid: np.ndarray | None, n_dom: int
) -> np.ndarray | sp.csr_matrix:
    """The n x (n_dom * n_lev) influence matrix: row i holds ``vals[i]`` in its domain's block."""
    n, n_lev = vals.shape
    k = n_dom * n_lev
    if k <= FEW_COLUMNS:
        if n_dom == 1:
            return vals if valid is None else np.where(valid[:, None], vals, 0.0)
        u = np.zeros((n, n_dom, n_lev))
        rows = np.arange(n) if valid is None else np.flatnonzero(valid)
        u[rows, d[rows]] = vals[rows]
        return u.reshape(n, k)
    if valid is None:
        per_row = np.full(n, n_lev)
        data, doms = vals.ravel(), d
    else:
        rows = np.flatnonzero(valid)
        per_row = np.where(valid, n_lev, 0)
        data, doms = vals[rows].ravel(), d[rows]
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(per_row, out=indptr[1:])
    indices = (doms[:, None] * n_lev + np.arange(n_lev)[None, :]).ravel()
    return sp.csr_matrix((data, indices, indptr), shape=(n, k))
