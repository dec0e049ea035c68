"""The data contract of one wave, and every check of input data against it (the public names).

The contract, the problems and the checks live in modules of their own; import them from here:

- :mod:`meting.contract`: :class:`ColumnSpec`, :data:`RESPONDENT_COLUMNS`,
  :data:`ORGANISATION_COLUMNS` (see ARCHITECTURE.md for the prose version);
- :mod:`meting.problems`: :class:`Problem`, :class:`ProblemsError`, :func:`format_problems`;
- :mod:`meting.raw_table`: raw tables (every cell as text; their ``attrs``) and number parsing;
- :mod:`meting.data_checks`: :func:`check_respondents`, :func:`check_organisations`, which return
  every problem at once, each naming the file, the column, the lines and the offending values;
- :mod:`meting.coerce`: :func:`coerce_respondents`, :func:`coerce_organisations` (final dtypes).
"""

from __future__ import annotations

from meting.coerce import coerce_organisations, coerce_respondents
from meting.contract import (
    FLOAT_COLUMNS,
    MUNICIPALITY_PATTERN,
    ORGANISATION_COLUMNS,
    ORGANISATION_SPECS,
    RESPONDENT_COLUMNS,
    SPECS,
    ColumnSpec,
    Kind,
    Lookup,
)
from meting.data_checks import check_organisations, check_respondents
from meting.problems import MAX_DUPLICATE_IDS, MAX_LISTED, Problem, ProblemsError, format_problems
from meting.raw_table import NA_VALUES, RawTable, as_text, parse_numbers, to_numbers

__all__ = [
    "FLOAT_COLUMNS",
    "MAX_DUPLICATE_IDS",
    "MAX_LISTED",
    "MUNICIPALITY_PATTERN",
    "NA_VALUES",
    "ORGANISATION_COLUMNS",
    "ORGANISATION_SPECS",
    "RESPONDENT_COLUMNS",
    "SPECS",
    "ColumnSpec",
    "Kind",
    "Lookup",
    "Problem",
    "ProblemsError",
    "RawTable",
    "as_text",
    "check_organisations",
    "check_respondents",
    "coerce_organisations",
    "coerce_respondents",
    "format_problems",
    "parse_numbers",
    "to_numbers",
]
