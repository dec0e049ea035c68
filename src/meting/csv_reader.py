"""Read a text file (CSV) into a raw table: line numbers kept, every problem of the file named.

Text files must be UTF-8 (a byte-order mark is fine). The separator is sniffed from the header
line (``,``, ``;`` or tab). A ``;``-separated file is taken to be a Dutch export with decimal
commas (``1,25``); the numeric checks read its numbers that way. Surrounding spaces are dropped;
an empty cell, ``NA``, ``N/A``, ``NaN``, ``nan``, ``NULL`` or ``null`` is a missing value.

Files without quotes (the usual export, and every large one we have seen) are checked on their
bytes with numpy (encoding, line endings, fields per line) and then read by pyarrow's CSV reader
into Arrow-backed text columns, one record per line, so that the line numbers are exact and no
cell becomes a Python string. Files with quotes (a quoted field may span lines) are read by
pandas' C parser and numbered by the ``csv`` module.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from meting.problems import Problem, ProblemsError, file_error
from meting.raw_table import NA_VALUES, tidy

_SEPARATORS = (",", ";", "\t")
#: Bytes per block of the byte-level checks.
_BLOCK = 1 << 24
#: The bytes of every character that ``str.strip`` or Arrow's trim removes (tab: unless the
#: separator); a file without any of them has no cell to strip.
_SPACE_BYTES = (
    b" ",
    b"\x0b",
    b"\x0c",
    b"\x1c",
    b"\x1d",
    b"\x1e",
    b"\x1f",
    b"\xc2\x85",
    b"\xc2\xa0",
    b"\xe1\x9a\x80",
    b"\xe2\x80",
    b"\xe2\x81\x9f",
    b"\xe3\x80\x80",
)


def read_text(path: Path) -> pd.DataFrame:
    """The raw table of a text file (see :func:`meting.loaders.read_table`)."""
    data = path.read_bytes()
    _check_utf8(path, data)
    start = len(codecs.BOM_UTF8) if data.startswith(codecs.BOM_UTF8) else 0
    if re.search(rb"\S", data) is None:  # no copy of the file, unlike data.strip()
        raise file_error(path, "must not be empty", "The file holds no header and no data.")
    if b"\r" in data:
        found = _carriage_return_problem(path, data)
        if found is not None:
            raise found
    first = data[start : data.find(b"\n", start) if b"\n" in data else len(data)]
    header_line = first.decode("utf-8").removesuffix("\r")
    sep = _sniff(header_line)
    if b'"' in data:
        text = codecs.decode(data, "utf-8-sig")
        del data
        return _read_quoted(path, text, sep)
    counts, blank = _field_counts_unquoted(data, sep, start)
    spaces = any(b in data for b in _SPACE_BYTES) or (sep != "\t" and b"\t" in data)
    del data
    too_many = np.flatnonzero((counts > counts[0]) & ~blank)
    if too_many.size:
        raise _field_count_problem_of(path, counts, blank, sep)
    lines = np.arange(1, counts.size + 1, dtype=np.int64)
    short = _short_lines_problem(path, lines, counts, blank)
    if short is not None:
        raise short
    if blank[0]:  # a blank header line: let the general reader deal with it
        return _read_quoted(path, path.read_text(encoding="utf-8-sig"), sep)
    header = [("" if v in NA_VALUES else v.strip()) for v in header_line.split(sep)]
    df = _read_arrow(path, header, sep, lines[1:][~blank[1:]], spaces)
    if df is None:  # pyarrow numbered the records otherwise: take the general reader
        return _read_quoted(path, path.read_text(encoding="utf-8-sig"), sep)
    return _finish(df, sep)


def _read_arrow(
    path: Path, header: list[str], sep: str, lines: np.ndarray, spaces: bool = True
) -> pd.DataFrame | None:
    """Every cell as Arrow-backed text, stripped, NA-like cells missing; index = line numbers.

    ``spaces``: whether the file may hold a cell with surrounding spaces (else nothing is
    stripped, and no column copied).
    """
    names = [f"f{j}" for j in range(len(header))]
    table = pacsv.read_csv(
        path,
        read_options=pacsv.ReadOptions(column_names=names, skip_rows=1, block_size=1 << 24),
        parse_options=pacsv.ParseOptions(delimiter=sep, ignore_empty_lines=True),
        convert_options=pacsv.ConvertOptions(
            column_types={n: pa.string() for n in names},
            null_values=list(NA_VALUES),
            strings_can_be_null=True,
        ),
    )
    if table.num_rows != lines.size:
        return None
    columns = dict(zip(names, table.columns, strict=True))
    del table  # each column is freed once it is converted
    na = pa.array(NA_VALUES, pa.string())
    dtype = pd.StringDtype("pyarrow", na_value=np.nan)
    index = pd.Index(lines, name="line")
    out: dict[int, pd.Series] = {}
    for j, name in enumerate(names):
        cells = columns.pop(name)
        if spaces:  # NA spellings are missing already; stripped ones become missing here
            cells = pc.utf8_trim_whitespace(cells)
            cells = pc.if_else(pc.is_in(cells, value_set=na), pa.scalar(None, pa.string()), cells)
        out[j] = pd.Series(pd.array(cells, dtype=dtype), index=index, copy=False)
    df = pd.DataFrame(out, index=index, copy=False)
    df.columns = header
    return df


def _read_quoted(path: Path, text: str, sep: str) -> pd.DataFrame:
    """The general reader: pandas' C parser, records numbered by the csv module."""
    data = text.encode("utf-8")
    try:
        raw = pd.read_csv(
            io.BytesIO(data),
            encoding="utf-8",
            sep=sep,
            header=None,
            dtype=str,
            keep_default_na=False,
            na_values=list(NA_VALUES),
            skip_blank_lines=False,
            engine="c",
        )
    except pd.errors.ParserError as exc:
        if "EOF inside string" in str(exc):
            quote = _unbalanced_quote_problem(path, text)
            if quote is not None:
                raise quote from None
        raise _field_count_problem(path, text, sep) from None
    if '"' in text:
        lines, counts, blank = _records(text, sep)
        if len(lines) != len(raw):  # cannot happen with the C parser; keep the numbering safe
            lines = _line_numbers(text, sep, len(raw))
            counts, blank = np.full(len(raw), raw.shape[1]), np.zeros(len(raw), bool)
    else:
        counts, blank = _field_counts_unquoted(data, sep)
        counts, blank = counts[: len(raw)], blank[: len(raw)]
        lines = np.arange(1, len(raw) + 1, dtype=np.int64)
    short = _short_lines_problem(path, lines, counts, blank)
    if short is not None:
        raise short
    header = [("" if pd.isna(v) else str(v).strip()) for v in raw.iloc[0]]
    df = raw.iloc[1:].copy()
    df.columns = header
    df.index = pd.Index(lines[1:], name="line")
    df = tidy(df)
    return _finish(df, sep)


def _finish(df: pd.DataFrame, sep: str) -> pd.DataFrame:
    """Drop blank lines (numbering kept) and empty unnamed columns; record the attrs."""
    filled = df.notna().any(axis=1)
    if not filled.all():  # blank lines (or only separators): drop, keep numbering
        df = df[filled]
    df = _drop_empty_unnamed(df)
    df.attrs.update(
        meting_decimal="," if sep == ";" else ".", meting_unit="line", meting_numbered=True
    )
    return df


def _utf16_problem(path: Path, data: bytes) -> ProblemsError | None:
    """A UTF-16 (or UTF-32) file: a UTF-16 byte-order mark, or NUL bytes in the first block."""
    head = data[:4096]
    if not (head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) or b"\x00" in head):
        return None
    return file_error(
        path,
        "must be UTF-8 text; this file is UTF-16 (a UTF-16 byte-order mark or NUL bytes), "
        "as Excel's 'Unicode text' export writes it",
        "Convert it: iconv -f UTF-16 -t UTF-8 FILE > FILE-utf8.csv "
        "(or in Excel: Save As > 'CSV UTF-8').",
    )


def _utf8(path: Path, data: bytes) -> str:
    """Decode strict UTF-8; name every line with a byte that is not UTF-8."""
    utf16 = _utf16_problem(path, data)
    if utf16 is not None:
        raise utf16
    try:
        return codecs.decode(data, "utf-8-sig")
    except UnicodeDecodeError:
        pass
    text = data.decode("utf-8", errors="surrogateescape")
    points = np.frombuffer(text.encode("utf-32-le", errors="surrogatepass"), dtype=np.uint32)
    bad = np.flatnonzero((points >= 0xDC80) & (points <= 0xDCFF))
    line_of = np.cumsum(points == ord("\n")) + 1 - (points == ord("\n"))
    lines = np.unique(line_of[bad])
    byte = int(points[bad[0]]) - 0xDC00
    char = bytes([byte]).decode("cp1252", errors="replace")
    problem = Problem(
        str(path),
        None,
        tuple(int(x) for x in lines[:10]),
        (),
        f"must be UTF-8 text; byte 0x{byte:02X} ('{char}' in Latin-1 / Windows-1252) is not UTF-8",
        "Save the file as UTF-8 (Excel: Save As > 'CSV UTF-8'; or iconv -f cp1252 -t utf-8).",
        int(lines.size),
    )
    raise ProblemsError([problem], str(path))


def _check_utf8(path: Path, data: bytes) -> None:
    """Raise the UTF-16 or not-UTF-8 problem of the file; decodes in blocks (no copy of it)."""
    utf16 = _utf16_problem(path, data)
    if utf16 is not None:
        raise utf16
    decoder = codecs.getincrementaldecoder("utf-8")()
    view = memoryview(data)
    try:
        for at in range(0, len(data), _BLOCK):
            decoder.decode(view[at : at + _BLOCK], final=at + _BLOCK >= len(data))
    except UnicodeDecodeError:
        _utf8(path, data)  # raises, naming every line
    finally:
        view.release()


def _sniff(header: str) -> str:
    counts = [header.count(sep) for sep in _SEPARATORS]
    return _SEPARATORS[int(np.argmax(counts))] if max(counts) > 0 else ","


def _field_count_problem(path: Path, text: str, sep: str) -> ProblemsError:
    """Name every line whose number of fields differs from the header's."""
    reader = csv.reader(io.StringIO(text), delimiter=sep)
    header = next(reader)
    lines, counts = [], []
    for record in reader:  # only on the error path, to name the lines
        if record and len(record) != len(header):
            lines.append(reader.line_num)
            counts.append(len(record))
    problem = _fields_problem(path, len(header), np.asarray(lines), np.asarray(counts), sep)
    return ProblemsError([problem], str(path))


def _field_count_problem_of(
    path: Path, counts: np.ndarray, blank: np.ndarray, sep: str
) -> ProblemsError:
    """Name every line whose number of fields differs from the header's (from the counts)."""
    other = np.flatnonzero((counts != counts[0]) & ~blank)
    other = other[other > 0]
    problem = _fields_problem(path, int(counts[0]), other + 1, counts[other], sep)
    return ProblemsError([problem], str(path))


def _fields_problem(
    path: Path, n_header: int, lines: np.ndarray, counts: np.ndarray, sep: str
) -> Problem:
    hint = (
        " A decimal comma in a comma-separated file splits a number in two (7,5 -> 7 and 5): "
        "write 7.5, or save the file ;-separated."
        if sep == ","
        else ""
    )
    return Problem(
        str(path),
        None,
        tuple(int(x) for x in lines[:10]),
        tuple(f"{int(n)} fields" for n in counts[:10]),
        f"must have {n_header} fields on every line, as the header has",
        f"Check the separators and quotes on these lines.{hint}",
        int(len(lines)),
        quote=False,
    )


def _carriage_return_problem(path: Path, data: bytes) -> ProblemsError | None:
    """CR-only line endings (old Mac) or a lone CR inside a line: both split records silently.

    Works on the bytes (CR and LF are single bytes in UTF-8), a block at a time.
    """
    if b"\n" not in data:
        return file_error(
            path,
            "must end its lines with LF or CR LF; this file ends them with CR only (old Mac format)",
            "Convert it: tr '\\r' '\\n' < FILE > FILE-lf.csv (or save it again as 'CSV UTF-8').",
        )
    buf = np.frombuffer(data, dtype=np.uint8)
    lone: list[np.ndarray] = []
    for at in range(0, buf.size, _BLOCK):
        chunk = buf[at : at + _BLOCK + 1]  # one byte more: the byte after a CR at the end
        cr = np.flatnonzero(chunk[:_BLOCK] == 13)
        following = np.where(cr + 1 < chunk.size, chunk[np.minimum(cr + 1, chunk.size - 1)], 0)
        lone.append(cr[following != 10] + at)
    stray = np.concatenate(lone)
    if stray.size == 0:
        return None
    newlines = np.flatnonzero(buf == 10)
    lines = np.unique(np.searchsorted(newlines, stray) + 1)
    problem = Problem(
        str(path),
        None,
        tuple(int(x) for x in lines[:10]),
        (),
        "must not hold a carriage return (CR) inside a line; it would split the line in two",
        "Remove the stray CR characters (a line break typed inside a cell), e.g. with "
        "tr -d '\\r' < FILE > FILE-clean.csv.",
        int(lines.size),
    )
    return ProblemsError([problem], str(path))


def _open_quote_line(text: str) -> int | None:
    """The line on which a quote opens that is never closed (1 = header), or None."""
    open_at = None
    for number, line in enumerate(text.split("\n"), start=1):
        if line.count('"') % 2:
            open_at = number if open_at is None else None
    return open_at


def _unbalanced_quote_problem(path: Path, text: str) -> ProblemsError | None:
    line = _open_quote_line(text)
    if line is None:
        return None
    return file_error(
        path,
        "must close every quote it opens; the quote opened on this line runs to the end of the file",
        'Add the closing quote ("), or remove the stray one.',
        line=line,
    )


def _field_counts_unquoted(data: bytes, sep: str, start: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Fields per line and whether the line is blank, for a file without quotes (in blocks).

    ``start`` skips a byte-order mark.
    """
    code = ord(sep)
    counts: list[np.ndarray] = []
    blank: list[np.ndarray] = []
    block = _BLOCK
    n = len(data)
    while start < n:
        end = data.rfind(b"\n", start, min(n, start + block)) + 1 if start + block < n else n
        if end <= start:  # one line longer than a block
            end = data.find(b"\n", start + block)
            end = n if end < 0 else end + 1
        chunk = np.frombuffer(data, dtype=np.uint8, count=end - start, offset=start)
        newline = np.flatnonzero(chunk == 10)
        starts = np.concatenate(([0], newline + 1))
        if starts[-1] >= chunk.size:
            starts = starts[:-1]
        ends = np.append(newline, chunk.size)[: starts.size]
        seps = np.flatnonzero(chunk == code)
        counts.append(np.diff(np.append(np.searchsorted(seps, starts), seps.size)))
        length = ends - starts
        blank.append(
            (length == 0) | ((length == 1) & (chunk[np.minimum(starts, chunk.size - 1)] == 13))
        )
        start = end
    return np.concatenate(counts) + 1, np.concatenate(blank)


def _records(text: str, sep: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Start line, number of fields and blankness of each record (the csv module; quoted files)."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=sep)
    starts, counts, blank, last = [], [], [], 0
    for record in reader:
        starts.append(last + 1)
        counts.append(len(record))
        blank.append(not record or all(not f.strip() for f in record) and len(record) <= 1)
        last = reader.line_num
    return np.asarray(starts, np.int64), np.asarray(counts, np.int64), np.asarray(blank, bool)


def _short_lines_problem(
    path: Path, lines: np.ndarray, counts: np.ndarray, blank: np.ndarray
) -> ProblemsError | None:
    """Lines with fewer fields than the header (pandas would fill them with missing values)."""
    short = np.flatnonzero((counts < counts[0]) & ~blank)
    short = short[short > 0]
    if short.size == 0:
        return None
    problem = Problem(
        str(path),
        None,
        tuple(int(x) for x in lines[short[:10]]),
        tuple(f"{int(n)} fields" for n in counts[short[:10]]),
        f"must have {int(counts[0])} fields on every line, as the header has (too few fields)",
        "A line was cut short or lost its separators: complete the line; leave a cell empty "
        "(two separators in a row) for a missing value.",
        int(short.size),
        quote=False,
    )
    return ProblemsError([problem], str(path))


def _line_numbers(text: str, sep: str, n_records: int) -> np.ndarray:
    """The line on which each record starts (1 = header)."""
    n_lines = text.count("\n") + (0 if text.endswith("\n") else 1)
    if n_lines == n_records:
        return np.arange(1, n_records + 1, dtype=np.int64)
    # A quoted field spans lines: let the csv module count (rare; only then).
    starts, _, _ = _records(text, sep)
    return starts[:n_records]


def _drop_empty_unnamed(df: pd.DataFrame) -> pd.DataFrame:
    """Drop columns without a name and without data (a trailing separator on every line)."""
    keep = [
        not (str(name) == "" and df.iloc[:, j].isna().all()) for j, name in enumerate(df.columns)
    ]
    return df if all(keep) else df.loc[:, keep]
