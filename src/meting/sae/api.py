"""Public entry points: :func:`fit_area_level` and :func:`fit_unit_level` (returning a
:class:`~meting.sae.result.SaeResult`)."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from pathlib import Path

import arviz as az
import numpy as np
import pandas as pd
import xarray as xr

from meting.errors import ParameterError, SchemaError
from meting.sae import cache as _cache
from meting.sae.aggregate import summary_table
from meting.sae.conditional import draw_cell_means
from meting.sae.data import (
    CellIndex,
    _first_bad_row,
    _numeric,
    _require_columns,
    build_index,
    covariate_matrix,
    unit_rows_table,
)
from meting.sae.diagnostics import Diagnostics, diagnose
from meting.sae.fit import SampleSettings, sample_model
from meting.sae.model import UnitRows, build_area_model, build_unit_model
from meting.sae.quality import PublicationRule, add_quality, cell_shrinkage
from meting.sae.result import SaeResult
from meting.sae.spec import ModelSpec, Priors, settings_fingerprint, spec_fingerprint


def _sampling(sampling: SampleSettings) -> SampleSettings:
    if not isinstance(sampling, SampleSettings):
        raise ParameterError(
            f"sampling must be a SampleSettings; got {type(sampling).__name__}. Pass e.g. "
            "SampleSettings(random_seed=20080) or registry.settings.sampling_for(wave)."
        )
    return sampling


def _run(
    kind: str,
    model_builder,
    key_parts: Mapping[str, object],
    settings: SampleSettings,
    index: CellIndex,
    cache_dir: Path | None,
    complete: Callable[[xr.Dataset], xr.Dataset] | None = None,
    reuse: tuple[str, dict[str, object]] | None = None,
    skip: tuple[str, ...] = (),
    derived: tuple[str, ...] = (),
) -> tuple[az.InferenceData, Diagnostics]:
    """Load the fit from the cache or build, sample, diagnose and save it.

    ``complete`` turns the sampled posterior into the stored one (it draws ``theta`` when the
    cell effects were integrated out); it runs before the cache is written. ``reuse`` is passed
    to :func:`~meting.sae.fit.sample_model` (a compiled model reused on new data), and so is
    ``skip`` (deterministics not stored while sampling; ``complete`` recomputes them).
    ``derived`` names what ``complete`` draws from an exact conditional, left out of the
    convergence diagnostics (:func:`~meting.sae.diagnostics.diagnose`).
    """
    start = time.perf_counter()
    path = None
    key, payload = "", ""
    if cache_dir is not None:
        parts = {**key_parts, "settings": settings_fingerprint(settings)}
        payload = _cache.key_payload(kind, parts)
        key = _cache.cache_key(kind, parts)
        path = _cache.cache_path(Path(cache_dir), kind, key)
        cached = _cache.load(path, key)
        if cached is not None:
            attrs = cached.posterior.attrs  # type: ignore[attr-defined]
            diagnostics = diagnose(
                cached,
                sampler=str(attrs.get("meting_sampler", settings.sampler)),
                compile_s=float(attrs.get("meting_compile_s", 0.0)),
                sample_s=float(attrs.get("meting_sample_s", 0.0)),
                total_s=time.perf_counter() - start,
                from_cache=True,
                derived=derived,
            )
            return cached, diagnostics
    model = model_builder()
    idata, timings, used = sample_model(model, settings, reuse, skip)
    if complete is not None:
        idata.posterior = complete(idata.posterior)  # type: ignore[attr-defined]
    idata.posterior.attrs.update(  # type: ignore[attr-defined]
        {
            "meting_sampler": used,
            "meting_compile_s": timings.compile_s,
            "meting_sample_s": timings.sample_s,
            "meting_model": kind,
        }
    )
    # the group labels of each cell, so the NetCDF file is self-describing
    idata.posterior = idata.posterior.assign_coords(  # type: ignore[attr-defined]
        {
            f"cell_{g}": ("cell", index.table[g].to_numpy(dtype=object).astype(str))
            for g in index.groups
        }
    )
    if path is not None:
        _cache.save(idata, path, key, payload)
    diagnostics = diagnose(
        idata,
        sampler=used,
        compile_s=timings.compile_s,
        sample_s=timings.sample_s,
        total_s=time.perf_counter() - start,
        derived=derived,
    )
    return idata, diagnostics


def _cells_table(
    index: CellIndex,
    theta_draws: np.ndarray,
    target: float,
    direct: np.ndarray,
    direct_se: np.ndarray,
    n: np.ndarray,
    observed: np.ndarray,
    *,
    variable: str,
    method: str,
) -> pd.DataFrame:
    return summary_table(
        index.table,
        theta_draws,
        target=target,
        variable=variable,
        method=method,
        n=n,
        extra={"direct": direct, "direct_se": direct_se, "observed": observed.astype(bool)},
    )


def _variable(table: pd.DataFrame, column: str) -> str:
    """The variable modelled: the input's ``variable`` column when it names one (a result table
    of the direct estimates), else the name of the estimate column."""
    if "variable" in table.columns:
        names = pd.unique(table["variable"].dropna().astype(str))
        if len(names) == 1:
            return str(names[0])
    return column


def _theta_draws(idata: az.InferenceData) -> np.ndarray:
    theta = idata.posterior["theta"]  # type: ignore[attr-defined]
    return theta.stack(sample=("chain", "draw")).transpose("sample", "cell").to_numpy()


def fit_area_level(
    cells: pd.DataFrame,
    estimate: str,
    se: str,
    groups: list[str],
    *,
    covariates: list[str] | None = None,
    priors: Priors | None = None,
    n: str | None = "n",
    sampling: SampleSettings,
    target: float = 7.0,
    cache_dir: Path | None = None,
    marginalise_cells: bool = True,
    wave: str | None = None,
    publication: PublicationRule | None = None,
) -> SaeResult:
    """Fit the Fay-Herriot (area-level) model to direct estimates per cell.

    ``direct_c ~ Normal(theta_c, se_c)`` with ``theta_c = mu + sum_g effect_g + cell_c (+ x_c'
    beta)``; see :class:`~meting.sae.spec.Priors` for the priors and parameterisation. The
    sampling variances ``se_c**2`` are treated as known: smooth them first for small cells
    (:func:`~meting.sae.data.smooth_variances`).

    Parameters
    ----------
    cells
        One row per cell (unique combination of ``groups``). Rows with a missing ``estimate`` are
        cells without respondents: they get a prediction and ``observed=False``.
    estimate, se
        Columns with the direct estimate and its standard error (> 0 wherever there is an
        estimate).
    groups
        Group columns, e.g. ``["life_event", "municipality"]``. The first one is written centred
        by default (see ``Priors.centred``).
    covariates
        Cell-level covariate columns (numeric: centred; otherwise dummy-coded).
    priors
        Priors and parameterisation; None uses the documented defaults.
    n
        Column with the number of respondents per cell (shown beside the estimate), or None.
    sampling
        MCMC settings (sampler, chains, draws, tune, target_accept and the integer seed, required
        so every fit is reproducible); part of the cache key. For a wave's report fits use
        ``registry.settings.sampling_for(wave)``.
    target
        Threshold for ``prob_ge_target``.
    cache_dir
        When given, the posterior is loaded from / saved to this folder.
    marginalise_cells
        True (default): integrate the cell effects out while sampling and draw the cell means
        from their exact conditional afterwards (:mod:`meting.sae.conditional`); the same
        posterior, several times faster. False samples them (``z_cell``) with NUTS.
    wave
        The column with the wave label: ``cells`` then has one row per cell x wave and the
        waves are linked (a persistent cell effect plus a deviation per wave, see
        :mod:`meting.sae.linked_model`; with ``Priors(wave_structure="ar1")`` an AR(1) cell
        effect, :mod:`meting.sae.linked_ar1`); the result has one row per cell x wave and
        :meth:`~meting.sae.result.SaeResult.change`. Covariates are not supported then.
    publication
        The rule of the ``publication`` flag (:mod:`meting.sae.quality`); None: the defaults
        (for a report: ``registry.settings.publication_rule()``).

    The cell table has the quality columns ``cv``, ``shrinkage`` and ``publication`` at the end.
    """
    settings = _sampling(sampling)
    if not isinstance(cells, pd.DataFrame):
        raise SchemaError(f"cells must be a pandas DataFrame; got {type(cells).__name__}.")
    if wave is not None:
        from meting.sae.linked import fit_area_linked

        if covariates:
            raise ParameterError(
                f"covariates are not supported with wave=; got {covariates}. Fit without them."
            )
        return fit_area_linked(
            cells,
            estimate,
            se,
            groups,
            wave=wave,
            priors=priors,
            n=n,
            sampling=settings,
            target=target,
            cache_dir=cache_dir,
            marginalise_cells=marginalise_cells,
            publication=publication,
        )
    groups = list(groups) if not isinstance(groups, str) else [groups]
    covariates = list(covariates or [])
    _require_columns(cells, [estimate, se, *([n] if n else [])], "cells")
    index, row_cell = build_index(cells, groups, "cells")
    if index.n_cells != len(cells):
        dup = cells.duplicated(groups, keep=False).to_numpy()
        raise SchemaError(
            f"cells must have one row per combination of {groups}; got {int(dup.sum())} duplicate "
            f"rows (first at {_first_bad_row(cells, dup)}). Aggregate them first."
        )
    order = np.argsort(row_cell)  # input row of each cell
    est = _numeric(cells, estimate, "cells")[order]
    sev = _numeric(cells, se, "cells")[order]
    observed = np.isfinite(est)
    bad_se = observed & ~(np.isfinite(sev) & (sev > 0))
    if bad_se.any():
        row = cells.index[order[np.flatnonzero(bad_se)[0]]]
        raise SchemaError(
            f"cells column {se!r} must be > 0 wherever {estimate!r} is given; got "
            f"{int(bad_se.sum())} cells without (first at row {row!r}, value "
            f"{sev[bad_se][0]!r}). Use smooth_variances() to give small cells a variance."
        )
    if not observed.any():
        raise SchemaError(
            f"cells column {estimate!r} must hold at least one estimate; got none. "
            "Check the input table."
        )
    counts = _numeric(cells, n, "cells")[order] if n else np.full(index.n_cells, np.nan)
    x, x_names = covariate_matrix(cells.iloc[order].reset_index(drop=True), covariates, "cells")
    spec = ModelSpec(
        kind="area",
        groups=tuple(groups),
        covariates=tuple(covariates),
        priors=priors or Priors(),
        marginalise_cells=marginalise_cells,
    )
    frame = index.table.assign(_est=est, _se=np.where(observed, sev, np.nan))
    if covariates:
        frame = frame.assign(**{f"_x{i}": x[:, i] for i in range(x.shape[1])})
    key_parts = {"data": _cache.frame_digest(frame), "spec": spec_fingerprint(spec)}
    idata, diagnostics = _run(
        "area",
        lambda: build_area_model(spec, index, est, sev, x, x_names),
        key_parts,
        settings,
        index,
        cache_dir,
        complete=(
            (
                lambda post: draw_cell_means(
                    post, est, variance=sev**2, random_seed=settings.random_seed
                )
            )
            if spec.marginal_cells
            else None
        ),
    )
    table = _cells_table(
        index,
        _theta_draws(idata),
        target,
        est,
        np.where(observed, sev, np.nan),
        counts,
        observed,
        variable=_variable(cells, estimate),
        method="fay-herriot",
    )
    shrink = cell_shrinkage(idata.posterior, observed, variance=sev**2)  # type: ignore[attr-defined]
    table = add_quality(table, shrink, publication)
    return SaeResult(cells=table, diagnostics=diagnostics, idata=idata, target=target)


def fit_unit_level(
    stats: pd.DataFrame,
    groups: list[str],
    *,
    n: str = "n",
    mean: str = "mean",
    sumsq: str = "sumsq",
    population: pd.DataFrame | None = None,
    population_count: str = "population",
    priors: Priors | None = None,
    sampling: SampleSettings,
    target: float = 7.0,
    cache_dir: Path | None = None,
    marginalise_cells: bool = True,
    wave: str | None = None,
    publication: PublicationRule | None = None,
) -> SaeResult:
    """Fit the unit-level model ``score ~ Normal(theta, sigma)`` on per-cell sufficient statistics.

    The likelihood of ``n`` scores with mean ``ybar`` and within-cell sum of squares ``SS`` is
    ``Normal(ybar | theta, sigma / sqrt(n))`` times ``sigma^-(n-1) exp(-SS / (2 sigma^2))``: the
    one-row-per-respondent likelihood up to a constant, at the cost of one term per cell.

    Parameters
    ----------
    stats
        One row per cell (without ``population``) or per cell x weighting stratum (with it), with
        ``n`` respondents, their ``mean`` score and ``sumsq`` = sum of (score - mean)^2. Build it
        with :func:`~meting.sae.data.sufficient_statistics`. Rows with n = 0 are cells without
        respondents.
    groups
        Group columns defining the output cells, e.g. ``["life_event", "municipality"]``.
    n, mean, sumsq
        Column names in ``stats``.
    population
        MRP: one row per population cell, i.e. the ``groups`` plus weighting variables (every other
        column except ``population_count``, e.g. ``age_band``, ``sex``), with the population
        count. Each weighting variable gets a sum-to-zero effect; the estimate per output cell is
        the population-weighted mean of its strata predictions, computed on every draw.
        Population cells missing from ``stats`` are predicted.
    population_count
        Name of the count column in ``population``.
    priors, sampling, target, cache_dir
        As in :func:`fit_area_level`.
    marginalise_cells
        As in :func:`fit_area_level`. In the MRP model the strata rows of a cell share its
        effect; it is integrated out in closed form all the same (see
        :func:`meting.sae.model.build_unit_model`).

    Notes
    -----
    The ``direct`` column of the result is the *unweighted* cell mean of the respondents (with
    ``direct_se`` from the within-cell spread), the data the unit-level likelihood sees: not
    a design-based (weighted) estimate like the ``direct`` of :func:`fit_area_level`.

    With ``wave=`` (the wave column) ``stats`` has one row per cell x wave and the waves are
    linked as in :func:`fit_area_level`: the cell means enter with variance ``sigma^2 / n``, the
    same Gaussian form (:mod:`meting.sae.linked_model`); not with ``population`` (MRP).
    """
    settings = _sampling(sampling)
    if not isinstance(stats, pd.DataFrame):
        raise SchemaError(f"stats must be a pandas DataFrame; got {type(stats).__name__}.")
    if wave is not None:
        from meting.sae.linked import fit_unit_linked

        if population is not None:
            raise ParameterError(
                "population (MRP) is not supported with wave=; got a population table. Fit "
                "the linked model on cell statistics without it."
            )
        return fit_unit_linked(
            stats,
            groups,
            wave=wave,
            n=n,
            mean=mean,
            sumsq=sumsq,
            priors=priors,
            sampling=settings,
            target=target,
            cache_dir=cache_dir,
            marginalise_cells=marginalise_cells,
            publication=publication,
        )
    groups = list(groups) if not isinstance(groups, str) else [groups]
    rows, strata = unit_rows_table(stats, groups, n, mean, sumsq, population, population_count)
    index, row_cell = build_index(rows, groups, "stats")
    if not strata and index.n_cells != len(rows):
        dup = rows.duplicated(groups, keep=False).to_numpy()
        raise SchemaError(
            f"stats must have one row per combination of {groups} when no population is given; "
            f"got {int(dup.sum())} duplicate rows (first at {_first_bad_row(rows, dup)}). "
            "Aggregate them, or pass population= for post-stratification."
        )
    weight = rows["_weight"].to_numpy(dtype=float)
    cell_weight = np.bincount(row_cell, weights=weight, minlength=index.n_cells)
    if (cell_weight <= 0).any():
        empty = index.table.iloc[int(np.flatnonzero(cell_weight <= 0)[0])].to_dict()
        raise SchemaError(
            f"population must be > 0 in every cell; got 0 for {empty}. "
            "Drop cells without population."
        )
    strata_codes: dict[str, np.ndarray] = {}
    strata_levels: dict[str, np.ndarray] = {}
    for k in strata:
        cat = pd.Categorical(rows[k].astype(str))
        strata_codes[k] = cat.codes.astype(np.int64)
        strata_levels[k] = np.asarray(cat.categories, dtype=object).astype(str)
    counts = rows["_n"].to_numpy(dtype=float)
    unit_rows = UnitRows(
        row_cell=row_cell,
        n=counts.astype(np.int64),
        mean=rows["_mean"].to_numpy(dtype=float),
        sumsq=rows["_ss"].to_numpy(dtype=float),
        weight=weight,
        strata_codes=strata_codes,
        strata_levels=strata_levels,
    )
    spec = ModelSpec(
        kind="unit",
        groups=tuple(groups),
        strata=tuple(strata),
        priors=priors or Priors(),
        marginalise_cells=marginalise_cells,
    )
    # direct (unweighted) cell statistics pooled over the strata rows
    n_cell = np.bincount(row_cell, weights=counts, minlength=index.n_cells)
    total = np.bincount(
        row_cell, weights=counts * np.nan_to_num(unit_rows.mean), minlength=index.n_cells
    )
    with np.errstate(invalid="ignore", divide="ignore"):
        cell_mean = np.where(n_cell > 0, total / n_cell, np.nan)
        between = counts * (np.nan_to_num(unit_rows.mean) - cell_mean[row_cell]) ** 2
        ss_cell = np.bincount(
            row_cell,
            weights=unit_rows.sumsq + np.where(counts > 0, between, 0.0),
            minlength=index.n_cells,
        )
        cell_se = np.where(n_cell >= 2, np.sqrt(ss_cell / (n_cell - 1) / n_cell), np.nan)
    complete = None
    if spec.marginal_cells:
        # MRP: the data enter through the stored cell_score; otherwise through the cell means
        data = None if strata else cell_mean

        def complete(post: xr.Dataset) -> xr.Dataset:
            return draw_cell_means(post, data, n=n_cell, random_seed=settings.random_seed)

    frame = (
        rows[[*groups, *strata]]
        .astype(str)
        .assign(_n=counts, _mean=unit_rows.mean, _ss=unit_rows.sumsq, _w=weight)
    )
    key_parts = {"data": _cache.frame_digest(frame), "spec": spec_fingerprint(spec)}
    idata, diagnostics = _run(
        "unit",
        lambda: build_unit_model(spec, index, unit_rows),
        key_parts,
        settings,
        index,
        cache_dir,
        complete=complete,
    )
    table = _cells_table(
        index,
        _theta_draws(idata),
        target,
        cell_mean,
        cell_se,
        n_cell,
        n_cell > 0,
        variable=_variable(stats, mean),
        method="mrp" if strata else "unit-level",
    )
    shrink = cell_shrinkage(idata.posterior, n_cell > 0, n=n_cell)  # type: ignore[attr-defined]
    table = add_quality(table, shrink, publication)
    return SaeResult(
        cells=table,
        diagnostics=diagnostics,
        idata=idata,
        target=target,
        population=cell_weight if strata else None,
    )
