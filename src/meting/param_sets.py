"""The files of a parameter set (a folder with ``set.yaml`` on top of a base folder, see
:mod:`meting.settings.parameter_set`): its ``set.yaml``, its one-table ``municipalities.csv``,
and the parameter files a registry of a folder reads (for the reports' provenance).
:func:`meting.registry.load_registry` uses them."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd

from meting.errors import ParameterError
from meting.settings.base import parse
from meting.settings.parameter_set import (
    MUNICIPALITY_TABLE,
    POPULATION_TABLE_COLUMNS,
    SET_FILE,
    MunicipalityRow,
    ParameterSetFile,
)
from meting.settings.records import Municipality
from meting.yaml_io import fail, load_yaml

__all__ = ["load_municipality_table", "load_set", "parameter_files"]


def load_set(folder: Path) -> ParameterSetFile | None:
    path = folder / SET_FILE
    if not path.is_file():
        return None
    pset = parse(ParameterSetFile, load_yaml(path), path)
    base = (folder / pset.base).resolve()
    if not base.is_dir() or base == folder.resolve():
        raise fail(path, "base", "name another parameter folder, relative to the set", pset.base)
    if (base / SET_FILE).is_file():
        raise fail(path, "base", "name a plain parameter folder (not another set)", pset.base)
    return pset


def parameter_files(params_dir: Path | str) -> list[Path]:
    """The parameter files a registry of ``params_dir`` reads from (sorted): every ``.yaml``,
    ``.csv`` and ``.json`` file of the folder, without those of sets inside it; for a set, its
    own files plus the base's files it does not replace. Hashed in the reports' provenance."""
    folder = Path(params_dir).resolve()
    suffixes = {".yaml", ".yml", ".csv", ".json"}

    def files(top: Path) -> dict[Path, Path]:
        sets = [p.parent for p in top.rglob(SET_FILE) if p.parent != top]
        return {
            p.relative_to(top): p
            for p in top.rglob("*")
            if p.is_file() and p.suffix in suffixes and not any(s in p.parents for s in sets)
        }

    own = files(folder)
    pset = load_set(folder)
    if pset is None:
        return sorted(own.values())
    base = files((folder / pset.base).resolve())
    replaced = {r for r in base if r in own or (r.parts[0] == "municipalities" and
                                                 Path(MUNICIPALITY_TABLE) in own)}  # fmt: skip
    return sorted([*own.values(), *(p for r, p in base.items() if r not in replaced)])


def load_municipality_table(path: Path) -> dict[str, tuple[Municipality, ...]]:
    """``<set>/municipalities.csv``: rows by code, sorted by reference date (one parse per row)."""
    try:
        frame = pd.read_csv(path, comment="#", dtype=str, keep_default_na=False, encoding="utf-8")
    except (ValueError, UnicodeDecodeError) as exc:
        raise ParameterError(f"{path}: file must be a UTF-8 CSV; got {exc}") from exc
    fields = ["code", "name", "province", "size_class", "reference_date", "population_source"]
    header = [*fields, *POPULATION_TABLE_COLUMNS]
    if list(frame.columns) != header:
        raise fail(path, "header", "be " + ",".join(header), list(frame.columns))
    out: dict[str, list[Municipality]] = {}
    seen: set[tuple[str, str]] = set()
    for i, row in enumerate(frame.to_dict(orient="records"), start=1):
        key = (row["code"], row["reference_date"])
        if key in seen:
            raise fail(path, "code", f"appear once per reference date (data row {i})", key)
        seen.add(key)
        record = {k: row[k] for k in fields}
        record["population"] = {k: row[k] for k in POPULATION_TABLE_COLUMNS}
        parsed = parse(MunicipalityRow, record, path, suffix=f" (data row {i})")
        out.setdefault(parsed.code, []).append(parsed.to_municipality())
    return {
        code: tuple(sorted(rows, key=lambda m: m.reference_date or dt.date.min))
        for code, rows in sorted(out.items())
    }
