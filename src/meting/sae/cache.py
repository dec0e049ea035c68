"""Disk cache of fitted posteriors: ArviZ NetCDF keyed by a hash of data, model and versions.

Only the ``posterior`` and ``sample_stats`` groups are written: never ``observed_data``,
``constant_data`` or a log likelihood, so no survey data (not even cell aggregates beyond what the
posterior implies) lands in the cache. Files are written to a temporary name in the same folder and
moved into place with :func:`os.replace`, so a reader never sees half a file and two processes
writing the same key do not corrupt it.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from importlib import metadata
from pathlib import Path

import arviz as az
import numpy as np
import pandas as pd

_VERSIONED = ("meting", "pymc", "pytensor", "nutpie", "arviz", "numpy")
CACHE_FORMAT = 1


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


def cache_key(kind: str, parts: dict[str, object]) -> str:
    """Hash of everything that determines a fit, plus the package versions."""
    payload = {
        "format": CACHE_FORMAT,
        "kind": kind,
        "versions": package_versions(),
        **parts,
    }
    text = json.dumps(payload, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def cache_path(cache_dir: Path, kind: str, key: str) -> Path:
    return Path(cache_dir) / f"sae-{kind}-{key[:24]}.nc"


def load(path: Path) -> az.InferenceData | None:
    """The cached InferenceData at ``path`` (loaded into memory), or None when absent or unreadable."""
    if not path.is_file():
        return None
    try:
        idata = az.from_netcdf(path)
        return az.InferenceData(**{g: idata[g].load() for g in idata.groups()})
    except (OSError, ValueError, KeyError):
        return None


def save(idata: az.InferenceData, path: Path) -> Path:
    """Write ``posterior`` and ``sample_stats`` of ``idata`` to ``path`` atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    keep = {g: idata[g] for g in ("posterior", "sample_stats") if g in idata.groups()}
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
