"""Small-area estimation: hierarchical Bayesian estimates per life event x municipality (PyMC).

Entry points:

* :func:`fit_area_level` - Fay-Herriot model on design-based direct estimates per cell;
* :func:`fit_unit_level` - unit-level model on per-cell sufficient statistics, with
  post-stratification to population cells (MRP) when a population table is given;
* :func:`smooth_variances` and :func:`sufficient_statistics` - preparing their inputs;
* :class:`Priors` / :class:`ScalePrior` - the priors, with documented defaults;
* :class:`SaeResult` - ``.cells`` (per-cell table with the quality columns ``cv``,
  ``shrinkage``, ``publication``), ``.diagnostics`` (convergence over every parameter, with
  ``trustworthy`` and a Dutch ``warning_nl``), ``.idata``, ``.aggregate()``, ``.benchmarked()``
  (draws benchmarked to design-based estimates) and, for a fit linked across waves
  (``wave=``), ``.change(from_wave, to_wave)``.

Sampling uses nutpie by default (several times faster than PyMC's NUTS here) and PyMC's NUTS as
fallback; fits can be cached on disk (:mod:`meting.sae.cache`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from meting.lazy import lazy_getattr

#: Public name -> defining module, imported on first use (PEP 562): the settings and the data
#: helpers are used without PyMC (the registry builds ``SampleSettings``, the pipeline smooths
#: variances), so importing this package must not import PyMC.
_EXPORTS: dict[str, str] = {
    "fit_area_level": "meting.sae.api",
    "fit_unit_level": "meting.sae.api",
    "direct_from_statistics": "meting.sae.data",
    "smooth_variances": "meting.sae.data",
    "sufficient_statistics": "meting.sae.data",
    "ESS_MIN": "meting.sae.diagnostics",
    "RHAT_MAX": "meting.sae.diagnostics",
    "Diagnostics": "meting.sae.diagnostics",
    "diagnose": "meting.sae.diagnostics",
    "SaeResult": "meting.sae.result",
    "cell_shrinkage": "meting.sae.quality",
    "shrinkage_weight": "meting.sae.shrinkage",
    "HalfCauchy": "meting.sae.spec",
    "HalfNormal": "meting.sae.spec",
    "ModelSpec": "meting.sae.spec",
    "Priors": "meting.sae.spec",
    "RhoPrior": "meting.sae.spec",
    "SampleSettings": "meting.sae.spec",
    "ScalePrior": "meting.sae.spec",
}

if TYPE_CHECKING:
    from meting.sae.api import fit_area_level, fit_unit_level
    from meting.sae.data import direct_from_statistics, smooth_variances, sufficient_statistics
    from meting.sae.diagnostics import ESS_MIN, RHAT_MAX, Diagnostics, diagnose
    from meting.sae.quality import cell_shrinkage
    from meting.sae.result import SaeResult
    from meting.sae.shrinkage import shrinkage_weight
    from meting.sae.spec import (
        HalfCauchy,
        HalfNormal,
        ModelSpec,
        Priors,
        RhoPrior,
        SampleSettings,
        ScalePrior,
    )


__getattr__ = lazy_getattr("meting.sae", _EXPORTS, globals())


__all__ = [
    "ESS_MIN",
    "RHAT_MAX",
    "Diagnostics",
    "HalfCauchy",
    "HalfNormal",
    "ModelSpec",
    "Priors",
    "RhoPrior",
    "SampleSettings",
    "SaeResult",
    "ScalePrior",
    "cell_shrinkage",
    "diagnose",
    "direct_from_statistics",
    "fit_area_level",
    "fit_unit_level",
    "shrinkage_weight",
    "smooth_variances",
    "sufficient_statistics",
]
