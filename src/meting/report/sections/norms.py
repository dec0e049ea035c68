"""The norms section: share "goed" and "niet goed" per BurgerServiceCode norm, the weakest
norms per life event, and the heatmap of both.

Cells with fewer than ``min_n`` respondents who judged a norm are blank and are not ranked
(``weakest`` missing).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from meting import columns as C
from meting.checks import check_min_n
from meting.labels import NORM_NUMBERS, norm_label
from meting.privacy_rules import SUPPRESSED
from meting.report.export import export_table
from meting.report.formatting import (
    EMPTY,
    DutchTable,
    count_plural,
    fmt_pct,
    to_html,
)
from meting.report.plots import (
    COLORS,
    FIG_WIDTH_IN,
    HOUSE_STYLE,
    DutchPercentFormatter,
    ReportFigure,
)
from meting.report.privacy import suppress_small_cells, suppression_note, suppression_reasons
from meting.report.sections._shared import in_name_order, names_of, pct_interval

if TYPE_CHECKING:  # imported on use (SciPy): printing a stored table needs neither
    from meting.design import SurveyDesign

__all__ = [
    "norms_heatmap",
    "norms_html",
    "norms_table",
    "weakest_html",
    "weakest_summary",
    "weakest_table",
]


def norms_table(
    design: SurveyDesign,
    *,
    min_n: int,
    by: str | Sequence[str] | None = None,
    level: float = 0.95,
) -> pd.DataFrame:
    """Share "goed" and "niet goed" per norm (and group), small cells blanked.

    Returns
    -------
    pandas.DataFrame
        Group columns, ``norm``, ``norm_label``, ``goed, goed_lower, goed_upper, niet_goed,
        niet_goed_lower, niet_goed_upper`` (proportions), ``n`` (respondents who judged the
        norm), ``onderdrukt``.
    """
    min_n = check_min_n(min_n)
    by_cols = [by] if isinstance(by, str) else list(by or [])
    from meting.knelpunten.norms import norm_shares

    shares = norm_shares(design, by=by_cols or None, level=level)
    keys = [*by_cols, "norm"]
    cols = ["estimate", "lower", "upper"]
    good = shares.loc[shares["outcome"] == "goed", [*keys, *cols, "n"]]
    bad = shares.loc[shares["outcome"] == "niet goed", [*keys, *cols]]
    good = good.rename(columns=dict(zip(cols, ["goed", "goed_lower", "goed_upper"], strict=True)))
    bad = bad.rename(
        columns=dict(zip(cols, ["niet_goed", "niet_goed_lower", "niet_goed_upper"], strict=True))
    )
    out = good.merge(bad, on=keys, how="left", validate="one_to_one")
    out.insert(len(by_cols) + 1, "norm_label", out["norm"].map(norm_label))
    out = out[[c for c in out.columns if c != "n"] + ["n"]].reset_index(drop=True)
    return suppress_small_cells(
        out,
        min_n,
        value_cols=[
            "goed",
            "goed_lower",
            "goed_upper",
            "niet_goed",
            "niet_goed_lower",
            "niet_goed_upper",
        ],
    )


def norms_html(
    table: pd.DataFrame,
    *,
    reference: pd.DataFrame | None = None,
    caption: str | None = None,
) -> DutchTable:
    """Print a :func:`norms_table` (one group): norm, % goed with interval, % niet goed with
    interval, n; with ``reference`` (the national :func:`norms_table`) a column "landelijk"
    with its share "goed"."""
    out = pd.DataFrame(
        {
            "norm": table["norm_label"],
            "goed": table["goed"],
            "95%-interval goed": pct_interval(table["goed_lower"], table["goed_upper"]),
            "niet goed": table["niet_goed"],
            "95%-interval niet goed": pct_interval(
                table["niet_goed_lower"], table["niet_goed_upper"]
            ),
            "n": table["n"],
        }
    )
    formats: dict = {
        "goed": "pct",
        "niet goed": "pct",
        "95%-interval goed": "text",
        "95%-interval niet goed": "text",
        "n": "int",
    }
    cols: dict = {
        "norm": (table["norm_label"], "tekst"),
        "goed": (table["goed"], "aandeel"),
        "goed_ondergrens": (table["goed_lower"], "aandeel"),
        "goed_bovengrens": (table["goed_upper"], "aandeel"),
    }
    if reference is not None:
        national = reference.set_index("norm")["goed"]
        out.insert(3, "goed landelijk", table["norm"].map(national).to_numpy(dtype=float))
        formats["goed landelijk"] = "pct"
        cols["goed_landelijk"] = (out["goed landelijk"], "aandeel")
    cols |= {
        "niet_goed": (table["niet_goed"], "aandeel"),
        "niet_goed_ondergrens": (table["niet_goed_lower"], "aandeel"),
        "niet_goed_bovengrens": (table["niet_goed_upper"], "aandeel"),
        "n": (table["n"], "aantal"),
        "onderdrukt_reden": (suppression_reasons(table), "tekst"),
    }
    return to_html(
        out,
        formats,
        caption=caption,
        note=suppression_note(table) or None,
        data=export_table(cols),
    )


def weakest_table(
    design: SurveyDesign,
    *,
    min_n: int,
    by: str = C.LIFE_EVENT,
    names: Mapping[str, str] | None = None,
    alpha: float = 0.05,
    level: float = 0.95,
) -> pd.DataFrame:
    """:func:`meting.knelpunten.weakest_norms` per ``by`` with Dutch names; shares of norms
    judged by fewer than ``min_n`` respondents blanked (they are not ranked either).

    Returns
    -------
    pandas.DataFrame
        ``by``, ``naam`` (Dutch name of the group), ``norm, norm_label, estimate, lower,
        upper, n, rank, weakest, onderdrukt``.
    """
    min_n = check_min_n(min_n)
    from meting.knelpunten.norms import weakest_norms

    weak = weakest_norms(design, by=by, alpha=alpha, min_n=min_n, level=level)
    out = weak[[by, "norm", "estimate", "lower", "upper", "n", "rank", "weakest"]].copy()
    out[by] = out[by].astype(str)
    out.insert(1, "naam", names_of(out[by], names))
    out.insert(3, "norm_label", out["norm"].map(norm_label))
    out = in_name_order(out, by, names)  # groups in registry order, norms 1-10 within
    return suppress_small_cells(out, min_n, value_cols=["estimate", "lower", "upper"])


def weakest_summary(weak: pd.DataFrame, by: str = C.LIFE_EVENT) -> pd.DataFrame:
    """One row per group of a :func:`weakest_table`: the lowest norm, its share "goed", the
    other norms that cannot be told apart from it, and the number of norms ranked."""
    ranked = weak.loc[weak["weakest"].notna() & ~weak[SUPPRESSED]]
    flagged = ranked.loc[ranked["weakest"].astype(bool)].sort_values([by, "rank"])
    lowest = flagged.groupby(by, sort=True).first()
    others = (
        flagged.loc[flagged["rank"] > 1]
        .groupby(by)["norm"]
        .agg(lambda s: ", ".join(str(NORM_NUMBERS[v]) for v in s))
    )
    groups = weak.drop_duplicates(by).set_index(by)["naam"]
    out = pd.DataFrame({"naam": groups})
    out["zwakste_norm"] = lowest["norm_label"].reindex(out.index)
    out["aandeel_goed"] = lowest["estimate"].reindex(out.index)
    out["n"] = lowest["n"].reindex(out.index)
    out["ook_zwak"] = others.reindex(out.index)
    out["normen_gerangschikt"] = ranked.groupby(by).size().reindex(out.index).fillna(0)
    out = out.reset_index().reset_index(drop=True)  # the order of the weakest table
    out["normen_gerangschikt"] = out["normen_gerangschikt"].astype(int)
    return out


def weakest_html(summary: pd.DataFrame, *, caption: str | None = None) -> DutchTable:
    """Print a :func:`weakest_summary`."""
    out = pd.DataFrame(
        {
            "levensgebeurtenis": summary["naam"],
            "zwakste norm": summary["zwakste_norm"],
            "aandeel goed": summary["aandeel_goed"],
            "niet te onderscheiden van de zwakste (norm)": summary["ook_zwak"],
            "normen beoordeeld": summary["normen_gerangschikt"],
        }
    )
    formats = {
        "zwakste norm": "text",
        "aandeel goed": "pct",
        "niet te onderscheiden van de zwakste (norm)": "text",
        "normen beoordeeld": "int",
    }
    empty = int((summary["normen_gerangschikt"] == 0).sum())
    note = (
        f"{count_plural(empty, 'levensgebeurtenissen')} zonder norm met genoeg respondenten (–)."
        if empty
        else None
    )
    data = export_table(
        {
            "levensgebeurtenis": (summary["naam"], "tekst"),
            "zwakste_norm": (summary["zwakste_norm"], "tekst"),
            "goed": (summary["aandeel_goed"], "aandeel"),
            "ook_zwak": (summary["ook_zwak"], "tekst"),
            "normen_beoordeeld": (summary["normen_gerangschikt"], "aantal"),
        }
    )
    return to_html(out, formats, caption=caption, note=note, data=data)


def norms_heatmap(weak: pd.DataFrame, *, title: str | None = None) -> ReportFigure:
    """Share "goed" per life event (rows) x norm (columns) from a :func:`weakest_table`; the
    norms flagged weakest are framed and bold, suppressed cells are grey with ``–``."""
    events = list(dict.fromkeys(weak["naam"].astype(str)))  # the table's (registry) order
    norms = [n for n in C.BSC_NORMS if n in set(weak["norm"])]
    grid = weak.pivot_table(index="naam", columns="norm", values="estimate", dropna=False)
    grid = grid.reindex(index=events, columns=norms)
    flag = weak.assign(w=weak["weakest"].fillna(False).astype(bool) & ~weak[SUPPRESSED])
    flags = flag.pivot_table(index="naam", columns="norm", values="w", aggfunc="max")
    flags = flags.reindex(index=events, columns=norms).fillna(False).astype(bool)
    values = grid.to_numpy(dtype=float)
    with mpl.rc_context(HOUSE_STYLE):
        height = max(2.6, 0.3 * len(events) + 2.2)
        fig = Figure(figsize=(FIG_WIDTH_IN, height), layout="constrained")
        ax = fig.add_subplot()
        ax.grid(False)
        cmap = mpl.colormaps["Blues"].with_extremes(bad="#eeeeee")
        image = ax.imshow(np.ma.masked_invalid(values), cmap=cmap, vmin=0, vmax=1, aspect="auto")
        for (i, j), v in np.ndenumerate(values):
            text = EMPTY if np.isnan(v) else fmt_pct(v)
            strong = bool(flags.iat[i, j])
            color = "white" if (not np.isnan(v) and v > 0.6) else "black"
            ax.text(
                j, i, text, ha="center", va="center", fontsize=7, color=color,
                fontweight="bold" if strong else "normal",
            )  # fmt: skip
            if strong:
                ax.add_patch(
                    Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, edgecolor=COLORS["below"],
                              linewidth=1.6)
                )  # fmt: skip
        ax.set_xticks(range(len(norms)), [norm_label(n) for n in norms], rotation=40, ha="right")
        ax.set_yticks(range(len(events)), events)
        ax.tick_params(length=0)
        for side in ("left", "bottom"):
            ax.spines[side].set_visible(False)
        bar = fig.colorbar(image, ax=ax, shrink=0.8, label="aandeel 'goed'")
        bar.ax.yaxis.set_major_formatter(DutchPercentFormatter(xmax=1.0, decimals=0))
        handle = Rectangle((0, 0), 1, 1, fill=False, edgecolor=COLORS["below"], linewidth=1.6)
        fig.legend(
            [handle], ["zwakste norm(en) van de levensgebeurtenis"], loc="outside lower left"
        )
        if title:
            ax.set_title(title)
    small = int(weak[SUPPRESSED].sum())
    note = (
        f"{small} cellen met minder dan {int(weak.attrs.get('min_n', 0))} respondenten niet "
        "getoond (–)."
        if small
        else ""
    )
    alt = f"Heatmap: aandeel 'goed' per norm voor {len(events)} levensgebeurtenissen."
    return ReportFigure(fig, alt=alt, note=note)
