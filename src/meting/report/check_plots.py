"""Figures of the model checks in the validation report (:mod:`meting.sae.checks`), in the house
style of :mod:`meting.report.plots`: the PIT histogram of the posterior predictive check per wave
(:func:`pit_plot`) and the shrinkage of every cell against its respondents (:func:`shrinkage_plot`).

Neither figure shows an estimate of a cell: the PIT values and the shrinkage say how the model
treats a cell, not what its respondents said.
"""

from __future__ import annotations

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from meting.report.formatting import count_noun, fmt_int, fmt_pct
from meting.report.plots import (
    COLORS,
    FIG_WIDTH_IN,
    HOUSE_STYLE,
    DutchPercentFormatter,
    DutchScalarFormatter,
    ReportFigure,
    _check_columns,
)
from meting.sae.checks import pit_histogram

__all__ = ["pit_plot", "shrinkage_plot"]


def pit_plot(
    check: pd.DataFrame, by: str, *, bins: int = 10, title: str | None = None
) -> ReportFigure:
    """One PIT histogram per ``by`` group (the wave) of :func:`meting.sae.checks.predictive_check`,
    as the share of cells per bin with the line of a uniform distribution (1 / ``bins``)."""
    _check_columns(check, [by, "pit"])
    groups = sorted(check[by].astype(str).unique())
    with mpl.rc_context(HOUSE_STYLE):
        fig = Figure(figsize=(FIG_WIDTH_IN, 2.4), layout="constrained")
        axes = fig.subplots(1, max(len(groups), 1), sharey=True, squeeze=False)[0]
        for ax, group in zip(axes, groups, strict=False):
            part = check.loc[check[by].astype(str) == group]
            counts, edges = pit_histogram(part, bins)
            share = counts / max(counts.sum(), 1)
            ax.bar(
                edges[:-1], share, width=np.diff(edges), align="edge",
                color=COLORS["accent"], edgecolor="white", linewidth=0.6,
            )  # fmt: skip
            ax.axhline(1.0 / bins, color="black", linestyle="--", linewidth=0.8)
            ax.set_title(f"{group} ({count_noun(len(part), 'cel', 'cellen')})", fontsize=8)
            ax.set_xlim(0, 1)
            ax.set_xlabel("PIT-waarde")
            ax.grid(axis="y")
            ax.xaxis.set_major_formatter(DutchScalarFormatter())
            ax.yaxis.set_major_formatter(DutchPercentFormatter(1.0, decimals=0))
        axes[0].set_ylabel("aandeel cellen")
        if title:
            fig.suptitle(title, x=0.0, ha="left", fontweight="bold", fontsize=10)
    inside = check["inside"].mean() if "inside" in check.columns and len(check) else np.nan
    return ReportFigure(
        fig,
        alt=(
            "Histogrammen van de PIT-waarden van de directe schattingen per meting: de kans dat "
            "een door het model voorspelde directe schatting hoogstens de waargenomen is. Bij een "
            "passend model liggen de balken rond de stippellijn (gelijkmatige verdeling); over "
            f"alle metingen ligt {fmt_pct(inside)} van de directe schattingen binnen hun "
            "90%-voorspellingsinterval."
        ),
    )


def shrinkage_plot(cells: pd.DataFrame, *, title: str | None = None) -> ReportFigure:
    """The shrinkage (``1 - gamma``, the share of a cell's estimate from the model) of every cell
    (x wave) with respondents against its respondents ``n`` (log scale); a cell without
    respondents has shrinkage 1 and is left out (the note counts them)."""
    _check_columns(cells, ["n", "shrinkage"])
    n = pd.to_numeric(cells["n"], errors="coerce").fillna(0).to_numpy(dtype=float)
    shrink = cells["shrinkage"].to_numpy(dtype=float)
    shown = (n > 0) & np.isfinite(shrink)
    with mpl.rc_context(HOUSE_STYLE):
        fig = Figure(figsize=(FIG_WIDTH_IN * 0.75, FIG_WIDTH_IN * 0.5), layout="constrained")
        ax = fig.add_subplot()
        ax.grid(axis="both")
        ax.scatter(n[shown], shrink[shown], s=8, alpha=0.5, color=COLORS["accent"])
        ax.set_xscale("log")
        ax.set_ylim(-0.02, 1.02)
        ax.set_xlabel("respondenten in de cel (logaritmische schaal)")
        ax.set_ylabel("krimp (aandeel model)")
        ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _pos: fmt_int(x)))
        ax.yaxis.set_major_formatter(DutchPercentFormatter(1.0, decimals=0))
        if title:
            ax.set_title(title)
    left_out = int((~shown).sum())
    note = (
        f"{count_noun(left_out, 'cel', 'cellen')} zonder respondenten niet getoond (krimp 100%: "
        "een modelvoorspelling)."
        if left_out
        else ""
    )
    return ReportFigure(
        fig,
        alt=(
            "Spreidingsdiagram van de krimp van elke cel (het aandeel van de schatting dat uit "
            "het model komt) tegen het aantal respondenten in de cel: hoe meer respondenten, hoe "
            "minder krimp."
        ),
        note=note,
    )
