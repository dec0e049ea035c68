"""The final dtypes of checked tables (run the checks of :mod:`meting.data_checks` first)."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from meting.contract import ORGANISATION_COLUMNS, RESPONDENT_COLUMNS, ColumnSpec
from meting.errors import SchemaError
from meting.raw_table import RawTable, parse_numbers


def _coerce(df: pd.DataFrame, specs: Sequence[ColumnSpec], what: str) -> pd.DataFrame:
    t = RawTable.of(df, what)
    present = set(map(str, df.columns))
    out: dict[str, pd.Series] = {}
    for spec in specs:
        if spec.name not in present:
            continue
        raw = t.text(spec.name)
        if spec.kind in ("int", "binary", "float"):
            numbers, comma, mixed = parse_numbers(raw, t.decimal)
            if (raw.notna() & numbers.isna()).any() or comma.any() or mixed.any():
                raise SchemaError(
                    f"column '{spec.name}' of {what} must be checked first (see meting.data_checks.check_*)"
                )
            if spec.kind == "float":
                out[spec.name] = numbers
            else:
                wide = spec.high is not None and spec.high > 127
                out[spec.name] = numbers.astype(pd.Int16Dtype() if wide else pd.Int8Dtype())
        elif spec.kind == "category":
            out[spec.name] = raw.astype(
                pd.CategoricalDtype(list(spec.levels), ordered=spec.ordered)
            )
        else:
            out[spec.name] = raw.astype("string")
    return pd.DataFrame(out)


def coerce_respondents(df: pd.DataFrame) -> pd.DataFrame:
    """The checked respondent table with its final dtypes, columns in contract order.

    Strings become pandas ``string``, marks and norms ``Int8`` (missing = ``<NA>``), channels
    ``Int8`` 0/1, weighting variables ordered or unordered categoricals with the contract's
    levels, and ``design_weight`` ``float64``. The index is a fresh ``RangeIndex``.

    Raises
    ------
    SchemaError
        If a numeric cell cannot be read (run :func:`check_respondents` first).
    """
    return _coerce(df, RESPONDENT_COLUMNS, "the respondent table")


def coerce_organisations(df: pd.DataFrame) -> pd.DataFrame:
    """The checked organisation table with final dtypes (``string``, ``string``, ``Int8``)."""
    return _coerce(df, ORGANISATION_COLUMNS, "the organisation table")
