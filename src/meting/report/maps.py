"""Report maps: the small-area chain mark per municipality (wave report) and a locator map
(municipality report), drawn on the municipal division of the wave's reference date.

The boundaries come from :mod:`meting.geo` (cached per year in the process); the codes of a table
are mapped to that division with the dated code changes in ``params/``
(:func:`meting.comparison.map_municipality_codes`), so a municipality that merged lands on the
polygon of the municipality it became. Every municipality of the division is one matplotlib
``PathPatch`` (``gid`` = its CBS code), so a figure can be checked polygon by polygon.

Both functions return a :class:`~meting.report.plots.ReportFigure` (embedded PNG, alt text, a
Dutch note underneath) in the house style of :mod:`meting.report.plots`; the verdict of a
municipality is shown by the marker shapes of the forest plots, so it reads without colour.
"""

from __future__ import annotations

import datetime as dt
import math
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Final

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib.colors import Colormap, TwoSlopeNorm
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, PathPatch
from matplotlib.path import Path

from meting import columns as C
from meting import geo
from meting.checks import check_min_n
from meting.errors import ReportError
from meting.report.formatting import fmt_date, fmt_number
from meting.report.map_labels import place_labels
from meting.report.plots import (
    COLORS,
    FIG_WIDTH_IN,
    HOUSE_STYLE,
    VERDICT_MARKERS,
    ReportFigure,
    verdict_classes,
)
from meting.report.privacy import DEFAULT_MIN_CELL_SIZE, SUPPRESSED, assert_no_identifiers
from meting.report.publication import caution_rows
from meting.report.summary import count_noun

if TYPE_CHECKING:
    import geopandas
    from matplotlib.axes import Axes

    from meting.comparison import CodeMapper

__all__ = [
    "CMAP",
    "HATCH_SUPPRESSED",
    "HATCH_UNRELIABLE",
    "MAX_MAP_NAMES",
    "locator_map",
    "municipality_map",
]

#: Diverging colour scale of the chain mark (red below the target, blue above; colour-blind safe).
CMAP: Final = "RdBu"
#: Hatch of a municipality whose value is not shown (fewer respondents than the minimum).
HATCH_SUPPRESSED: Final = "////"
#: Hatch over the municipalities of a fit that failed its convergence checks.
HATCH_UNRELIABLE: Final = "...."
BLANK_EDGE: Final = "#c8c8c8"  # outline of a municipality outside the sample
SAMPLE_EDGE: Final = "#333333"  # outline of a municipality in the sample
HATCH_COLOR: Final = "#555555"
LOCATOR_FILL: Final = "#e3e3e3"
MAP_HEIGHT_IN: Final = 5.6
#: Above this many municipalities in the sample (a national wave) the map shows no names and
#: smaller markers: hundreds of names on an A4 map are unreadable, the tables give them.
MAX_MAP_NAMES: Final = 40

# Categories of a polygon on the choropleth.
_BLANK, _SUPPRESSED, _SHOWN = "blank", "suppressed", "shown"


def _division_of(registry: CodeMapper, wave: str) -> tuple[dt.date, int]:
    """The wave's reference date and the year of the division that holds on it."""
    if wave not in registry.waves:
        raise ReportError(
            f"wave must be a wave label in the registry; got {wave!r}. Known waves: "
            f"{sorted(registry.waves)}."
        )
    on = registry.waves[wave].reference_date
    return on, geo.year_of_division(on)


def _division_text(year: int, on: dt.date) -> str:
    text = f"gemeentelijke indeling van {fmt_date(dt.date(year, 1, 1))}"
    if year < on.year:  # clipped to the newest shipped division
        text += f" (de nieuwste meegeleverde; peildatum {fmt_date(on)})"
    return text


@lru_cache(maxsize=len(geo.YEARS))
def _paths(year: int) -> tuple[Path, ...]:
    """The matplotlib path of every municipality of the division (in :func:`geo.boundaries`
    order), one compound path per (Multi)Polygon; built once per year and process."""
    from shapely.plotting import patch_from_polygon

    return tuple(patch_from_polygon(g).get_path() for g in geo.boundaries(year).geometry)


def _patches(ax: Axes, year: int, codes: pd.Series, styles: list[dict[str, Any]]) -> None:
    """One PathPatch per municipality of the division (``gid`` = its code), in the order of
    :func:`geo.boundaries`, with the matplotlib keywords in ``styles``."""
    for code, path, style in zip(codes, _paths(year), styles, strict=True):
        patch = PathPatch(path, gid=str(code), **style)
        if style.get("hatch"):
            patch.set_hatchcolor(HATCH_COLOR)
        ax.add_artist(patch)  # not add_patch: the limits are set once, from the frame (3x faster)


def _frame_axes(ax: Axes, frame: geopandas.GeoDataFrame) -> None:
    xmin, ymin, xmax, ymax = frame.total_bounds
    pad = 0.01 * (xmax - xmin)
    ax.set_xlim(xmin - pad, xmax + pad)
    ax.set_ylim(ymin - pad, ymax + pad)
    ax.set_aspect("equal")
    ax.set_axis_off()


def _codes_on_division(
    table: pd.DataFrame, registry: CodeMapper, on: dt.date, key: str
) -> pd.Series:
    from meting.comparison import REASON_MERGED, map_municipality_codes

    mapped = map_municipality_codes(table[key].astype("string"), registry, on)
    twice = mapped[mapped.duplicated(keep=False) & mapped.notna()]
    if len(twice):
        code = twice.iloc[0]
        olds = sorted(table.loc[twice.index[twice == code], key].astype(str))
        raise ReportError(
            f"a map has one value per municipality; the table has {len(olds)} rows ({olds}) for "
            f"{code} after mapping the codes to {on.isoformat()}: "
            + REASON_MERGED.format(date=fmt_date(on))
            + "."
        )
    return mapped


def _scale(values: np.ndarray, target: float) -> tuple[float, float]:
    """A range symmetric about the target, in steps of 0.5 (at least target +- 0.5)."""
    deviation = float(np.nanmax(np.abs(values - target))) if values.size else 0.0
    half = max(0.5, math.ceil(deviation / 0.5 - 1e-9) * 0.5)
    return target - half, target + half


def _marker_style(cls: str) -> dict[str, Any]:
    """Marker of a verdict class: the forest plots' shape, black (open for no verdict)."""
    return {
        "marker": VERDICT_MARKERS[cls],
        "markerfacecolor": "white" if cls == "none" else "black",
        "markeredgecolor": "black" if cls == "none" else "white",
    }


def _verdict_markers(
    ax: Axes, frame: geopandas.GeoDataFrame, rows: pd.DataFrame, label: str
) -> None:
    """The verdict marker (``gid`` ``oordeel:<code>``) of every coloured municipality and the
    name of every municipality in the sample, at a point inside it (no names and smaller markers
    above :data:`MAX_MAP_NAMES` municipalities)."""
    points = frame.set_index("municipality").geometry.representative_point()
    sample = rows.loc[rows["map_category"] != _BLANK]
    x = [float(points[c].x) for c in sample["map_code"]]
    y = [float(points[c].y) for c in sample["map_code"]]
    named = len(sample) <= MAX_MAP_NAMES
    for px, py, code, category, cls in zip(
        x, y, sample["map_code"], sample["map_category"], sample["map_verdict"], strict=True
    ):
        if category == _SHOWN:
            ax.plot(
                [px], [py], linestyle="none", markersize=6.5 if named else 3.2,
                markeredgewidth=0.8 if named else 0.4, zorder=4,
                gid=f"oordeel:{code}", **_marker_style(cls),
            )  # fmt: skip
    if named:
        place_labels(ax, x, y, sample[label].astype(str).tolist())


def _legend_handles(
    rows: pd.DataFrame,
    shown: pd.DataFrame,
    legend_text: dict[str, str],
    min_n: int,
    no_value: pd.Series,
    unreliable: bool,
) -> list[Line2D | Patch]:
    """The legend: the verdict shapes present, then the blank, hatched and dotted polygons."""
    handles: list[Line2D | Patch] = [
        Line2D(
            [],
            [],
            linestyle="none",
            markersize=6.5,
            label=legend_text[cls],
            **{**_marker_style(cls), "markeredgecolor": "black"},
        )  # fmt: skip
        for cls in ("above", "neutral", "below", "none")
        if (shown["map_verdict"] == cls).any()
    ]
    handles.append(
        Patch(facecolor="none", edgecolor=BLANK_EDGE, linewidth=0.8,
              label="niet in de steekproef (geen kleur)")
    )  # fmt: skip
    if (rows["map_category"] == _SUPPRESSED).any():
        reason = f"minder dan {min_n} respondenten" + (
            " of geen schatting" if no_value.any() else ""
        )
        handles.append(
            Patch(facecolor="none", edgecolor=SAMPLE_EDGE, hatch=HATCH_SUPPRESSED,
                  linewidth=0.6, label=f"niet getoond: {reason}")
        )  # fmt: skip
    if unreliable and len(shown):
        handles.append(
            Patch(facecolor="none", edgecolor=SAMPLE_EDGE, hatch=HATCH_UNRELIABLE,
                  linewidth=0.6, label="modelcontrole niet gehaald: onzeker")
        )  # fmt: skip
    return handles


def _ticks(vmin: float, vmax: float, target: float) -> list[float]:
    """Colour bar ticks: the ends, the target and the whole and half marks between them."""
    inner = np.arange(math.ceil(vmin * 2) / 2, vmax + 1e-9, 0.5)
    return sorted({vmin, vmax, target, *(float(t) for t in inner)})


def _choropleth_style(
    category: str, value: float | None, cmap: Colormap, norm: TwoSlopeNorm, unreliable: bool
) -> dict[str, Any]:
    """The patch keywords of a municipality on the choropleth."""
    if category == _BLANK:
        return {"facecolor": "none", "edgecolor": BLANK_EDGE, "linewidth": 0.3, "zorder": 1}
    style: dict[str, Any] = {"edgecolor": SAMPLE_EDGE, "linewidth": 0.6, "zorder": 2}
    if category == _SUPPRESSED:
        return {**style, "facecolor": "none", "hatch": HATCH_SUPPRESSED}
    style["facecolor"] = cmap(norm(float(value) if value is not None else math.nan))
    return {**style, "hatch": HATCH_UNRELIABLE} if unreliable else style


def municipality_map(
    table: pd.DataFrame,
    *,
    registry: CodeMapper,
    wave: str,
    label: str = "naam",
    estimate: str = "estimate",
    n: str = "n",
    target: float = 7.0,
    min_n: int = DEFAULT_MIN_CELL_SIZE,
    unreliable: bool = False,
    title: str | None = None,
    what: str = "het ketencijfer",
) -> ReportFigure:
    """Choropleth of a per-municipality estimate (the small-area chain mark of
    :func:`meting.pipeline.sae_by`), on the division of ``wave``'s reference date.

    - Colour: a diverging scale (:data:`CMAP`) centred on the target (``TwoSlopeNorm``), its
      range symmetric about the target.
    - Verdict: a marker at a point inside each municipality, shaped and filled as in the forest
      plots (:data:`~meting.report.plots.VERDICT_MARKERS`, from the table's ``verdict``), so the
      verdict reads without colour.
    - Municipalities without respondents in the table, or not in it, are outlined in light grey
      without fill ("niet in de steekproef").
    - Municipalities with fewer than ``min_n`` respondents (or flagged ``onderdrukt``, or without
      an estimate) get no colour and no marker, only a hatch (:data:`HATCH_SUPPRESSED`).
    - ``unreliable`` (a fit that failed its convergence checks) hatches every coloured
      municipality with :data:`HATCH_UNRELIABLE`, explained in the legend.

    Parameters
    ----------
    table
        One row per municipality: ``municipality`` (CBS code as in the wave's data), ``label``,
        ``estimate``, ``n`` and, for the markers, ``verdict`` (or ``lower``/``upper``).
    registry
        The registry (:class:`meting.registry.Registry`): the waves and the dated code changes.
    wave
        The wave label; its reference date picks the division (:func:`meting.geo.year_of_division`)
        and the date the codes are mapped to.
    label, estimate, n
        Columns of the names (for the alt text), the value and the respondent count.
    target, min_n
        The cabinet's target and the minimum cell size (``settings``).
    unreliable
        True when the model fit failed its checks (``not sae.diagnostics.trustworthy``).
    title
        The title printed above the map.
    what
        What the value is, for the alt text (``"het ketencijfer"``).

    Raises
    ------
    ReportError
        When a column is missing (``verdict``, or else ``lower`` and ``upper``), ``min_n`` is not
        a positive integer, or two rows land on one municipality of the division (a merger
        inside the table: estimate on the new division first).
    """
    assert_no_identifiers(table, where="a table to map")
    min_n = check_min_n(min_n, "the minimum cell size", error=ReportError)
    verdict_columns = ["verdict"] if "verdict" in table.columns else ["lower", "upper"]
    needed = (C.MUNICIPALITY, label, estimate, n, *verdict_columns)
    missing = [c for c in needed if c not in table.columns]
    if missing:
        raise ReportError(
            f"a mapped table must have the columns {missing}; got columns "
            f"{[str(c) for c in table.columns]}."
        )
    on, year = _division_of(registry, wave)
    frame = geo.boundaries(year)
    rows = table.reset_index(drop=True)
    rows["map_code"] = _codes_on_division(rows, registry, on, C.MUNICIPALITY)
    known = set(frame["municipality"])
    off_map = rows.loc[~rows["map_code"].isin(known)]
    rows = rows.loc[rows["map_code"].isin(known)].reset_index(drop=True)

    counts = pd.to_numeric(rows[n], errors="coerce").fillna(0.0)
    values = pd.to_numeric(rows[estimate], errors="coerce")
    flagged = (
        rows[SUPPRESSED].fillna(False).astype(bool)
        if SUPPRESSED in rows
        else pd.Series(False, index=rows.index)
    )
    small = (counts < min_n) | flagged
    no_value = values.isna() & ~small
    category = np.where(counts <= 0, _BLANK, np.where(small | values.isna(), _SUPPRESSED, _SHOWN))
    rows["map_category"] = category
    verdict, legend_text = verdict_classes(rows, "lower", "upper", target)
    rows["map_verdict"] = verdict
    shown = rows.loc[rows["map_category"] == _SHOWN]

    vmin, vmax = _scale(shown[estimate].to_numpy(dtype=float), target)
    norm = TwoSlopeNorm(vcenter=target, vmin=vmin, vmax=vmax)
    cmap = mpl.colormaps[CMAP]
    by_code = rows.set_index("map_code")
    category_of = by_code["map_category"].to_dict()
    value_of = by_code[estimate].astype(float).to_dict()
    styles = [
        _choropleth_style(category_of.get(code, _BLANK), value_of.get(code), cmap, norm, unreliable)
        for code in frame["municipality"]
    ]

    with mpl.rc_context(HOUSE_STYLE):
        fig = Figure(figsize=(FIG_WIDTH_IN, MAP_HEIGHT_IN))
        ax = fig.add_axes((0.0, 0.035, 0.6, 0.9))
        _patches(ax, year, frame["municipality"], styles)
        _frame_axes(ax, frame)
        _verdict_markers(ax, frame, rows, label)
        bar = fig.colorbar(
            mpl.cm.ScalarMappable(norm=norm, cmap=cmap), cax=fig.add_axes((0.62, 0.56, 0.025, 0.3))
        )
        ticks = _ticks(vmin, vmax, target)
        bar.set_ticks(
            ticks, labels=[fmt_number(t, 1) + (" = doel" if t == target else "") for t in ticks]
        )
        bar.ax.set_title("ketencijfer", loc="left", fontsize=8, fontweight="normal")
        bar.ax.axhline(target, color="black", linewidth=1.0)
        bar.outline.set_linewidth(0.5)
        fig.legend(
            handles=_legend_handles(rows, shown, legend_text, min_n, no_value, unreliable),
            loc="upper left", bbox_to_anchor=(0.6, 0.5), title="toelichting",
            alignment="left", handlelength=1.6,
        )  # fmt: skip
        if title:
            fig.text(0.01, 0.985, title, fontsize=10, fontweight="bold", va="top", parse_math=False)
        fig.text(0.01, 0.005, geo.CREDIT, fontsize=6.5, color="#555555", ha="left", va="bottom")

    division = _division_text(year, on)
    alt = _map_alt(rows, off_map, frame, label, estimate, legend_text, min_n, division, what)
    note = _map_note(rows, off_map, frame, min_n, division, unreliable)
    return ReportFigure(fig, alt=alt, note=note)


def _range_text(shown: pd.DataFrame, label: str, estimate: str) -> str:
    if shown.empty:
        return "geen modelschattingen getoond"
    ordered = shown.sort_values(estimate, kind="stable")
    low, high = ordered.iloc[0], ordered.iloc[-1]
    if len(shown) == 1:
        return f"modelschatting {fmt_number(low[estimate], 1)} ({low[label]})"
    return (
        f"modelschattingen van {fmt_number(low[estimate], 1)} ({low[label]}) tot "
        f"{fmt_number(high[estimate], 1)} ({high[label]})"
    )


def _map_alt(
    rows: pd.DataFrame,
    off_map: pd.DataFrame,
    frame: pd.DataFrame,
    label: str,
    estimate: str,
    legend_text: dict[str, str],
    min_n: int,
    division: str,
    what: str,
) -> str:
    sample = rows.loc[rows["map_category"] != _BLANK]
    shown = rows.loc[rows["map_category"] == _SHOWN]
    parts = [
        f"Kaart van Nederland ({division}, {count_noun(len(frame), 'gemeente', 'gemeenten')}) "
        f"met de modelschatting van {what} per gemeente",
        f"{count_noun(len(sample), 'gemeente', 'gemeenten')} in de steekproef",
        _range_text(shown, label, estimate),
    ]
    verdicts = [
        f"{len(part)} {legend_text[cls]}"
        for cls in ("above", "neutral", "below", "none")
        if len(part := shown.loc[shown["map_verdict"] == cls])
    ]
    if verdicts:
        parts.append("oordeel: " + ", ".join(verdicts))
    suppressed = int((rows["map_category"] == _SUPPRESSED).sum())
    if suppressed:
        parts.append(
            f"{count_noun(suppressed, 'gemeente', 'gemeenten')} met minder dan {min_n} "
            "respondenten niet getoond (gearceerd)"
        )
    parts.append(
        f"de andere {count_noun(len(frame) - len(sample), 'gemeente', 'gemeenten')} zijn "
        "niet ingekleurd"
    )
    if len(off_map):
        parts.append(f"{count_noun(len(off_map), 'gemeente', 'gemeenten')} niet op de kaart")
    return "; ".join(parts) + "."


def _map_note(
    rows: pd.DataFrame,
    off_map: pd.DataFrame,
    frame: pd.DataFrame,
    min_n: int,
    division: str,
    unreliable: bool,
) -> str:
    outside = len(frame) - int((rows["map_category"] != _BLANK).sum())
    sentences = [
        f"Kaart op de {division}. Gemeenten zonder kleur (lichtgrijze rand) zitten niet in de "
        f"steekproef: {count_noun(outside, 'gemeente', 'gemeenten')}. De vorm van het teken "
        "geeft het oordeel, ook zonder kleur te lezen."
    ]
    if len(frame) - outside > MAX_MAP_NAMES:
        sentences.append(
            f"Met meer dan {MAX_MAP_NAMES} gemeenten in de steekproef staan er geen namen op de "
            "kaart; de tabellen geven de schatting per gemeente."
        )
    suppressed = int((rows["map_category"] == _SUPPRESSED).sum())
    if suppressed:
        sentences.append(
            f"Gearceerd zonder kleur: {count_noun(suppressed, 'gemeente', 'gemeenten')} met "
            f"minder dan {min_n} respondenten; die waarde wordt niet getoond."
        )
    shown = rows.loc[rows["map_category"] == _SHOWN]
    caution = shown.loc[caution_rows(shown), C.MUNICIPALITY].astype(str)
    if len(caution) > MAX_MAP_NAMES:
        sentences.append(
            f"Oordeel met voorbehoud (publicatievlag: weinig respondenten of een ruime "
            f"onzekerheid): {count_noun(len(caution), 'gemeente', 'gemeenten')}."
        )
    elif len(caution):
        sentences.append(
            f"Oordeel met voorbehoud (publicatievlag: weinig respondenten of een ruime "
            f"onzekerheid): {', '.join(sorted(caution))}."
        )
    if unreliable:
        sentences.append(
            "Het model haalde de convergentiecontrole niet (zie de waarschuwing): de stippen "
            "markeren alle geschatte gemeenten als onzeker."
        )
    if len(off_map):
        codes = ", ".join(sorted(off_map[C.MUNICIPALITY].astype(str)))
        sentences.append(f"Niet op deze indeling te vinden en dus niet getekend: {codes}.")
    return " ".join(sentences)  # the credit is printed in the figure, under the map


def locator_map(
    municipality: str, *, registry: CodeMapper, wave: str, name: str | None = None
) -> ReportFigure:
    """A small map of the Netherlands with ``municipality`` highlighted, on the division of
    ``wave``'s reference date (its code mapped with the dated code changes); the other
    municipalities light grey. ``name`` defaults to the division's name of the polygon."""
    on, year = _division_of(registry, wave)
    frame = geo.boundaries(year)
    code = registry.map_code(str(municipality), on=on)
    mine = (frame["municipality"] == code).to_numpy()
    other = {"facecolor": LOCATOR_FILL, "edgecolor": "white", "linewidth": 0.15, "zorder": 1}
    chosen = {"facecolor": COLORS["accent"], "edgecolor": "black", "linewidth": 0.6, "zorder": 2}
    styles = [chosen if m else other for m in mine]
    division = _division_text(year, on)
    with mpl.rc_context(HOUSE_STYLE):
        fig = Figure(figsize=(2.0, 2.35), layout="constrained")
        ax = fig.add_subplot()
        _patches(ax, year, frame["municipality"], styles)
        _frame_axes(ax, frame)
        if mine.any():
            point = frame.loc[mine].geometry.iloc[0].representative_point()
            ax.plot(
                [point.x], [point.y], marker="o", markersize=13, markerfacecolor="none",
                markeredgecolor=COLORS["accent"], markeredgewidth=1.2, zorder=3,
            )  # fmt: skip
    count = count_noun(len(frame), "gemeente", "gemeenten")
    if mine.any():
        shown_name = name or str(frame.loc[mine, "name"].iloc[0])
        alt = (
            f"Kaart van Nederland waarop gemeente {shown_name} ({code}) donkerblauw en omcirkeld "
            f"is aangegeven; de andere gemeenten lichtgrijs ({division}, {count})."
        )
        note = f"Ligging van de gemeente, {division}. {geo.CREDIT}."
    else:
        alt = (
            f"Kaart van Nederland ({division}, {count}); gemeente {name or municipality} "
            f"({code}) komt op deze indeling niet voor en is niet aangegeven."
        )
        note = f"{code} komt niet voor op de {division}. {geo.CREDIT}."
    return ReportFigure(fig, alt=alt, note=note)
