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

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy import optimize, special, stats

from meting.checks import check_design_columns, check_level, check_no_missing
from meting.errors import DesignError
from meting.intervals import (
    CIPROP_METHODS,
    CipropMethod,
    asin_interval,
    beta_interval,
    logit_interval,
    wald_interval,
)
from meting.replicate import ReplicateDesign, bootstrap_weights, jackknife_weights
from meting.results import result_table
from meting.variance import (
    LONELY_PSU_OPTIONS,
    CalibrationRecord,
    DesignStructure,
    LonelyPsu,
    build_structure,
    linearised_variance,
)
from meting.variance import degf as _degf

Alternative = Literal["two-sided", "less", "greater"]
#: Design effect against SRS without replacement (True), with replacement ("replace"), or none.
DeffKind = bool | Literal["replace"]


@dataclass(frozen=True)
class WeightingRecord:
    """One weighting step done on a design (kept in :attr:`SurveyDesign.history`)."""

    method: str
    call: str
    converged: bool = True
    iterations: int = 0


def _as_list(cols: str | Sequence[str] | None) -> list[str]:
    if cols is None:
        return []
    if isinstance(cols, str):
        return [cols]
    return list(cols)


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
            object.__setattr__(self, "structure", self._build_structure(n))
        if self.weight_values is None:
            object.__setattr__(self, "weight_values", self._base_weights(n))
        w = np.asarray(self.weight_values, dtype=float)
        if w.shape != (n,):
            raise DesignError(f"weight_values must have one value per row ({n}); got {w.shape}.")
        object.__setattr__(self, "weight_values", w)

    # -- construction helpers --------------------------------------------------------------
    def _build_structure(self, n: int) -> DesignStructure:
        id_cols = _as_list(self.ids)
        strata_cols = _as_list(self.strata)
        fpc_cols = _as_list(self.fpc)
        ids = [self._codes(c) for c in id_cols] or [np.arange(n, dtype=np.int64)]
        strata = [self._codes(c) for c in strata_cols] or [np.zeros(n, dtype=np.int64)]
        labels = [self.data[c].to_numpy() for c in strata_cols] or [np.zeros(n)]
        if self.nest and strata_cols:
            ids[0] = pd.MultiIndex.from_arrays([strata[0], ids[0]]).factorize(sort=True)[0]
        fpc = None
        if fpc_cols:
            fpc = []
            for c in fpc_cols:
                vals = pd.to_numeric(self.data[c], errors="coerce").to_numpy(dtype=float)
                if np.isnan(vals).any():
                    raise DesignError(
                        f"fpc column {c!r} must be numeric; got "
                        f"{self.data[c][np.isnan(vals)].iloc[0]!r}. Give population sizes "
                        "or sampling fractions."
                    )
                fpc.append(vals)
        structure, implied = build_structure(ids, strata, labels, fpc, self.lonely_psu, strata_cols)
        object.__setattr__(self, "_implied_weights", implied)
        return structure

    def _codes(self, col: str) -> np.ndarray:
        codes, _ = pd.factorize(self.data[col], sort=True)
        return codes.astype(np.int64)

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
        st = self.structure
        keep = dom >= 0
        d = dom[keep].astype(np.int64)
        out = np.zeros(n_dom)
        for codes, sign in ((st.psu1, 1.0), (st.stratum1, -1.0)):  # type: ignore[union-attr]
            pairs = np.unique(d * (int(codes.max()) + 1) + codes[keep]) if d.size else d
            out += sign * np.bincount(pairs // (int(codes.max()) + 1), minlength=n_dom)
        return out

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

    def _average_factor(self, dom: np.ndarray, n_dom: int) -> np.ndarray | None:
        """Per-domain ``average`` rescaling over the strata present in each domain.

        ``svyby`` subsets an uncalibrated design, so the lonely-PSU average counts only the
        strata that occur in the domain; a calibrated design keeps every row (and stratum).
        """
        stage = self.structure.stages[0]  # type: ignore[union-attr]
        if self.lonely_psu != "average" or self.calibration or stage.usable.all():
            return None
        strat = self.structure.stratum1  # type: ignore[union-attr]
        keep = dom >= 0
        pairs = np.unique(np.c_[dom[keep], strat[keep]], axis=0)
        nstrat = np.bincount(pairs[:, 0], minlength=n_dom).astype(float)
        nok = np.bincount(
            pairs[:, 0], weights=stage.usable[pairs[:, 1]].astype(float), minlength=n_dom
        )
        with np.errstate(divide="ignore", invalid="ignore"):
            return nstrat / nok

    def _check_average(
        self, dom: np.ndarray, n_dom: int, keys: pd.DataFrame, factor: np.ndarray | None
    ) -> None:
        """Refuse estimates that ``lonely_psu="average"`` leaves undefined (R: NaN).

        Under ``average`` a unit whose strata of the next stage are all lonely has nothing to
        average over: ``survey``'s ``onestage`` returns ``0 * nstrat / 0``.  ``svyby`` drops the
        rows outside the domain of an uncalibrated design, so only domains with rows in such a
        unit are affected; a calibrated design keeps every row, so all are.
        """
        if self.lonely_psu != "average":
            return
        bad = np.zeros(n_dom, dtype=bool)
        if factor is not None:
            bad |= ~np.isfinite(factor)
        where = ""
        for s, stage in enumerate(self.structure.stages):  # type: ignore[union-attr]
            if not stage.undefined.any():
                continue
            row_bad = stage.undefined[stage.stratum_of_psu[stage.psu]]
            hit = row_bad & (dom >= 0) if not self.calibration else row_bad
            if hit.any():
                where = where or f" at stage {s + 1} (row {int(np.argmax(hit))})"
                if self.calibration:
                    bad[:] = True
                else:
                    bad[np.unique(dom[hit])] = True
        if bad.any():
            names = (
                ", ".join(
                    "/".join(map(str, r)) for r in keys.loc[bad].head(5).itertuples(index=False)
                )
                if len(keys.columns)
                else "the whole sample"
            )
            raise DesignError(
                "lonely_psu='average' must have at least one stratum with two or more sampled "
                f"units to average over{where}; got none for {int(bad.sum())} domain(s) "
                f"({names}); R's survey returns NaN standard errors here. Choose "
                "lonely_psu='adjust' (centre at the overall mean), 'certainty' or 'remove', or "
                "merge the lonely units with similar ones."
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
        y = self._numeric(var)
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
        y = self._numeric(var)
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
        y, levels = self._one_hot(var)
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
        y = self._numeric(var)
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
        table = self.mean(var, level=level)
        df = self.degf() - 1
        return _add_test(table, mu, alternative, df, level)

    def ttest_groups(self, var: str, group: str, level: float = 0.95) -> pd.DataFrame:
        """Two-group design-based t-test of a difference in means (``svyttest(y ~ g)``).

        The estimate is mean(second level) - mean(first level) (levels sorted), with
        ``degf - 1`` degrees of freedom over the rows where both columns are observed, as
        ``svyglm`` gives.
        """
        level = check_level(level)
        y = self._numeric(var)
        g = self._column(group)
        valid = ~np.isnan(y) & g.notna().to_numpy()
        levels = np.sort(pd.unique(g[valid]))
        if levels.size != 2:
            raise DesignError(
                f"group column {group!r} must have exactly two levels among rows with {var!r} "
                f"observed; got {levels.size}: {levels.tolist()[:10]}. Use mean(by=) for more."
            )
        w = self.w * valid
        sign = np.where(g.to_numpy() == levels[1], 1.0, -1.0)
        u = np.zeros(self.n)
        est = []
        for lev in levels:
            rows = valid & (g.to_numpy() == lev)
            wsum = w[rows].sum()
            m = np.sum(w[rows] * y[rows]) / wsum
            u[rows] = w[rows] * (y[rows] - m) / wsum
            est.append(m)
        u *= sign
        diff = est[1] - est[0]
        se = float(np.sqrt(self.variance(u[:, None])[0]))
        df = _degf(self.structure, valid & (self.w != 0)) - 1  # type: ignore[arg-type]
        q = stats.t.ppf(0.5 + level / 2, df)
        table = result_table(
            None,
            variable=f"{var}: {group}={levels[1]} - {group}={levels[0]}",
            estimate=[diff],
            se=[se],
            lower=[diff - q * se],
            upper=[diff + q * se],
            level=level,
            df=float(df),
            n=[int(valid.sum())],
            method="taylor",
            extra={"deff": np.nan},
        )
        table["statistic"] = diff / se
        table["p_value"] = 2 * stats.t.sf(abs(diff / se), df)
        table["alternative"] = "two-sided"
        return table

    # -- proportion intervals, ratios, quantiles ------------------------------------------
    def _domain_se(self, vals: np.ndarray, dom: np.ndarray, keys: pd.DataFrame) -> np.ndarray:
        """Standard errors of domain totals of influence values ``vals`` (0 outside ``dom``)."""
        n_dom = len(keys)
        rows = np.flatnonzero(dom >= 0)
        u = sp.csr_matrix((vals[rows], (rows, dom[rows])), shape=(self.n, n_dom))
        factor = self._average_factor(dom, n_dom)
        self._check_average(dom, n_dom, keys, factor)
        v = self.variance(u, stage1_factor=factor)
        return np.sqrt(np.maximum(v, 0.0))

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
        if method not in CIPROP_METHODS:
            raise DesignError(f"method must be one of {', '.join(CIPROP_METHODS)}; got {method!r}.")
        level = check_level(level)
        y = self._numeric(var)
        obs = y[~np.isnan(y)]
        if not np.isin(obs, (0.0, 1.0)).all():
            raise DesignError(
                f"variable {var!r} must hold only 0 and 1 for ciprop; got "
                f"{obs[~np.isin(obs, (0.0, 1.0))][0]!r}. Recode it to an indicator first."
            )
        table = self.mean(var, by=by, na_rm=na_rm, level=level)
        p = table["estimate"].to_numpy()
        se = table["se"].to_numpy()
        df = table["df"].to_numpy()
        if method == "mean":
            lower, upper = wald_interval(p, se, df, level)
        elif method in ("logit", "xlogit"):
            lower, upper = logit_interval(p, se, df, level)
        elif method == "asin":
            lower, upper = asin_interval(p, se, df, level)
        elif method == "beta":
            dom, _ = self._domains(by)
            n_rows = (
                np.full(len(table), float(self.n))
                if self.calibration
                else np.bincount(dom[dom >= 0], minlength=len(table)).astype(float)
            )
            lower, upper = beta_interval(p, se, df, level, n_rows, table["n"].to_numpy())
        else:
            lower, upper = self._likelihood_interval(y, p, se, df, by, level)
        out = table.copy()
        out["lower"] = lower
        out["upper"] = upper
        out["method"] = f"ciprop-{method}"
        return out

    def _likelihood_interval(
        self,
        y: np.ndarray,
        p: np.ndarray,
        se: np.ndarray,
        df: np.ndarray,
        by: str | Sequence[str] | None,
        level: float,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Profile-likelihood interval of the intercept-only quasibinomial ``svyglm``.

        As ``confint.svyglm(method = "likelihood")``: the profile of the weighted binomial
        deviance (weights scaled to mean 1 over the domain's rows), divided by the dispersion
        ``svyvar`` of the Pearson residuals, is cut at ``|tau| = qt((1 - level)/2, df) *
        sqrt(lambda)`` (R: ``qnorm(2 alpha)`` with ``alpha = pnorm(qt(...) sqrt(lambda)) / 2``),
        ``lambda`` the design variance of the coefficient over its model-based variance.  R interpolates a spline
        through a few profile points; here the root is found exactly (agreement ~1e-4).
        """
        dom, _ = self._domains(by)
        lower = np.full(p.size, np.nan)
        upper = np.full(p.size, np.nan)
        slices = _domain_slices(dom, p.size)
        # svyglm scales the weights to mean 1 over the rows of the (subset) design: the domain's
        # rows for an uncalibrated design, every row (zero outside the domain) for a calibrated
        for g, rows in enumerate(slices):
            norm = self.w[rows].sum() / (self.n if self.calibration else max(rows.size, 1))
            rows = rows[~np.isnan(y[rows])]
            w_all, yy = self.w[rows], y[rows]
            keep = w_all > 0
            w, yy = w_all[keep], yy[keep]
            if not (0 < p[g] < 1) or not df[g] > 0 or w.size < 2:
                continue
            wn = w / norm
            b0 = float(special.logit(p[g]))

            def deviance(b: float, wn: np.ndarray = wn, yy: np.ndarray = yy) -> float:
                mu = special.expit(b)
                return float(-2.0 * np.sum(wn * (yy * np.log(mu) + (1 - yy) * np.log1p(-mu))))

            dev0 = deviance(b0)
            pearson = (yy - p[g]) * np.sqrt(wn) / np.sqrt(p[g] * (1 - p[g]))
            m = np.sum(w * pearson) / w.sum()
            dispersion = w.size / (w.size - 1) * np.sum(w * (pearson - m) ** 2) / w.sum()
            naive = 1.0 / np.sum(wn * p[g] * (1 - p[g]))
            design_var = (se[g] / (p[g] * (1 - p[g]))) ** 2
            lam = design_var / naive
            # R: alpha = pnorm(qt((1 - level)/2, df) sqrt(lambda)) / 2, profile cut at
            # qnorm(2 alpha), i.e. |tau| = qt((1 - level)/2, df) sqrt(lambda)
            cut = float(stats.t.ppf((1 - level) / 2, df[g]) ** 2 * lam)
            alpha_half = float(stats.norm.cdf(-np.sqrt(cut)) / 2)

            def z2(
                b: float, dev0: float = dev0, dispersion: float = dispersion, cut: float = cut
            ) -> float:
                return (deviance(b) - dev0) / dispersion - cut

            # R's MASSprofile_glm: at most 9 steps of zmax / 5 standard errors each way, until
            # |tau| passes zmax = sqrt(qf(alpha, 1, n - 1, lower = FALSE)); then
            # confint_profile interpolates an fmm spline through the profile (3 x the points)
            n_glm = rows.size if not self.calibration else int(np.count_nonzero(~np.isnan(y)))
            zmax = float(np.sqrt(stats.f.isf(alpha_half, 1, n_glm - 1)))
            del_ = zmax / 5 * np.sqrt(design_var)
            pars, taus = [b0], [0.0]
            for sgn in (-1.0, 1.0):
                step, tau = 0, 0.0
                while (step := step + 1) < 10 and abs(tau) < zmax:
                    bi = b0 + sgn * step * del_
                    zz = max((deviance(bi) - dev0) / dispersion, 0.0)
                    tau = sgn * float(np.sqrt(zz))
                    pars.append(bi)
                    taus.append(tau)
            srt = np.argsort(taus, kind="stable")
            px, tz = np.asarray(pars)[srt], np.asarray(taus)[srt]
            grid = np.linspace(px.min(), px.max(), 3 * px.size)
            on_grid = _fmm_spline(px, tz, grid)
            o = np.argsort(on_grid, kind="stable")
            half = float(np.sqrt(cut))
            ends = np.interp([-half, half], on_grid[o], grid[o], left=np.nan, right=np.nan)
            if np.isnan(ends).any():  # the profile did not reach the cut: solve exactly
                step_b = np.sqrt(design_var)
                ends = []
                for sgn in (-1.0, 1.0):
                    far = b0 + sgn * step_b
                    while z2(far) < 0:
                        far = b0 + 2 * (far - b0)
                    ends.append(optimize.brentq(z2, b0, far, xtol=1e-14, rtol=1e-14))
            lower[g], upper[g] = special.expit(ends[0]), special.expit(ends[1])
        return lower, upper

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
        level = check_level(level)
        y = self._numeric(numerator)
        x = self._numeric(denominator)
        dom, keys = self._domains(by)
        n_dom = len(keys)
        missing = np.isnan(y) | np.isnan(x)
        valid = (dom >= 0) & ~missing
        dv = np.where(valid, dom, -1)
        d = np.where(valid, dom, 0)
        wv = np.where(valid, self.w, 0.0)
        yv, xv = np.where(valid, y, 0.0), np.where(valid, x, 0.0)
        ty = np.bincount(d, weights=wv * yv, minlength=n_dom)
        tx = np.bincount(d, weights=wv * xv, minlength=n_dom)
        with np.errstate(divide="ignore", invalid="ignore"):
            r = ty / tx
            vals = np.where(valid, wv * (yv - r[d] * xv) / tx[d], 0.0)
        se = self._domain_se(vals, dv, keys if _as_list(by) else keys.iloc[:, 0:0])
        if not na_rm and missing.any():
            bad = np.bincount(dom[(dom >= 0) & missing], minlength=n_dom) > 0
            r, se = np.where(bad, np.nan, r), np.where(bad, np.nan, se)
        df = self._df_for(by, valid, dom, n_dom)
        q = _t_quantile(level, df)
        groups = keys if _as_list(by) else keys.iloc[:, 0:0]
        return result_table(
            groups,
            variable=f"{numerator}/{denominator}",
            estimate=r,
            se=se,
            lower=r - q * se,
            upper=r + q * se,
            level=level,
            df=df,
            n=np.bincount(d, weights=valid.astype(float), minlength=n_dom).astype(np.int64),
            method="taylor",
        )

    def _df_for(
        self, by: str | Sequence[str] | None, valid: np.ndarray, dom: np.ndarray, n_dom: int
    ) -> np.ndarray:
        if _as_list(by):
            return self.domain_degf(np.where(valid & (self.w != 0), dom, -1), n_dom)
        return np.full(n_dom, float(self.degf()))

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
        if qrule not in ("math", "hf7"):
            raise DesignError(f"qrule must be 'math' or 'hf7'; got {qrule!r}.")
        level = check_level(level)
        plist = [float(probs)] if np.isscalar(probs) else [float(v) for v in probs]  # type: ignore[arg-type]
        if not plist or any(not 0 <= v <= 1 for v in plist):
            raise DesignError(f"probs must lie in [0, 1]; got {plist!r}.")
        y = self._numeric(var)
        dom, keys = self._domains(by)
        n_dom = len(keys)
        missing = np.isnan(y)
        valid = (dom >= 0) & ~missing
        bad = np.zeros(n_dom, dtype=bool)
        if not na_rm and missing.any():
            bad = np.bincount(dom[(dom >= 0) & missing], minlength=n_dom) > 0
        df = self._df_for(by, valid, dom, n_dom)
        qcrit = _t_quantile(level, df)
        rule = _qrule_math if qrule == "math" else _qrule_hf7
        w_ci = self.w  # R's weights(design, "sampling"): 1 / prob, which calibration updates
        members = _domain_slices(np.where(valid, dom, -1), n_dom)
        rows_out = []
        for pr in plist:
            qhat = np.array([rule(y[m], self.w[m], pr) if m.size else np.nan for m in members])
            ind = np.where(valid, (y <= np.where(valid, qhat[np.where(valid, dom, 0)], 0)), 0.0)
            ind = ind.astype(float)
            d = np.where(valid, dom, 0)
            wv = np.where(valid, self.w, 0.0)
            wsum = np.bincount(d, weights=wv, minlength=n_dom)
            with np.errstate(divide="ignore", invalid="ignore"):
                share = np.bincount(d, weights=wv * ind, minlength=n_dom) / wsum
                vals = np.where(valid, wv * (ind - share[d]) / wsum[d], 0.0)
            se_p = self._domain_se(
                vals, np.where(valid, dom, -1), keys if _as_list(by) else keys.iloc[:, 0:0]
            )
            p_lo, p_hi = share - qcrit * se_p, share + qcrit * se_p
            lower = np.array(
                [
                    rule(y[m], w_ci[m], lo) if m.size and 0 <= lo else np.nan
                    for m, lo in zip(members, p_lo, strict=True)
                ]
            )
            upper = np.array(
                [
                    rule(y[m], w_ci[m], hi) if m.size and hi <= 1 else np.nan
                    for m, hi in zip(members, p_hi, strict=True)
                ]
            )
            with np.errstate(invalid="ignore"):
                se = (upper - lower) / (2 * qcrit)
            qhat, se = np.where(bad, np.nan, qhat), np.where(bad, np.nan, se)
            groups = keys.copy() if _as_list(by) else keys.iloc[:, 0:0].copy()
            rows_out.append(
                result_table(
                    groups,
                    variable=var,
                    estimate=qhat,
                    se=se,
                    lower=np.where(bad, np.nan, lower),
                    upper=np.where(bad, np.nan, upper),
                    level=level,
                    df=df,
                    n=np.bincount(d, weights=valid.astype(float), minlength=n_dom).astype(np.int64),
                    method=f"quantile-{qrule}",
                    extra={"prob": pr},
                )
            )
        out = pd.concat(rows_out, ignore_index=True)
        if _as_list(by):
            out = out.sort_values(_as_list(by), kind="stable").reset_index(drop=True)
        return out

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
        if self.calibration:
            raise DesignError(
                "as_replicate needs a design before weighting; got a calibrated design "
                f"({', '.join(h.method for h in self.history) or 'weighted'}). Make the "
                "replicates from the unweighted design and weight each replicate, or use the "
                "linearisation of the calibrated design."
            )
        st = self.structure
        psu, strata = st.psu1, st.stratum1  # type: ignore[union-attr]
        fpc_factor = None
        fpc_cols = _as_list(self.fpc)
        if fpc_cols:
            f = pd.to_numeric(self.data[fpc_cols[0]]).to_numpy(dtype=float)
            all_fpc = np.concatenate(
                [pd.to_numeric(self.data[c]).to_numpy(dtype=float) for c in fpc_cols]
            )
            n_h = st.stages[0].n_psu  # type: ignore[union-attr]
            first = np.full(n_h.size, -1, dtype=np.int64)
            first[strata[::-1]] = np.arange(strata.size)[::-1]
            fh = f[first]
            fpc_factor = 1.0 - n_h / fh if np.any(all_fpc > 1) else 1.0 - fh
        if type in ("JK1", "JKn"):
            if type == "JK1" and int(strata.max()) > 0:
                raise DesignError(
                    "type 'JK1' is for unstratified designs; got "
                    f"{int(strata.max()) + 1} strata. Use type='JKn'."
                )
            reps, scale, rscales = jackknife_weights(
                self.w, psu, strata, fpc_factor, stratified=type == "JKn"
            )
        elif type == "bootstrap":
            reps, scale = bootstrap_weights(self.w, psu, strata, int(replicates), random_seed)
            rscales = np.ones(reps.shape[1])
        else:
            raise DesignError(f"type must be 'JK1', 'JKn' or 'bootstrap'; got {type!r}.")
        return ReplicateDesign(
            self.data,
            weights=self.weights,
            type=type,
            scale=scale,
            rscales=rscales,
            mse=mse,
            degf=self.degf(),
            weight_values=self.w.copy(),
            repweight_values=reps,
        )

    # -- internals -------------------------------------------------------------------------
    def _column(self, var: str) -> pd.Series:
        if var not in self.data.columns:
            raise DesignError(
                f"variable {var!r} must be a column of the design data; got columns "
                f"{sorted(map(str, self.data.columns))[:12]}. Check the spelling."
            )
        return self.data[var]

    def _numeric(self, var: str) -> np.ndarray:
        col = self._column(var)
        if isinstance(col.dtype, pd.CategoricalDtype) or not (
            pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col)
        ):
            raise DesignError(
                f"variable {var!r} must be numeric for a mean or total; got dtype {col.dtype}. "
                "Use proportion() for a categorical variable."
            )
        return col.astype("float64").to_numpy(dtype=float, na_value=np.nan)

    def _one_hot(self, var: str) -> tuple[np.ndarray, np.ndarray]:
        col = self._column(var)
        if isinstance(col.dtype, pd.CategoricalDtype):
            levels = np.asarray(col.cat.categories)
            codes = col.cat.codes.to_numpy()
        else:
            codes, uniques = pd.factorize(col, sort=True)
            levels = np.asarray(uniques)
        y = np.zeros((self.n, levels.size))
        ok = codes >= 0
        y[np.flatnonzero(ok), codes[ok]] = 1.0
        y[~ok] = np.nan
        return y, levels

    def _domains(self, by: str | Sequence[str] | None) -> tuple[np.ndarray, pd.DataFrame]:
        cols = _as_list(by)
        if not cols:
            return np.zeros(self.n, dtype=np.int64), pd.DataFrame(index=[0])
        for c in cols:
            self._column(c)
        grouped = self.data.groupby(cols, sort=True, dropna=True, observed=True)
        codes = grouped.ngroup().fillna(-1).to_numpy().astype(np.int64)
        keys = grouped.size().reset_index()[cols]
        return codes, keys

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
        n, n_lev = y.shape
        dom, keys = self._domains(by)
        n_dom = len(keys)
        w = self.w
        missing = np.isnan(y).any(axis=1)
        in_dom = dom >= 0
        valid = in_dom & ~missing
        bad_dom = np.zeros(n_dom, dtype=bool)
        if not na_rm and missing.any():
            bad_dom = np.bincount(dom[in_dom & missing], minlength=n_dom) > 0
        d = np.where(valid, dom, 0)
        wv = np.where(valid, w, 0.0)
        yv = np.where(valid[:, None], y, 0.0)
        wsum = np.bincount(d, weights=wv, minlength=n_dom)
        cnt = np.bincount(d, weights=(valid & (w != 0)).astype(float), minlength=n_dom)
        nobs = np.bincount(d, weights=valid.astype(float), minlength=n_dom)
        cols = d[:, None] * n_lev + np.arange(n_lev)[None, :]
        tot = np.bincount(cols.ravel(), weights=(wv[:, None] * yv).ravel(), minlength=n_dom * n_lev)
        tot = tot.reshape(n_dom, n_lev)
        with np.errstate(divide="ignore", invalid="ignore"):
            means = tot / wsum[:, None]
            centred = yv - means[d]
            ss = np.bincount(
                cols.ravel(), weights=(wv[:, None] * centred**2).ravel(), minlength=n_dom * n_lev
            ).reshape(n_dom, n_lev)
            svyvar = ss / wsum[:, None] * (cnt / (cnt - 1))[:, None]
            est: np.ndarray
            # SRS variance for the design effect: without replacement (svymean's deff = TRUE)
            # or with replacement (deff = "replace"); undefined when the weights sum to less
            # than the sample (R: NA with a warning), never negative
            if deff == "replace":
                srs = 1.0 / cnt
            else:
                srs = np.where(wsum >= cnt, (wsum - cnt) / (wsum * cnt), np.nan)
            if kind == "mean":
                est = means
                vals = wv[:, None] * centred / wsum[d][:, None]
                vsrs = svyvar * srs[:, None]
            else:
                est = tot
                vals = wv[:, None] * yv
                vsrs = svyvar * (wsum**2 * srs)[:, None]
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
        vals = np.where(valid[:, None], vals, 0.0)
        rows = np.flatnonzero(valid)
        k = n_dom * n_lev
        u = sp.csr_matrix(
            (vals[rows].ravel(), (np.repeat(rows, n_lev), cols[rows].ravel())), shape=(n, k)
        )
        full_cov = bool(full_cov)
        factor = self._average_factor(np.where(valid, dom, -1), n_dom)
        self._check_average(np.where(valid, dom, -1), n_dom, keys, factor)
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
            df_dom = self.domain_degf(np.where(valid & (w != 0), dom, -1), n_dom)
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


def _add_test(
    table: pd.DataFrame, mu: float, alternative: str, df: int, level: float
) -> pd.DataFrame:
    if alternative not in ("two-sided", "less", "greater"):
        raise DesignError(
            f"alternative must be 'two-sided', 'less' or 'greater'; got {alternative!r}."
        )
    out = table.copy()
    stat = (out["estimate"] - mu) / out["se"]
    if alternative == "two-sided":
        p = 2 * stats.t.sf(np.abs(stat), df)
        q = stats.t.ppf(0.5 + level / 2, df)
        lo, hi = out["estimate"] - q * out["se"], out["estimate"] + q * out["se"]
    elif alternative == "less":
        p = stats.t.cdf(stat, df)
        q = stats.t.ppf(level, df)
        lo, hi = -np.inf + 0 * stat, out["estimate"] + q * out["se"]
    else:
        p = stats.t.sf(stat, df)
        q = stats.t.ppf(level, df)
        lo, hi = out["estimate"] - q * out["se"], np.inf + 0 * stat
    out["df"] = float(df)
    out["lower"] = lo
    out["upper"] = hi
    out["mu"] = mu
    out["statistic"] = stat
    out["p_value"] = p
    out["alternative"] = alternative
    return out


def _fmm_spline(x: np.ndarray, y: np.ndarray, u: np.ndarray) -> np.ndarray:
    """R's ``spline(method = "fmm")`` (Forsythe, Malcolm and Moler) through (x, y) at ``u``.

    ``x`` increasing; end conditions match the third derivatives of the cubics through the
    four end points (``fmm_spline`` and ``spline_eval`` of R's ``splines.c``).
    """
    n = x.size
    b, c, d = np.zeros(n), np.zeros(n), np.zeros(n)
    if n < 2:
        return np.full(u.size, np.nan)
    if n < 3:
        t = (y[1] - y[0]) / (x[1] - x[0])
        b[:] = t
    else:
        nm1 = n - 1
        d[0] = x[1] - x[0]
        c[1] = (y[1] - y[0]) / d[0]
        for i in range(1, nm1):
            d[i] = x[i + 1] - x[i]
            b[i] = 2.0 * (d[i - 1] + d[i])
            c[i + 1] = (y[i + 1] - y[i]) / d[i]
            c[i] = c[i + 1] - c[i]
        b[0] = -d[0]
        b[nm1] = -d[n - 2]
        c[0] = c[nm1] = 0.0
        if n > 3:
            c[0] = c[2] / (x[3] - x[1]) - c[1] / (x[2] - x[0])
            c[nm1] = c[n - 2] / (x[nm1] - x[n - 3]) - c[n - 3] / (x[n - 2] - x[n - 4])
            c[0] = c[0] * d[0] * d[0] / (x[3] - x[0])
            c[nm1] = -c[nm1] * d[n - 2] * d[n - 2] / (x[nm1] - x[n - 4])
        for i in range(1, n):
            t = d[i - 1] / b[i - 1]
            b[i] = b[i] - t * d[i - 1]
            c[i] = c[i] - t * c[i - 1]
        c[nm1] = c[nm1] / b[nm1]
        for i in range(n - 2, -1, -1):
            c[i] = (c[i] - d[i] * c[i + 1]) / b[i]
        b[nm1] = (y[nm1] - y[n - 2]) / d[n - 2] + d[n - 2] * (c[n - 2] + 2.0 * c[nm1])
        for i in range(nm1):
            b[i] = (y[i + 1] - y[i]) / d[i] - d[i] * (c[i + 1] + 2.0 * c[i])
            d[i] = (c[i + 1] - c[i]) / d[i]
            c[i] = 3.0 * c[i]
        c[nm1] = 3.0 * c[nm1]
        d[nm1] = d[n - 2]
    i = np.clip(np.searchsorted(x, u, side="right") - 1, 0, n - 1)
    i = np.where((i == n - 1) & (n > 1) & (u <= x[-1]), n - 2, i) if n > 1 else i
    dx = u - x[i]
    return y[i] + dx * (b[i] + dx * (c[i] + dx * d[i]))


def _domain_slices(dom: np.ndarray, n_dom: int) -> list[np.ndarray]:
    """Row numbers of each domain (in row order), from one stable sort (``dom`` -1: none)."""
    order = np.argsort(dom, kind="stable")
    bounds = np.searchsorted(dom[order], np.arange(n_dom + 1))
    return [order[bounds[g] : bounds[g + 1]] for g in range(n_dom)]


def _t_quantile(level: float, df: np.ndarray) -> np.ndarray:
    df = np.asarray(df, dtype=float)
    with np.errstate(invalid="ignore"):
        return np.where(df > 0, stats.t.ppf(0.5 + level / 2, np.where(df > 0, df, 1.0)), np.nan)


def _qrule_math(x: np.ndarray, w: np.ndarray, p: float) -> float:
    """survey's ``qrule_math``: the smallest x whose weighted cumulative share reaches p."""
    keep = w != 0
    x, w = x[keep], w[keep]
    if x.size == 0:
        return np.nan
    ii = np.argsort(x, kind="stable")
    x, cumw = x[ii], np.cumsum(w[ii])
    total = math.fsum(w)
    # survey:::last(cumw <= p W): the last such position (1-based), or 1 when there is none
    pos = max(int(np.count_nonzero(cumw <= p * total)), 1)
    if p - cumw[pos - 1] / total == 0:
        return float(x[pos - 1])
    return float(x[min(pos, x.size - 1)])


def _qrule_hf7(x: np.ndarray, w: np.ndarray, p: float) -> float:
    """survey's ``qrule_hf7``: linear interpolation of the weighted empirical quantile."""
    keep = w != 0
    x, w = x[keep], w[keep]
    n = x.size
    if n == 0:
        return np.nan
    if n == 1:
        return float(x[0])
    ii = np.argsort(x, kind="stable")
    x, cumw = x[ii], np.cumsum(w[ii])
    pk = np.r_[0.0, cumw[:-1]] / cumw[n - 2]
    return float(np.interp(p, pk, x))
