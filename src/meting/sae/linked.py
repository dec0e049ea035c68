"""Fits linked across waves: :func:`fit_area_linked` and :func:`fit_unit_linked`.

Called by :func:`meting.sae.fit_area_level` and :func:`meting.sae.fit_unit_level` when they get
``wave=``; the model is in :mod:`meting.sae.linked_model`, the draws of the cell means in
:mod:`meting.sae.linked_conditional` (with ``Priors(wave_structure="ar1")`` both in
:mod:`meting.sae.linked_ar1`). The cell table has one row per cell x wave over the full grid
of cells and waves (a cell missing from a wave is a prediction there), and the result's
:meth:`~meting.sae.result.SaeResult.change` gives the change between two waves per cell.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from meting.errors import SchemaError
from meting.sae import cache as _cache
from meting.sae.aggregate import summary_table
from meting.sae.api import _run, _theta_draws, _variable
from meting.sae.data import (
    CellIndex,
    _first_bad_row,
    _numeric,
    _require_columns,
    build_index,
    check_groups,
)
from meting.sae.fit import SampleSettings
from meting.sae.linked_ar1 import ar1_shrinkage, build_ar1_model, draw_ar1_cell_means, is_ar1
from meting.sae.linked_conditional import draw_linked_cell_means, linked_shrinkage
from meting.sae.linked_model import LinkedData, build_linked_model, linked_eta
from meting.sae.quality import PublicationRule, add_quality
from meting.sae.result import SaeResult
from meting.sae.spec import ModelSpec, Priors, spec_fingerprint

__all__ = ["fit_area_linked", "fit_unit_linked"]


def _grid(
    frame: pd.DataFrame, groups: list[str], wave: str, what: str
) -> tuple[CellIndex, np.ndarray, np.ndarray, np.ndarray]:
    """Code cells and waves; return the index, the sorted waves, each row's cell and wave."""
    if len(groups) < 2:
        raise SchemaError(
            f"groups must name at least two columns for a linked fit (the cell effect is their "
            f"interaction); got {groups!r}. Pass e.g. ['life_event', 'municipality']."
        )
    if wave in groups:
        raise SchemaError(f"wave must not be one of groups {groups}; got {wave!r}.")
    check_groups(frame, [*groups, wave], what)
    index, row_cell = build_index(frame, groups, what)
    labels = frame[wave].astype(str).to_numpy()
    waves = np.unique(labels)
    if len(waves) < 2:
        raise SchemaError(
            f"{what} column {wave!r} must hold at least two waves for a linked fit; got "
            f"{list(waves)}. Fit one wave without wave=."
        )
    row_wave = np.searchsorted(waves, labels)
    dup = pd.Series(row_cell * len(waves) + row_wave).duplicated(keep=False).to_numpy()
    if dup.any():
        raise SchemaError(
            f"{what} must have one row per combination of {[*groups, wave]}; got "
            f"{int(dup.sum())} duplicate rows (first at {_first_bad_row(frame, dup)}). "
            "Aggregate them first."
        )
    return index, waves, row_cell, row_wave


def _structure(spec: ModelSpec):
    """The model builder and the conditional draws of the spec's wave structure."""
    if is_ar1(spec):
        return build_ar1_model, draw_ar1_cell_means
    return build_linked_model, draw_linked_cell_means


def _scatter(shape: tuple[int, int], cell: np.ndarray, wave: np.ndarray, values: np.ndarray, fill):
    out = np.full(shape, fill, dtype=float)
    out[cell, wave] = values
    return out


def _cell_wave_table(index: CellIndex, waves: np.ndarray, wave: str) -> pd.DataFrame:
    """One row per cell x wave, cell by cell (the order of the flattened (cell, wave) draws)."""
    t = len(waves)
    table = index.table.loc[np.repeat(np.arange(index.n_cells), t)].reset_index(drop=True)
    return table.assign(**{wave: np.tile(waves.astype(str), index.n_cells)})


def _finish(
    index: CellIndex,
    waves: np.ndarray,
    wave: str,
    idata,
    diagnostics,
    data: LinkedData,
    direct_se: np.ndarray,
    counts: np.ndarray,
    *,
    target: float,
    variable: str,
    method: str,
    publication: PublicationRule | None,
) -> SaeResult:
    mask = data.mask
    table = summary_table(
        _cell_wave_table(index, waves, wave),
        _theta_draws_linked(idata),
        target=target,
        variable=variable,
        method=method,
        n=counts.ravel(),
        extra={
            "direct": data.y.ravel(),
            "direct_se": np.where(mask, direct_se, np.nan).ravel(),
            "observed": mask.ravel(),
        },
    )
    shrinkage = ar1_shrinkage if is_ar1(idata.posterior) else linked_shrinkage
    shrink = shrinkage(idata.posterior, mask, variance=data.variance, n=data.n)
    table = add_quality(table, shrink.ravel(), publication)
    return SaeResult(cells=table, diagnostics=diagnostics, idata=idata, target=target, wave=wave)


def _reuse(
    kind: str, spec: ModelSpec, index: CellIndex, data: LinkedData
) -> tuple[str, dict[str, object]]:
    """The structure key of a linked model (everything but its ``pm.Data``) and those data."""
    structure = pd.DataFrame({"cell": index.labels})
    for g in index.groups:
        structure[f"_{g}"] = index.codes[g]
    key = "|".join(
        [
            kind,
            spec_fingerprint(spec),
            _cache.frame_digest(structure),
            ",".join(map(str, data.waves)),
            ",".join(sorted(data.arrays())),
        ]
    )
    return key, dict(data.arrays())


def _complete(
    spec: ModelSpec, index: CellIndex, y: np.ndarray, random_seed: int, **data: np.ndarray | None
):
    """The ``complete`` step of a linked fit: ``theta`` drawn from its exact conditional, with
    ``eta`` recomputed from the sampled parameters where the sampler did not store it."""

    def complete(post: xr.Dataset) -> xr.Dataset:
        if is_ar1(spec):  # the AR(1) fit stores eta (:func:`_skipped`)
            out = draw_ar1_cell_means(post, y, random_seed=random_seed, **data)
            return out.assign_coords(cell=index.labels)
        eta = None
        if "eta" not in post:

            def eta(chain: int, draws: slice) -> np.ndarray:
                return linked_eta(post, spec, index, chain, draws)

        out = draw_linked_cell_means(post, y, random_seed=random_seed, eta=eta, **data)
        return out.assign_coords(cell=index.labels)

    return complete


def _skipped(spec: ModelSpec) -> tuple[str, ...]:
    """Deterministics not stored while sampling: the compound model's ``eta`` (recomputed in
    NumPy by :func:`~meting.sae.linked_model.linked_eta`); the AR(1) model keeps it."""
    return ("eta",) if spec.marginal_cells and not is_ar1(spec) else ()


def _theta_draws_linked(idata) -> np.ndarray:
    theta = idata.posterior["theta"]
    if "wave" not in theta.dims:  # pragma: no cover - the linked model always has it
        return _theta_draws(idata)
    values = theta.stack(sample=("chain", "draw")).transpose("sample", "cell", "wave").to_numpy()
    return values.reshape(values.shape[0], -1)


def fit_area_linked(
    cells: pd.DataFrame,
    estimate: str,
    se: str,
    groups: list[str],
    *,
    wave: str,
    priors: Priors | None,
    n: str | None,
    sampling: SampleSettings,
    target: float,
    cache_dir: Path | None,
    marginalise_cells: bool,
    publication: PublicationRule | None,
) -> SaeResult:
    """The linked Fay-Herriot fit (see :func:`meting.sae.fit_area_level` with ``wave=``)."""
    groups = list(groups) if not isinstance(groups, str) else [groups]
    _require_columns(cells, [estimate, se, *([n] if n else [])], "cells")
    index, waves, row_cell, row_wave = _grid(cells, groups, wave, "cells")
    shape = (index.n_cells, len(waves))
    est = _numeric(cells, estimate, "cells")
    sev = _numeric(cells, se, "cells")
    observed = np.isfinite(est)
    bad = observed & ~(np.isfinite(sev) & (sev > 0))
    if bad.any():
        raise SchemaError(
            f"cells column {se!r} must be > 0 wherever {estimate!r} is given; got "
            f"{int(bad.sum())} rows without (first at {_first_bad_row(cells, bad)}). "
            "Use smooth_variances() to give small cells a variance."
        )
    if not observed.any():
        raise SchemaError(f"cells column {estimate!r} must hold at least one estimate; got none.")
    y = _scatter(shape, row_cell, row_wave, np.where(observed, est, np.nan), np.nan)
    variance = _scatter(shape, row_cell, row_wave, np.where(observed, sev**2, np.nan), np.nan)
    counts = (
        _scatter(shape, row_cell, row_wave, _numeric(cells, n, "cells"), 0.0)
        if n
        else np.full(shape, np.nan)
    )
    data = LinkedData(waves=waves, y=y, variance=np.where(np.isfinite(y), variance, np.nan))
    spec = ModelSpec(
        kind="area",
        groups=tuple(groups),
        priors=priors or Priors(),
        marginalise_cells=marginalise_cells,
        wave=wave,
    )
    frame = _cell_wave_table(index, waves, wave).assign(_est=y.ravel(), _v=variance.ravel())
    key_parts = {"data": _cache.frame_digest(frame), "spec": spec_fingerprint(spec)}

    complete = _complete(spec, index, y, sampling.random_seed, variance=data.variance)

    idata, diagnostics = _run(
        "linked-area",
        lambda: _structure(spec)[0](spec, index, data),
        key_parts,
        sampling,
        index,
        cache_dir,
        complete=complete if spec.marginal_cells else None,
        reuse=_reuse("linked-area", spec, index, data),
        skip=_skipped(spec),
        derived=("theta",) if spec.marginal_cells else (),
    )
    return _finish(
        index,
        waves,
        wave,
        idata,
        diagnostics,
        data,
        np.sqrt(variance),
        counts,
        target=target,
        variable=_variable(cells, estimate),
        method="fay-herriot-linked",
        publication=publication,
    )


def fit_unit_linked(
    stats: pd.DataFrame,
    groups: list[str],
    *,
    wave: str,
    n: str,
    mean: str,
    sumsq: str,
    priors: Priors | None,
    sampling: SampleSettings,
    target: float,
    cache_dir: Path | None,
    marginalise_cells: bool,
    publication: PublicationRule | None,
) -> SaeResult:
    """The linked unit-level fit on sufficient statistics (``fit_unit_level`` with ``wave=``)."""
    groups = list(groups) if not isinstance(groups, str) else [groups]
    _require_columns(stats, [n, mean, sumsq], "stats")
    index, waves, row_cell, row_wave = _grid(stats, groups, wave, "stats")
    shape = (index.n_cells, len(waves))
    counts = _numeric(stats, n, "stats")
    bad = ~np.isfinite(counts) | (counts < 0) | (counts != np.round(counts))
    if bad.any():
        raise SchemaError(
            f"stats column {n!r} must be a whole count >= 0; got {counts[bad][0]!r} at "
            f"{_first_bad_row(stats, bad)}. Fix the counts."
        )
    obs = counts > 0
    mean_v = _numeric(stats, mean, "stats")
    ss_v = _numeric(stats, sumsq, "stats")
    bad = obs & ~(np.isfinite(mean_v) & np.isfinite(ss_v) & (ss_v >= 0))
    if bad.any():
        raise SchemaError(
            f"stats columns {mean!r} and {sumsq!r} must be finite (sumsq >= 0) where {n!r} > 0; "
            f"got {int(bad.sum())} bad rows (first at {_first_bad_row(stats, bad)}). "
            "Recompute them with sufficient_statistics()."
        )
    if not obs.any():
        raise SchemaError(f"stats column {n!r} must be > 0 in at least one row; got none.")
    y = _scatter(shape, row_cell, row_wave, np.where(obs, mean_v, np.nan), np.nan)
    n_grid = _scatter(shape, row_cell, row_wave, counts, 0.0)
    ss = _scatter(shape, row_cell, row_wave, np.where(obs, ss_v, 0.0), 0.0)
    data = LinkedData(waves=waves, y=y, n=n_grid, sumsq=ss)
    spec = ModelSpec(
        kind="unit",
        groups=tuple(groups),
        priors=priors or Priors(),
        marginalise_cells=marginalise_cells,
        wave=wave,
    )
    frame = _cell_wave_table(index, waves, wave).assign(
        _n=n_grid.ravel(), _mean=y.ravel(), _ss=ss.ravel()
    )
    key_parts = {"data": _cache.frame_digest(frame), "spec": spec_fingerprint(spec)}

    complete = _complete(spec, index, y, sampling.random_seed, n=n_grid)

    idata, diagnostics = _run(
        "linked-unit",
        lambda: _structure(spec)[0](spec, index, data),
        key_parts,
        sampling,
        index,
        cache_dir,
        complete=complete if spec.marginal_cells else None,
        reuse=_reuse("linked-unit", spec, index, data),
        skip=_skipped(spec),
        derived=("theta",) if spec.marginal_cells else (),
    )
    with np.errstate(invalid="ignore", divide="ignore"):
        direct_se = np.where(n_grid >= 2, np.sqrt(ss / (n_grid - 1) / n_grid), np.nan)
    return _finish(
        index,
        waves,
        wave,
        idata,
        diagnostics,
        data,
        direct_se,
        n_grid,
        target=target,
        variable=_variable(stats, mean),
        method="unit-level-linked",
        publication=publication,
    )
