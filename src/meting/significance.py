"""Does it reach a 7? Tests against the target, multiple testing and Bayesian verdicts.

Two entry points, each a pure function of a result table (:mod:`meting.results`):

* :func:`test_against_target` takes a design-based result table and adds a t-test of every
  estimate against the target (7 by default), p-values adjusted for multiple testing (Holm or
  Benjamini-Hochberg) within a family of tests, and a verdict in three classes.
* :func:`bayes_verdicts` takes the result table of a small-area model (:mod:`meting.sae`) and
  turns the posterior probability that a mean is at least the target into a verdict; a cell
  without respondents gets none (it is a model prediction), nor does a cell that the publication
  rule of :mod:`meting.sae.quality` marks "niet publiceren".

Both return the same result table with the columns of the test added after the core columns
(see :data:`meting.results.EXTRA_COLUMN_DOCS`); the whole-wave pipeline in
:mod:`meting.pipeline` calls them.

The test follows R's ``svyttest`` for a one-sample mean: ``t = (estimate - target) / se``, referred
to a t distribution with the design's degrees of freedom. R's ``survey`` 4.1-1 fits the mean as an
intercept-only ``svyglm`` and so uses ``degf(design) - 1``; a result table carries
``degf(design)`` (as ``svymean``'s confidence interval does, and as the classical one-sample t-test
does for a simple random sample: ``n - 1``). The table's df is used as given unless
``svyttest_df=True``, which subtracts one and reproduces R's ``svyttest`` p-value for the whole
sample and, for a domain table (``mean(var, by=...)``, whose df is the domain's
``degf(subset(design, domain))``), R's ``svyttest`` on ``subset(design, domain)``.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Final, Literal

import numpy as np
import pandas as pd

from meting.checks import (  # re-exported: comparison and sae import them from here
    check_adjust,
    check_columns,
    check_level,
    check_min_n,
)
from meting.checks import numeric_column as _numeric
from meting.errors import ParameterError, SchemaError

if TYPE_CHECKING:
    from meting.sae.quality import PublicationRule

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

_REQUIRED_TEST: Final = ("estimate", "se", "df", "n")
_REQUIRED_BAYES: Final = ("estimate", "prob_ge_target", "n")
#: The reason a small-area cell without respondents gets no verdict.
REASON_NO_RESPONDENTS: Final = "geen respondenten: modelvoorspelling, geen oordeel"
#: The reason a small-area cell (or aggregate) with respondents gets no verdict: the publication
#: rule (:mod:`meting.sae.quality`) says "niet publiceren".
REASON_NOT_PUBLISHED: Final = "niet publiceren: te weinig respondenten of te onzeker, geen oordeel"
#: The publication class that gets no verdict, and the one published with caution.
NOT_PUBLISHED: Final = "niet publiceren"
CAUTION: Final = "publiceren met voorbehoud"


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
    from scipy import stats  # on use: a report that prints stored tests needs no SciPy

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
    with _collections_of_new_objects_only():
        for start, count in zip(starts, counts, strict=True):  # one call per family, not per row
            member = rows[start : start + count]
            size[member] = count
            if adjust == "none":
                adjusted[member] = p[member]
            else:
                from statsmodels.stats.multitest import multipletests

                adjusted[member] = multipletests(p[member], method=_STATSMODELS_METHOD[adjust])[1]
    return adjusted, size


@contextmanager
def _collections_of_new_objects_only() -> Iterator[None]:
    """Let ``gc.collect()`` inside the block skip the objects that existed before it.

    statsmodels' Holm branch of ``multipletests`` calls ``gc.collect()`` on every call. With a
    national wave in memory (a small-area fit and the tables of 340 municipalities) one full
    collection costs tens of milliseconds, and the comparison of every municipality's waves makes
    thousands of calls: 393 of the 707 s that the national 2010 artefacts took (py-spy). Freezing
    the heap first (:func:`gc.freeze`, CPython's documented way to exclude existing objects from
    collections) makes each collection scan only what the block creates; :func:`gc.unfreeze`
    returns every object to the oldest generation afterwards, so nothing is kept alive longer.
    """
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


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
    return np.select(conditions, choices, default=None).astype(object)  # type: ignore[call-overload]


def directional_verdicts(
    p_adjusted: np.ndarray, t: np.ndarray, alpha: float, labels: tuple[str, str, str]
) -> np.ndarray:
    """Verdict per row from the adjusted two-sided p-value and the sign of t.

    ``labels`` = (positive, not significant, negative); rows with a missing p-value get none.
    """
    significant = p_adjusted <= alpha
    verdict = np.select(
        [np.isnan(p_adjusted), significant & (t > 0), significant & (t < 0)],
        np.array([None, labels[0], labels[2]], dtype=object),
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
        A design-based result table (:mod:`meting.results`). Only ``estimate, se, df, n`` are
        required; ``df = inf`` means a normal reference distribution.
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
        The input columns with ``df`` the df used, ``lower``/``upper`` recomputed at ``level``
        (column ``level``) as ``estimate -/+ t_{1-alpha/2, df} * se`` (so the interval excludes
        the target exactly when the unadjusted two-sided p-value is below alpha), then
        ``null_value`` (the target) and the columns :data:`TEST_COLUMNS`. The verdict is
        "significant boven 7" / "significant onder 7" when the adjusted two-sided p-value is at
        most alpha (direction from the sign of t), else "niet te onderscheiden van 7".
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
    from scipy import stats

    half = stats.t.ppf(1.0 - alpha / 2.0, np.where(df > 0, df, np.nan)) * se
    out["lower"] = estimate - half
    out["upper"] = estimate + half
    out["level"] = level
    out["null_value"] = float(target)
    out["t"] = t
    out["p_two_sided"] = p_two
    out["p_greater"] = p_greater
    out["p_less"] = p_less
    out["p_adjusted"] = p_adj
    out["adjustment"] = pd.Series(adjust, index=out.index, dtype="str").where(tested)
    out["family_size"] = size
    out["verdict"] = pd.Series(verdict, index=out.index, dtype="str")
    out["reason"] = pd.Series(reason, index=out.index, dtype="str")
    return out


test_against_target.__test__ = False  # type: ignore[attr-defined]  # not a pytest test


def _publication_flags(
    table: pd.DataFrame, n: np.ndarray, rule: PublicationRule | None
) -> np.ndarray | None:
    """The publication class of every row: the table's ``publication`` column, else ``rule``'s
    flag from ``n`` and ``cv = se / estimate``, else None."""
    if "publication" in table.columns:
        return table["publication"].astype(object).to_numpy()
    if rule is None:
        return None
    estimate = _numeric(table, "estimate", "Bayesian result table")
    se = _numeric(table, "se", "Bayesian result table") if "se" in table else np.nan
    with np.errstate(divide="ignore", invalid="ignore"):
        cv = se / np.abs(estimate)  # as meting.sae.quality.add_quality
    return rule.flag(n, cv)


# --- Bayesian verdicts ---------------------------------------------------------------------------


def bayes_verdicts(
    sae_cells: pd.DataFrame,
    *,
    upper: float = 0.95,
    lower: float = 0.05,
    min_n: int | None = 1,
    target: float = 7.0,
    publication: PublicationRule | None = None,
) -> pd.DataFrame:
    """Verdicts from the posterior probability that a cell's mean is at least the target.

    Parameters
    ----------
    sae_cells : pandas.DataFrame
        The result table of a small-area model (``SaeResult.cells`` or an aggregate): needs
        ``estimate, prob_ge_target, n`` (and uses ``observed`` when present).
    upper, lower : float, default 0.95 and 0.05
        ``prob_ge_target >= upper``: "waarschijnlijk ≥ 7"; ``<= lower``: "waarschijnlijk < 7";
        otherwise "onzeker". Need ``0 <= lower < upper <= 1``.
    min_n : int or None, default 1
        Cells with fewer respondents get no verdict. With the default 1 a cell without
        respondents (``n = 0`` or ``observed`` False) gets no verdict, with the reason
        :data:`REASON_NO_RESPONDENTS`: its estimate is a model prediction, shown as such. A larger
        value also leaves out small cells (reason ``'te weinig waarnemingen (n < ...)'``); None
        gives every cell a verdict, predictions included (for simulation studies only).
    target : float, default 7.0
        The target the model's ``prob_ge_target`` refers to (used for the labels only).
    publication : PublicationRule or None
        The publication flag decides too: a row flagged "niet publiceren" (the table's
        ``publication`` column, or, for a table without one such as an aggregate, the flag of
        this rule from ``n`` and ``cv = se / estimate``, then added as ``publication``) gets no
        verdict, with the reason :data:`REASON_NOT_PUBLISHED`. "publiceren met voorbehoud" keeps
        its verdict; the reports mark it. Without the column and the rule, no flag is used.

    Returns
    -------
    pandas.DataFrame
        A copy with the columns ``verdict`` and ``reason`` added (and ``publication`` when it
        was computed from ``publication``).
    """
    check_columns(sae_cells, _REQUIRED_BAYES, "Bayesian result table")
    check_min_n(min_n, allow_none=True)
    if not (0.0 <= lower < upper <= 1.0):
        raise ParameterError(
            f"bayes thresholds must satisfy 0 <= lower < upper <= 1; got lower={lower!r}, "
            f"upper={upper!r}. Use e.g. lower=0.05, upper=0.95."
        )
    prob = _numeric(sae_cells, "prob_ge_target", "Bayesian result table")
    outside = (prob < 0) | (prob > 1)
    if outside.any():
        row = sae_cells.index[outside][0]
        raise SchemaError(
            f"Bayesian result table column 'prob_ge_target' must lie in [0, 1]; got "
            f"{prob[outside][0]!r} in row {row!r}. It is a posterior probability."
        )
    above, unsure, below = bayes_verdict_labels(target)
    no_prob = np.isnan(prob)
    n = _numeric(sae_cells, "n", "Bayesian result table")
    empty = np.zeros(prob.shape, dtype=bool)
    if min_n is not None:
        empty = np.isnan(n) | (n <= 0)
        if "observed" in sae_cells.columns:
            empty |= ~sae_cells["observed"].fillna(False).to_numpy(dtype=bool)
    too_few = ~empty & (n < min_n) if min_n is not None else np.zeros(prob.shape, dtype=bool)
    flags = _publication_flags(sae_cells, n, publication)
    not_published = (
        ~empty & ~too_few & ~no_prob & (flags == NOT_PUBLISHED)
        if flags is not None and min_n is not None
        else np.zeros(prob.shape, dtype=bool)
    )
    reason = np.select(  # type: ignore[call-overload]
        [empty, too_few, no_prob, not_published],
        [
            REASON_NO_RESPONDENTS,
            reason_too_few(min_n) if min_n else "",
            "geen posterior",
            REASON_NOT_PUBLISHED,
        ],
        default=None,
    ).astype(object)
    verdict = np.select(
        [empty | too_few | no_prob | not_published, prob >= upper, prob <= lower],
        np.array([None, above, below], dtype=object),
        default=unsure,
    ).astype(object)
    out = sae_cells.copy()
    if flags is not None and "publication" not in out.columns:
        out["publication"] = pd.Series(flags, index=out.index, dtype=object)
    out["verdict"] = pd.Series(verdict, index=out.index, dtype="str")
    out["reason"] = pd.Series(reason, index=out.index, dtype="str")
    return out
