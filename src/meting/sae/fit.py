"""Sampling: nutpie by default, PyMC's own NUTS as the fallback; explicit seeds, no chatter."""

from __future__ import annotations

import logging
import os
import time
import warnings
from dataclasses import dataclass
from typing import Any

import arviz as az
import pymc as pm

from meting.sae.spec import SAMPLERS, Sampler, SampleSettings

__all__ = ["SAMPLERS", "SampleSettings", "Sampler", "Timings", "sample_model"]

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Timings:
    """Wall-clock seconds: compiling the model, sampling, and the whole fit."""

    compile_s: float
    sample_s: float
    total_s: float


def _nutpie_available() -> bool:
    try:
        import nutpie  # noqa: F401
    except ImportError:
        return False
    return True


#: nutpie models compiled in this process, by structure key (see ``reuse`` of sample_model).
_COMPILED: dict[str, object] = {}
_COMPILED_MAX = 4


def _stored(model: pm.Model, skip: tuple[str, ...]) -> list[str] | None:
    """The variables nutpie keeps in the trace: all but the deterministics in ``skip`` (None:
    all). A deterministic of every cell and wave costs a copy per draw while sampling."""
    if not skip:
        return None
    names = [v.name for v in model.free_RVs]
    return names + [d.name for d in model.deterministics if d.name not in skip]


def _compiled(
    model: pm.Model, reuse: tuple[str, dict[str, Any]] | None, skip: tuple[str, ...] = ()
):
    """The nutpie model of ``model``: compiled now, or (with ``reuse``) one compiled earlier in
    this process for the same structure key with its ``pm.Data`` replaced by ``reuse[1]``."""
    import nutpie

    # the compiler's identity is part of the key: a patched compiler (the tests' mocked
    # sampling) never receives a model compiled by the real one, nor the other way round
    key = f"{reuse[0]}|{','.join(skip)}|{id(nutpie.compile_pymc_model)}" if reuse else ""
    if reuse is not None:
        earlier = _COMPILED.get(key)
        if earlier is not None and hasattr(earlier, "with_data"):
            return earlier.with_data(**reuse[1])
    stored = _stored(model, skip)
    compiled = (
        nutpie.compile_pymc_model(model)
        if stored is None
        else nutpie.compile_pymc_model(model, var_names=stored)
    )
    if reuse is not None:
        while len(_COMPILED) >= _COMPILED_MAX:
            _COMPILED.pop(next(iter(_COMPILED)))
        _COMPILED[key] = compiled
    return compiled


def sample_model(
    model: pm.Model,
    settings: SampleSettings,
    reuse: tuple[str, dict[str, Any]] | None = None,
    skip: tuple[str, ...] = (),
) -> tuple[az.InferenceData, Timings, str]:
    """Sample ``model``; return the InferenceData (posterior + sample_stats), timings, sampler used.

    Falls back from nutpie to PyMC's NUTS (with a warning) when nutpie is not installed.
    ``reuse`` = (structure key, the model's ``pm.Data`` by name): a nutpie model compiled earlier
    in this process under the same key is sampled on the new data instead of compiling again
    (the key must fix everything but those data: spec, cell labels, shapes). ``skip`` names
    deterministics that nutpie does not store (the caller recomputes them from the parameters;
    PyMC's NUTS stores them anyway).
    """
    sampler = settings.sampler
    if sampler == "nutpie" and not _nutpie_available():
        warnings.warn("nutpie is not installed; falling back to PyMC's NUTS", stacklevel=2)
        sampler = "pymc"
    start = time.perf_counter()
    if sampler == "nutpie":
        import nutpie

        compiled = _compiled(model, reuse, skip)
        compiled_at = time.perf_counter()
        idata = nutpie.sample(
            compiled,
            draws=settings.draws,
            tune=settings.tune,
            chains=settings.chains,
            cores=min(settings.chains, os.cpu_count() or 1),
            seed=settings.random_seed,
            target_accept=settings.target_accept,
            progress_bar=False,
            save_warmup=False,
            **({"low_rank_modified_mass_matrix": True} if settings.low_rank_mass_matrix else {}),
        )
        sampled_at = time.perf_counter()
    else:
        pymc_logger = logging.getLogger("pymc")
        level = pymc_logger.level
        pymc_logger.setLevel(logging.ERROR)
        try:
            with model, warnings.catch_warnings():
                warnings.filterwarnings("ignore", message=".*at least 4 chains.*")
                warnings.filterwarnings("ignore", message=".*could not link to a BLAS.*")
                # early tuning steps can overflow the kinetic energy; divergences are counted anyway
                warnings.filterwarnings("ignore", message="overflow encountered", module="pymc")
                # compile once up front so the compile time can be told apart from sampling
                model.compile_logp()
                model.compile_dlogp()
                compiled_at = time.perf_counter()
                idata = pm.sample(
                    draws=settings.draws,
                    tune=settings.tune,
                    chains=settings.chains,
                    cores=min(settings.chains, os.cpu_count() or 1),
                    random_seed=settings.random_seed,
                    target_accept=settings.target_accept,
                    progressbar=False,
                    compute_convergence_checks=False,
                    return_inferencedata=True,
                    idata_kwargs={"log_likelihood": False},
                )
            sampled_at = time.perf_counter()
        finally:
            pymc_logger.setLevel(level)
    keep = {g: idata[g] for g in ("posterior", "sample_stats") if g in idata.groups()}
    # nutpie also stores the unconstrained values (e.g. sd_log__); they duplicate the parameters
    transformed = [v for v in keep["posterior"].data_vars if str(v).endswith("__")]
    keep["posterior"] = keep["posterior"].drop_vars(transformed)
    slim = az.InferenceData(**keep)
    timings = Timings(
        compile_s=compiled_at - start,
        sample_s=sampled_at - compiled_at,
        total_s=time.perf_counter() - start,
    )
    _log.debug("sampled with %s in %.1f s", sampler, timings.total_s)
    return slim, timings, sampler
