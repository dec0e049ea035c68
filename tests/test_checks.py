"""meting.checks: every argument check accepts what it documents and refuses the rest, with the
table, column and row in the message; the same rule for min_n everywhere."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from meting import checks
from meting.errors import DesignError, ParameterError, ReportError, SchemaError


@pytest.fixture
def table() -> pd.DataFrame:
    return pd.DataFrame(
        {"estimate": ["6.5", "zeven", None], "se": [0.1, 0.2, np.nan], "g": ["a", None, "b"]},
        index=[10, 11, 12],
    )


def test_check_columns(table: pd.DataFrame) -> None:
    checks.check_columns(table, ["estimate", "se"], "estimate table")
    with pytest.raises(SchemaError, match=r"estimate table must have the columns.*missing \['n'\]"):
        checks.check_columns(table, ["estimate", "n"], "estimate table")
    with pytest.raises(SchemaError, match="cells must be a pandas DataFrame; got list"):
        checks.check_columns([1, 2], ["estimate"], "cells")
    with pytest.raises(ParameterError, match="Do this."):
        checks.check_columns(table, ["x"], "t", error=ParameterError, hint="Do this.")


def test_check_design_columns(table: pd.DataFrame) -> None:
    checks.check_design_columns(table, ["g"], "by")
    with pytest.raises(DesignError, match="by column 'h' must exist in the data of the design"):
        checks.check_design_columns(table, ["g", "h", "i"], "by")


def test_check_no_missing_names_the_first_row(table: pd.DataFrame) -> None:
    with pytest.raises(SchemaError, match=r"cells column 'g' must have no missing values; got 1 "
                       r"\(first at row 11\)"):  # fmt: skip
        checks.check_no_missing(table, "g", "cells")
    with pytest.raises(DesignError):
        checks.check_no_missing(table, "se", "weights", error=DesignError)
    checks.check_no_missing(table.dropna(), "g", "cells")


def test_first_bad_row_uses_the_label() -> None:
    frame = pd.DataFrame({"x": [1, 2, 3]}, index=pd.Index([5, 6, 7], dtype="int64"))
    assert checks.first_bad_row(frame, np.array([False, True, True])) == "row 6"
    frame.index = ["a", "b", "c"]
    assert checks.first_bad_row(frame, np.array([False, False, True])) == "row 'c'"


def test_numeric_column_coerces_text_and_names_the_bad_row(table: pd.DataFrame) -> None:
    with pytest.raises(SchemaError, match=r"'estimate' must be numeric; got 'zeven' in row 11"):
        checks.numeric_column(table, "estimate", "estimate table")
    ok = checks.numeric_column(table.drop(index=11), "estimate", "estimate table")
    np.testing.assert_array_equal(ok, [6.5, np.nan])
    nullable = pd.DataFrame({"n": pd.array([3, None], dtype="Int64")})
    np.testing.assert_array_equal(checks.numeric_column(nullable, "n", "cells"), [3.0, np.nan])


def test_numeric_column_without_coercion_wants_a_numeric_dtype() -> None:
    frame = pd.DataFrame(
        {
            "y": pd.array([1, None], dtype="Int8"),
            "b": [True, False],
            "t": ["1", "2"],
            "c": pd.Categorical(["1", "2"]),
        }
    )
    np.testing.assert_array_equal(
        checks.numeric_column(frame, "y", "design data", coerce=False), [1.0, np.nan]
    )
    np.testing.assert_array_equal(
        checks.numeric_column(frame, "b", "design data", coerce=False), [1.0, 0.0]
    )
    for col in ("t", "c"):
        with pytest.raises(DesignError, match=f"design data column '{col}' must be numeric"):
            checks.numeric_column(frame, col, "design data", coerce=False, error=DesignError)


@pytest.mark.parametrize("level", [0.5, 0.95, np.float32(0.9), 0.999])
def test_check_level_accepts(level: float) -> None:
    assert checks.check_level(level) == pytest.approx(float(level))


@pytest.mark.parametrize("level", [0, 1, 1.5, -0.1, 95, True, "0.95", None, np.nan])
def test_check_level_refuses(level: object) -> None:
    with pytest.raises(ParameterError, match="level must be a number strictly between 0 and 1"):
        checks.check_level(level)


def test_check_adjust_and_choice() -> None:
    for adjust in checks.ADJUSTMENTS:
        assert checks.check_adjust(adjust) == adjust
    for bad in ("bonferroni", "", None, 1):
        with pytest.raises(ParameterError, match="adjust must be one of"):
            checks.check_adjust(bad)
    with pytest.raises(ParameterError, match=r"kind must be one of \['a', 'b'\]; got 'c'"):
        checks.check_choice("c", ("a", "b"), "kind")


@pytest.mark.parametrize("min_n", [1, 30, np.int64(5)])
def test_check_min_n_accepts(min_n: int) -> None:
    out = checks.check_min_n(min_n)
    assert out == int(min_n) and type(out) is int


@pytest.mark.parametrize("min_n", [0, -1, 2.0, 30.5, True, "30", None])
def test_check_min_n_refuses(min_n: object) -> None:
    with pytest.raises(ParameterError, match="min_n must be a positive integer"):
        checks.check_min_n(min_n)


def test_check_min_n_none_only_when_allowed() -> None:
    assert checks.check_min_n(None, allow_none=True) is None
    with pytest.raises(ParameterError):
        checks.check_min_n(0, allow_none=True)
    with pytest.raises(ReportError, match="the minimum cell size must be a positive integer"):
        checks.check_min_n(0, "the minimum cell size", error=ReportError)


def _design():
    from meting.design import SurveyDesign

    rng = np.random.default_rng(1)
    frame = pd.DataFrame(
        {
            "w": np.ones(40),
            "life_event": np.repeat(["a", "b"], 20),
            "municipality": "GM0001",
            "score_chain": rng.integers(1, 11, 40).astype(float),
            **{f"bsc_{i:02d}": rng.integers(1, 6, 40).astype(float) for i in range(1, 11)},
        }
    )
    return SurveyDesign(frame, weights="w")


def test_min_n_zero_is_refused_everywhere() -> None:
    """min_n = 0 behaves the same in every module: refused with the same message."""
    from meting import significance
    from meting.knelpunten import improvement_agenda, key_drivers, weakest_norms
    from meting.report import sections
    from meting.report.privacy import suppress_small_cells

    design = _design()
    estimates = design.mean("score_chain", by="life_event")
    cells = pd.DataFrame({"estimate": [7.0], "prob_ge_target": [0.5], "n": [10]})
    calls = {
        "test_against_target": lambda: significance.test_against_target(estimates, min_n=0),
        "bayes_verdicts": lambda: significance.bayes_verdicts(cells, min_n=0),
        "weakest_norms": lambda: weakest_norms(design, min_n=0),
        "key_drivers": lambda: key_drivers(design, "score_chain", ["bsc_01"], min_n=0),
        "improvement_agenda": lambda: improvement_agenda(design, min_cell_size=0),
        "norms_table": lambda: sections.norms_table(design, min_n=0),
        "trim_table": lambda: sections.trim_table(design, min_n=0),
    }
    for _name, call in calls.items():
        with pytest.raises(ParameterError, match="must be a positive integer"):
            call()  # the name says which function, when this fails
    with pytest.raises(ReportError, match="must be a positive integer"):
        suppress_small_cells(estimates, 0)
    # and min_n = 1 is accepted by all of them (trim_table needs the TRI*M questions, skipped)
    significance.test_against_target(estimates, min_n=1)
    weakest_norms(design, min_n=1)
    suppress_small_cells(estimates, 1)
