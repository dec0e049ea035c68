"""Read wave files (CSV, Parquet, SPSS ``.sav``) into one validated :class:`WaveData`.

:func:`read_table` gives the *raw* table: every cell as text, as it stood in the file, so that the
checks in :mod:`meting.schema` can name the offending value. :func:`load_wave` reads, checks and
types a wave, and stops with a :class:`meting.schema.ProblemsError` that lists every problem.
Input files are only ever opened for reading.

Text files must be UTF-8 (a byte-order mark is fine). The separator is sniffed from the header
line (``,``, ``;`` or tab). A ``;``-separated file is taken to be a Dutch export with decimal
commas (``1,25``); the numeric checks read its numbers that way. Surrounding spaces are dropped;
an empty cell, ``NA``, ``N/A``, ``NaN``, ``nan``, ``NULL`` or ``null`` is a missing value.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from meting import columns as C
from meting.errors import ParameterError
from meting.schema import (
    ORGANISATION_SPECS,
    SPECS,
    Problem,
    ProblemsError,
    as_text,
    check_organisations,
    check_respondents,
    coerce_organisations,
    coerce_respondents,
)

NA_VALUES = ("", "NA", "N/A", "NaN", "nan", "NULL", "null")
TEXT_SUFFIXES = (".csv", ".txt")
PARQUET_SUFFIXES = (".parquet", ".pq")
SAV_SUFFIXES = (".sav", ".zsav")
_SEPARATORS = (",", ";", "\t")


@dataclass(frozen=True, eq=False)
class WaveData:
    """One validated wave.

    Parameters
    ----------
    respondents
        The respondent table with final dtypes (see :func:`meting.schema.coerce_respondents`).
    organisations
        The long organisation table (respondent x organisation), or None.
    wave
        The wave label.
    paths
        The input files by role (``"respondents"``, ``"organisations"``).
    sha256
        The SHA-256 of each input file by role, for provenance.
    truth
        Synthetic waves only: the true population values (``"cells"``, ``"strata"``).
    """

    respondents: pd.DataFrame
    organisations: pd.DataFrame | None = None
    wave: str | None = None
    paths: Mapping[str, Path] = field(default_factory=dict)
    sha256: Mapping[str, str] = field(default_factory=dict)
    truth: Mapping[str, pd.DataFrame] | None = None


def sha256_of(path: Path) -> str:
    """SHA-256 (hex) of a file, read in blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _fail(
    path: Path, message: str, fix: str = "", *, line: int | None = None, values=()
) -> ProblemsError:
    rows = (line,) if line is not None else ()
    problem = Problem(str(path), None, rows, tuple(values), message, fix, len(rows))
    return ProblemsError([problem], str(path))


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a table as it stands in the file: every cell as text, missing cells as NA.

    Parameters
    ----------
    path
        A ``.csv``/``.txt`` (UTF-8; ``,``, ``;`` or tab separated), ``.parquet`` or ``.sav`` file.

    Returns
    -------
    pandas.DataFrame
        Columns as in the file (duplicates kept). The index holds the line numbers (text files,
        header = line 1) or case numbers (Parquet, SPSS); ``attrs`` records them and the decimal
        mark (see :mod:`meting.schema`).

    Raises
    ------
    ProblemsError
        The file is missing, empty, has only a header, is not UTF-8, has lines with too many or
        too few fields, or cannot be read in its format.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if not path.is_file():
        raise _fail(path, "must be an existing file", "Check the path.")
    if suffix in TEXT_SUFFIXES:
        df = _read_text(path)
    elif suffix in PARQUET_SUFFIXES:
        df = _read_parquet(path)
    elif suffix in SAV_SUFFIXES:
        df = _read_sav(path)
    else:
        raise _fail(
            path,
            "must be a .csv, .txt, .parquet or .sav file",
            "Save it as CSV (UTF-8), Parquet or SPSS .sav.",
            values=(suffix or "no suffix",),
        )
    if df.shape[1] == 0:
        raise _fail(path, "must not be empty", "The file holds no header and no data.")
    if len(df) == 0:
        raise _fail(path, "must hold data lines below the header", "The file has a header only.")
    return df


def _utf16_problem(path: Path, data: bytes) -> ProblemsError | None:
    """A UTF-16 (or UTF-32) file: a UTF-16 byte-order mark, or NUL bytes in the first block."""
    head = data[:4096]
    if not (head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) or b"\x00" in head):
        return None
    return _fail(
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
    hint = (
        " A decimal comma in a comma-separated file splits a number in two (7,5 -> 7 and 5): "
        "write 7.5, or save the file ;-separated."
        if sep == ","
        else ""
    )
    problem = Problem(
        str(path),
        None,
        tuple(lines[:10]),
        tuple(f"{n} fields" for n in counts[:10]),
        f"must have {len(header)} fields on every line, as the header has",
        f"Check the separators and quotes on these lines.{hint}",
        len(lines),
        quote=False,
    )
    return ProblemsError([problem], str(path))


def _carriage_return_problem(path: Path, text: str) -> ProblemsError | None:
    """CR-only line endings (old Mac) or a lone CR inside a line: both split records silently."""
    if "\r" not in text:
        return None
    if "\n" not in text:
        return _fail(
            path,
            "must end its lines with LF or CR LF; this file ends them with CR only (old Mac format)",
            "Convert it: tr '\\r' '\\n' < FILE > FILE-lf.csv (or save it again as 'CSV UTF-8').",
        )
    points = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
    cr = np.flatnonzero(points == 13)
    following = np.append(points, 0)[cr + 1]
    lone = cr[following != 10]
    if lone.size == 0:
        return None
    newlines = np.flatnonzero(points == 10)
    lines = np.unique(np.searchsorted(newlines, lone) + 1)
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
    return _fail(
        path,
        "must close every quote it opens; the quote opened on this line runs to the end of the file",
        'Add the closing quote ("), or remove the stray one.',
        line=line,
    )


def _field_counts_unquoted(data: bytes, sep: str) -> tuple[np.ndarray, np.ndarray]:
    """Fields per line and whether the line is blank, for a file without quotes (in blocks)."""
    code = ord(sep)
    counts, blank = [], []
    block = 1 << 24
    start = 0
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
        counts.append(np.add.reduceat((chunk == code).astype(np.uint8), starts, dtype=np.int64))
        length = ends - starts
        blank.append(
            (length == 0) | ((length == 1) & (chunk[np.minimum(starts, chunk.size - 1)] == 13))
        )
        counts[-1][length == 0] = 0
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


def _read_text(path: Path) -> pd.DataFrame:
    data = path.read_bytes()
    text = _utf8(path, data)
    if not text.strip():
        raise _fail(path, "must not be empty", "The file holds no header and no data.")
    for check in (_carriage_return_problem,):
        found = check(path, text)
        if found is not None:
            raise found
    sep = _sniff(text.split("\n", 1)[0])
    try:
        raw = pd.read_csv(
            io.BytesIO(data),  # the checked bytes: no 4-bytes-a-character copy of the text
            encoding="utf-8-sig",
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
        counts, blank = _field_counts_unquoted(data.removeprefix(codecs.BOM_UTF8), sep)
        counts, blank = counts[: len(raw)], blank[: len(raw)]
        lines = np.arange(1, len(raw) + 1, dtype=np.int64)
    short = _short_lines_problem(path, lines, counts, blank)
    if short is not None:
        raise short
    header = [("" if pd.isna(v) else str(v).strip()) for v in raw.iloc[0]]
    df = raw.iloc[1:].copy()
    df.columns = header
    df.index = pd.Index(lines[1:], name="line")
    df = _tidy(df)
    df = df[df.notna().any(axis=1)]  # blank lines (or only separators): drop, keep numbering
    df = _drop_empty_unnamed(df)
    df.attrs.update(
        meting_decimal="," if sep == ";" else ".", meting_unit="line", meting_numbered=True
    )
    return df


def _tidy(df: pd.DataFrame) -> pd.DataFrame:
    """Strip surrounding spaces; blank and NA-like cells become missing."""
    out = {}
    for j in range(df.shape[1]):
        s = as_text(df.iloc[:, j]).str.strip()
        out[j] = s.where(~s.isin(NA_VALUES))
    tidy = pd.DataFrame(out, index=df.index)
    tidy.columns = df.columns
    return tidy


def _drop_empty_unnamed(df: pd.DataFrame) -> pd.DataFrame:
    """Drop columns without a name and without data (a trailing separator on every line)."""
    keep = [
        not (str(name) == "" and df.iloc[:, j].isna().all()) for j, name in enumerate(df.columns)
    ]
    return df.loc[:, keep]


def _read_parquet(path: Path) -> pd.DataFrame:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except (pa.ArrowException, OSError) as exc:
        raise _fail(path, "must be a readable Parquet file", f"The reader said: {exc}.") from None
    df = table.to_pandas()
    return _numbered(_tidy(df.reset_index(drop=True)))


def _read_sav(path: Path) -> pd.DataFrame:
    """Read SPSS; value labels are applied to text and category columns only.

    Marks and norms keep their numbers even where the scale ends carry labels
    (1 = "zeer slecht"), since a label there is not a value of the contract.
    """
    import pyreadstat

    try:
        df, meta = pyreadstat.read_sav(str(path), apply_value_formats=False, user_missing=False)
    except Exception as exc:  # pyreadstat raises its own error types
        raise _fail(path, "must be a readable SPSS .sav file", f"The reader said: {exc}.") from None
    labelled = {}
    for name in df.columns:
        spec = SPECS.get(name) or ORGANISATION_SPECS.get(name)
        labels: dict[Any, str] = meta.variable_value_labels.get(name, {})
        text = as_text(df[name])
        if labels and (spec is None or spec.kind in ("string", "category")):
            codes = as_text(pd.Series(list(labels)))  # float codes 1.0 -> '1'
            by_text = dict(zip(codes, labels.values(), strict=True))
            text = text.map(by_text).fillna(text)
        labelled[name] = text
    return _numbered(_tidy(pd.DataFrame(labelled)))


def _numbered(df: pd.DataFrame) -> pd.DataFrame:
    df.index = pd.Index(np.arange(1, len(df) + 1), name="row")
    df.attrs.update(meting_decimal=".", meting_unit="row", meting_numbered=True)
    return df


def _default_registry(registry: Any) -> Any:
    if registry is not None:
        return registry
    from meting.registry import load_registry

    return load_registry()


def load_wave(
    respondents: str | Path,
    organisations: str | Path | None = None,
    *,
    registry: Any = None,
    wave: str | None = None,
) -> WaveData:
    """Read, check and type one wave.

    Parameters
    ----------
    respondents
        The respondent file (``.csv``, ``.txt``, ``.parquet`` or ``.sav``).
    organisations
        The organisation file (long: respondent x organisation), if any.
    registry
        The parameter registry; by default :func:`meting.registry.load_registry`.
    wave
        The wave label every line must carry; by default the one in the file.

    Returns
    -------
    WaveData
        The typed tables, the paths and the SHA-256 of each file.

    Raises
    ------
    ProblemsError
        (a :class:`meting.errors.SchemaError`) listing every problem of both files, one a line.
    """
    registry = _default_registry(registry)
    if wave is not None and wave not in registry.waves:
        raise ParameterError(
            f"wave must be a wave label from params/waves/ ({', '.join(registry.waves)}); "
            f"got {wave!r}. Add the wave's parameter file or correct the label."
        )
    paths = {"respondents": Path(respondents)}
    if organisations is not None:
        paths["organisations"] = Path(organisations)
    problems: list[Problem] = []
    tables: dict[str, pd.DataFrame] = {}
    for role, path in paths.items():
        try:
            tables[role] = read_table(path)
        except ProblemsError as exc:
            problems += exc.problems
    resp = tables.get("respondents")
    if resp is not None:
        problems += check_respondents(
            resp, source=str(paths["respondents"]), registry=registry, wave=wave
        )
    if "organisations" in tables:
        problems += check_organisations(
            tables["organisations"], resp, source=str(paths["organisations"]), registry=registry
        )
    if problems:
        raise ProblemsError(problems, " and ".join(str(p) for p in paths.values()))
    assert resp is not None
    typed = coerce_respondents(resp)
    label = wave if wave is not None else str(typed[C.WAVE].iloc[0])
    return WaveData(
        respondents=typed,
        organisations=coerce_organisations(tables["organisations"])
        if "organisations" in tables
        else None,
        wave=label,
        paths=paths,
        sha256={role: sha256_of(path) for role, path in paths.items()},
    )
