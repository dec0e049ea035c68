"""The one result schema: every estimator, design-based or Bayesian, returns this table.

Like R ``survey``'s ``svystat`` (or samplics' ``to_dataframe()``), an estimate is a row with the
same columns whatever made it, so tests, comparisons, plots and exported tables take any of them:

* the **group columns** first (the ``by=`` variables of a design-based estimate, the ``groups``
  of a small-area model), then, for a proportion, ``category`` (the level of the factor);
* the **core columns** :data:`RESULT_COLUMNS`, documented in :data:`RESULT_COLUMN_DOCS`;
* then the **extra columns** of the estimator or of a test done on the table, documented in
  :data:`EXTRA_COLUMN_DOCS` (``deff`` of a design-based estimate; ``prob_ge_target``, ``direct``
  and ``observed`` of a small-area cell; ``p_adjusted``, ``verdict`` and ``reason`` of a test).

The covariance of the estimates is not carried in the table (``DataFrame.attrs`` does not survive
merges and concatenation): the design provides it where a contrast needs it
(:meth:`meting.design.SurveyDesign.covariance`), and a small-area result gives its posterior draws
(:meth:`meting.sae.SaeResult.draws`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Final, TypeAlias

import numpy as np
import pandas as pd

from meting.errors import SchemaError

#: The core columns of every result table, in order (after the group columns).
RESULT_COLUMNS: Final = (
    "variable",
    "estimate",
    "se",
    "lower",
    "upper",
    "level",
    "df",
    "n",
    "method",
)

#: What each core column holds.
RESULT_COLUMN_DOCS: Final[Mapping[str, str]] = {
    "variable": "the variable estimated (e.g. 'score_chain'; for a change: the variable compared)",
    "estimate": "the estimate: weighted mean, total or share (design-based), posterior mean "
    "(Bayesian), or the difference later - earlier (a change)",
    "se": "standard error (design-based) or posterior standard deviation (Bayesian)",
    "lower": "lower end of the interval at `level`: confidence interval (design-based, "
    "estimate - t * se) or central credible interval (Bayesian)",
    "upper": "upper end of the interval at `level`",
    "level": "level of the interval, e.g. 0.95",
    "df": "degrees of freedom of the t reference distribution (design-based; inf = normal); "
    "missing for Bayesian rows",
    "n": "respondents behind the estimate (0 for a small-area cell without respondents; "
    "missing when a small-area model was fitted without counts)",
    "method": "how the estimate was made: 'taylor' (linearisation), 'fay-herriot', "
    "'unit-level', 'mrp', 'fay-herriot-linked' / 'unit-level-linked' (a small-area model linked "
    "across waves), 'difference' (a change of two independent estimates), 'linked-difference' "
    "(a change from the draws of a model linked across waves), ...",
}

#: Extra columns that estimators and tests add after the core columns.
EXTRA_COLUMN_DOCS: Final[Mapping[str, str]] = {
    "category": "level of the categorical variable (proportions only; before `variable`)",
    "deff": "design effect (design-based variance / SRS-without-replacement variance)",
    "prob_ge_target": "Bayesian: posterior probability that the mean is at least the target",
    "lower_90": "Bayesian: lower end of the 90% central credible interval",
    "upper_90": "Bayesian: upper end of the 90% central credible interval",
    "direct": "small-area cell: the direct (design-based) estimate the model was fitted to",
    "direct_se": "small-area cell: the standard error used for the direct estimate",
    "observed": "small-area cell: False when the cell has no respondents (a model prediction)",
    "cv": "small-area cell: coefficient of variation, posterior sd / posterior mean",
    "shrinkage": "small-area cell: share of the estimate that comes from the model, 1 - gamma "
    "(Fay-Herriot gamma = sd_cell^2 / (sd_cell^2 + se^2)), posterior mean; 1 without respondents",
    "publication": "small-area cell: 'publiceren', 'publiceren met voorbehoud' or 'niet "
    "publiceren' by the rule of meting.sae.quality (n and cv thresholds in params)",
    "benchmarked": "small-area cell: True when its draws were benchmarked to a design-based "
    "direct estimate (SaeResult.benchmarked)",
    "prob_improved": "linked change: posterior probability that the later mean is higher",
    "t": "test: (estimate - null value) / se",
    "p_two_sided": "test: two-sided p-value, unadjusted",
    "p_greater": "test: one-sided p-value for 'above the null value', unadjusted",
    "p_less": "test: one-sided p-value for 'below the null value', unadjusted",
    "p_adjusted": "test: two-sided p-value adjusted for multiple testing within its family",
    "adjustment": "test: 'holm', 'bh' or 'none'",
    "family_size": "test: number of tests in the family the adjustment ran over",
    "verdict": "the verdict in Dutch; missing when no verdict is given",
    "reason": "why no verdict is given (Dutch), e.g. 'te weinig waarnemingen (n < 30)'",
}

#: A value for an ``extra`` column of :func:`result_table`: one value for all rows, or one per row.
ExtraColumn: TypeAlias = float | str | np.ndarray | pd.Series


def result_table(
    groups: pd.DataFrame | None,
    *,
    variable: str | Sequence[str] | np.ndarray | pd.Series,
    estimate: np.ndarray | pd.Series | Sequence[float],
    se: np.ndarray | pd.Series | Sequence[float],
    lower: np.ndarray | pd.Series | Sequence[float],
    upper: np.ndarray | pd.Series | Sequence[float],
    level: float,
    df: float | np.ndarray | pd.Series,
    n: np.ndarray | pd.Series | Sequence[int],
    method: str,
    extra: Mapping[str, ExtraColumn] | None = None,
) -> pd.DataFrame:
    """Assemble a result table in the canonical column order.

    ``groups`` holds the group columns (one row per estimate; None or no columns for a single
    national estimate, then the length comes from ``estimate``); the core columns follow, then
    ``extra`` in the order given.
    """
    values = np.asarray(estimate, dtype=float)
    n_rows = values.size
    index = pd.RangeIndex(n_rows)
    columns: dict[str, object] = {}
    if groups is not None:
        if len(groups) != n_rows:  # a programming error inside meting, not user input
            raise ValueError(f"groups have {len(groups)} rows but there are {n_rows} estimates")
        for name in groups.columns:
            columns[name] = groups[name].reset_index(drop=True)
    columns["variable"] = _strings(variable, n_rows)
    columns["estimate"] = values
    columns["se"] = np.asarray(se, dtype=float)
    columns["lower"] = np.asarray(lower, dtype=float)
    columns["upper"] = np.asarray(upper, dtype=float)
    columns["level"] = np.full(n_rows, float(level))
    columns["df"] = (
        np.asarray(df, dtype=float) if not np.isscalar(df) else np.full(n_rows, float(df))  # type: ignore[arg-type]
    )
    counts = np.asarray(n, dtype=float)
    columns["n"] = (
        pd.array(np.where(np.isnan(counts), pd.NA, counts), dtype="Int64")  # type: ignore[call-overload]
        if np.isnan(counts).any()
        else counts.astype(np.int64)
    )
    columns["method"] = _strings(method, n_rows)
    for name, column in (extra or {}).items():
        columns[name] = (
            column.reindex(index)  # aligned on the row numbers, as a column assignment does
            if isinstance(column, pd.Series)
            else np.full(n_rows, column)
            if np.ndim(column) == 0
            else column
        )
    return pd.DataFrame(columns, index=index, copy=False)


def _strings(value: str | Sequence[str] | np.ndarray | pd.Series, n_rows: int) -> pd.Series:
    """A column of strings (pandas' ``str`` dtype), one value repeated or one per row."""
    if isinstance(value, str):
        return pd.Series(np.full(n_rows, value, dtype=object), dtype="str")
    return pd.Series(np.asarray(value, dtype=object), dtype="str")


def group_columns(table: pd.DataFrame) -> list[str]:
    """The group columns of a result table: those before ``variable`` (and ``category``)."""
    check_result(table, "result table")
    cols = list(table.columns)
    return [c for c in cols[: cols.index("variable")] if c != "category"]


def check_result(table: pd.DataFrame, what: str) -> None:
    """Raise :class:`~meting.errors.SchemaError` unless ``table`` has the core columns."""
    if not isinstance(table, pd.DataFrame):
        raise SchemaError(f"{what} must be a pandas DataFrame; got {type(table).__name__}.")
    missing = [c for c in RESULT_COLUMNS if c not in table.columns]
    if missing:
        raise SchemaError(
            f"{what} must have the result columns {list(RESULT_COLUMNS)}; got no {missing}. "
            "Pass the table an estimator of meting returned (see meting.results)."
        )
