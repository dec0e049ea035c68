"""Disk cache of fitted posteriors: ArviZ NetCDF keyed by a hash of data, model and versions.

Only the ``posterior`` and ``sample_stats`` groups are written: never ``observed_data``,
``constant_data`` or a log likelihood, so no survey data (not even cell aggregates beyond what the
posterior implies) lands in the cache. Files are written to a temporary name in the same folder and
moved into place with :func:`os.replace`, so a reader never sees half a file and two processes
writing the same key do not corrupt it. Each file records its own key (and the JSON of what it
hashes: data hash, spec, settings, versions) in the posterior's attributes; :func:`load` refits
(returns None, with a log line) when that key is not the one asked for.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sys
import tempfile
from importlib import metadata
from pathlib import Path

import arviz as az
import numpy as np
import pandas as pd

_VERSIONED = ("meting", "pymc", "pytensor", "nutpie", "arviz", "numpy")
CACHE_FORMAT = 1
log = logging.getLogger(__name__)


def package_versions() -> dict[str, str]:
    """Versions of the packages that change the numbers of a fit."""
    versions: dict[str, str] = {}
    for name in _VERSIONED:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "absent"
    return versions


def frame_digest(frame: pd.DataFrame) -> str:
    """A content hash of a table (column names, dtypes-independent values, row order)."""
    h = hashlib.sha256()
    h.update(json.dumps([str(c) for c in frame.columns]).encode())
    for column in frame.columns:
        values = frame[column]
        if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
            h.update(np.ascontiguousarray(values.to_numpy(dtype=float, na_value=np.nan)).tobytes())
        else:
            h.update("\x1f".join(values.astype(str).tolist()).encode())
        h.update(b"\x1e")
    return h.hexdigest()


#: The posterior attribute that records the full key of a cached fit (and the one with its parts).
KEY_ATTR = "meting_cache_key"
PARTS_ATTR = "meting_cache_parts"


def key_payload(kind: str, parts: dict[str, object]) -> str:
    """The canonical JSON of everything that determines a fit (data hash, spec, settings,
    package versions); :func:`cache_key` is its SHA-256."""
    payload = {
        "format": CACHE_FORMAT,
        "kind": kind,
        "versions": package_versions(),
        **parts,
    }
    return json.dumps(payload, sort_keys=True, default=str)


def cache_key(kind: str, parts: dict[str, object]) -> str:
    """Hash of everything that determines a fit, plus the package versions."""
    return hashlib.sha256(key_payload(kind, parts).encode()).hexdigest()


def cache_path(cache_dir: Path, kind: str, key: str) -> Path:
    return Path(cache_dir) / f"sae-{kind}-{key[:24]}.nc"


def load(path: Path, key: str | None = None) -> az.InferenceData | None:
    """The cached InferenceData at ``path`` (loaded into memory), or None when absent, unreadable
    or (given ``key``) recorded under another key: the file's name is not trusted, the key the
    file records in its ``posterior`` attributes is. A mismatch is logged and means a refit."""
    if not path.is_file():
        return None
    try:
        idata = az.from_netcdf(path)
        loaded = az.InferenceData(**{g: idata[g].load() for g in idata.groups()})
    except (OSError, ValueError, KeyError):
        log.warning("model cache %s is unreadable; fitting again", path.name)
        return None
    if key is not None:
        recorded = (
            loaded["posterior"].attrs.get(KEY_ATTR) if "posterior" in loaded.groups() else None
        )
        if recorded != key:
            why = "records no key" if recorded is None else "records another fit's key"
            message = f"model cache {path.name} {why} (expected {key[:12]}...); fitting again"
            log.warning(message)
            print(message, file=sys.stderr)
            return None
    return loaded


def save(idata: az.InferenceData, path: Path, key: str | None = None, payload: str = "") -> Path:
    """Write ``posterior`` and ``sample_stats`` of ``idata`` to ``path`` atomically, recording
    ``key`` (and the JSON ``payload`` it hashes) in the posterior's attributes."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    keep = {g: idata[g] for g in ("posterior", "sample_stats") if g in idata.groups()}
    if key is not None and "posterior" in keep:
        keep["posterior"] = keep["posterior"].copy()
        keep["posterior"].attrs.update({KEY_ATTR: key, PARTS_ATTR: payload})
    slim = az.InferenceData(**keep)  # type: ignore[arg-type]
    handle, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=path.stem + ".", suffix=".tmp")
    os.close(handle)
    try:
        slim.to_netcdf(tmp_name)
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return path
