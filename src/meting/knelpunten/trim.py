"""TRI*M index per municipality from the four TRI*M questions, with a design-based interval.

The four questions (Benchmark Publiekszaken 2007, ``shared/seeds/003_*``, slide 12-13): the
overall judgement of the municipality, how well it fills its role as public service provider,
trust in the municipality, and its service compared with other service providers; each on five
categories (uitstekend, zeer goed, goed, redelijk, slecht, or the trust scale), coded 1-5 in the
data with 5 the most favourable (``trim_overall, trim_role, trim_trust, trim_compare``).

The index formula: a documented choice
---------------------------------------
The source gives the questions and index values (e.g. 13 to 45 in one region, municipalities 51
against telecom 48) but not the weights; the TRI*M index of TNS (now Kantar) is a proprietary
weighted sum of the answer percentages of the four questions whose weights are not published.  We
therefore use a transparent linear version of the same construction:

``index_i = sum_q a_q * s(answer_iq)`` with category scores ``s`` = 0, 25, 50, 75, 100 for
answers 1..5 (the index is 0 when everyone gives the lowest answer on every question and 100 when
everyone gives the highest) and equal question weights ``a_q = 1/4``.  The municipality index is
the design-weighted mean of ``index_i`` over respondents who answered all four questions, with a
Taylor-linearised interval (``svymean`` of the respondent index).  Both ``category_scores`` and
``question_weights`` are parameters, so the licensed TRI*M weights can be plugged in; with the
defaults the values are NOT comparable with published TNS NIPO TRI*M index values.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import numpy as np
import pandas as pd

from meting.checks import check_design_columns
from meting.columns import MUNICIPALITY, TRIM_MAX, TRIM_MIN, TRIM_QUESTIONS
from meting.design import SurveyDesign
from meting.errors import ParameterError
from meting.knelpunten._common import as_list, check_design, numeric, with_columns

__all__ = ["DEFAULT_CATEGORY_SCORES", "trim_index", "trim_respondent_index"]

DEFAULT_CATEGORY_SCORES: Final = (0.0, 25.0, 50.0, 75.0, 100.0)
_INDEX_COLUMN = "__knelpunt_trim_index"


def _check_weights(question_weights: Sequence[float] | None, k: int) -> np.ndarray:
    if question_weights is None:
        return np.full(k, 1.0 / k)
    a = np.asarray(question_weights, dtype=float)
    if a.shape != (k,) or not np.isfinite(a).all() or (a < 0).any() or a.sum() <= 0:
        raise ParameterError(
            f"question_weights must be {k} finite non-negative numbers with a positive sum; got "
            f"{list(question_weights)!r}. Use equal weights (None) or the licensed TRI*M weights."
        )
    return a / a.sum()


def trim_respondent_index(
    data: pd.DataFrame,
    questions: Sequence[str] = TRIM_QUESTIONS,
    category_scores: Sequence[float] = DEFAULT_CATEGORY_SCORES,
    question_weights: Sequence[float] | None = None,
) -> np.ndarray:
    """The TRI*M index of every respondent (NaN unless all questions are answered).

    Parameters
    ----------
    data
        Respondent table with the question columns (1-5).
    questions
        The four question columns.
    category_scores
        Score of answers 1..5 (default 0, 25, 50, 75, 100).
    question_weights
        Weights of the questions (normalised to sum 1); default equal.
    """
    questions = as_list(questions)
    check_design_columns(data, questions, "TRI*M question")
    scores = np.asarray(category_scores, dtype=float)
    n_cat = TRIM_MAX - TRIM_MIN + 1
    if scores.shape != (n_cat,) or not np.isfinite(scores).all():
        raise ParameterError(
            f"category_scores must be {n_cat} finite numbers (answers {TRIM_MIN}..{TRIM_MAX}); "
            f"got {list(category_scores)!r}."
        )
    a = _check_weights(question_weights, len(questions))
    x = np.column_stack([numeric(data, q) for q in questions])
    bad = ~np.isnan(x) & ~np.isin(x, np.arange(TRIM_MIN, TRIM_MAX + 1))
    if bad.any():
        row, col = np.argwhere(bad)[0]
        raise ParameterError(
            f"TRI*M column {questions[col]!r} must hold integers {TRIM_MIN}..{TRIM_MAX}; got "
            f"{x[row, col]!r} at row {row}. Validate the wave with meting.loaders."
        )
    codes = np.where(np.isnan(x), 0, x - TRIM_MIN).astype(int)
    s = scores[codes]
    s[np.isnan(x)] = np.nan
    return s @ a


def trim_index(
    design: SurveyDesign,
    by: str | Sequence[str] | None = MUNICIPALITY,
    questions: Sequence[str] = TRIM_QUESTIONS,
    category_scores: Sequence[float] = DEFAULT_CATEGORY_SCORES,
    question_weights: Sequence[float] | None = None,
    level: float = 0.95,
) -> pd.DataFrame:
    """TRI*M index (0-100) per group with a design-based interval (see the module docstring).

    Parameters
    ----------
    design
        The (weighted) survey design.
    by
        Group columns (default per municipality); None for the whole sample.
    questions, category_scores, question_weights
        See :func:`trim_respondent_index`.
    level
        Confidence level.

    Returns
    -------
    pandas.DataFrame
        The estimate table (group columns, ``variable`` = ``"trim_index"``, ``estimate, se, df,
        lower, upper, deff, n``; ``n`` counts respondents who answered all four
        questions), ``attrs["method"] = "taylor"``, ``attrs["formula"]`` describing the index.
    """
    design = check_design(design)
    index = trim_respondent_index(design.data, questions, category_scores, question_weights)
    work = with_columns(design, {_INDEX_COLUMN: index})
    table = work.mean(_INDEX_COLUMN, by=by, level=level)
    table["variable"] = "trim_index"
    a = _check_weights(question_weights, len(as_list(questions)))
    table.attrs["formula"] = (
        "weighted mean of sum_q a_q s(answer_q); a = "
        f"{np.round(a, 4).tolist()}, s = {list(map(float, category_scores))}"
    )
    return table
