"""The knelpunten sections of the reports: :mod:`meting.knelpunten` tables shaped for display,
one module per section.

* :mod:`.norms` - share "goed" / "niet goed" per norm, the weakest norms, the heatmap;
* :mod:`.drivers` - the key drivers of the chain score;
* :mod:`.matrix` - the importance x performance matrix as a figure;
* :mod:`.chain` - the chain view per life event (and within one municipality);
* :mod:`.channels` - use and score per contact channel, the shift between waves;
* :mod:`.trim` - the TRI*M index per municipality;
* :mod:`._shared` - the reading guides (:func:`explanation`), :func:`select`, printed intervals.

Each ``*_table`` function computes one aggregated, numeric table from a weighted
:class:`~meting.design.SurveyDesign` and blanks every cell based on fewer than ``min_n``
respondents (:func:`meting.report.privacy.suppress_small_cells`; ``onderdrukt`` marks them).
The ``*_html`` functions print such a table the Dutch way (decimal comma, ``–`` for blanks, a
suppression note); the ``*_plot`` functions draw it as a :class:`~meting.report.plots.ReportFigure`
and leave the suppressed cells out (or blank). No table here carries respondent-level values.
Every function is also importable from this package (``from meting.report import sections``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from meting.labels import CHANNEL_LABELS
from meting.lazy import lazy_getattr
from meting.report.sections._shared import explanation, norm_label, select

# each section is imported on first use: a municipality report prints stored tables and needs
# neither the analyses (SciPy, statsmodels) nor the sections it does not show
_EXPORTS = {
    "chain_headline": "meting.report.sections.chain",
    "chain_html": "meting.report.sections.chain",
    "chain_plot": "meting.report.sections.chain",
    "chain_table": "meting.report.sections.chain",
    "municipality_chain": "meting.report.sections.chain",
    "channel_shift_html": "meting.report.sections.channels",
    "channel_shift_table": "meting.report.sections.channels",
    "channel_table": "meting.report.sections.channels",
    "channel_table_html": "meting.report.sections.channels",
    "channel_use_plot": "meting.report.sections.channels",
    "drivers_html": "meting.report.sections.drivers",
    "drivers_note": "meting.report.sections.drivers",
    "drivers_plot": "meting.report.sections.drivers",
    "drivers_table": "meting.report.sections.drivers",
    "plot_importance_performance": "meting.report.sections.matrix",
    "norms_heatmap": "meting.report.sections.norms",
    "norms_html": "meting.report.sections.norms",
    "norms_table": "meting.report.sections.norms",
    "weakest_html": "meting.report.sections.norms",
    "weakest_summary": "meting.report.sections.norms",
    "weakest_table": "meting.report.sections.norms",
    "trim_html": "meting.report.sections.trim",
    "trim_peers": "meting.report.sections.trim",
    "trim_plot": "meting.report.sections.trim",
    "trim_table": "meting.report.sections.trim",
}
__getattr__ = lazy_getattr(__name__, _EXPORTS, globals())

if TYPE_CHECKING:
    from meting.report.sections.chain import (
        chain_headline,
        chain_html,
        chain_plot,
        chain_table,
        municipality_chain,
    )
    from meting.report.sections.channels import (
        channel_shift_html,
        channel_shift_table,
        channel_table,
        channel_table_html,
        channel_use_plot,
    )
    from meting.report.sections.drivers import (
        drivers_html,
        drivers_note,
        drivers_plot,
        drivers_table,
    )
    from meting.report.sections.matrix import plot_importance_performance
    from meting.report.sections.norms import (
        norms_heatmap,
        norms_html,
        norms_table,
        weakest_html,
        weakest_summary,
        weakest_table,
    )
    from meting.report.sections.trim import trim_html, trim_peers, trim_plot, trim_table

__all__ = [
    "CHANNEL_LABELS",
    "chain_headline",
    "chain_html",
    "chain_plot",
    "chain_table",
    "channel_shift_html",
    "channel_shift_table",
    "channel_table",
    "channel_table_html",
    "channel_use_plot",
    "drivers_html",
    "drivers_note",
    "drivers_plot",
    "drivers_table",
    "explanation",
    "municipality_chain",
    "norm_label",
    "norms_heatmap",
    "norms_html",
    "norms_table",
    "plot_importance_performance",
    "select",
    "trim_html",
    "trim_peers",
    "trim_plot",
    "trim_table",
    "weakest_html",
    "weakest_summary",
    "weakest_table",
]
