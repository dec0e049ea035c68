"""Compute once, render many: the whole-wave work of the municipality reports as files.

Loading and weighting a wave, the direct estimates, the small-area fit, the tests and the
knelpunten tables of every municipality are computed once per wave (:func:`build_artefacts`) and
stored as Parquet tables beside the NetCDF fit cache (:mod:`meting.sae.cache`), under
``data/cache/artefacts/<wave>-<key>/``. A municipality report reads them
(:func:`wave_artefacts`, then :meth:`WaveArtefacts.municipality`) and computes nothing heavy.

The key is the SHA-256 of everything that determines the tables: the data files and every
parameter file (hashed as :mod:`meting.report.provenance` hashes them for the provenance block),
the package versions the reports list, and the source of this package (a code change is a
recompute, never a stale table). A folder records its key in ``meta.json``; a folder whose
recorded key differs is not used.

Written atomically: the tables go to a ``.tmp-*`` folder that is renamed into place; a lock file
(``fcntl.flock``) makes a second process that wants the same wave wait and then read what the
first wrote, so two workers never compute the same wave at once.

Privacy: only aggregates are stored (estimates, intervals, tests and the number of respondents
``n`` per cell), never a respondent-level row or id. The knelpunten tables are stored as their
``*_table`` functions return them (small cells already blanked); the model cells keep ``n`` and the
direct estimate so the report's tables suppress them at publication, as before.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from meting import columns as C
from meting.errors import ParameterError

if TYPE_CHECKING:
    from meting.registry import Registry

__all__ = [
    "ARTEFACT_FORMAT",
    "MunicipalityTables",
    "WaveArtefacts",
    "artefact_key",
    "artefacts_dir",
    "build_artefacts",
    "wave_artefacts",
]

#: Bump when the stored tables change meaning (part of the key).
ARTEFACT_FORMAT = 4  # 4: the linked parameters and the stored trend
META = "meta.json"
#: The stored tables, one Parquet file each.
TABLES = (
    "cells",
    "by_municipality",
    "vs_rest",
    "norms",
    "national_norms",
    "trim",
    "chain",
    "agenda",
    "linked",
    "linked_parameters",
    "trend",
    "trend_changes",
)
#: The columns of ``trend_changes`` that name a change's municipality and pair of waves.
_TREND_KEYS = ("trend_code", "trend_pair", "trend_earlier", "trend_later")
#: Columns no stored table may carry (respondent level).
_FORBIDDEN = {C.RESPONDENT_ID}


def artefacts_dir(registry: Registry) -> Path:
    """``<project>/data/cache/artefacts`` (beside the model fits of ``data/cache``)."""
    from meting.pipeline import cache_dir

    return cache_dir(registry) / "artefacts"


def _source_digest() -> str:
    """SHA-256 over this package's Python sources (relative path and bytes, sorted)."""
    root = Path(__file__).resolve().parent
    h = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        h.update(path.relative_to(root).as_posix().encode())
        h.update(b"\0")
        h.update(path.read_bytes())
    return h.hexdigest()


def _key_parts(registry: Registry, wave: str) -> dict[str, Any]:
    from meting.pipeline import wave_data_files
    from meting.report.provenance import list_parameter_files, package_versions, sha256_file

    params_dir = Path(registry.params_dir)
    data = {  # every wave the linked model uses, this one included
        f"{w}/{role}": sha256_file(path)
        for w in linked_waves(registry, wave)
        for role, path in sorted(wave_data_files(registry, w).items())
        if path.is_file()
    }
    return {
        "format": ARTEFACT_FORMAT,
        "wave": wave,
        "data": data,
        "params": {
            Path(os.path.relpath(p, params_dir)).as_posix(): sha256_file(p)
            for p in list_parameter_files(params_dir)
        },
        "versions": dict(package_versions()),
        "source": _source_digest(),
    }


def linked_waves(registry: Registry, wave: str) -> list[str]:
    """The waves up to ``wave`` (by year) whose respondents file exists, ``wave`` itself always:
    those of its linked small-area model."""
    from meting.pipeline import wave_data_files

    year = registry.waves[wave].year
    return sorted(
        (
            w
            for w in registry.waves
            if w == wave
            or (
                registry.waves[w].year <= year
                and wave_data_files(registry, w)["respondents"].is_file()
            )
        ),
        key=lambda w: (registry.waves[w].year, w),
    )


def artefact_key(registry: Registry, wave: str) -> str:
    """The key of a wave's artefacts: SHA-256 of data, parameters, versions and source."""
    parts = _key_parts(registry, wave)
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


@dataclass(frozen=True)
class MunicipalityTables:
    """One municipality's tables, selected from the wave's artefacts (see
    :meth:`WaveArtefacts.municipality`)."""

    code: str
    cells: pd.DataFrame
    overall: pd.DataFrame
    vs_rest: pd.DataFrame
    norms: pd.DataFrame
    national_norms: pd.DataFrame
    trim: pd.DataFrame | None
    chain: pd.DataFrame | None
    agenda: pd.DataFrame
    #: The linked model's change first wave -> this wave (:func:`meting.linked_trends.linked_changes`):
    #: the municipality's life events, its population-weighted aggregate first (``naam`` is
    #: then the municipality's name, ``life_event`` empty); None when there is no earlier wave.
    linked: pd.DataFrame | None = None
    #: The linked fit's scale parameters (:func:`meting.sae.checks.scale_parameters`) and whether
    #: it meets the strict convergence rule; None without an earlier wave.
    linked_parameters: pd.DataFrame | None = None
    linked_converged: bool = True
    #: The municipality's direct estimates per wave up to this one and their tested changes per
    #: pair of waves (:func:`meting.trends.municipality_trend`, computed once per wave).
    trend: pd.DataFrame | None = None
    trend_changes: Mapping[tuple[str, str], pd.DataFrame] | None = None


@dataclass(frozen=True)
class WaveArtefacts:
    """The stored whole-wave tables of one wave.

    Attributes
    ----------
    wave, key, folder
        The wave label, the key (:func:`artefact_key`) and where the files are.
    tables
        Name -> table (see :data:`TABLES`).
    meta
        ``warning_nl`` (the model diagnostics' warning, empty when met), ``data_files`` (the
        wave's data files, for the provenance block), ``has_trim``, ``has_chain``, ``seconds``.
    """

    wave: str
    key: str
    folder: Path
    tables: Mapping[str, pd.DataFrame]
    meta: Mapping[str, Any]

    @property
    def warning_nl(self) -> str:
        return str(self.meta.get("warning_nl") or "")

    @property
    def data_files(self) -> list[Path]:
        return [Path(p) for p in self.meta.get("data_files", [])]

    def municipality(self, code: str) -> MunicipalityTables:
        """The tables of one municipality (its rows; the national and all-municipality tables as
        they are)."""
        from meting.report.sections import select

        cells = self.tables["cells"]
        if code not in set(cells[C.MUNICIPALITY].astype(str)):
            raise ParameterError(
                f"municipality must be a code of wave {self.wave}; got {code!r}. Choose a code "
                "from params/municipalities/."
            )
        by_mun = self.tables["by_municipality"]
        return MunicipalityTables(
            code=code,
            cells=select(cells, C.MUNICIPALITY, code),
            overall=select(by_mun, C.MUNICIPALITY, code),
            vs_rest=select(self.tables["vs_rest"], C.MUNICIPALITY, code).drop(
                columns=[C.MUNICIPALITY]
            ),
            norms=select(self.tables["norms"], C.MUNICIPALITY, code),
            national_norms=self.tables["national_norms"],
            trim=self.tables["trim"] if self.meta.get("has_trim") else None,
            chain=select(self.tables["chain"], C.MUNICIPALITY, code)
            if self.meta.get("has_chain")
            else None,
            agenda=select(self.tables["agenda"], C.MUNICIPALITY, code),
            linked=select(self.tables["linked"], C.MUNICIPALITY, code).reset_index(drop=True)
            if self.meta.get("has_linked")
            else None,
            linked_parameters=self.tables["linked_parameters"]
            if self.meta.get("has_linked")
            else None,
            linked_converged=bool(self.meta.get("linked_converged", True)),
            trend=_trend(self.tables["trend"], code),
            trend_changes=_trend_changes(self.tables["trend_changes"], code),
        )


def _trend(table: pd.DataFrame, code: str) -> pd.DataFrame:
    """The stored trend estimates of one municipality, as :func:`meting.trends.municipality_trend`
    gives them (an empty frame when it has no respondents in any wave)."""
    if C.MUNICIPALITY not in table.columns or table.empty:
        return pd.DataFrame()
    out = table.loc[table[C.MUNICIPALITY].astype(str) == code].reset_index(drop=True)
    return out if len(out) else pd.DataFrame()


def _trend_changes(table: pd.DataFrame, code: str) -> dict[tuple[str, str], pd.DataFrame]:
    """The stored trend changes of one municipality by pair of waves, in their computed order."""
    if "trend_code" not in table.columns:
        return {}
    rows = table.loc[table["trend_code"].astype(str) == code]
    out = {}
    for _, part in rows.groupby("trend_pair", sort=True):
        pair = (str(part["trend_earlier"].iloc[0]), str(part["trend_later"].iloc[0]))
        out[pair] = part.drop(columns=list(_TREND_KEYS)).reset_index(drop=True)
    return out


def _trend_tables(
    registry: Registry, wave: str, an: Any, waves: list[str], codes: list[str]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every municipality's trend (:func:`meting.trends.municipality_trends`) as two tables: the
    estimates per wave and the changes per pair (keyed by ``trend_*`` columns)."""
    from meting import pipeline
    from meting.trends import municipality_trends

    analyses = {w: an if w == wave else pipeline.analyse_wave(registry, w) for w in waves}
    found = municipality_trends(analyses, codes, order=waves)
    estimates = [e for e, _ in found.values() if len(e)]
    changes = [
        t.assign(trend_code=code, trend_pair=i, trend_earlier=a, trend_later=b)
        for code, (_, pairs) in found.items()
        for i, ((a, b), t) in enumerate(pairs.items())
    ]
    empty = pd.DataFrame({C.MUNICIPALITY: pd.Series([], dtype="str")})
    return (
        pd.concat(estimates, ignore_index=True) if estimates else empty,
        pd.concat(changes, ignore_index=True) if changes else empty,
    )


def _compute(registry: Registry, wave: str) -> tuple[dict[str, pd.DataFrame], dict[str, Any]]:
    """Every whole-wave table of the municipality reports (the heavy part, once per wave)."""
    from meting import pipeline
    from meting.knelpunten import improvement_agenda
    from meting.report import sections as KT

    s = registry.settings
    an = pipeline.analyse_wave(registry, wave)
    sae = pipeline.fit_small_areas(an, benchmark=True)
    codes = sorted(registry.municipalities)
    event_names = {k: v.name for k, v in registry.life_events.items()}
    mun_names = {k: v.name for k, v in registry.municipalities.items()}
    tables: dict[str, pd.DataFrame] = {
        "cells": pipeline.municipality_cells(an, sae, None),
        "by_municipality": pipeline.sae_by(an, sae, C.MUNICIPALITY),
        "vs_rest": pipeline.municipalities_vs_rest(an, codes),
        "norms": KT.norms_table(
            an.design, min_n=s.min_cell_size, by=C.MUNICIPALITY, level=s.confidence
        ),
        "national_norms": KT.norms_table(an.design, min_n=s.min_cell_size, level=s.confidence),
    }
    has_trim = all(c in an.design.data.columns for c in C.TRIM_QUESTIONS)
    tables["trim"] = (
        KT.trim_table(an.design, min_n=s.min_cell_size, names=mun_names, level=s.confidence)
        if has_trim
        else pd.DataFrame({C.MUNICIPALITY: pd.Series([], dtype="str")})
    )
    chain = KT.chain_table(
        an.design, an.data.organisations, min_n=s.min_cell_size,
        by=[C.MUNICIPALITY, C.LIFE_EVENT], names=event_names,
        organisation_names={k: v.name for k, v in registry.organisations.items()},
        level=s.confidence,
    ) if an.data.organisations is not None else None  # fmt: skip
    tables["chain"] = (
        chain if chain is not None else pd.DataFrame({C.MUNICIPALITY: pd.Series([], dtype="str")})
    )
    agenda = improvement_agenda(an.design, target=s.target, min_cell_size=s.min_cell_size)
    agenda = agenda.sort_values([C.MUNICIPALITY, "rank"], kind="stable")
    tables["agenda"] = agenda.assign(
        levensgebeurtenis=agenda[C.LIFE_EVENT].astype(str).map(event_names)
    ).reset_index(drop=True)
    upto = linked_waves(registry, wave)
    tables["trend"], tables["trend_changes"] = _trend_tables(registry, wave, an, upto, codes)
    has_linked = len(upto) >= 2
    if has_linked:
        from meting.linked_trends import linked_changes
        from meting.sae.checks import scale_parameters

        fit = pipeline.fit_linked_small_areas(registry, upto, benchmark=True)
        total = linked_changes(registry, upto, C.MUNICIPALITY, sae=fit)
        tables["linked"] = pd.concat(
            [total.assign(**{C.LIFE_EVENT: ""}), linked_changes(registry, upto, None, sae=fit)],
            ignore_index=True,
            join="inner",
        ).sort_values(C.MUNICIPALITY, kind="stable", ignore_index=True)
        tables["linked_parameters"] = scale_parameters(fit)
        linked_converged = fit.diagnostics.trustworthy
    else:
        tables["linked"] = pd.DataFrame({C.MUNICIPALITY: pd.Series([], dtype="str")})
        tables["linked_parameters"] = pd.DataFrame({"parameter": pd.Series([], dtype="str")})
        linked_converged = True
    meta = {
        "has_linked": has_linked,
        "linked_converged": linked_converged,
        "warning_nl": sae.diagnostics.warning_nl or "",
        "data_files": [str(p) for p in an.data.paths.values()],
        "has_trim": has_trim,
        "has_chain": chain is not None,
    }
    return tables, meta


def _check_aggregate(name: str, table: pd.DataFrame) -> None:
    bad = _FORBIDDEN & set(map(str, table.columns))
    if bad:  # pragma: no cover - a programming error, guarded all the same
        raise AssertionError(f"artefact table {name} must hold aggregates only; has {sorted(bad)}")


def _jsonable(attrs: Mapping[Any, Any]) -> dict[str, Any]:
    out = {}
    for k, v in attrs.items():
        try:
            json.dumps(v)
        except TypeError:
            continue
        out[str(k)] = v
    return out


def _write(
    folder: Path, key: str, tables: Mapping[str, pd.DataFrame], meta: dict[str, Any]
) -> None:
    """Write the tables and ``meta.json`` into a temporary folder, then rename it to ``folder``."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{folder.name}-", dir=folder.parent))
    try:
        attrs = {}
        for name in TABLES:
            table = tables[name]
            _check_aggregate(name, table)
            attrs[name] = _jsonable(table.attrs)
            plain = table.copy()
            plain.attrs = {}
            plain.to_parquet(tmp / f"{name}.parquet", index=False)
        record = {"key": key, **meta, "attrs": attrs}
        (tmp / META).write_text(json.dumps(record, indent=1, sort_keys=True), encoding="utf-8")
        try:
            os.rename(tmp, folder)
        except OSError:  # another process put the same key in place first: keep that one
            if not (folder / META).is_file():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _read(folder: Path, key: str) -> WaveArtefacts | None:
    meta_path = folder / META
    if not meta_path.is_file():
        return None
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if meta.get("key") != key:
        return None
    tables = {}
    for name in TABLES:
        table = pd.read_parquet(folder / f"{name}.parquet")
        table.attrs = dict(meta.get("attrs", {}).get(name, {}))
        tables[name] = table
    wave = folder.name.rsplit("-", 1)[0]
    return WaveArtefacts(wave=wave, key=key, folder=folder, tables=tables, meta=meta)


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive ``flock`` on ``path`` (blocking): one process computes a wave at a time."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as handle:
        try:
            import fcntl
        except ImportError:  # pragma: no cover - not on POSIX
            yield
            return
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _folder(registry: Registry, wave: str, key: str) -> Path:
    return artefacts_dir(registry) / f"{wave}-{key[:24]}"


def wave_artefacts(registry: Registry, wave: str) -> WaveArtefacts:
    """The stored artefacts of ``wave``: read when their key matches, else computed (once, under
    a lock) and stored first."""
    if wave not in registry.waves:
        raise ParameterError(
            f"wave must be a label in {registry.params_dir / 'waves'}; got {wave!r}. "
            f"Choose from {sorted(registry.waves)}."
        )
    key = artefact_key(registry, wave)
    folder = _folder(registry, wave, key)
    found = _read(folder, key)
    if found is not None:
        return found
    with _locked(folder.with_name(f".{folder.name}.lock")):
        found = _read(folder, key)  # computed by another process while we waited
        if found is not None:
            return found
        t0 = time.perf_counter()
        tables, meta = _compute(registry, wave)
        meta["seconds"] = round(time.perf_counter() - t0, 3)
        _write(folder, key, tables, meta)
    found = _read(folder, key)
    assert found is not None
    return found


def build_artefacts(params_dir: str | None, wave: str) -> str:
    """Compute (or find) the artefacts of ``wave`` for the parameters in ``params_dir``; returns
    the folder. The task that the reports of a wave wait for (:mod:`meting.report.distributed`)."""
    from meting.registry import load_registry

    return str(wave_artefacts(load_registry(params_dir or None), wave).folder)
