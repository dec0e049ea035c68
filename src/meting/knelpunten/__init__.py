"""Knelpunten: where service falls short, and what to improve first.

All analyses run on a weighted :class:`meting.design.SurveyDesign` and return tidy DataFrames with
design-based (Taylor-linearised) uncertainty; each module documents its columns and rules:

* :mod:`.norms` - BurgerServiceCode norms: share "goed" / "niet goed", the weakest norms;
* :mod:`.drivers` - key drivers: svyglm-type regression of the chain score on the norms and the
  exact LMG (Shapley) decomposition of R^2 with delta-method standard errors;
* :mod:`.matrix` - importance x performance matrix with the TRI*M quadrant names (the figure is
  :func:`meting.report.sections.plot_importance_performance`);
* :mod:`.trim` - TRI*M index per municipality (documented linear formula);
* :mod:`.chain` - the chain view of a life event: organisations, chain, cooperation, the gap;
* :mod:`.channels` - use and score per contact channel, shift between waves;
* :mod:`.agenda` - the improvement agenda per municipality (priority = gap to 7 x frequency).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from meting.knelpunten.texts import EXPLANATIONS
from meting.labels import NORM_NAMES
from meting.lazy import lazy_getattr

# the analyses are imported on first use (SciPy, statsmodels): a report that only prints stored
# tables imports the reading guides (EXPLANATIONS) and nothing heavy
_EXPORTS = {
    "improvement_agenda": "meting.knelpunten.agenda",
    "chain_gaps": "meting.knelpunten.chain",
    "chain_view": "meting.knelpunten.chain",
    "channel_scores": "meting.knelpunten.channels",
    "channel_shift": "meting.knelpunten.channels",
    "channel_use": "meting.knelpunten.channels",
    "key_drivers": "meting.knelpunten.drivers",
    "lmg_from_cov": "meting.knelpunten.drivers",
    "r2_all_subsets": "meting.knelpunten.drivers",
    "QUADRANT_LABELS": "meting.knelpunten.matrix",
    "assign_quadrants": "meting.knelpunten.matrix",
    "importance_performance": "meting.knelpunten.matrix",
    "norm_shares": "meting.knelpunten.norms",
    "weakest_norms": "meting.knelpunten.norms",
    "trim_index": "meting.knelpunten.trim",
    "trim_respondent_index": "meting.knelpunten.trim",
}
__getattr__ = lazy_getattr(__name__, _EXPORTS, globals())

if TYPE_CHECKING:
    from meting.knelpunten.agenda import improvement_agenda
    from meting.knelpunten.chain import chain_gaps, chain_view
    from meting.knelpunten.channels import channel_scores, channel_shift, channel_use
    from meting.knelpunten.drivers import key_drivers, lmg_from_cov, r2_all_subsets
    from meting.knelpunten.matrix import (
        QUADRANT_LABELS,
        assign_quadrants,
        importance_performance,
    )
    from meting.knelpunten.norms import norm_shares, weakest_norms
    from meting.knelpunten.trim import trim_index, trim_respondent_index

__all__ = [
    "EXPLANATIONS",
    "NORM_NAMES",
    "QUADRANT_LABELS",
    "assign_quadrants",
    "chain_gaps",
    "chain_view",
    "channel_scores",
    "channel_shift",
    "channel_use",
    "importance_performance",
    "improvement_agenda",
    "key_drivers",
    "lmg_from_cov",
    "norm_shares",
    "r2_all_subsets",
    "trim_index",
    "trim_respondent_index",
    "weakest_norms",
]
