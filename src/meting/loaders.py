"""Read wave files (CSV, Parquet, SPSS ``.sav``) into one validated :class:`WaveData`.

:func:`read_table` gives the *raw* table: every cell as text, as it stood in the file, so that the
checks in :mod:`meting.data_checks` can name the offending value (text files are read by
:mod:`meting.csv_reader`, which describes what they may hold). :func:`load_wave` reads, checks and
types a wave, and stops with a :class:`meting.schema.ProblemsError` that lists every problem.
Input files are only ever opened for reading.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from meting import columns as C
from meting.coerce import coerce_organisations, coerce_respondents
from meting.contract import ORGANISATION_SPECS, SPECS
from meting.csv_reader import read_text
from meting.data_checks import check_organisations, check_respondents
from meting.errors import ParameterError
from meting.problems import Problem, ProblemsError, file_error
from meting.raw_table import NA_VALUES, as_text, tidy

__all__ = ["NA_VALUES", "WaveData", "load_wave", "read_table", "sha256_of"]

TEXT_SUFFIXES = (".csv", ".txt")
PARQUET_SUFFIXES = (".parquet", ".pq")
SAV_SUFFIXES = (".sav", ".zsav")


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
        raise file_error(path, "must be an existing file", "Check the path.")
    if suffix in TEXT_SUFFIXES:
        df = read_text(path)
    elif suffix in PARQUET_SUFFIXES:
        df = _read_parquet(path)
    elif suffix in SAV_SUFFIXES:
        df = _read_sav(path)
    else:
        raise file_error(
            path,
            "must be a .csv, .txt, .parquet or .sav file",
            "Save it as CSV (UTF-8), Parquet or SPSS .sav.",
            values=(suffix or "no suffix",),
        )
    if df.shape[1] == 0:
        raise file_error(path, "must not be empty", "The file holds no header and no data.")
    if len(df) == 0:
        raise file_error(
            path, "must hold data lines below the header", "The file has a header only."
        )
    return df


def _read_parquet(path: Path) -> pd.DataFrame:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except (pa.ArrowException, OSError) as exc:
        raise file_error(
            path, "must be a readable Parquet file", f"The reader said: {exc}."
        ) from None
    df = table.to_pandas()
    return _numbered(tidy(df.reset_index(drop=True)))


def _read_sav(path: Path) -> pd.DataFrame:
    """Read SPSS; value labels are applied to text and category columns only.

    Marks and norms keep their numbers even where the scale ends carry labels
    (1 = "zeer slecht"), since a label there is not a value of the contract.
    """
    import pyreadstat

    try:
        df, meta = pyreadstat.read_sav(str(path), apply_value_formats=False, user_missing=False)
    except Exception as exc:  # pyreadstat raises its own error types
        raise file_error(
            path, "must be a readable SPSS .sav file", f"The reader said: {exc}."
        ) from None
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
    return _numbered(tidy(pd.DataFrame(labelled)))


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
