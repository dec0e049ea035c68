"""Does it reach a 7? Tests against the target, multiple testing and Bayesian verdicts.

Three entry points, each a pure function of a table:

* :func:`test_against_target` takes an *estimate table* (see ``ARCHITECTURE.md``: group columns,
  then ``variable, estimate, se, df, ci_lower, ci_upper, deff, n``) and adds a design-based
  t-test of every mean against the target (7 by default), p-values adjusted for multiple testing
  (Holm or Benjamini-Hochberg) within a family of tests, and a verdict in three classes.
* :func:`bayes_verdicts` takes the Bayesian per-cell table of :mod:`meting.sae` and turns the
  posterior probability that a mean is at least the target into a verdict.
* :func:`target_results` and :func:`bayes_results` turn either into the one tidy *result table*
  (columns :data:`RESULT_COLUMNS`, documented in :data:`RESULT_COLUMN_DOCS`) that the reports
  consume unchanged; :mod:`meting.comparison` produces the same table for wave-against-wave
  comparisons, and :func:`verdicts_for_wave` produces it for a whole wave in one call.

The test follows R's ``svyttest`` for a one-sample mean: ``t = (estimate - target) / se``, referred
to a t distribution with the design's degrees of freedom. R's ``survey`` 4.1-1 fits the mean as an
intercept-only ``svyglm`` and so uses ``degf(design) - 1``; an estimate table carries
``degf(design)`` (as ``svymean``'s confidence interval does, and as the classical one-sample t-test
does for a simple random sample: ``n - 1``). The table's df is used as given unless
``svyttest_df=True``, which subtracts one and reproduces R's ``svyttest`` p-value exactly.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final, Literal

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.stats.multitest import multipletests

from meting.checks import (  # re-exported: comparison and sae import them from here
    check_adjust,
    check_columns,
    check_level,
    check_min_n,
)
from meting.checks import numeric_column as _numeric
from meting.columns import (
    CHANNEL_COLUMNS,
    CHANNELS,
    LIFE_EVENT,
    MUNICIPALITY,
    ORGANISATION,
    ORGANISATION_SCORE,
    SCORES,
)
from meting.errors import ParameterError, SchemaError

Adjustment = Literal["holm", "bh", "none"]

_STATSMODELS_METHOD: Final = {"holm": "holm", "bh": "fdr_bh"}

#: Columns that :func:`test_against_target` (and :func:`meting.comparison.compare_waves`) add.
TEST_COLUMNS: Final = (
    "t",
    "p_two_sided",
    "p_greater",
    "p_less",
    "p_adjusted",
    "adjustment",
    "family_size",
    "verdict",
    "reason",
)

#: The columns of the tidy result table, in order.
RESULT_COLUMNS: Final = (
    "level",
    "keys",
    "variable",
    "test",
    "method",
    "wave",
    "reference_wave",
    "null_value",
    "estimate",
    "se",
    "df",
    "confidence",
    "ci_lower",
    "ci_upper",
    "n",
    "n_reference",
    "t",
    "p_two_sided",
    "p_greater",
    "p_less",
    "p_adjusted",
    "adjustment",
    "family_size",
    "probability",
    "verdict",
    "reason",
)

#: What each column of the tidy result table holds (one row = one verdict).
RESULT_COLUMN_DOCS: Final[Mapping[str, str]] = {
    "level": "aggregation level in Dutch: 'landelijk', 'levensgebeurtenis', 'organisatie', "
    "'kanaal', 'gemeente x levensgebeurtenis', ...",
    "keys": "the cell within the level as 'column=value' pairs joined by '; ' "
    "(e.g. 'municipality=GM0363; life_event=verhuizen'); '' for the national level",
    "variable": "the variable estimated (e.g. 'score_chain')",
    "test": "'target' (mean against the target) or 'change' (later wave minus earlier wave)",
    "method": "how the estimate was made and tested, e.g. 'taylor; t-toets' or "
    "'fay-herriot; posterior'",
    "wave": "wave label of the estimate (the later wave for a change)",
    "reference_wave": "the earlier wave of a change; missing for tests against the target",
    "null_value": "the value tested against: the target (7) or 0 for a change",
    "estimate": "the mean (posterior mean for Bayesian rows) or the difference later - earlier",
    "se": "standard error (posterior sd for Bayesian rows)",
    "df": "degrees of freedom used for the t distribution (inf = normal; missing for Bayesian "
    "rows)",
    "confidence": "level of the interval (e.g. 0.95)",
    "ci_lower": "lower end of the confidence interval (credible interval for Bayesian rows)",
    "ci_upper": "upper end of the confidence interval (credible interval for Bayesian rows)",
    "n": "respondents behind the estimate (the later wave for a change)",
    "n_reference": "respondents behind the earlier wave's estimate of a change",
    "t": "(estimate - null_value) / se",
    "p_two_sided": "two-sided p-value, unadjusted",
    "p_greater": "one-sided p-value for 'above the null value', unadjusted",
    "p_less": "one-sided p-value for 'below the null value', unadjusted",
    "p_adjusted": "two-sided p-value adjusted for multiple testing within the family",
    "adjustment": "'holm', 'bh' or 'none'",
    "family_size": "number of tests in the family the adjustment ran over",
    "probability": "Bayesian rows: posterior probability that the mean is at least the target "
    "(test 'target') or that the later wave is higher (test 'change')",
    "verdict": "the verdict in Dutch; missing when no verdict is given",
    "reason": "why no verdict is given (Dutch), e.g. 'te weinig waarnemingen (n < 30)'",
}

#: Dutch labels of the aggregation levels used by :func:`verdicts_for_wave`.
LEVEL_LABELS: Final[Mapping[str, str]] = {
    "national": "landelijk",
    "life_event": "levensgebeurtenis",
    "organisation": "organisatie",
    "channel": "kanaal",
    "municipality_life_event": "gemeente x levensgebeurtenis",
}

_REQUIRED_TEST: Final = ("estimate", "se", "df", "n")
_REQUIRED_BAYES: Final = ("mean", "sd", "q025", "q975", "prob_ge_target", "n")


def format_number(value: float) -> str:
    """Format a number for a Dutch reader: shortest form, decimal comma (``6.5`` -> ``'6,5'``)."""
    return f"{value:g}".replace(".", ",")


def reason_too_few(min_n: int) -> str:
    """The reason given to cells below the minimum publishable size."""
    return f"te weinig waarnemingen (n < {min_n})"


def target_verdict_labels(target: float) -> tuple[str, str, str]:
    """Dutch verdict labels (above, not distinguishable, below) for a test against ``target``."""
    t = format_number(target)
    return (f"significant boven {t}", f"niet te onderscheiden van {t}", f"significant onder {t}")


def bayes_verdict_labels(target: float) -> tuple[str, str, str]:
    """Dutch verdict labels (probably at least, uncertain, probably below) for ``target``."""
    t = format_number(target)
    return (f"waarschijnlijk ≥ {t}", "onzeker", f"waarschijnlijk < {t}")


# --- the test ----------------------------------------------------------------------------------


def t_test_arrays(
    estimate: np.ndarray, se: np.ndarray, df: np.ndarray, null_value: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """t statistic and the two-sided, 'greater' and 'less' p-values (df = inf gives the normal).

    Parameters
    ----------
    estimate, se, df : numpy.ndarray
        Estimates, their standard errors and degrees of freedom (same shape).
    null_value : float
        The value under the null hypothesis.

    Returns
    -------
    tuple of numpy.ndarray
        ``t, p_two_sided, p_greater, p_less``; ``p_greater`` is the p-value for the alternative
        "mean > null value" (``P(T >= t)``), ``p_less`` for "mean < null value" (``P(T <= t)``),
        and ``p_two_sided = 2 * min(p_greater, p_less)``.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        t = (estimate - null_value) / se
    p_greater = stats.t.sf(t, df)
    p_less = stats.t.cdf(t, df)
    p_two = np.minimum(1.0, 2.0 * stats.t.sf(np.abs(t), df))
    return t, p_two, p_greater, p_less


def adjust_pvalues(
    p: np.ndarray, adjust: Adjustment, family_ids: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Adjust p-values for multiple testing within each family.

    Parameters
    ----------
    p : numpy.ndarray
        p-values; missing values (untested rows) are left out of every family and stay missing.
    adjust : {'holm', 'bh', 'none'}
        Holm's step-down procedure (family-wise error rate) or Benjamini-Hochberg (false
        discovery rate), both from :func:`statsmodels.stats.multitest.multipletests`.
    family_ids : numpy.ndarray, optional
        Integer family id per p-value; all p-values form one family when omitted.

    Returns
    -------
    tuple of numpy.ndarray
        Adjusted p-values and the size of the family each row was adjusted in (0 when untested).
    """
    check_adjust(adjust)
    p = np.asarray(p, dtype=float)
    ids = np.zeros(p.shape, dtype=np.int64) if family_ids is None else np.asarray(family_ids)
    adjusted = np.full(p.shape, np.nan)
    size = np.zeros(p.shape, dtype=np.int64)
    rows = np.flatnonzero(~np.isnan(p))
    rows = rows[np.argsort(ids[rows], kind="stable")]
    _, starts, counts = np.unique(ids[rows], return_index=True, return_counts=True)
    for start, count in zip(starts, counts, strict=True):  # one call per family, not per row
        member = rows[start : start + count]
        size[member] = count
        if adjust == "none":
            adjusted[member] = p[member]
        else:
            adjusted[member] = multipletests(p[member], method=_STATSMODELS_METHOD[adjust])[1]
    return adjusted, size


def _family_ids(table: pd.DataFrame, family: str | Sequence[str] | None) -> np.ndarray | None:
    if family is None:
        return None
    cols = [family] if isinstance(family, str) else list(family)
    check_columns(table, cols, "family")
    return table.groupby(cols, dropna=False, sort=False).ngroup().to_numpy()


def untested_reason(
    estimate: np.ndarray,
    se: np.ndarray,
    df: np.ndarray,
    n: np.ndarray,
    min_n: int | None,
) -> np.ndarray:
    """Reason (Dutch) why a row gets no test, or missing when it is tested.

    The first reason that applies is given: too few respondents, no estimate, no usable standard
    error, no degrees of freedom.
    """
    conditions = [
        np.isnan(n) if min_n is None else (np.isnan(n) | (n < min_n)),
        ~np.isfinite(estimate),
        ~np.isfinite(se) | (se <= 0),
        np.isnan(df) | (df <= 0),
    ]
    too_few = reason_too_few(min_n) if min_n is not None else "aantal waarnemingen ontbreekt"
    choices = [
        too_few,
        "geen schatting",
        "geen bruikbare standaardfout (0 of ontbrekend)",
        "geen vrijheidsgraden (df ontbreekt of is 0)",
    ]
    return np.select(conditions, choices, default=None).astype(object)


def directional_verdicts(
    p_adjusted: np.ndarray, t: np.ndarray, alpha: float, labels: tuple[str, str, str]
) -> np.ndarray:
    """Verdict per row from the adjusted two-sided p-value and the sign of t.

    ``labels`` = (positive, not significant, negative); rows with a missing p-value get none.
    """
    significant = p_adjusted <= alpha
    verdict = np.select(
        [np.isnan(p_adjusted), significant & (t > 0), significant & (t < 0)],
        [None, labels[0], labels[2]],
        default=labels[1],
    )
    return verdict.astype(object)


def test_against_target(
    table: pd.DataFrame,
    *,
    target: float = 7.0,
    min_n: int | None = 30,
    level: float = 0.95,
    adjust: Adjustment = "holm",
    family: str | Sequence[str] | None = None,
    svyttest_df: bool = False,
) -> pd.DataFrame:
    """Test every estimate of an estimate table against the target.

    Parameters
    ----------
    table : pandas.DataFrame
        An estimate table (group columns, then ``variable, estimate, se, df, ci_lower, ci_upper,
        deff, n``). Only ``estimate, se, df, n`` are required; ``df = inf`` means a normal
        reference distribution.
    target : float, default 7.0
        The value tested against (the cabinet's target mark).
    min_n : int or None, default 30
        Rows with fewer respondents get no test and no verdict, with the reason
        ``'te weinig waarnemingen (n < 30)'``; they are not part of any family. None: test all.
    level : float, default 0.95
        Confidence level; the tests are at ``alpha = 1 - level``.
    adjust : {'holm', 'bh', 'none'}, default 'holm'
        Multiple-testing adjustment of the two-sided p-values within each family.
    family : str or sequence of str, optional
        Column(s) whose values define separate families (e.g. ``'variable'``); all tested rows
        form one family when omitted.
    svyttest_df : bool, default False
        Use ``df - 1`` like R's ``svyttest`` (survey 4.1-1) instead of the table's df.

    Returns
    -------
    pandas.DataFrame
        The input columns with ``df`` the df used, ``ci_lower``/``ci_upper`` recomputed at
        ``level`` as ``estimate -/+ t_{1-alpha/2, df} * se`` (so the interval excludes the target
        exactly when the unadjusted two-sided p-value is below alpha), and the columns
        :data:`TEST_COLUMNS`. The verdict is "significant boven 7" / "significant onder 7" when the
        adjusted two-sided p-value is at most alpha (direction from the sign of t), else
        "niet te onderscheiden van 7". ``attrs`` keeps the input's attrs plus ``target``,
        ``level``, ``adjust``, ``min_n``.
    """
    check_columns(table, _REQUIRED_TEST, "estimate table")
    level = check_level(level)
    check_adjust(adjust)
    check_min_n(min_n, allow_none=True)
    if not np.isfinite(target):
        raise ParameterError(f"target must be a finite number; got {target!r}. Use e.g. 7.0.")

    estimate = _numeric(table, "estimate", "estimate table")
    se = _numeric(table, "se", "estimate table")
    df = _numeric(table, "df", "estimate table") - (1.0 if svyttest_df else 0.0)
    n = _numeric(table, "n", "estimate table")
    if np.any(se < 0):
        row = table.index[se < 0][0]
        raise SchemaError(
            f"estimate table column 'se' must be non-negative; got {table['se'].loc[row]!r} in "
            f"row {row!r}. Check how the standard errors were computed."
        )

    reason = untested_reason(estimate, se, df, n, min_n)
    tested = pd.isna(reason)
    alpha = 1.0 - level
    t, p_two, p_greater, p_less = t_test_arrays(estimate, se, df, target)
    for arr in (t, p_two, p_greater, p_less):
        arr[~tested] = np.nan
    p_adj, size = adjust_pvalues(p_two, adjust, _family_ids(table, family))
    verdict = directional_verdicts(p_adj, t, alpha, target_verdict_labels(target))

    out = table.copy()
    out["df"] = df
    half = stats.t.ppf(1.0 - alpha / 2.0, np.where(df > 0, df, np.nan)) * se
    out["ci_lower"] = estimate - half
    out["ci_upper"] = estimate + half
    out["t"] = t
    out["p_two_sided"] = p_two
    out["p_greater"] = p_greater
    out["p_less"] = p_less
    out["p_adjusted"] = p_adj
    out["adjustment"] = pd.Series(adjust, index=out.index, dtype="str").where(tested)
    out["family_size"] = size
    out["verdict"] = pd.Series(verdict, index=out.index, dtype="str")
    out["reason"] = pd.Series(reason, index=out.index, dtype="str")
    out.attrs = {
        **table.attrs,
        "target": float(target),
        "level": level,
        "adjust": adjust,
        "min_n": min_n,
    }
    return out


test_against_target.__test__ = False  # type: ignore[attr-defined]  # not a pytest test


# --- Bayesian verdicts ---------------------------------------------------------------------------


def bayes_verdicts(
    sae_cells: pd.DataFrame,
    *,
    upper: float = 0.95,
    lower: float = 0.05,
    min_n: int | None = None,
    target: float = 7.0,
) -> pd.DataFrame:
    """Verdicts from the posterior probability that a cell's mean is at least the target.

    Parameters
    ----------
    sae_cells : pandas.DataFrame
        The Bayesian per-cell table (``SaeResult.cells``: group columns, then ``mean, sd, q05,
        q95, q025, q975, prob_ge_target, direct, direct_se, n, observed``).
    upper, lower : float, default 0.95 and 0.05
        ``prob_ge_target >= upper``: "waarschijnlijk ≥ 7"; ``<= lower``: "waarschijnlijk < 7";
        otherwise "onzeker". Need ``0 <= lower < upper <= 1``.
    min_n : int, optional
        If given, cells with fewer respondents get no verdict (reason
        ``'te weinig waarnemingen (n < ...)'``). Default None: the model's borrowing of strength is
        what makes small cells estimable, so every cell gets a verdict.
    target : float, default 7.0
        The target the model's ``prob_ge_target`` refers to (used for the labels only).

    Returns
    -------
    pandas.DataFrame
        A copy with the columns ``verdict`` and ``reason`` added.
    """
    check_columns(sae_cells, ("prob_ge_target",), "Bayesian cell table")
    check_min_n(min_n, allow_none=True)
    if not (0.0 <= lower < upper <= 1.0):
        raise ParameterError(
            f"bayes thresholds must satisfy 0 <= lower < upper <= 1; got lower={lower!r}, "
            f"upper={upper!r}. Use e.g. lower=0.05, upper=0.95."
        )
    prob = _numeric(sae_cells, "prob_ge_target", "Bayesian cell table")
    outside = (prob < 0) | (prob > 1)
    if outside.any():
        row = sae_cells.index[outside][0]
        raise SchemaError(
            f"Bayesian cell table column 'prob_ge_target' must lie in [0, 1]; got {prob[outside][0]!r}"
            f" in row {row!r}. It is a posterior probability."
        )
    above, unsure, below = bayes_verdict_labels(target)
    no_prob = np.isnan(prob)
    if min_n is not None:
        check_columns(sae_cells, ("n",), "Bayesian cell table")
        n = _numeric(sae_cells, "n", "Bayesian cell table")
        too_few = np.isnan(n) | (n < min_n)
    else:
        too_few = np.zeros(prob.shape, dtype=bool)
    reason = np.select(
        [too_few, no_prob],
        [reason_too_few(min_n) if min_n is not None else "", "geen posterior"],
        default=None,
    ).astype(object)
    verdict = np.select(
        [too_few | no_prob, prob >= upper, prob <= lower], [None, above, below], default=unsure
    ).astype(object)
    out = sae_cells.copy()
    out["verdict"] = pd.Series(verdict, index=out.index, dtype="str")
    out["reason"] = pd.Series(reason, index=out.index, dtype="str")
    out.attrs = {**sae_cells.attrs, "target": float(target), "upper": upper, "lower": lower}
    return out


# --- the tidy result table -----------------------------------------------------------------------


def keys_string(table: pd.DataFrame, keys: Sequence[str]) -> pd.Series:
    """``'col=value; col=value'`` per row (vectorised); ``''`` when there are no keys."""
    if not keys:
        return pd.Series("", index=table.index, dtype="str")
    parts = [f"{k}=" + table[k].astype("str").fillna("") for k in keys]
    out = parts[0]
    for part in parts[1:]:
        out = out + "; " + part
    return out.astype("str")


def as_result_table(columns: Mapping[str, Any], index: pd.Index) -> pd.DataFrame:
    """Assemble a result table from a mapping of column -> values/scalars (missing -> NA)."""
    unknown = set(columns) - set(RESULT_COLUMNS)
    if unknown:  # a programming error inside meting, not user input
        raise KeyError(f"not result columns: {sorted(unknown)}")
    frame = pd.DataFrame(index=index)
    for col in RESULT_COLUMNS:
        frame[col] = columns.get(col, np.nan)
    for col in ("level", "keys", "variable", "test", "method", "wave", "reference_wave"):
        frame[col] = frame[col].astype("str").where(frame[col].notna())
    for col in ("adjustment", "verdict", "reason"):
        frame[col] = frame[col].astype("str").where(frame[col].notna())
    return frame.reset_index(drop=True)


def target_results(
    tested: pd.DataFrame,
    *,
    level: str,
    keys: Sequence[str] = (),
    wave: str | None = None,
    method: str | None = None,
) -> pd.DataFrame:
    """Tidy result table (:data:`RESULT_COLUMNS`) from the output of :func:`test_against_target`.

    Parameters
    ----------
    tested : pandas.DataFrame
        Output of :func:`test_against_target`.
    level : str
        The aggregation level in Dutch (see :data:`LEVEL_LABELS`).
    keys : sequence of str
        The group columns that identify a cell within the level.
    wave : str, optional
        Wave label.
    method : str, optional
        Estimation method; defaults to ``tested.attrs['method']`` (e.g. 'taylor').
    """
    check_columns(tested, (*_REQUIRED_TEST, *TEST_COLUMNS), "tested table")
    check_columns(tested, list(keys), "tested table")
    estimator = method or tested.attrs.get("method", "design")
    cols: dict[str, Any] = {
        "level": level,
        "keys": keys_string(tested, keys),
        "variable": tested["variable"] if "variable" in tested else np.nan,
        "test": "target",
        "method": f"{estimator}; t-toets",
        "wave": wave,
        "null_value": tested.attrs.get("target", np.nan),
        "confidence": tested.attrs.get("level", np.nan),
        **{c: tested[c] for c in ("estimate", "se", "df", "ci_lower", "ci_upper", "n")},
        **{c: tested[c] for c in TEST_COLUMNS},
    }
    return as_result_table(cols, tested.index)


def bayes_results(
    verdicts: pd.DataFrame,
    *,
    level: str,
    keys: Sequence[str] = (),
    variable: str | None = None,
    wave: str | None = None,
    method: str | None = None,
) -> pd.DataFrame:
    """Tidy result table (:data:`RESULT_COLUMNS`) from the output of :func:`bayes_verdicts`.

    Estimate, se and interval are the posterior mean, sd and the 95% central interval
    (``q025``, ``q975``); ``probability`` is ``prob_ge_target``.
    """
    check_columns(verdicts, (*_REQUIRED_BAYES, "verdict", "reason"), "Bayesian verdict table")
    check_columns(verdicts, list(keys), "Bayesian verdict table")
    estimator = method or verdicts.attrs.get("method", "bayes")
    cols: dict[str, Any] = {
        "level": level,
        "keys": keys_string(verdicts, keys),
        "variable": variable if variable is not None else verdicts.attrs.get("variable"),
        "test": "target",
        "method": f"{estimator}; posterior",
        "wave": wave,
        "null_value": verdicts.attrs.get("target", np.nan),
        "estimate": verdicts["mean"],
        "se": verdicts["sd"],
        "confidence": 0.95,
        "ci_lower": verdicts["q025"],
        "ci_upper": verdicts["q975"],
        "n": verdicts["n"],
        "probability": verdicts["prob_ge_target"],
        "verdict": verdicts["verdict"],
        "reason": verdicts["reason"],
    }
    return as_result_table(cols, verdicts.index)


# --- one call per wave ---------------------------------------------------------------------------


def resolve_settings(
    registry: Any,
    target: float | None,
    level: float | None,
    min_n: int | None,
    adjust: str | None,
) -> tuple[float, float, int | None, str]:
    """Explicit arguments win; else the registry's analysis settings; else the defaults."""
    s = getattr(registry, "settings", None)
    target = target if target is not None else getattr(s, "target", 7.0)
    level = level if level is not None else getattr(s, "confidence", 0.95)
    min_n = min_n if min_n is not None else getattr(s, "min_cell_size", 30)
    adjust = adjust if adjust is not None else getattr(s, "multiple_testing", "holm")
    return float(target), check_level(level), min_n, check_adjust(adjust)


def estimates_for_wave(
    design: Any,
    *,
    variables: Sequence[str] = SCORES,
    organisations: Any = None,
    level: float = 0.95,
) -> dict[str, tuple[pd.DataFrame, list[str]]]:
    """Estimate tables of one wave per aggregation level, through the design's ``mean``.

    Parameters
    ----------
    design : meting.design.SurveyDesign
        The (weighted) design of the respondent table.
    variables : sequence of str
        Score columns to estimate at every level except 'organisatie'.
    organisations : meting.design.SurveyDesign, optional
        Design over the long organisation table (respondents as clusters); gives the level
        'organisatie' (``score`` by ``organisation``).
    level : float
        Confidence level of the intervals.

    Returns
    -------
    dict
        Dutch level label -> (estimate table, key columns). Levels whose columns the data lack
        are left out. 'kanaal' holds the mean among users of each channel, keyed by ``channel``.
    """
    columns = set(design.data.columns)

    def plain(table: pd.DataFrame) -> pd.DataFrame:
        # keep scalar attrs only: a covariance matrix in attrs breaks pandas.concat
        table.attrs = {"method": table.attrs.get("method", "taylor"), "level": level}
        return table

    def means(by: str | list[str] | None) -> pd.DataFrame:
        parts = [plain(design.mean(v, by=by, level=level)) for v in variables]
        return plain(pd.concat(parts, ignore_index=True))

    out: dict[str, tuple[pd.DataFrame, list[str]]] = {LEVEL_LABELS["national"]: (means(None), [])}
    if LIFE_EVENT in columns:
        out[LEVEL_LABELS["life_event"]] = (means(LIFE_EVENT), [LIFE_EVENT])
    if organisations is not None:
        table = plain(organisations.mean(ORGANISATION_SCORE, by=ORGANISATION, level=level))
        out[LEVEL_LABELS["organisation"]] = (table, [ORGANISATION])
    present = [(c, col) for c, col in zip(CHANNELS, CHANNEL_COLUMNS, strict=True) if col in columns]
    if present:
        parts = []
        for channel, col in present:  # one estimator call per channel, not per row
            t = means(col)
            t = t.loc[pd.to_numeric(t[col], errors="coerce") == 1].drop(columns=col)
            parts.append(t.assign(channel=channel))
        table = plain(pd.concat(parts, ignore_index=True))
        table = plain(table[["channel", *[c for c in table.columns if c != "channel"]]])
        out[LEVEL_LABELS["channel"]] = (table, ["channel"])
    if {MUNICIPALITY, LIFE_EVENT} <= columns:
        keys = [MUNICIPALITY, LIFE_EVENT]
        out[LEVEL_LABELS["municipality_life_event"]] = (means(keys), keys)
    return out


def verdicts_for_wave(
    design: Any,
    *,
    registry: Any = None,
    wave: str | None = None,
    variables: Sequence[str] = SCORES,
    organisations: Any = None,
    target: float | None = None,
    level: float | None = None,
    min_n: int | None = None,
    adjust: Adjustment | None = None,
) -> pd.DataFrame:
    """All verdicts of one wave against the target, as one tidy result table.

    Estimates every level of :func:`estimates_for_wave`, tests each against the target with
    :func:`test_against_target` (one family of tests per level and variable, e.g. the 55 life
    events for the chain score) and stacks the :func:`target_results` tables.

    Parameters
    ----------
    design : meting.design.SurveyDesign
        The weighted design of the wave.
    registry : meting.registry.Registry, optional
        Supplies ``settings`` (target, confidence, min_cell_size, multiple_testing) for any
        argument left as None.
    wave : str, optional
        Wave label written in the ``wave`` column.
    variables, organisations
        See :func:`estimates_for_wave`.
    target, level, min_n, adjust
        Override the registry's settings (defaults without a registry: 7, 0.95, 30, 'holm').

    Returns
    -------
    pandas.DataFrame
        Columns :data:`RESULT_COLUMNS`.
    """
    target, level, min_n, adjust = resolve_settings(registry, target, level, min_n, adjust)
    tables = estimates_for_wave(
        design, variables=variables, organisations=organisations, level=level
    )
    parts = []
    for label, (table, keys) in tables.items():
        tested = test_against_target(
            table, target=target, min_n=min_n, level=level, adjust=adjust, family="variable"
        )
        parts.append(target_results(tested, level=label, keys=keys, wave=wave))
    return pd.concat(parts, ignore_index=True)
