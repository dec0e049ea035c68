"""The chain-view section: organisations, chain and cooperation per life event.

The best organisation of a life event is chosen among the organisations rated by at least
``min_n`` respondents, so no small-cell score is named best; a life event whose chain score rests
on fewer than ``min_n`` respondents is blank.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, cast

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from meting import columns as C
from meting.checks import check_min_n
from meting.privacy_rules import SUPPRESSED
from meting.report import Note
from meting.report.export import export_table
from meting.report.formatting import (
    EMPTY,
    DutchTable,
    count_plural,
    fmt_diff,
    fmt_number,
    fmt_score,
    to_html,
)
from meting.report.plots import (
    COLORS,
    FIG_WIDTH_IN,
    HOUSE_STYLE,
    DutchScalarFormatter,
    ReportFigure,
)
from meting.report.privacy import suppress_small_cells, suppression_note, suppression_reasons
from meting.report.sections._shared import in_name_order, names_of, select

if TYPE_CHECKING:  # imported on use: a report that only prints the stored tables needs neither
    from meting.design import SurveyDesign

__all__ = [
    "chain_headline",
    "chain_html",
    "chain_plot",
    "chain_table",
    "municipality_chain",
]


def chain_table(
    design: SurveyDesign,
    organisations: pd.DataFrame,
    *,
    min_n: int,
    by: str | Sequence[str] = C.LIFE_EVENT,
    names: Mapping[str, str] | None = None,
    organisation_names: Mapping[str, str] | None = None,
    level: float = 0.95,
) -> pd.DataFrame:
    """The chain view per life event: best organisation, all organisations, chain, cooperation
    and the gap best organisation - chain, with small cells left out (see module docstring).

    Returns
    -------
    pandas.DataFrame
        Group columns, ``naam`` (Dutch name of the last group column), ``beste_organisatie``,
        ``best_score, organisations_score, chain_score, cooperation_score, gap, gap_lower,
        gap_upper``, ``n`` (respondents with a chain score), ``onderdrukt``.  Sorted by
        ``chain_score`` (lowest first).
    """
    min_n = check_min_n(min_n)
    by_cols = [by] if isinstance(by, str) else list(by)
    from scipy import stats

    from meting.knelpunten.chain import ITEM_CHAIN, ITEM_COOPERATION, ITEM_ORGANISATIONS, chain_view

    view = chain_view(design, organisations, by=by_cols, level=level)
    is_org = view["kind"] == "organisatie"
    view = view.loc[~is_org | (view["n"] >= min_n)].copy()
    org = view.loc[view["kind"] == "organisatie"]
    best = pd.Series(False, index=view.index)
    if not org.empty:
        best.loc[org.groupby(by_cols, sort=False)["estimate"].idxmax().to_numpy()] = True
    view["is_best"] = best
    # the gap of the best organisation (chain_gaps assumes every group has one; here a group
    # whose organisations are all small keeps its chain and cooperation row)
    top = view.loc[view["is_best"], [*by_cols, "item", "estimate", "gap_to_chain", "gap_se", "df"]]
    q = stats.t.ppf(0.5 + level / 2, top["df"].to_numpy(dtype=float))
    top = top.assign(
        gap_lower=top["gap_to_chain"] - q * top["gap_se"],
        gap_upper=top["gap_to_chain"] + q * top["gap_se"],
    ).rename(columns={"item": "best_organisation", "estimate": "best_score", "gap_to_chain": "gap"})
    top = top.drop(columns=["gap_se", "df"])
    base = view.loc[view["item"] == ITEM_CHAIN, [*by_cols, "estimate", "n"]]
    base = base.rename(columns={"estimate": "chain_score"})
    coop = view.loc[view["item"] == ITEM_COOPERATION, [*by_cols, "estimate", "n"]]
    coop = coop.assign(estimate=coop["estimate"].where(coop["n"] >= min_n)).drop(columns="n")
    orgs = view.loc[view["item"] == ITEM_ORGANISATIONS, [*by_cols, "estimate", "n"]]
    orgs = orgs.rename(columns={"estimate": "organisations_score", "n": "n_org"})
    out = base.merge(coop.rename(columns={"estimate": "cooperation_score"}), on=by_cols, how="left")
    out = out.merge(orgs, on=by_cols, how="left").merge(top, on=by_cols, how="left")
    out.loc[out["n_org"] < min_n, "organisations_score"] = np.nan
    out = out.drop(columns="n_org")
    for col in by_cols:
        out[col] = out[col].astype(str)
    out.insert(len(by_cols), "naam", names_of(out[by_cols[-1]], names))
    out.insert(
        len(by_cols) + 1,
        "beste_organisatie",
        out["best_organisation"].map(
            lambda v: EMPTY if pd.isna(v) else (organisation_names or {}).get(str(v), str(v))
        ),
    )
    out = out.drop(columns="best_organisation")
    out = out[[c for c in out.columns if c != "n"] + ["n"]]
    out = in_name_order(out, by_cols[-1], names)  # registry order, as every report table
    values = ["best_score", "organisations_score", "chain_score", "cooperation_score", "gap",
              "gap_lower", "gap_upper"]  # fmt: skip
    shown = suppress_small_cells(out, min_n, value_cols=values)
    shown.loc[shown[SUPPRESSED], "beste_organisatie"] = EMPTY
    return shown.reset_index(drop=True)


def municipality_chain(
    design: SurveyDesign,
    organisations: pd.DataFrame | None,
    code: str,
    *,
    min_n: int,
    names: Mapping[str, str] | None = None,
    organisation_names: Mapping[str, str] | None = None,
    level: float = 0.95,
) -> pd.DataFrame | None:
    """:func:`chain_table` per life event within one municipality (None without organisation
    ratings); life events of the municipality below ``min_n`` are blank."""
    if organisations is None:
        return None
    table = chain_table(
        design,
        organisations,
        min_n=min_n,
        by=[C.MUNICIPALITY, C.LIFE_EVENT],
        names=names,
        organisation_names=organisation_names,
        level=level,
    )
    return select(table, C.MUNICIPALITY, code)


def chain_headline(
    design: SurveyDesign, organisations: pd.DataFrame, *, level: float = 0.95
) -> Note:
    """The national comparison in one Dutch sentence: organisations (pooled) against chains."""
    from scipy import stats

    from meting.knelpunten.chain import ITEM_CHAIN, ITEM_ORGANISATIONS, chain_view

    view = chain_view(design, organisations, by=None, level=level)
    row = view.set_index("item")
    org, chain = row.loc[ITEM_ORGANISATIONS], row.loc[ITEM_CHAIN]
    q = float(stats.norm.ppf(0.5 + level / 2))
    lo, hi = org["gap_to_chain"] - q * org["gap_se"], org["gap_to_chain"] + q * org["gap_se"]
    text = (
        f"Landelijk krijgen de organisaties gemiddeld een {fmt_score(cast(float, org['estimate']))} "
        f"en de ketens een {fmt_score(cast(float, chain['estimate']))}: een verschil van "
        f"{fmt_diff(cast(float, org['gap_to_chain']))} punt (95%-interval "
        f"{fmt_diff(cast(float, lo))} tot {fmt_diff(cast(float, hi))}). "
        f"In 2008 was dat 7,0 tegen 6,7."
    )
    import html

    return Note(f"<p>{html.escape(text)}</p>")


def chain_html(table: pd.DataFrame, *, caption: str | None = None) -> DutchTable:
    """Print a :func:`chain_table` (the best organisation with its mark in one column, the gap
    with its interval in another, so the table fits an A4 page)."""
    best = [
        EMPTY if pd.isna(v) else f"{org} ({fmt_score(v)})"
        for org, v in zip(table["beste_organisatie"], table["best_score"], strict=True)
    ]
    gap = [
        EMPTY if pd.isna(g) else f"{fmt_diff(g)} ({fmt_diff(lo)} tot {fmt_diff(hi)})"
        for g, lo, hi in zip(table["gap"], table["gap_lower"], table["gap_upper"], strict=True)
    ]
    out = pd.DataFrame(
        {
            "levensgebeurtenis": table["naam"],
            "keten": table["chain_score"],
            "samen­werking": table["cooperation_score"],
            "organisaties samen": table["organisations_score"],
            "beste organisatie (cijfer)": best,
            "beste min keten (95%-interval)": gap,
            "n": table["n"],
        }
    )
    formats = {
        "keten": "score",
        "samen­werking": "score",
        "organisaties samen": "score",
        "beste organisatie (cijfer)": "text",
        "beste min keten (95%-interval)": "text",
        "n": "int",
    }
    data = export_table(
        {
            "levensgebeurtenis": (table["naam"], "tekst"),
            "keten": (table["chain_score"], "cijfer"),
            "samenwerking": (table["cooperation_score"], "cijfer"),
            "organisaties_samen": (table["organisations_score"], "cijfer"),
            "beste_organisatie": (
                table["beste_organisatie"].where(table["best_score"].notna()),
                "tekst",
            ),
            "beste_organisatie_cijfer": (table["best_score"], "cijfer"),
            "beste_min_keten": (table["gap"], "verschil"),
            "beste_min_keten_ondergrens": (table["gap_lower"], "verschil"),
            "beste_min_keten_bovengrens": (table["gap_upper"], "verschil"),
            "n": (table["n"], "aantal"),
            "onderdrukt_reden": (suppression_reasons(table), "tekst"),
        }
    )
    return to_html(out, formats, caption=caption, note=suppression_note(table) or None, data=data)


def chain_plot(
    table: pd.DataFrame, *, target: float = 7.0, title: str | None = None
) -> ReportFigure:
    """Per life event (rows, by chain score): the chain, the cooperation, all organisations and
    the best organisation as dots, a line from the chain to the best organisation, the target."""
    shown = table.loc[~table[SUPPRESSED]].iloc[::-1]  # the table's order, first row on top
    y = np.arange(len(shown))
    series = (
        ("chain_score", "keten", COLORS["accent"], "o"),
        ("cooperation_score", "samenwerking", COLORS["below"], "s"),
        ("organisations_score", "organisaties samen", COLORS["neutral"], "D"),
        ("best_score", "beste organisatie", COLORS["above"], "^"),
    )
    with mpl.rc_context(HOUSE_STYLE):
        fig = Figure(figsize=(FIG_WIDTH_IN, max(2.4, 0.3 * len(shown) + 1.4)), layout="constrained")
        ax = fig.add_subplot()
        ax.hlines(
            y, shown["chain_score"], shown["best_score"], color="#bbbbbb", linewidth=2.2, zorder=1
        )
        handles = []
        for col, label, color, marker in series:
            ax.scatter(shown[col], y, color=color, marker=marker, s=24, zorder=3)
            handles.append(Line2D([], [], color=color, marker=marker, linestyle="", label=label))
        ax.axvline(target, color=COLORS["target"], linewidth=1.0, linestyle="--", zorder=0)
        t = fmt_number(target, 0) if float(target).is_integer() else fmt_number(target, 1)
        handles.append(Line2D([], [], color="black", linestyle="--", label=f"doel: {t}"))
        ax.set_yticks(y, shown["naam"].tolist())
        ax.set_ylim(-0.7, max(len(shown) - 0.3, 0.7))
        ax.xaxis.set_major_formatter(DutchScalarFormatter())
        ax.set_xlabel("rapportcijfer (1-10)")
        if title:
            ax.set_title(title)
        fig.legend(handles=handles, loc="outside lower center", ncol=len(handles))
    small = int(table[SUPPRESSED].sum())
    min_n = int(table.attrs.get("min_n", 0))
    note = (
        f"{count_plural(small, 'levensgebeurtenissen')} met minder dan {min_n} respondenten "
        "niet getoond."
        if small
        else ""
    )
    alt = f"Ketenbeeld: keten, samenwerking en organisaties voor {len(shown)} levensgebeurtenissen."
    return ReportFigure(fig, alt=alt, note=note)
