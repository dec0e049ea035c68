"""The survey design object and its design-based estimators (R ``survey``'s ``svydesign`` + ``svy*``).

A :class:`SurveyDesign` is declared once (data, weights, strata, multi-stage clusters, fpc) and is
never changed: weighting (:mod:`meting.weighting`) returns a new design with new weights and a
record of the calibration, so standard errors account for it as ``survey`` does.

Every estimator returns the result table of :mod:`meting.results`: group columns (for ``by=``),
then ``variable, estimate, se, lower, upper, level, df, n, method`` (method ``"taylor"``) and the
extra column ``deff``; :meth:`SurveyDesign.covariance` gives the covariance of domain estimates
for contrasts.  Domain estimates use the whole design (influence values zero outside the
domain, as ``svyby`` does), computed for all domains at once with sparse matrices.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy import stats

from meting.calibration_residuals import CalibrationRecord
from meting.checks import check_design_columns, check_level, check_no_missing
from meting.design_structure import (
    LONELY_PSU_OPTIONS,
    DesignStructure,
    LonelyPsu,
    structure_from_columns,
)
from meting.design_structure import degf as _degf
from meting.design_structure import domain_degf as _domain_degf
from meting.errors import DesignError
from meting.estimators import ciprop as _ciprop
from meting.estimators import quantile as _quantile
from meting.estimators import ratio as _ratio
from meting.estimators import ttest as _ttest
from meting.estimators.domains import average_factor, check_average
from meting.estimators.inputs import as_list as _as_list
from meting.estimators.inputs import domains as _domains
from meting.estimators.inputs import numeric as _numeric
from meting.estimators.inputs import one_hot as _one_hot
from meting.estimators.linear import linear_statistic
from meting.estimators.ttest import Alternative
from meting.intervals import CipropMethod
from meting.replicate import ReplicateDesign
from meting.replicate_conversion import as_replicate as _as_replicate
from meting.results import result_table
from meting.variance import linearised_variance

__all__ = ["Alternative", "DeffKind", "SurveyDesign", "WeightingRecord"]

#: Design effect against SRS without replacement (True), with replacement ("replace"), or none.
DeffKind = bool | Literal["replace"]


@dataclass(frozen=True)
class WeightingRecord:
    """One weighting step done on a design (kept in :attr:`SurveyDesign.history`)."""

    method: str
    call: str
    converged: bool = True
    iterations: int = 0


@dataclass(frozen=True, eq=False)
class SurveyDesign:
    """A survey design: the data once, plus how it was drawn and weighted.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per respondent; never modified.
    weights : str, optional
        Column with sampling weights (> 0; 0 allowed).  Without it, weights follow from the
        fpc as ``svydesign`` derives them (1 / product of the stage sampling fractions, whether
        the fpc holds population sizes or fractions; an fpc that does not cover every stage of
        ``ids`` is refused), else all weights are 1.
    strata : str or list of str, optional
        Stratum column (first stage; a list gives strata for later stages too).
    ids : str or list of str, optional
        Cluster columns, first stage first (``svydesign(id = ~psu + ssu)``).  None: every row
        is its own unit.
    fpc : str or list of str, optional
        Finite population corrections per stage: population sizes or sampling fractions
        (detected as ``survey`` does: any value > 1 means sizes).  Later stages enter the
        variance only where their fpc is given.
    lonely_psu : {"fail", "certainty", "remove", "adjust", "average"}
        Rule for strata with one sampled unit (``options(survey.lonely.psu)``).
    nest : bool
        Make cluster labels unique within strata (``nest=TRUE``).
    weight_values : numpy.ndarray, optional
        Weights after weighting (set by :mod:`meting.weighting`; users leave it out).
    calibration : tuple of CalibrationRecord
        Weighting steps the variance must account for (set by :mod:`meting.weighting`).
    history : tuple of WeightingRecord
        Weighting steps done, for reports.
    """

    data: pd.DataFrame
    weights: str | None = None
    strata: str | Sequence[str] | None = None
    ids: str | Sequence[str] | None = None
    fpc: str | Sequence[str] | None = None
    lonely_psu: LonelyPsu = "fail"
    nest: bool = False
    weight_values: np.ndarray | None = field(default=None, repr=False)
    calibration: tuple[CalibrationRecord, ...] = field(default=(), repr=False)
    history: tuple[WeightingRecord, ...] = ()
    structure: DesignStructure | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.data, pd.DataFrame):
            raise DesignError(
                f"data must be a pandas DataFrame; got {type(self.data).__name__}. "
                "Load the wave with meting.loaders first."
            )
        if self.lonely_psu not in LONELY_PSU_OPTIONS:
            raise DesignError(
                f"lonely_psu must be one of {', '.join(LONELY_PSU_OPTIONS)}; got "
                f"{self.lonely_psu!r}. Pick the rule survey.lonely.psu would use."
            )
        n = len(self.data)
        for role, cols in (
            ("weights", _as_list(self.weights)),
            ("strata", _as_list(self.strata)),
            ("ids", _as_list(self.ids)),
            ("fpc", _as_list(self.fpc)),
        ):
            check_design_columns(self.data, cols, role)
            for col in cols:
                check_no_missing(self.data, col, role, error=DesignError)
        if self.structure is None:
            structure, implied = structure_from_columns(
                self.data,
                _as_list(self.ids),
                _as_list(self.strata),
                _as_list(self.fpc),
                self.nest,
                self.lonely_psu,
            )
            object.__setattr__(self, "_implied_weights", implied)
            object.__setattr__(self, "structure", structure)
        if self.weight_values is None:
            object.__setattr__(self, "weight_values", self._base_weights(n))
        w = np.asarray(self.weight_values, dtype=float)
        if w.shape != (n,):
            raise DesignError(f"weight_values must have one value per row ({n}); got {w.shape}.")
        object.__setattr__(self, "weight_values", w)

    # -- construction helpers --------------------------------------------------------------
    def _base_weights(self, n: int) -> np.ndarray:
        if self.weights is not None:
            w = pd.to_numeric(self.data[self.weights], errors="coerce").to_numpy(dtype=float)
            bad = ~np.isfinite(w) | (w < 0)
            if bad.any():
                i = int(np.argmax(bad))
                raise DesignError(
                    f"weights column {self.weights!r} must hold finite numbers >= 0; got "
                    f"{self.data[self.weights].iloc[i]} at row {i}. Fix or drop that row."
                )
            return w
        implied = getattr(self, "_implied_weights", None)
        if implied is not None:
            return implied
        fpc_cols, id_cols = _as_list(self.fpc), _as_list(self.ids)
        if fpc_cols and len(fpc_cols) < max(len(id_cols), 1):
            # R's svydesign stops here too: the weights of the later stages are unknown
            raise DesignError(
                f"fpc must give every stage of ids when no weights are given; got {len(fpc_cols)} "
                f"fpc column(s) ({', '.join(fpc_cols)}) for {len(id_cols)} stages of ids "
                f"({', '.join(id_cols)}). Pass weights= (the sampling weights), or one fpc "
                "column per stage (population sizes or sampling fractions)."
            )
        return np.ones(n)

    # -- basic facts -----------------------------------------------------------------------
    @property
    def n(self) -> int:
        """Number of rows (respondents)."""
        return len(self.data)

    @property
    def w(self) -> np.ndarray:
        """The current weights (after any weighting)."""
        return self.weight_values  # type: ignore[return-value]

    def degf(self) -> int:
        """Design degrees of freedom: first-stage units minus strata (``survey::degf``)."""
        return _degf(self.structure, self.w != 0)  # type: ignore[arg-type]

    def domain_degf(self, dom: np.ndarray, n_dom: int) -> np.ndarray:
        """Degrees of freedom of each domain: ``degf(subset(design, domain))``.

        ``dom`` holds the domain code of every row (-1: in no domain); the result counts, per
        domain, the first-stage units minus the strata with rows in the domain, as R computes
        for a subset (and so ``svyttest`` on the subset, with one less).
        """
        return _domain_degf(self.structure, dom, n_dom)  # type: ignore[arg-type]

    def variance(
        self,
        u: np.ndarray | sp.csr_matrix,
        covariance: bool = False,
        stage1_factor: np.ndarray | None = None,
    ) -> np.ndarray:
        """Variance of the weighted totals of influence columns ``u`` (see :mod:`.variance`)."""
        return linearised_variance(
            u,
            self.structure,  # type: ignore[arg-type]
            self.calibration,
            covariance,
            stage1_factor,
        )

    # -- estimators ------------------------------------------------------------------------
    def mean(
        self,
        var: str,
        by: str | Sequence[str] | None = None,
        na_rm: bool = True,
        level: float = 0.95,
        deff: DeffKind = True,
    ) -> pd.DataFrame:
        """Weighted mean of a numeric column (``svymean`` / ``svyby(..., svymean)``), as a
        result table (:mod:`meting.results`) with the extra column ``deff``.

        ``df`` is ``degf(design)`` for the whole sample and, with ``by=``, the degrees of
        freedom of each domain as R computes them for ``subset(design, domain)`` (first-stage
        units minus strata with observed rows in the domain): what ``svyttest`` on the subset
        and ``confint(svymean(~y, subset(...)), df = degf(subset(...)))`` use.  (R's
        ``confint(svyby(...), df = degf(design))`` uses the whole design's df instead.)
        ``deff``: True (against SRS without replacement, R's ``deff = TRUE``; NaN with a warning
        when the weights sum to less than the sample size), ``"replace"`` (with replacement)
        or False (column of NaN).
        """
        y = _numeric(self, var)
        return self._estimate(y[:, None], [var], var, by, "mean", na_rm, level, False, deff=deff)[0]

    def total(
        self,
        var: str,
        by: str | Sequence[str] | None = None,
        na_rm: bool = True,
        level: float = 0.95,
        deff: DeffKind = True,
    ) -> pd.DataFrame:
        """Weighted total of a numeric column (``svytotal``), as a result table (``df`` and
        ``deff`` as in :meth:`mean`)."""
        y = _numeric(self, var)
        return self._estimate(y[:, None], [var], var, by, "total", na_rm, level, False, deff=deff)[
            0
        ]

    def proportion(
        self,
        var: str,
        by: str | Sequence[str] | None = None,
        na_rm: bool = True,
        level: float = 0.95,
        deff: DeffKind = True,
    ) -> pd.DataFrame:
        """Share of each level of a categorical column (``svymean(~factor)``).

        The result table has a ``category`` column before ``variable``; one row per (group,
        category).
        """
        y, levels = _one_hot(self, var)
        return self._estimate(y, list(levels), var, by, "mean", na_rm, level, True, deff=deff)[0]

    def covariance(
        self,
        var: str,
        by: str | Sequence[str] | None = None,
        kind: Literal["mean", "total"] = "mean",
        na_rm: bool = True,
    ) -> np.ndarray:
        """Covariance matrix of the estimates of ``mean(var, by)`` (or ``total``), rows and
        columns in the row order of that table (``vcov(svyby(...))``).

        This is what contrasts between domains need (a municipality against the rest, a life
        event against another); the result table itself carries only the standard errors.
        """
        if kind not in ("mean", "total"):
            raise DesignError(f"kind must be 'mean' or 'total'; got {kind!r}.")
        y = _numeric(self, var)
        _, v = self._estimate(y[:, None], [var], var, by, kind, na_rm, 0.95, False, True)
        return np.asarray(v, dtype=float)

    def ttest(
        self,
        var: str,
        mu: float = 0.0,
        alternative: Alternative = "two-sided",
        level: float = 0.95,
    ) -> pd.DataFrame:
        """Design-based one-sample t-test of the mean against ``mu`` (``svyttest(I(y - mu) ~ 0)``).

        As in ``survey`` the test has ``degf(design) - 1`` degrees of freedom.  ``estimate`` and
        the interval are for the mean itself; ``statistic = (estimate - mu) / se``.
        """
        return _ttest.ttest(self, var, mu, alternative, level)

    def ttest_groups(self, var: str, group: str, level: float = 0.95) -> pd.DataFrame:
        """Two-group design-based t-test of a difference in means (``svyttest(y ~ g)``).

        The estimate is mean(second level) - mean(first level) (levels sorted), with
        ``degf - 1`` degrees of freedom over the rows where both columns are observed, as
        ``svyglm`` gives.
        """
        return _ttest.ttest_groups(self, var, group, level)

    # -- proportion intervals, ratios, quantiles ------------------------------------------
    def ciprop(
        self,
        var: str,
        method: CipropMethod = "logit",
        level: float = 0.95,
        by: str | Sequence[str] | None = None,
        na_rm: bool = True,
    ) -> pd.DataFrame:
        """Share of a 0/1 variable with an interval that stays in [0, 1] (``svyciprop``).

        ``method`` as in R: ``"logit"`` (default; Wald on the logit scale of the quasibinomial
        ``svyglm``), ``"likelihood"`` (its profile likelihood, Rao-Scott scaled), ``"asin"``,
        ``"beta"`` (Korn-Graubard), ``"mean"`` (Wald, not clipped) or ``"xlogit"``; see
        :mod:`meting.intervals`.  ``se`` is the standard error of the share; ``df`` as in
        :meth:`mean` (the domain's degrees of freedom with ``by=``, which ``svyby(...,
        svyciprop)`` uses).  ``method`` column: ``"ciprop-<method>"``.  For ``"beta"`` a share
        of exactly 0 or 1 (variance 0; NaN in R) uses the respondents as effective sample size.
        """
        return _ciprop.ciprop(self, var, method, level, by, na_rm)

    def ratio(
        self,
        numerator: str,
        denominator: str,
        by: str | Sequence[str] | None = None,
        na_rm: bool = True,
        level: float = 0.95,
    ) -> pd.DataFrame:
        """Ratio of two weighted totals (``svyratio`` / ``svyby(..., denominator=, svyratio)``).

        Rows where either variable is missing are left out (``na.rm = TRUE``; with
        ``na_rm=False`` a domain with a missing value gets NaN).  The influence values are
        ``w (y - R x) / X``; ``df`` as in :meth:`mean`.  ``variable`` is ``"num/den"``, method
        ``"taylor"``.
        """
        return _ratio.ratio(self, numerator, denominator, by, na_rm, level)

    def quantile(
        self,
        var: str,
        probs: float | Sequence[float] = 0.5,
        by: str | Sequence[str] | None = None,
        qrule: Literal["math", "hf7"] = "math",
        level: float = 0.95,
        na_rm: bool = True,
    ) -> pd.DataFrame:
        """Weighted quantiles with Woodruff intervals (``svyquantile``, survey 4.x).

        ``qrule="math"`` (survey's default: the smallest value whose weighted cumulative
        share reaches ``p``) or ``"hf7"`` (interpolation as ``quantile(type = 7)``).  The
        interval is Woodruff's (survey 4.1's ``interval.type = "mean"``): the Wald interval
        ``[p_l, p_u]`` of the share of values ``<= q`` mapped back through the quantile rule
        (NaN where it leaves [0, 1]); ``se = (upper - lower) / (2 t_df)``.  One row per group
        and probability, with the extra column ``prob``; ``df`` as in :meth:`mean`.
        """
        return _quantile.quantile(self, var, probs, by, qrule, level, na_rm)

    # -- replicate weights ------------------------------------------------------------------
    def as_replicate(
        self,
        type: Literal["JK1", "JKn", "bootstrap"] = "JKn",
        replicates: int = 50,
        random_seed: int | None = None,
        mse: bool = False,
    ) -> ReplicateDesign:
        """Replicate-weight version of this design (``as.svrepdesign``).

        ``"JK1"`` (unstratified: delete one PSU, the others times ``n / (n - 1)``; ``scale``
        ``(n - 1) / n``), ``"JKn"`` (per stratum; ``rscales = (n_h - 1) / n_h``) or
        ``"bootstrap"`` (rescaled bootstrap with ``replicates`` draws from numpy's generator
        seeded by ``random_seed``; R's draws differ).  A first-stage fpc multiplies ``scale``
        (JK1) or ``rscales`` (JKn) by ``1 - n_h / N_h`` as in R.  The degrees of freedom stay
        this design's ``degf``.  A calibrated design is refused (R re-calibrates every
        replicate; meting does not yet).
        """
        return _as_replicate(self, type, replicates, random_seed, mse)

    # -- internals -------------------------------------------------------------------------
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
        full_cov: bool | None = None,
        deff: DeffKind = True,
    ) -> tuple[pd.DataFrame, np.ndarray | None]:
        level = check_level(level)
        if deff not in (True, False, "replace"):
            raise DesignError(f"deff must be True, False or 'replace'; got {deff!r}.")
        n_lev = y.shape[1]
        dom, keys = _domains(self, by)
        n_dom = len(keys)
        w = self.w
        stat = linear_statistic(w, y, dom, n_dom, kind, na_rm, deff == "replace")
        wsum, cnt = stat.wsum, stat.cnt
        if deff != "replace" and np.any((wsum < cnt) & (cnt > 0)):
            warnings.warn(
                "the weights sum to less than the sample size in "
                f"{int(np.sum((wsum < cnt) & (cnt > 0)))} domain(s), so the design effect "
                "against simple random sampling without replacement is undefined (NaN); are the "
                "weights scaled to the population? (R's survey: 'Sample size greater than "
                "population size'.) Use deff='replace' for the with-replacement design effect.",
                UserWarning,
                stacklevel=3,
            )
        u, est, vsrs, bad_dom, nobs = stat.u, stat.estimate, stat.vsrs, stat.bad_dom, stat.nobs
        valid = stat.valid
        dom_valid = dom if valid is None else np.where(valid, dom, -1)
        full_cov = bool(full_cov)
        factor = average_factor(self, dom_valid, n_dom)
        check_average(self, dom_valid, n_dom, keys, factor)
        if factor is not None:
            factor = np.repeat(factor, n_lev)
        v = self.variance(u, covariance=full_cov, stage1_factor=factor)
        var_diag = np.diag(v) if full_cov else v
        se = np.sqrt(np.maximum(var_diag, 0.0)).reshape(n_dom, n_lev)
        with np.errstate(divide="ignore", invalid="ignore"):
            deff_values = var_diag.reshape(n_dom, n_lev) / vsrs
        est = np.where(bad_dom[:, None], np.nan, est)
        se = np.where(bad_dom[:, None], np.nan, se)
        if _as_list(by):
            df_dom = self.domain_degf(np.where(w != 0, dom_valid, -1), n_dom)
        else:
            df_dom = np.full(n_dom, float(self.degf()))
        with np.errstate(invalid="ignore"):
            q = np.where(df_dom > 0, stats.t.ppf(0.5 + level / 2, np.maximum(df_dom, 1)), np.nan)
        df = np.repeat(df_dom, n_lev)
        q = np.repeat(q, n_lev)
        groups = keys.loc[keys.index.repeat(n_lev)].reset_index(drop=True)
        if not _as_list(by):
            groups = groups.iloc[:, 0:0]
        if category:
            groups["category"] = np.tile(np.asarray(labels, dtype=object), n_dom)
        out = result_table(
            groups,
            variable=var,
            estimate=est.ravel(),
            se=se.ravel(),
            lower=est.ravel() - q * se.ravel(),
            upper=est.ravel() + q * se.ravel(),
            level=level,
            df=df,
            n=np.repeat(nobs.astype(np.int64), n_lev),
            method="taylor",
            extra={"deff": deff_values.ravel() if deff is not False else np.nan},
        )
        return out, (v if full_cov else None)
