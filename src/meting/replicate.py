"""Replicate-weight designs (R ``survey``'s ``svrepdesign`` and ``as.svrepdesign``).

A :class:`ReplicateDesign` holds the full-sample weights and ``R`` columns of replicate weights
(``combined.weights = TRUE``: each column is a complete weight, not a factor).  An estimate is
computed once with the full-sample weights and once per replicate; its variance is

``v = scale * sum_r rscales_r * (theta_r - centre)^2``

with ``centre`` the mean of the replicates (``mse = False``) or the full-sample estimate
(``mse = True``), as ``survey::svrVar``.  Defaults of ``scale`` per ``type`` follow
``svrepdesign``: JK1 ``(R - 1) / R``, bootstrap ``1 / (R - 1)``, BRR ``1 / R``, Fay
``1 / (R (1 - rho)^2)``, JKn and other ``1`` (JKn needs ``rscales``); ``rscales`` default 1.
Degrees of freedom: the rank of the replicate weights minus 1 (``degf.svyrep.design``), or the
original design's ``degf`` for :meth:`meting.design.SurveyDesign.as_replicate`.

Estimators ``mean``, ``total`` and ``proportion`` take ``by=`` (domain estimates: weights zero
outside the domain, as ``svyby`` on a replicate design) and return the result table of
:mod:`meting.results` with ``method`` ``"replicate-<type>"``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy import stats

from meting.checks import check_design_columns, check_level, check_no_missing
from meting.errors import DesignError
from meting.estimators.inputs import as_list, domains, numeric, one_hot
from meting.results import result_table

ReplicateType = Literal["JK1", "JKn", "bootstrap", "BRR", "Fay", "other"]
REPLICATE_TYPES: tuple[str, ...] = ("JK1", "JKn", "bootstrap", "BRR", "Fay", "other")


@dataclass(frozen=True, eq=False)
class ReplicateDesign:
    """A design given by full-sample and replicate weights (``svrepdesign``).

    Parameters
    ----------
    data : pandas.DataFrame
        One row per respondent; never modified.
    weights : str, optional
        Column of full-sample weights (all 1 when None).
    repweights : list of str
        Columns of replicate weights (complete weights, ``combined.weights = TRUE``).
    type : {"JK1", "JKn", "bootstrap", "BRR", "Fay", "other"}
        How the replicates were made; sets the default ``scale``.
    scale : float, optional
        Overall multiplier of the variance (default per ``type``, see the module doc).
    rscales : sequence of float, optional
        Per-replicate multipliers (default 1; required for JKn).
    mse : bool
        Centre at the full-sample estimate instead of the replicates' mean.
    rho : float, optional
        Fay's coefficient (type "Fay" only).
    degf : int, optional
        Degrees of freedom (default: rank of the replicate weights minus 1).
    weight_values, repweight_values : numpy.ndarray, optional
        The weights as arrays (set by ``SurveyDesign.as_replicate``; users give columns).
    """

    data: pd.DataFrame
    weights: str | None = None
    repweights: Sequence[str] = ()
    type: ReplicateType = "other"
    scale: float | None = None
    rscales: Sequence[float] | np.ndarray | None = None
    mse: bool = False
    rho: float | None = None
    degf: int | None = None
    weight_values: np.ndarray | None = field(default=None, repr=False)
    repweight_values: np.ndarray | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.data, pd.DataFrame):
            raise DesignError(f"data must be a pandas DataFrame; got {type(self.data).__name__}.")
        if self.type not in REPLICATE_TYPES:
            raise DesignError(
                f"type must be one of {', '.join(REPLICATE_TYPES)}; got {self.type!r}."
            )
        n = len(self.data)
        # weights given as columns must be >= 0; arrays (set by as_replicate or by weighting,
        # where linear calibration can make weights negative, as in survey) need only be finite
        reps_given, w_given = self.repweight_values is None, self.weight_values is None
        if self.repweight_values is None:
            cols = as_list(self.repweights)
            if not cols:
                raise DesignError(
                    "repweights must name at least one column of replicate weights; got none."
                )
            check_design_columns(self.data, cols, "repweights")
            for c in cols:
                check_no_missing(self.data, c, "repweights", error=DesignError)
            rw = self.data[cols].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float)
            object.__setattr__(self, "repweight_values", rw)
        rw = np.asarray(self.repweight_values, dtype=float)
        if rw.ndim != 2 or rw.shape[0] != n or rw.shape[1] < 2:
            raise DesignError(
                f"replicate weights must be n x R with R >= 2 (n = {n}); got {rw.shape}."
            )
        if not np.isfinite(rw).all() or (reps_given and (rw < 0).any()):
            raise DesignError("replicate weights must be finite numbers >= 0; got others.")
        object.__setattr__(self, "repweight_values", rw)
        if self.weight_values is None:
            if self.weights is None:
                w = np.ones(n)
            else:
                check_design_columns(self.data, [self.weights], "weights")
                check_no_missing(self.data, self.weights, "weights", error=DesignError)
                w = pd.to_numeric(self.data[self.weights], errors="coerce").to_numpy(float)
            object.__setattr__(self, "weight_values", w)
        w = np.asarray(self.weight_values, dtype=float)
        if w.shape != (n,) or not np.isfinite(w).all() or (w_given and (w < 0).any()):
            raise DesignError(f"weights must be {n} finite numbers >= 0.")
        object.__setattr__(self, "weight_values", w)
        r = rw.shape[1]
        if self.type == "Fay" and (self.rho is None or not 0 <= self.rho < 1):
            raise DesignError(f"rho must lie in [0, 1) for type 'Fay'; got {self.rho!r}.")
        if self.type == "JKn" and self.rscales is None:
            raise DesignError(
                "rscales must be given for type 'JKn' ((n_h - 1) / n_h per replicate); got "
                "None. Or build the design with SurveyDesign.as_replicate(type='JKn')."
            )
        if self.scale is None:
            default = {
                "JK1": (r - 1) / r,
                "bootstrap": 1 / (r - 1),
                "BRR": 1 / r,
                "Fay": 1 / (r * (1 - (self.rho or 0.0)) ** 2),
                "JKn": 1.0,
                "other": 1.0,
            }[self.type]
            object.__setattr__(self, "scale", float(default))
        rs = np.ones(r) if self.rscales is None else np.asarray(self.rscales, dtype=float)
        if rs.shape != (r,):
            raise DesignError(f"rscales must have one value per replicate ({r}); got {rs.shape}.")
        object.__setattr__(self, "rscales", rs)
        if self.degf is None:
            object.__setattr__(self, "degf", int(np.linalg.matrix_rank(rw)) - 1)

    @property
    def n(self) -> int:
        """Number of rows (respondents)."""
        return len(self.data)

    @property
    def w(self) -> np.ndarray:
        """Full-sample weights."""
        return np.asarray(self.weight_values)

    @property
    def replicates(self) -> int:
        """Number of replicates R."""
        return int(np.asarray(self.repweight_values).shape[1])

    def replicate_variance(self, thetas: np.ndarray, full: np.ndarray) -> np.ndarray:
        """``svrVar``: variance of each column of ``thetas`` (R x k) around the centre."""
        rs = np.asarray(self.rscales, dtype=float)
        centre = full if self.mse else np.mean(thetas[rs > 0], axis=0)
        return float(self.scale) * np.sum(rs[:, None] * (thetas - centre) ** 2, axis=0)  # type: ignore[arg-type]

    def _estimate(
        self,
        y: np.ndarray,
        labels: list,
        var: str,
        by: str | Sequence[str] | None,
        kind: str,
        na_rm: bool,
        level: float,
        category: bool,
    ) -> pd.DataFrame:
        level = check_level(level)
        n_lev = y.shape[1]
        dom, keys = domains(self, by)
        n_dom = len(keys)
        missing = np.isnan(y).any(axis=1)
        valid = (dom >= 0) & ~missing
        rows = np.flatnonzero(valid)
        w, reps = self.weight_values, self.repweight_values
        assert w is not None and reps is not None  # both set in __post_init__
        den = domain_sums(dom, n_dom, w, reps, np.ones(self.n), valid)  # n_dom x (1 + R)
        est = np.empty((n_dom, n_lev))
        var_ = np.empty((n_dom, n_lev))
        for j in range(n_lev):
            num = domain_sums(dom, n_dom, w, reps, y[:, j], valid)
            with np.errstate(divide="ignore", invalid="ignore"):
                theta = num / den if kind == "mean" else num
            est[:, j] = theta[:, 0]
            var_[:, j] = self.replicate_variance(theta[:, 1:].T, theta[:, 0])
        se = np.sqrt(var_)
        if not na_rm and missing.any():
            bad = np.bincount(dom[(dom >= 0) & missing], minlength=n_dom) > 0
            est = np.where(bad[:, None], np.nan, est)
            se = np.where(bad[:, None], np.nan, se)
        df = float(self.degf)  # type: ignore[arg-type]
        q = stats.t.ppf(0.5 + level / 2, df) if df > 0 else np.nan
        groups = keys.loc[keys.index.repeat(n_lev)].reset_index(drop=True)
        if not as_list(by):
            groups = groups.iloc[:, 0:0]
        if category:
            groups["category"] = np.tile(np.asarray(labels, dtype=object), n_dom)
        nobs = np.bincount(dom[rows], minlength=n_dom)
        return result_table(
            groups,
            variable=var,
            estimate=est.ravel(),
            se=se.ravel(),
            lower=est.ravel() - q * se.ravel(),
            upper=est.ravel() + q * se.ravel(),
            level=level,
            df=df,
            n=np.repeat(nobs, n_lev),
            method=f"replicate-{self.type}",
            extra={"deff": np.nan},
        )

    def mean(
        self,
        var: str,
        by: str | Sequence[str] | None = None,
        na_rm: bool = True,
        level: float = 0.95,
    ) -> pd.DataFrame:
        """Weighted mean with its replicate variance (``svymean`` on a replicate design)."""
        y = numeric(self, var)
        return self._estimate(y[:, None], [var], var, by, "mean", na_rm, level, False)

    def total(
        self,
        var: str,
        by: str | Sequence[str] | None = None,
        na_rm: bool = True,
        level: float = 0.95,
    ) -> pd.DataFrame:
        """Weighted total with its replicate variance (``svytotal``)."""
        y = numeric(self, var)
        return self._estimate(y[:, None], [var], var, by, "total", na_rm, level, False)

    def proportion(
        self,
        var: str,
        by: str | Sequence[str] | None = None,
        na_rm: bool = True,
        level: float = 0.95,
    ) -> pd.DataFrame:
        """Share of each level of a categorical column (``svymean(~factor)``), with a
        ``category`` column before ``variable``."""
        y, levels = one_hot(self, var)
        return self._estimate(y, list(levels), var, by, "mean", na_rm, level, True)


def replicate_rank(reps: np.ndarray, tol: float = 1e-5) -> int:
    """Rank of the n x R replicate weights as R's ``qr(weights(design, "analysis"), tol = 1e-5)``
    (``degf.svyrep.design``): columns in order, one counted when the part of it not spanned by
    the columns counted before has a norm of at least ``tol`` times its own (LINPACK ``dqrdc2``'s
    rule).  Computed from the R x R Gram matrix, so the n x R weights are read once."""
    gram = reps.T @ reps
    size = gram.shape[0]
    coef = np.zeros((size, size))  # coefficients on an orthonormal basis of the counted columns
    rank = 0
    for k in range(size):
        own = gram[k, k]
        resid = own - coef[:rank, k] @ coef[:rank, k]
        if own <= 0 or resid <= tol**2 * own:
            continue
        coef[rank] = (gram[k] - coef[:rank, k] @ coef[:rank]) / np.sqrt(resid)
        rank += 1
    return rank


def domain_sums(
    codes: np.ndarray,
    n_dom: int,
    w: np.ndarray,
    reps: np.ndarray,
    y: np.ndarray,
    valid: np.ndarray,
) -> np.ndarray:
    """Per domain, ``sum y * w`` and ``sum y * reps[:, r]`` over the valid rows (n_dom x (1 + R)).

    ``y`` goes into the values of a sparse domain-by-row matrix, so the n x R replicate weights
    are read once and never copied (no n x (1 + R) temporaries).
    """
    rows = np.flatnonzero(valid)
    cols = codes[rows]
    yv = y[rows]
    out = np.empty((n_dom, 1 + reps.shape[1]))
    out[:, 0] = np.bincount(cols, weights=yv * w[rows], minlength=n_dom)
    d = sp.csr_matrix((yv, (cols, rows)), shape=(n_dom, reps.shape[0]))
    out[:, 1:] = d @ reps
    return out


def jackknife_weights(
    w: np.ndarray,
    psu: np.ndarray,
    strata: np.ndarray,
    fpc_factor: np.ndarray | None,
    stratified: bool,
) -> tuple[np.ndarray, float, np.ndarray]:
    """Delete-one-PSU jackknife weights (``jk1weights`` / ``jknweights``).

    Returns the n x R replicate weights, ``scale`` and ``rscales``.  ``fpc_factor`` holds
    ``1 - n_h / N_h`` per stratum (None: no fpc).
    """
    n_psu = int(psu.max()) + 1
    first = np.full(n_psu, -1, dtype=np.int64)
    first[psu[::-1]] = np.arange(psu.size)[::-1]
    stratum_of_psu = strata[first]
    n_h = np.bincount(stratum_of_psu)
    if stratified:
        if (n_h[stratum_of_psu] < 2).any():
            raise DesignError(
                "every stratum must have at least two PSUs for the JKn jackknife; got a "
                "stratum with one. Merge it with a similar stratum."
            )
        nh_row = n_h[strata].astype(float)
        reps = np.repeat(w[:, None], n_psu, axis=1)
        same = strata[:, None] == stratum_of_psu[None, :]
        reps = np.where(same, reps * (nh_row / (nh_row - 1))[:, None], reps)
        reps[np.arange(psu.size), psu] = 0.0
        rscales = (n_h[stratum_of_psu] - 1) / n_h[stratum_of_psu]
        if fpc_factor is not None:
            rscales = rscales * fpc_factor[stratum_of_psu]
        # replicates stratum by stratum, strata in order of appearance (as R's jknweights)
        first_h = np.full(n_h.size, psu.size, dtype=np.int64)
        np.minimum.at(first_h, strata, np.arange(psu.size))
        order = np.argsort(first_h[stratum_of_psu], kind="stable")
        return reps[:, order], 1.0, rscales[order].astype(float)
    reps = np.repeat((w * n_psu / (n_psu - 1))[:, None], n_psu, axis=1)
    reps[np.arange(psu.size), psu] = 0.0
    scale = (n_psu - 1) / n_psu
    if fpc_factor is not None:
        scale *= float(fpc_factor[0])
    return reps, scale, np.ones(n_psu)


def bootstrap_weights(
    w: np.ndarray, psu: np.ndarray, strata: np.ndarray, replicates: int, seed: int | None
) -> tuple[np.ndarray, float]:
    """Rescaled bootstrap (Rao-Wu / Canty-Davison, as ``survey``'s ``bootweights``): per
    stratum draw ``n_h - 1`` of its ``n_h`` PSUs with replacement; weight factor
    ``count * n_h / (n_h - 1)``.  ``scale = n / ((n - 1) (R - 1))`` with ``n`` the mean number
    of PSUs per stratum (R's value for one stratum).  The draws are numpy's, not R's."""
    rng = np.random.default_rng(seed)
    n_psu = int(psu.max()) + 1
    first = np.full(n_psu, -1, dtype=np.int64)
    first[psu[::-1]] = np.arange(psu.size)[::-1]
    stratum_of_psu = strata[first]
    factors = np.zeros((n_psu, replicates))
    for h in np.unique(stratum_of_psu):
        members = np.flatnonzero(stratum_of_psu == h)
        k = members.size
        if k < 2:
            raise DesignError(
                "every stratum must have at least two PSUs for the bootstrap; got one. "
                "Merge it with a similar stratum."
            )
        for r in range(replicates):
            counts = np.bincount(rng.integers(0, k, k - 1), minlength=k)
            factors[members, r] = counts * k / (k - 1)
    n_bar = n_psu / np.unique(stratum_of_psu).size
    return w[:, None] * factors[psu], n_bar / ((n_bar - 1) * (replicates - 1))
