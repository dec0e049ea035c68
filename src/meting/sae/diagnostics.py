"""Convergence diagnostics over every parameter (hyperparameters included), and a verdict.

A fit is *trustworthy* when, over all variables in the posterior (mu, the sds, the standardised
effects, the cell means), R-hat <= 1.01, bulk and tail ESS >= 400 and there are no divergent
transitions. Judging on the cell means alone hides the classic failure of these models (mu and the
life-event level fighting each other: ESS 9 for mu while every theta has ESS > 1500).

The linked model's cell means are not sampled by MCMC: given each draw of the sampled parameters
they are drawn from their exact Gaussian conditional (:mod:`meting.sae.linked_conditional`), so
its fits check every sampled parameter and leave the 15,300 derived cell-wave means out
(``diagnose(derived=...)``): checking them cost most of the post-processing time and, with a
threshold on the maximum over so many quantities, mostly added Monte Carlo noise to the verdict.
"""

from __future__ import annotations

import os
from collections.abc import Hashable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import arviz as az
import numpy as np
import scipy.fft
import xarray as xr
from scipy.special import ndtri

from meting.errors import ConvergenceError

RHAT_MAX = 1.01
ESS_MIN = 400.0


@dataclass(frozen=True)
class Diagnostics:
    """Convergence summary of one fit.

    Attributes
    ----------
    max_rhat, min_ess_bulk, min_ess_tail
        Worst rank-normalised split R-hat and bulk/tail ESS over all posterior variables.
    n_divergences
        Divergent transitions after tuning, all chains together.
    worst_rhat, worst_ess_bulk, worst_ess_tail
        The parameter (with its coordinate) behind each worst value.
    n_parameters
        Number of scalar quantities checked.
    sampler, chains, draws
        How the fit was made.
    compile_s, sample_s, total_s
        Wall-clock seconds (0 for the sampling parts when the fit came from the cache).
    from_cache
        True when the posterior was loaded from the disk cache.
    trustworthy
        True when R-hat <= 1.01, both ESS >= 400 and no divergences.
    """

    max_rhat: float
    min_ess_bulk: float
    min_ess_tail: float
    n_divergences: int
    worst_rhat: str
    worst_ess_bulk: str
    worst_ess_tail: str
    n_parameters: int
    sampler: str
    chains: int
    draws: int
    compile_s: float
    sample_s: float
    total_s: float
    from_cache: bool
    trustworthy: bool

    @property
    def ess_per_second(self) -> float:
        """Minimum bulk ESS per second of sampling (nan for cached fits)."""
        return self.min_ess_bulk / self.sample_s if self.sample_s > 0 else float("nan")

    @property
    def warning_nl(self) -> str:
        """One Dutch line for reports: empty when the fit is trustworthy."""
        if self.trustworthy:
            return ""
        problems: list[str] = []
        if not self.max_rhat <= RHAT_MAX:
            problems.append(f"R-hat {_nl(self.max_rhat, 3)} (max. 1,01) bij {self.worst_rhat}")
        if not self.min_ess_bulk >= ESS_MIN:
            problems.append(f"ESS {_nl(self.min_ess_bulk, 0)} (min. 400) bij {self.worst_ess_bulk}")
        if not self.min_ess_tail >= ESS_MIN:
            problems.append(
                f"staart-ESS {_nl(self.min_ess_tail, 0)} (min. 400) bij {self.worst_ess_tail}"
            )
        if self.n_divergences:
            word = "divergente overgang" if self.n_divergences == 1 else "divergente overgangen"
            problems.append(f"{self.n_divergences} {word}")
        return (
            "Let op: het model is niet geconvergeerd ("
            + "; ".join(problems)
            + "); de modelschattingen zijn niet betrouwbaar."
        )

    def raise_if_untrustworthy(self) -> None:
        """Raise :class:`~meting.errors.ConvergenceError` when the fit is not trustworthy."""
        if not self.trustworthy:
            raise ConvergenceError(
                f"the MCMC fit must have R-hat <= {RHAT_MAX}, ESS >= {ESS_MIN:.0f} and no "
                f"divergences; got R-hat {self.max_rhat:.3f} ({self.worst_rhat}), bulk ESS "
                f"{self.min_ess_bulk:.0f} ({self.worst_ess_bulk}), tail ESS "
                f"{self.min_ess_tail:.0f} ({self.worst_ess_tail}), {self.n_divergences} "
                "divergences. Run more tune/draws, raise target_accept or change the "
                "parameterisation (Priors.centred)."
            )


# --- vectorised rank-normalised R-hat and ESS (Vehtari et al. 2021), as in ArviZ ------------------
# ArviZ loops in Python over every scalar parameter (about 45 s for 10,000 parameters on this
# machine); these functions do the same arithmetic on an array (parameters, chains, draws) at once.
# tests/test_sae_diagnostics.py checks them against arviz.rhat / arviz.ess.


def _split(x: np.ndarray) -> np.ndarray:
    """(P, C, N) -> (P, 2C, N // 2): first and last halves of each chain (middle draw dropped)."""
    half = x.shape[2] // 2
    return np.concatenate([x[:, :, :half], x[:, :, x.shape[2] - half :]], axis=1)


def _z_scale(x: np.ndarray) -> np.ndarray:
    """Rank-normalise each parameter over all its draws (average ranks, Blom offsets c = 3/8).

    Without ties the normal scores are a permutation of one fixed grid, so they are placed with
    the sort order instead of calling the normal quantile function on every draw.
    """
    flat = x.reshape(x.shape[0], -1)
    p, s = flat.shape
    order = np.argsort(flat, axis=1)
    grid = ndtri((np.arange(1.0, s + 1.0) - 0.375) / (s + 0.25))
    index = (order + (np.arange(p) * s)[:, None]).ravel()
    z: np.ndarray = np.empty(p * s)
    z[index] = np.tile(grid, p)
    z = z.reshape(p, s)
    ordered = flat.ravel()[index].reshape(p, s)
    tied_rows = np.flatnonzero((ordered[:, 1:] == ordered[:, :-1]).any(axis=1))
    if tied_rows.size:  # stuck chains repeat draws: equal values share their average rank
        sub = ordered[tied_rows]
        new_group = np.ones(sub.shape, dtype=bool)
        new_group[:, 1:] = sub[:, 1:] != sub[:, :-1]
        group = np.cumsum(new_group.ravel()) - 1  # every row starts a new group
        start = np.tile(np.arange(s), len(tied_rows))[new_group.ravel()]
        average = start + (np.bincount(group) - 1) / 2.0 + 1.0
        tied = np.empty(sub.shape)
        scores = ndtri((average[group] - 0.375) / (s + 0.25)).reshape(sub.shape)
        np.put_along_axis(tied, order[tied_rows], scores, axis=1)
        z[tied_rows] = tied
    return z.reshape(x.shape)


def _rhat_basic(x: np.ndarray) -> np.ndarray:
    n = x.shape[2]
    chain_mean = x.mean(axis=2)
    within = x.var(axis=2, ddof=1).mean(axis=1)
    between = n * chain_mean.var(axis=1, ddof=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.sqrt((between / within + n - 1) / n)


def _rhat_tail(split: np.ndarray) -> np.ndarray:
    median = np.median(split.reshape(split.shape[0], -1), axis=1)[:, None, None]
    return _rhat_basic(_z_scale(np.abs(split - median)))


def rhat_rank(x: np.ndarray) -> np.ndarray:
    """Rank-normalised split R-hat (max of bulk and folded tail) for ``x`` of shape (P, C, N)."""
    split = _split(np.asarray(x, dtype=float))
    return np.maximum(_rhat_basic(_z_scale(split)), _rhat_tail(split))


def _autocov(x: np.ndarray) -> np.ndarray:
    n = x.shape[-1]
    m = scipy.fft.next_fast_len(2 * n, real=True)
    centred = x - x.mean(axis=-1, keepdims=True)
    # one worker: the blocks of parameters already run in parallel threads (_all_statistics)
    f = scipy.fft.rfft(centred, n=m, axis=-1, workers=1)
    f *= np.conjugate(f)
    return scipy.fft.irfft(f, n=m, axis=-1, workers=1)[..., :n] / n


def _ess(x: np.ndarray) -> np.ndarray:
    """ESS of each parameter of ``x`` (P, M, N) with Geyer's initial monotone sequence."""
    p, m, n = x.shape
    acov = _autocov(x)
    chain_mean = x.mean(axis=2)
    mean_var = acov[:, :, 0].mean(axis=1) * n / (n - 1.0)
    var_plus = mean_var * (n - 1.0) / n
    if m > 1:
        var_plus = var_plus + chain_mean.var(axis=1, ddof=1)
    acov_mean = acov.mean(axis=1)  # (P, N)
    with np.errstate(invalid="ignore", divide="ignore"):
        rho = 1.0 - (mean_var[:, None] - acov_mean) / var_plus[:, None]
    rho_t = np.zeros((p, n))
    rho_t[:, 0] = 1.0
    rho_t[:, 1] = rho[:, 1]
    even = np.ones(p)
    odd = rho[:, 1].copy()
    active = (even + odd) > 0.0
    t_final = np.ones(p, dtype=np.int64)
    t = 1
    while t < n - 3 and active.any():
        new_even, new_odd = rho[:, t + 1], rho[:, t + 2]
        total = new_even + new_odd
        assign = active & (total >= 0)
        rho_t[assign, t + 1] = new_even[assign]
        rho_t[assign, t + 2] = new_odd[assign]
        even = np.where(active, new_even, even)
        t_final = np.where(active, t + 2, t_final)
        active = active & (total > 0.0)
        t += 2
    max_t = t_final - 2
    rows = np.arange(p)
    improve = even > 0
    rho_t[rows[improve], max_t[improve] + 1] = even[improve]
    t = 1
    while t <= int(max_t.max()) - 2:
        ok = t <= max_t - 2
        later = rho_t[:, t + 1] + rho_t[:, t + 2]
        earlier = rho_t[:, t - 1] + rho_t[:, t]
        fix = ok & (later > earlier)
        rho_t[fix, t + 1] = earlier[fix] / 2.0
        rho_t[fix, t + 2] = earlier[fix] / 2.0
        t += 2
    lags = np.arange(n)[None, :]
    head = np.where(lags <= max_t[:, None], rho_t, 0.0).sum(axis=1)
    extra = np.where(lags == max_t[:, None] + 1, rho_t, 0.0).sum(axis=1)
    tau = -1.0 + 2.0 * head + extra
    size = m * n
    tau = np.maximum(tau, 1.0 / np.log10(size))
    ess = size / tau
    ess[np.isnan(rho_t).any(axis=1)] = np.nan
    constant = (x.max(axis=(1, 2)) - x.min(axis=(1, 2))) < np.finfo(float).resolution
    ess[constant] = size
    return ess


def ess_bulk(x: np.ndarray) -> np.ndarray:
    """Bulk ESS (rank-normalised split chains) for ``x`` of shape (P, C, N)."""
    return _ess(_z_scale(_split(np.asarray(x, dtype=float))))


def ess_tail(x: np.ndarray) -> np.ndarray:
    """Tail ESS: the smaller ESS of the 5 % and 95 % quantile indicators, ``x`` (P, C, N)."""
    x = np.asarray(x, dtype=float)
    q = np.quantile(x.reshape(x.shape[0], -1), [0.05, 0.95], axis=1)  # type 7, as ArviZ
    low = _ess(_split((x <= q[0][:, None, None]).astype(float)))
    high = _ess(_split((x <= q[1][:, None, None]).astype(float)))
    return np.minimum(low, high)


def _nl(value: float, decimals: int) -> str:
    if not np.isfinite(value):
        return "onbekend"
    return f"{value:.{decimals}f}".replace(".", ",")


def _worst(dataset: xr.Dataset, largest: bool) -> tuple[float, str]:
    """The extreme value over all variables of ``dataset`` and the name of its parameter."""
    best_value = -np.inf if largest else np.inf
    best_name = ""
    for name, array in dataset.data_vars.items():
        values = np.asarray(array.values, dtype=float)
        if values.size == 0:
            continue
        # a nan statistic (e.g. a constant) counts as the worst possible value
        filled = np.where(np.isnan(values), np.inf if largest else -np.inf, values)
        flat = int(np.argmax(filled) if largest else np.argmin(filled))
        value = float(filled.flat[flat])
        if (largest and value > best_value) or (not largest and value < best_value):
            best_value = value
            position = np.unravel_index(flat, values.shape) if values.ndim else ()
            labels = [
                str(array[dim].values[i]) for dim, i in zip(array.dims, position, strict=True)
            ]
            best_name = f"{name}[{', '.join(labels)}]" if labels else str(name)
    return best_value, best_name


def _block_statistics(block: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """R-hat, bulk ESS and tail ESS of a block of parameters (P, C, N)."""
    split = _split(block)
    z = _z_scale(split)  # shared by bulk R-hat and bulk ESS
    rhat = np.maximum(_rhat_basic(z), _rhat_tail(split))
    return rhat, _ess(z), ess_tail(block)


def _all_statistics(
    posterior: xr.Dataset, block: int = 64, workers: int | None = None
) -> tuple[xr.Dataset, xr.Dataset, xr.Dataset]:
    """R-hat, bulk ESS and tail ESS of every scalar in ``posterior``, as three Datasets.

    The parameters are cut into blocks of ``block`` (small blocks stay in the CPU cache: 64 is
    about twice as fast as 2,048 on this machine) and the blocks run in ``workers`` threads
    (default: one per core, since sorting and FFTs release the GIL; twice as fast on 2 cores). ``benchmarks/bench_sae.py``
    prints the time this takes.
    """
    workers = workers or min(os.cpu_count() or 1, 8)
    names: list[str] = []
    arrays: list[np.ndarray] = []
    layouts: list[tuple[list[Hashable], dict, tuple[int, ...]]] = []
    for name, array in posterior.data_vars.items():
        extra = [d for d in array.dims if d not in ("chain", "draw")]
        values = array.transpose(*extra, "chain", "draw").to_numpy().astype(float)
        names.append(str(name))
        arrays.append(values.reshape(-1, *values.shape[-2:]))
        coords = {d: array[d] for d in extra if d in array.coords}
        layouts.append((extra, coords, values.shape[:-2]))
    flat = np.concatenate(arrays, axis=0)
    starts = range(0, flat.shape[0], block)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        parts = list(pool.map(lambda i: _block_statistics(flat[i : i + block]), starts))
    stats = [np.concatenate([part[k] for part in parts]) for k in range(3)]
    out: tuple[dict, dict, dict] = ({}, {}, {})
    offset = 0
    for name, (extra, coords, shape), values in zip(names, layouts, arrays, strict=True):
        size = values.shape[0]
        for target, stat in zip(out, stats, strict=True):
            target[name] = xr.DataArray(
                stat[offset : offset + size].reshape(shape), dims=extra, coords=coords
            )
        offset += size
    return tuple(xr.Dataset(o) for o in out)  # type: ignore[return-value]


def diagnose(
    idata: az.InferenceData,
    *,
    sampler: str,
    compile_s: float = 0.0,
    sample_s: float = 0.0,
    total_s: float = 0.0,
    from_cache: bool = False,
    derived: tuple[str, ...] = (),
) -> Diagnostics:
    """R-hat, bulk and tail ESS over every posterior variable, and divergences.

    ``derived`` names variables that are not checked because MCMC did not sample them: the cell
    means of the linked model, drawn after sampling from their exact conditional given each draw
    of the sampled parameters (:mod:`meting.sae.linked_conditional`). Every sampled parameter is
    always checked.
    """
    posterior = idata.posterior  # type: ignore[attr-defined]
    posterior = posterior.drop_vars([v for v in derived if v in posterior.data_vars])
    rhat, bulk, tail = _all_statistics(posterior)
    max_rhat, worst_rhat = _worst(rhat, largest=True)
    min_bulk, worst_bulk = _worst(bulk, largest=False)
    min_tail, worst_tail = _worst(tail, largest=False)
    n_div = 0
    if "sample_stats" in idata.groups() and "diverging" in idata.sample_stats:  # type: ignore[attr-defined]
        n_div = int(np.asarray(idata.sample_stats["diverging"].values).sum())  # type: ignore[attr-defined]
    trustworthy = bool(
        max_rhat <= RHAT_MAX and min_bulk >= ESS_MIN and min_tail >= ESS_MIN and n_div == 0
    )
    n_parameters = int(
        sum(v.size // (v.sizes["chain"] * v.sizes["draw"]) for v in posterior.data_vars.values())
    )
    return Diagnostics(
        max_rhat=max_rhat,
        min_ess_bulk=min_bulk,
        min_ess_tail=min_tail,
        n_divergences=n_div,
        worst_rhat=worst_rhat,
        worst_ess_bulk=worst_bulk,
        worst_ess_tail=worst_tail,
        n_parameters=n_parameters,
        sampler=sampler,
        chains=int(posterior.sizes["chain"]),
        draws=int(posterior.sizes["draw"]),
        compile_s=compile_s,
        sample_s=sample_s,
        total_s=total_s,
        from_cache=from_cache,
        trustworthy=trustworthy,
    )
