"""Shared test configuration.

Fixtures of one area live in that area's test module; this file holds only what every test needs.
"""

from __future__ import annotations

import inspect
import os
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:  # imported lazily: importing PyMC takes 5-20 s, not every test needs it
    import pymc as pm
    import xarray as xr

# PyMC/ArviZ print FutureWarnings and progress bars; keep test output readable.
warnings.filterwarnings("ignore", category=FutureWarning)
os.environ.setdefault("MPLBACKEND", "Agg")

TESTS_DIR = Path(__file__).parent
REFERENCE_DIR = TESTS_DIR / "reference"
PROJECT_ROOT = TESTS_DIR.parent


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    """Folder with the R `survey` and eight-schools reference results."""
    return REFERENCE_DIR


@pytest.fixture(scope="session")
def project_root() -> Path:
    return PROJECT_ROOT


# --- mocked MCMC -------------------------------------------------------------------------------
#
# Plumbing tests (table shape and columns, caching, diagnostics wiring, aggregation, reports'
# handling of fits) do not need NUTS: under load one real fit took 130-180 s. ``mocked_sampling``
# replaces the two third-party samplers that ``meting.sae.fit.sample_model`` calls
# (``nutpie.compile_pymc_model`` + ``nutpie.sample`` and ``pymc.sample``) by independent draws from
# the model's prior, with the right variable names, dims and coords, a ``sample_stats`` group and,
# like the real samplers, extra groups and (nutpie) the unconstrained ``*__`` variables, so that
# everything of meting's own code runs: the sampler choice, the slimming of the InferenceData, the
# conditional draws of the cell means, the cache, the diagnostics and the tables. The keyword
# arguments are bound to the real samplers' signatures, so a renamed argument still fails here.
# ``Model.compile_logp`` / ``compile_dlogp`` (called by sample_model only to time the compilation,
# several seconds of C compilation) are skipped too; the fast logp tests compile them for real.
#
# Values of the posterior are prior draws: tests that check posterior VALUES (equality with exact
# moments, marginal vs sampled forms, calibration) sample for real and are marked ``slow``. In the
# default suite any real sampling call fails (``_no_real_mcmc_in_the_fast_suite``).


UNIQUE_DRAWS = 400
#: At most this many draws per chain come back, whatever was asked (recorded in ``calls``): the
#: project's 4 x 2000 draws would make every step after sampling (conditional draws of the cell
#: means, diagnostics, the NetCDF cache, the tables) handle 8,000 draws in each plumbing test.
#: Code downstream must take the number of draws from the posterior, which this also checks.
MAX_DRAWS = 300
#: The mocked posterior is the prior draws pulled towards their mean by this factor.
POSTERIOR_SPREAD = 0.1


class MockSampler:
    """Record of the mocked sampling calls; ``divergences`` fakes divergent transitions per fit."""

    def __init__(self, divergences: int = 0) -> None:
        self.divergences = divergences
        self.calls: list[dict[str, object]] = []

    @property
    def samplers(self) -> list[str]:
        return [str(c["sampler"]) for c in self.calls]


def _prior_posterior(
    model: pm.Model, chains: int, draws: int, seed, divergences: int
) -> tuple[xr.Dataset, xr.Dataset, xr.Dataset]:
    """Posterior-shaped prior draws (chains independent), fake sample stats, observed data."""
    import numpy as np
    import pymc as pm
    import xarray as xr

    names = [rv.name for rv in model.free_RVs] + [d.name for d in model.deterministics]
    # prior sampling calls the model once per draw: at most UNIQUE_DRAWS distinct draws, resampled
    # to the shape asked for (a report's 4 x 2000 draws would take seconds otherwise)
    total = chains * draws
    unique = min(total, UNIQUE_DRAWS)
    with warnings.catch_warnings():
        # prior draws ignore the Potentials (unit model): fine for plumbing
        warnings.filterwarnings("ignore", message="The effect of Potentials")
        prior = pm.sample_prior_predictive(
            draws=unique,
            model=model,
            var_names=names,
            random_seed=seed,
            compile_kwargs={"mode": "FAST_COMPILE"},  # compiles in a fraction of the C time
        ).prior
    pick = (
        np.arange(total)
        if unique == total
        else np.random.default_rng(seed).integers(0, unique, total)
    )
    coords = {k: v for k, v in prior.coords.items() if k not in ("chain", "draw")}
    shape = {"chain": np.arange(chains), "draw": np.arange(draws)}

    def concentrated(values: np.ndarray) -> np.ndarray:
        # a posterior is narrower than the prior: pull every draw towards the draws' mean (a
        # convex combination, so each value stays inside its support), else every cell of a
        # mocked fit would be too uncertain to publish and get no verdict
        centre = values.mean(axis=0, keepdims=True)
        return centre + POSTERIOR_SPREAD * (values - centre)

    posterior = xr.Dataset(
        {
            name: (
                prior[name].dims,
                concentrated(prior[name].to_numpy()[0])[pick].reshape(
                    chains, draws, *prior[name].shape[2:]
                ),
            )
            for name in names
        },
        coords={**coords, **shape},
    )
    diverging = np.zeros(chains * draws, dtype=bool)
    diverging[:divergences] = True
    stats = xr.Dataset(
        {
            "diverging": (("chain", "draw"), diverging.reshape(chains, draws)),
            "step_size": (("chain", "draw"), np.full((chains, draws), 0.5)),
            "energy": (("chain", "draw"), np.random.default_rng(0).normal(size=(chains, draws))),
        },
        coords=shape,
    )
    observed = xr.Dataset(
        {rv.name: np.asarray(model.rvs_to_values[rv].data) for rv in model.observed_RVs}
    )
    return posterior, stats, observed


def _bind(real, *args, **kwargs) -> None:
    """Fail as the real sampler would on an argument it does not take."""
    inspect.signature(real).bind(*args, **kwargs)


class _CompiledModel:
    def __init__(self, model, var_names=None) -> None:
        self.model = model
        self.var_names = var_names  # nutpie keeps only these in the trace (None: all)


# the real samplers, remembered before this file patches them
_REAL: dict[str, object] = {}


def _real(module, name: str):
    key = f"{module.__name__}.{name}"
    if key not in _REAL:
        _REAL[key] = getattr(module, name)
        assert _REAL[key].__module__ != __name__, key
    return _REAL[key]


def _patches(mock: MockSampler):
    import arviz as az
    import numpy as np
    import nutpie
    import pymc as pm

    real_pm_sample = _real(pm, "sample")
    real_compile = _real(nutpie, "compile_pymc_model")
    real_nutpie_sample = _real(nutpie, "sample")

    def fake_compile(model, *args, **kwargs):
        _bind(real_compile, model, *args, **kwargs)
        return _CompiledModel(model, kwargs.get("var_names"))

    def fake_nutpie_sample(compiled, *args, **kwargs):
        _bind(real_nutpie_sample, compiled, *args, **kwargs)
        model = compiled.model
        chains, draws = kwargs.get("chains", 6), min(kwargs.get("draws", 1000), MAX_DRAWS)
        mock.calls.append({"sampler": "nutpie", **kwargs})
        posterior, stats, _ = _prior_posterior(
            model, chains, draws, kwargs.get("seed"), mock.divergences
        )
        if compiled.var_names is not None:  # as nutpie: only these variables are stored
            posterior = posterior[list(compiled.var_names)]
        # nutpie also returns the unconstrained values (sd_log__, ...): sample_model drops them
        for name, value in model.initial_point().items():
            if name.endswith("__"):
                posterior[name] = (
                    ("chain", "draw", *(f"{name}_dim_{i}" for i in range(np.ndim(value)))),
                    np.zeros((chains, draws, *np.shape(value))),
                )
        return az.InferenceData(posterior=posterior, sample_stats=stats)

    def fake_pm_sample(*args, **kwargs):
        _bind(real_pm_sample, *args, **kwargs)
        model = pm.modelcontext(kwargs.get("model"))
        chains, draws = kwargs.get("chains") or 2, min(kwargs.get("draws", 1000), MAX_DRAWS)
        mock.calls.append({"sampler": "pymc", **kwargs})
        posterior, stats, observed = _prior_posterior(
            model, chains, draws, kwargs.get("random_seed"), mock.divergences
        )
        return az.InferenceData(posterior=posterior, sample_stats=stats, observed_data=observed)

    def no_compile(self, *args, **kwargs):
        # sample_model compiles logp and dlogp before pm.sample only to time the compilation
        def mocked(*args, **kwargs):
            raise AssertionError("this logp was not compiled: sampling is mocked")

        return mocked

    return [
        (pm.Model, "compile_logp", no_compile),
        (pm.Model, "compile_dlogp", no_compile),
        (pm, "sample", fake_pm_sample),
        (nutpie, "compile_pymc_model", fake_compile),
        (nutpie, "sample", fake_nutpie_sample),
    ]


@contextmanager
def mocked_sampling(divergences: int = 0) -> Iterator[MockSampler]:
    """Within the block every NUTS run returns prior draws (see above); yields the call record."""
    mock = MockSampler(divergences)
    with pytest.MonkeyPatch.context() as mp:
        for module, name, fake in _patches(mock):
            mp.setattr(module, name, fake)
        yield mock


@pytest.fixture(scope="session")
def sampling_mock():
    """The ``mocked_sampling`` context manager, for module-scoped fit fixtures."""
    return mocked_sampling


@pytest.fixture
def mock_sampling() -> Iterator[MockSampler]:
    """Mocked NUTS for the duration of one test (see ``mocked_sampling``)."""
    with mocked_sampling() as mock:
        yield mock


@pytest.fixture(autouse=True)
def _no_real_mcmc_in_the_fast_suite(request: pytest.FixtureRequest) -> Iterator[None]:
    """A test of the default suite that reaches a real sampler fails at once, saying why.

    Only where PyMC / nutpie are imported already (every module that fits imports them), so that
    tests without them do not pay for the import. Module-scoped fixtures run before this one: a
    fixture that fits uses ``sampling_mock`` itself.
    """
    loaded = [sys.modules[m] for m in ("pymc", "nutpie") if m in sys.modules]
    if request.node.get_closest_marker("slow") is not None or not loaded:
        yield
        return

    def refuse(*args, **kwargs):
        raise AssertionError(
            "real MCMC in the fast suite: use the mock_sampling fixture (plumbing) or mark the "
            "test @pytest.mark.slow (posterior values)"
        )

    with pytest.MonkeyPatch.context() as mp:
        for module in loaded:
            if module.sample.__module__ != __name__:  # not mocked already
                _real(module, "sample")
                mp.setattr(module, "sample", refuse)
        yield
