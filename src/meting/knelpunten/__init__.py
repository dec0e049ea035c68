"""Knelpunten: where service falls short, and what to improve first.

All analyses run on a weighted :class:`meting.design.SurveyDesign` and return tidy DataFrames with
design-based (Taylor-linearised) uncertainty:

* :mod:`.norms` - BurgerServiceCode norms: share "goed" / "niet goed", the weakest norms;
* :mod:`.drivers` - key drivers: svyglm-type regression of the chain score on the norms and the
  LMG (Shapley) decomposition of R^2.
"""

from __future__ import annotations

from meting.knelpunten.drivers import key_drivers, lmg_from_cov, r2_all_subsets
from meting.knelpunten.norms import NORM_NAMES, norm_shares, weakest_norms

__all__ = [
    "NORM_NAMES",
    "key_drivers",
    "lmg_from_cov",
    "norm_shares",
    "r2_all_subsets",
    "weakest_norms",
]
