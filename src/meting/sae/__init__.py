"""Small-area estimation: hierarchical Bayesian estimates per life event x municipality (PyMC).

Entry points:

* :func:`fit_area_level` - Fay-Herriot model on design-based direct estimates per cell;
* :func:`fit_unit_level` - unit-level model on per-cell sufficient statistics, with
  post-stratification to population cells (MRP) when a population table is given;
* :func:`smooth_variances` and :func:`sufficient_statistics` - preparing their inputs;
* :class:`Priors` / :class:`ScalePrior` - the priors, with documented defaults;
* :class:`SaeResult` - ``.cells`` (per-cell table), ``.diagnostics`` (convergence over every
  parameter, with ``trustworthy`` and a Dutch ``warning_nl``), ``.idata`` and ``.aggregate()``.

Sampling uses nutpie by default (several times faster than PyMC's NUTS here) and PyMC's NUTS as
fallback; fits can be cached on disk (:mod:`meting.sae.cache`).
"""

from __future__ import annotations

from meting.sae.api import fit_area_level, fit_unit_level
from meting.sae.data import direct_from_statistics, smooth_variances, sufficient_statistics
from meting.sae.diagnostics import ESS_MIN, RHAT_MAX, Diagnostics, diagnose
from meting.sae.result import SaeResult
from meting.sae.spec import HalfCauchy, HalfNormal, ModelSpec, Priors, SampleSettings, ScalePrior

__all__ = [
    "ESS_MIN",
    "RHAT_MAX",
    "Diagnostics",
    "HalfCauchy",
    "HalfNormal",
    "ModelSpec",
    "Priors",
    "SampleSettings",
    "SaeResult",
    "ScalePrior",
    "diagnose",
    "direct_from_statistics",
    "fit_area_level",
    "fit_unit_level",
    "smooth_variances",
    "sufficient_statistics",
]
