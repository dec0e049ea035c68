"""The TRI*M section: the index per municipality with its interval, beside the national index."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from meting import columns as C
from meting.checks import check_min_n
from meting.privacy_rules import SUPPRESSED
from meting.report.export import export_table
from meting.report.formatting import (
    DutchTable,
    count_noun,
    fmt_ci,
    fmt_int,
    fmt_number,
    html_text,
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
from meting.report.sections._shared import in_name_order, names_of, score_interval

if TYPE_CHECKING:  # imported on use (SciPy): printing a stored table needs neither
    from meting.design import SurveyDesign

__all__ = [
    "MAX_TRIM_ROWS",
    "trim_html",
    "trim_peers",
    "trim_plot",
    "trim_table",
]

#: Most municipalities that a municipality report's TRI*M figure and table show; with more in the
#: wave (a national wave: over 400) they show the municipality among those of its province.
MAX_TRIM_ROWS = 25


def trim_table(
    design: SurveyDesign,
    *,
    min_n: int,
    names: Mapping[str, str] | None = None,
    level: float = 0.95,
) -> pd.DataFrame:
    """TRI*M index per municipality with interval, small cells blanked; ``attrs["national"]``
    holds the national index (estimate, lower, upper, n).

    Returns
    -------
    pandas.DataFrame
        ``municipality, naam, estimate, lower, upper, n, onderdrukt``, highest first.
    """
    min_n = check_min_n(min_n)
    from meting.knelpunten.trim import trim_index

    per = trim_index(design, by=C.MUNICIPALITY, level=level)
    national = trim_index(design, by=None, level=level)
    out = per[[C.MUNICIPALITY, "estimate", "lower", "upper", "n"]].copy()
    out[C.MUNICIPALITY] = out[C.MUNICIPALITY].astype(str)
    out.insert(1, "naam", names_of(out[C.MUNICIPALITY], names))
    out = in_name_order(out, C.MUNICIPALITY, names)  # registry order, as every report table
    shown = suppress_small_cells(out, min_n, value_cols=["estimate", "lower", "upper"])
    nat = national.iloc[0]
    shown.attrs["national"] = {k: float(nat[k]) for k in ("estimate", "lower", "upper", "n")}
    return shown


def trim_html(
    table: pd.DataFrame, *, highlight: str | None = None, caption: str | None = None
) -> DutchTable:
    """Print a :func:`trim_table` with the national index as the last row (``highlight``: a
    municipality code whose name is marked with ``▶``)."""
    nat = table.attrs.get("national")
    names = table["naam"].astype(str)
    if highlight is not None:
        names = names.where(table[C.MUNICIPALITY] != highlight, "▶ " + names)
    out = pd.DataFrame(
        {
            "gemeente": names,
            "TRI*M-index": table["estimate"],
            "95%-interval": score_interval(table["lower"], table["upper"]),
            "n": table["n"],
        }
    )
    if nat is not None:
        row = {
            "gemeente": "Nederland (alle gemeenten in de steekproef)",
            "TRI*M-index": nat["estimate"],
            "95%-interval": fmt_ci(nat["lower"], nat["upper"]),
            "n": int(nat["n"]),
        }
        out = pd.concat([out, pd.DataFrame([row])], ignore_index=True)
    out["n"] = out["n"].astype(np.int64)
    formats = {"gemeente": "text", "TRI*M-index": "score", "95%-interval": "text", "n": "int"}
    codes = table[C.MUNICIPALITY].astype(str).tolist()
    reasons = suppression_reasons(table).tolist()
    lower, upper = table["lower"].tolist(), table["upper"].tolist()
    if nat is not None:
        codes, reasons = [*codes, ""], [*reasons, ""]
        lower, upper = [*lower, nat["lower"]], [*upper, nat["upper"]]
    data = export_table(
        {
            "gemeente": (
                [*table["naam"].astype(str), *([] if nat is None else [out["gemeente"].iloc[-1]])],
                "tekst",
            ),
            "gemeentecode": (codes, "tekst"),
            "trim_index": (out["TRI*M-index"], "cijfer"),
            "trim_index_ondergrens": (lower, "cijfer"),
            "trim_index_bovengrens": (upper, "cijfer"),
            "n": (out["n"], "aantal"),
            "onderdrukt_reden": (reasons, "tekst"),
        }
    )
    return to_html(out, formats, caption=caption, note=suppression_note(table) or None, data=data)


def trim_plot(
    table: pd.DataFrame, *, highlight: str | None = None, title: str | None = None
) -> ReportFigure:
    """The TRI*M index per municipality with intervals, a dashed line at the national index;
    ``highlight`` (a municipality code) drawn in a second colour."""
    shown = table.loc[~table[SUPPRESSED]].iloc[::-1]  # the table's order, first row on top
    y = np.arange(len(shown))
    mine = (shown[C.MUNICIPALITY] == highlight).to_numpy() if highlight else np.zeros(len(y), bool)
    colors = np.where(mine, COLORS["second"], COLORS["accent"])
    nat = table.attrs.get("national")
    with mpl.rc_context(HOUSE_STYLE):
        fig = Figure(
            figsize=(FIG_WIDTH_IN, max(2.4, 0.27 * len(shown) + 1.3)), layout="constrained"
        )
        ax = fig.add_subplot()
        ax.hlines(y, shown["lower"], shown["upper"], colors=list(colors), linewidth=1.6)
        ax.scatter(shown["estimate"], y, c=list(colors), s=22, zorder=3)
        handles = []
        if nat is not None:
            ax.axvline(nat["estimate"], color=COLORS["target"], linewidth=1.0, linestyle="--")
            label = f"landelijk: {fmt_number(nat['estimate'], 1)}"
            handles.append(Line2D([], [], color="black", linestyle="--", label=label))
        if mine.any():
            handles.append(
                Line2D(
                    [], [], color=COLORS["second"], marker="o", label=shown["naam"][mine].iloc[0]
                )
            )
        ax.set_yticks(y, shown["naam"].astype(str).tolist())
        ax.set_ylim(-0.7, max(len(shown) - 0.3, 0.7))
        ax.xaxis.set_major_formatter(DutchScalarFormatter())
        ax.set_xlabel("TRI*M-index (0-100), met 95%-interval")
        if title:
            ax.set_title(title)
        if handles:
            fig.legend(handles=handles, loc="outside lower center", ncol=len(handles))
    small = int(table[SUPPRESSED].sum())
    min_n = int(table.attrs.get("min_n", 0))
    note = (
        f"{count_noun(small, 'gemeente', 'gemeenten')} met minder dan {min_n} respondenten niet "
        "getoond."
        if small
        else ""
    )
    return ReportFigure(fig, alt=f"TRI*M-index van {len(shown)} gemeenten.", note=note)


def trim_peers(
    table: pd.DataFrame,
    code: str,
    provinces: Mapping[str, str],
    *,
    max_rows: int = MAX_TRIM_ROWS,
) -> tuple[pd.DataFrame, str]:
    """The rows of a :func:`trim_table` that one municipality's report shows, and a sentence
    (HTML) with the municipality's place among all municipalities with enough respondents.

    With at most ``max_rows`` municipalities the table is shown whole. With more (a national
    wave), the municipality is shown among the municipalities of its province (``provinces``:
    code -> province); where the province has more than ``max_rows``, among the ``max_rows``
    nearest to it in the province's order by index. Where ``provinces`` does not give the province
    of every municipality in the table (the national parameters know it for a few), the
    ``max_rows`` nearest by index among all are shown instead: a province of which a handful is
    known is not "the province". The national index stays in the table's
    ``attrs``; the place is counted over every municipality with an index (the suppressed have
    none), ties share the better place.
    """
    ranked = table.loc[~table[SUPPRESSED]]
    mine = table.loc[table[C.MUNICIPALITY] == code]
    name = str(mine["naam"].iloc[0]) if len(mine) else code
    if len(mine) and not bool(mine[SUPPRESSED].iloc[0]):
        value = float(mine["estimate"].iloc[0])
        place = int((ranked["estimate"] > value).sum()) + 1
        sentence = (
            f"{html_text(name)} staat met een TRI*M-index van {fmt_number(value, 1)} op plaats "
            f"{fmt_int(place)} van de {fmt_int(len(ranked))} gemeenten met genoeg respondenten; "
            "de intervallen van naburige plaatsen overlappen meestal, dus die plaats is onzeker."
        )
    else:
        sentence = f"{html_text(name)} heeft te weinig respondenten voor een TRI*M-index."
    if len(table) <= max_rows:
        return table, f"<p>{sentence}</p>"
    codes = table[C.MUNICIPALITY].astype(str)
    province = provinces.get(code, "") if all(provinces.get(c) for c in codes) else ""
    same = table[C.MUNICIPALITY].astype(str).map(lambda c: provinces.get(c, "") == province)
    peers = table.loc[same.to_numpy() & bool(province)]
    shown_what = f"de gemeenten van de provincie {html_text(province)}"
    if len(peers) > max_rows or not province:
        pool = peers if province else table
        if len(mine) and not bool(mine[SUPPRESSED].iloc[0]):
            pool = pool.loc[~pool[SUPPRESSED]]  # the nearest by index: those that have one
        order = pool.sort_values("estimate", ascending=False, na_position="last", kind="stable")
        at = int(np.flatnonzero(order[C.MUNICIPALITY].to_numpy() == code)[0]) if len(mine) else 0
        start = min(max(at - max_rows // 2, 0), max(len(order) - max_rows, 0))
        keep = set(order[C.MUNICIPALITY].iloc[start : start + max_rows])
        peers = pool.loc[pool[C.MUNICIPALITY].isin(keep)]
        where = f"in de provincie {html_text(province)}" if province else "in de meting"
        shown_what = f"de {len(peers)} gemeenten {where} die qua index het dichtst bij {html_text(name)} liggen"
    out = peers.copy()
    out.attrs = dict(table.attrs)
    return out, (
        f"<p>{sentence} Figuur en tabel tonen {shown_what}, naast het landelijke cijfer; "
        "het bestand bij de tabel bevat dezelfde rijen.</p>"
    )
