"""Raw tables: every cell as text, as it stood in the file, and what is needed to report on them.

A raw table (see :func:`meting.loaders.read_table`) carries three optional entries in
``DataFrame.attrs`` (set by the readers):

``meting_decimal``
    ``","`` for ``;``-separated Dutch exports (decimal comma), else ``"."``.
``meting_unit``
    ``"line"`` (text files: header = line 1) or ``"row"`` (Parquet, SPSS: case number).
``meting_numbered``
    True when the index holds those line or row numbers. Without it, row ``i`` (0-based) is
    reported as line ``i + 2``, as a spreadsheet with a header line shows it.

Text columns are pandas' ``str`` dtype; with pyarrow installed (a dependency) that is stored in
Arrow buffers, so that a large file never becomes millions of Python strings, and numbers are
parsed with ``pyarrow.compute`` (:func:`parse_numbers`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from meting import columns as C
from meting.problems import MAX_LISTED, Problem

#: Cells that are a missing value (after surrounding spaces are dropped).
NA_VALUES = ("", "NA", "N/A", "NaN", "nan", "NULL", "null")
#: A plain decimal number (what pyarrow's cast and pandas' to_numeric read alike).
_PLAIN_NUMBER = r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$"


def as_text(series: pd.Series) -> pd.Series:
    """Cells as text (missing stays missing), so that typed frames can be checked like raw ones.

    Whole floats are written without ``.0`` (``7.0`` -> ``'7'``) and booleans as ``'1'``/``'0'``.
    """
    if pd.api.types.is_bool_dtype(series):
        out = series.astype("Int8").astype("str")
    elif pd.api.types.is_float_dtype(series):
        values = series.to_numpy(dtype=float, na_value=np.nan)
        whole = np.isfinite(values) & (np.mod(values, 1) == 0) & (np.abs(values) < 1e15)
        ints = pd.Series(np.where(whole, values, 0).astype(np.int64), index=series.index)
        out = ints.astype("str").where(whole, series.astype("str"))
    elif isinstance(series.dtype, pd.StringDtype) and series.dtype.na_value is not pd.NA:
        return series  # already text, missing as NaN (pandas' default ``str``)
    else:
        out = series.astype("str")
    return out.where(series.notna())


def _arrow_strings(text: pd.Series) -> pa.ChunkedArray | None:
    """The Arrow array behind a text column (no copy), or None when it is not Arrow-backed."""
    if isinstance(text.dtype, pd.StringDtype) and text.dtype.storage == "pyarrow":
        return pa.chunked_array(pa.array(text.array))
    return None


def to_numbers(text: pd.Series) -> pd.Series:
    """Text cells as float64 (NaN where missing or unreadable), as :func:`pandas.to_numeric` reads them.

    Plain decimal numbers are cast by pyarrow in one vectorised pass; only the few other cells
    (``inf``, ``zeven``, ...) go through :func:`pandas.to_numeric`.
    """
    arr = _arrow_strings(text)
    if arr is None:
        return pd.to_numeric(text, errors="coerce").astype("float64")
    try:  # the usual case: every cell a number; one cast, no pattern
        cast = pc.cast(arr, pa.float64())
        values = cast.to_numpy()
        if np.isfinite(values[~np.isnan(values)]).all() and not pc.any(pc.is_nan(cast)).as_py():
            return pd.Series(values, index=text.index, dtype="float64")
    except pa.ArrowInvalid:
        pass
    plain = pc.match_substring_regex(arr, _PLAIN_NUMBER)
    cast = pc.cast(pc.if_else(plain, arr, pa.scalar(None, pa.string())), pa.float64())
    values = np.array(cast.to_numpy(), dtype="float64")  # nulls become NaN
    other = np.flatnonzero(~pc.fill_null(plain, True).to_numpy(zero_copy_only=False))
    if other.size:
        values[other] = pd.to_numeric(text.iloc[other], errors="coerce").to_numpy(
            dtype="float64", na_value=np.nan
        )
    return pd.Series(values, index=text.index, dtype="float64")


def parse_numbers(raw: pd.Series, decimal: str) -> tuple[pd.Series, pd.Series, pd.Series]:
    """Parse text cells as numbers.

    Returns the numbers (NaN where missing or unreadable), a mask of decimal commas that are not
    allowed (``"7,5"`` in a ``,``-separated file) and, in a decimal-comma file, a mask of cells
    that use a decimal point while others in the column use a comma (ambiguous: ``1.250``).
    """
    no = pd.Series(False, index=raw.index)
    comma, mixed, text = no, no, raw
    if decimal == ",":
        has_comma = text.str.contains(",", regex=False).fillna(False).astype(bool)
        if has_comma.any():
            has_point = text.str.contains(".", regex=False).fillna(False).astype(bool)
            mixed = has_point
            text = text.str.replace(",", ".", regex=False).where(~mixed)
    numbers = to_numbers(text)
    if decimal != ",":
        unreadable = text.notna() & numbers.isna()
        if unreadable.any():  # the pattern is matched on the few unreadable cells only
            matched = text[unreadable].str.fullmatch(r"\s*[+-]?\d*,\d+\s*").fillna(False)
            comma = matched.astype(bool).reindex(raw.index, fill_value=False)
    return numbers, comma, mixed


@dataclass(frozen=True)
class RawTable:
    """A raw table with what is needed to report on it."""

    df: pd.DataFrame
    source: str
    lines: np.ndarray
    unit: str
    decimal: str

    @classmethod
    def of(cls, df: pd.DataFrame, source: str) -> RawTable:
        if df.attrs.get("meting_numbered"):
            lines = np.asarray(df.index, dtype=np.int64)
        else:
            lines = np.arange(2, len(df) + 2, dtype=np.int64)
        return cls(
            df,
            source,
            lines,
            df.attrs.get("meting_unit", "line"),
            df.attrs.get("meting_decimal", "."),
        )

    def text(self, column: str) -> pd.Series:
        return as_text(self.df[column]).reset_index(drop=True)

    def problem(
        self,
        column: str | None,
        mask: pd.Series | np.ndarray,
        message: str,
        fix: str = "",
        *,
        values: pd.Series | None = None,
    ) -> Problem | None:
        """A problem for the lines where ``mask`` holds, or None when it holds nowhere."""
        where = np.flatnonzero(np.asarray(mask, dtype=bool))
        if where.size == 0:
            return None
        first = where[:MAX_LISTED]
        shown: tuple[str, ...] = ()
        if values is not None and column != C.RESPONDENT_ID:  # ids never reach a message
            shown = tuple(str(v) for v in values.iloc[first])
        return Problem(
            file=self.source,
            column=column,
            rows=tuple(int(x) for x in self.lines[first]),
            values=shown,
            message=message,
            fix=fix,
            count=int(where.size),
            unit=self.unit,
        )

    def whole(
        self, column: str | None, message: str, fix: str = "", values: tuple[str, ...] = ()
    ) -> Problem:
        """A problem of a whole column or file (no lines)."""
        return Problem(self.source, column, (), values, message, fix, 0, self.unit)


def tidy(df: pd.DataFrame) -> pd.DataFrame:
    """Strip surrounding spaces; blank and NA-like cells become missing."""
    out = {}
    for j in range(df.shape[1]):
        s = as_text(df.iloc[:, j]).str.strip()
        out[j] = s.where(~s.isin(NA_VALUES))
    tidied = pd.DataFrame(out, index=df.index)
    tidied.columns = df.columns
    return tidied
