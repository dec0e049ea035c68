"""The importance x performance matrix of the norms as a report figure.

The table comes from :func:`meting.knelpunten.importance_performance` (the quadrant rule and the
TRI*M names are documented there); this module only draws it, the Dutch way.
"""

from __future__ import annotations

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from scipy import stats

from meting.checks import check_columns
from meting.errors import ParameterError
from meting.knelpunten.matrix import QUADRANT_LABELS, QUADRANTS
from meting.report.plots import (
    COLORS,
    FIG_WIDTH_IN,
    HOUSE_STYLE,
    DutchPercentFormatter,
    DutchScalarFormatter,
    ReportFigure,
)

__all__ = ["plot_importance_performance"]

_AXIS_LABELS = {
    "lmg_share": "Belang: aandeel in de verklaarde variantie (LMG)",
    "lmg": "Belang: bijdrage aan R² (LMG)",
    "std_estimate": "Belang: gestandaardiseerd effect",
    "share": "Prestatie: aandeel 'goed' (4-5)",
    "mean": "Prestatie: gemiddelde (1-5)",
}


def plot_importance_performance(
    table: pd.DataFrame,
    title: str = "Belang en prestatie van de normen",
    level: float = 0.95,
) -> ReportFigure:
    """The importance x performance matrix as a report figure (Dutch labels, decimal comma).

    Parameters
    ----------
    table
        One group of :func:`meting.knelpunten.importance_performance` (filter on the group columns first).
    title
        Figure title.
    level
        Confidence level for the error bars (normal quantile; the table's ``performance_lower``/
        ``upper`` are used for performance).

    Returns
    -------
    meting.report.plots.ReportFigure
        Performance on the x axis, importance on the y axis, split lines, quadrant names in the
        corners; each norm labelled with its number.
    """
    check_columns(
        table,
        ["aspect", "importance", "performance", "quadrant", "split_importance"],
        "table",
        error=ParameterError,
        hint="Pass one group of meting.knelpunten.importance_performance.",
    )
    if table[["split_importance", "split_performance"]].nunique().max() > 1:
        raise ParameterError(
            "table must hold one group; got several split values. Filter on the group columns."
        )
    t = table.dropna(subset=["importance", "performance"])
    imp_kind = table.attrs.get("importance", "lmg_share")
    perf_kind = table.attrs.get("performance", "share")
    z = stats.norm.ppf(0.5 + level / 2)
    with mpl.rc_context(HOUSE_STYLE):
        fig = Figure(figsize=(FIG_WIDTH_IN, 5.0))
        ax = fig.add_subplot()
        ax.grid(True, axis="both")
        colours = {
            "motivator": COLORS["above"],
            "hidden": COLORS["below"],
            "potential": COLORS["second"],
            "hygiene": COLORS["neutral"],
        }
        x, y = t["performance"].to_numpy(float), t["importance"].to_numpy(float)
        xerr = np.vstack(
            [x - t["performance_lower"].to_numpy(float), t["performance_upper"].to_numpy(float) - x]
        )
        yerr = z * t["importance_se"].fillna(0).to_numpy(float)
        ax.errorbar(x, y, xerr=xerr, yerr=yerr, fmt="none", ecolor="#bbbbbb", lw=0.8, zorder=1)
        for quadrant in QUADRANTS:
            m = (t["quadrant"] == quadrant).to_numpy()
            if m.any():
                ax.scatter(x[m], y[m], s=36, color=colours[quadrant], zorder=2,
                           label=QUADRANT_LABELS[quadrant])  # fmt: skip
        for xi, yi, aspect in zip(x, y, t["aspect"], strict=True):
            label = aspect.removeprefix("bsc_").lstrip("0") if aspect.startswith("bsc_") else aspect
            ax.annotate(label, (xi, yi), xytext=(4, 3), textcoords="offset points", fontsize=8)
        s_imp = float(t["split_importance"].iloc[0])
        s_perf = float(t["split_performance"].iloc[0])
        ax.axhline(s_imp, color=COLORS["target"], lw=0.8, ls="--")
        ax.axvline(s_perf, color=COLORS["target"], lw=0.8, ls="--")
        corners = {
            "hidden": (0.01, 0.99, "left", "top"),
            "motivator": (0.99, 0.99, "right", "top"),
            "potential": (0.01, 0.01, "left", "bottom"),
            "hygiene": (0.99, 0.01, "right", "bottom"),
        }
        for quadrant, (cx, cy, ha, va) in corners.items():
            ax.text(cx, cy, QUADRANT_LABELS[quadrant], transform=ax.transAxes, ha=ha, va=va,
                    fontsize=8, color=colours[quadrant], fontweight="bold")  # fmt: skip
        ax.set_xlabel(_AXIS_LABELS.get(perf_kind, perf_kind))
        ax.set_ylabel(_AXIS_LABELS.get(imp_kind, imp_kind))
        if perf_kind == "share":
            ax.xaxis.set_major_formatter(DutchPercentFormatter(xmax=1.0, decimals=0))
        else:
            ax.xaxis.set_major_formatter(DutchScalarFormatter())
        if imp_kind == "lmg_share":
            ax.yaxis.set_major_formatter(DutchPercentFormatter(xmax=1.0, decimals=0))
        else:
            ax.yaxis.set_major_formatter(DutchScalarFormatter())
        ax.set_title(title)
        fig.tight_layout()
    split = table.attrs.get("split", "mean")
    where = {"mean": "het gemiddelde", "median": "de mediaan"}.get(str(split), "de gekozen grens")
    note = (
        f"Stippellijnen: {where} van de normen, de grens tussen de kwadranten. "
        f"Lijnen om de punten: {round(100 * level)}%-betrouwbaarheidsintervallen."
    )
    alt = "Spreidingsdiagram van belang tegen prestatie per norm, met vier kwadranten."
    return ReportFigure(fig, alt=alt, note=note)
