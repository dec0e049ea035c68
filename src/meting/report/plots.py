"""Report figures in one house style, with Dutch tick labels (decimal comma) and suppression notes.

Every function returns a :class:`ReportFigure`: it displays in a notebook as an embedded PNG
(``data:`` URI, so the HTML is complete offline) with a Dutch caption/note underneath, and it never
goes through pyplot, so nothing depends on the matplotlib backend of the kernel and no figure is
shown twice.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import PercentFormatter, ScalarFormatter

from meting.errors import ReportError
from meting.report.formatting import fmt_number
from meting.report.privacy import DEFAULT_MIN_CELL_SIZE, SUPPRESSED, assert_no_identifiers

if TYPE_CHECKING:
    from matplotlib.typing import RcKeyType

__all__ = [
    "COLORS",
    "HOUSE_STYLE",
    "DutchPercentFormatter",
    "DutchScalarFormatter",
    "ReportFigure",
    "bar_plot",
    "forest_plot",
    "scatter_truth_plot",
    "trend_plot",
]

#: Colour-blind safe colours (Okabe-Ito), by meaning.
COLORS = {
    "above": "#0072B2",  # interval above the target
    "below": "#D55E00",  # interval below the target
    "neutral": "#7F7F7F",  # interval contains the target
    "target": "#000000",
    "accent": "#154273",
    "second": "#E69F00",
}
VERDICT_LABELS = {
    "above": "boven {t}",
    "below": "onder {t}",
    "neutral": "niet te onderscheiden van {t}",
    "none": "geen oordeel",
}
#: Marker per verdict class, so the verdicts survive grey printing (shape as well as colour).
VERDICT_MARKERS = {"above": "^", "below": "v", "neutral": "o", "none": "o"}
COLORS["none"] = "#BBBBBB"


#: How verdict texts start, per direction (tests against the 7, Bayesian verdicts, changes).
_UP = r"^(significant boven|waarschijnlijk ≥|verbeterd|waarschijnlijk verbeterd)"
_DOWN = r"^(significant onder|waarschijnlijk <|verslechterd|waarschijnlijk verslechterd)"


def verdict_classes(
    table: pd.DataFrame, lower: str, upper: str, target: float
) -> tuple[np.ndarray, dict[str, str]]:
    """The verdict class of every row (``above``, ``below``, ``neutral``, ``none``) and the legend
    text of each class.

    When the table carries a ``verdict`` column (a test against the target, with its
    multiple-testing correction, or a Bayesian verdict), the class comes from that verdict, so a
    figure says exactly what its table says; rows without a verdict are ``none``. Without one, the
    class is read off the interval (entirely above or below the target).
    """
    t = fmt_number(target, 0) if float(target).is_integer() else fmt_number(target, 1)
    if "verdict" in table.columns:
        text = table["verdict"].astype("string")
        up = text.str.match(_UP).fillna(False).to_numpy(bool)
        down = text.str.match(_DOWN).fillna(False).to_numpy(bool)
        missing = text.isna().to_numpy(bool)
        classes = np.select([missing, up, down], ["none", "above", "below"], default="neutral")
        labels = {"none": VERDICT_LABELS["none"]}
        for cls in ("above", "neutral", "below"):
            first = text[classes == cls]
            if len(first):
                labels[cls] = str(first.iloc[0])
        return classes.astype(object), labels
    lo = table[lower].to_numpy(dtype=float)
    hi = table[upper].to_numpy(dtype=float)
    classes = np.where(lo > target, "above", np.where(hi < target, "below", "neutral"))
    return classes.astype(object), {k: v.format(t=t) for k, v in VERDICT_LABELS.items()}


#: matplotlib rc settings of the house style (applied per figure with ``rc_context``).
HOUSE_STYLE: dict[RcKeyType, object] = {
    "font.family": "DejaVu Sans",
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.titleweight": "bold",
    "axes.titlelocation": "left",
    "axes.labelsize": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.edgecolor": "#555555",
    "axes.grid": True,
    "axes.grid.axis": "x",
    "grid.color": "#dddddd",
    "grid.linewidth": 0.6,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "legend.fontsize": 8,
    "legend.frameon": False,
    "axes.formatter.use_locale": False,
    "axes.unicode_minus": False,
    "figure.dpi": 100,
    "savefig.dpi": 200,
}
FIG_WIDTH_IN = 7.0  # fits an A4 text column


class DutchScalarFormatter(ScalarFormatter):
    """Matplotlib's default tick labels with a decimal comma (no OS locale needed)."""

    def __init__(self) -> None:
        super().__init__(useOffset=False, useMathText=False)

    def __call__(self, x: float, pos: int | None = None) -> str:
        return super().__call__(x, pos).replace(".", ",")


class DutchPercentFormatter(PercentFormatter):
    """Percent tick labels (``25%``, ``12,5%``) with a decimal comma."""

    def __call__(self, x: float, pos: int | None = None) -> str:
        return super().__call__(x, pos).replace(".", ",")


class ReportFigure:
    """A finished figure: renders as an embedded PNG with alt text and a Dutch note.

    Parameters
    ----------
    figure
        The matplotlib figure.
    alt
        Alternative text (what the figure shows).
    note
        A note printed under the figure (for example which cells were left out).
    """

    def __init__(self, figure: Figure, alt: str, note: str = "") -> None:
        self.figure = figure
        titles = [
            t
            for ax in figure.axes
            for t in (ax.get_title(loc) for loc in ("left", "center", "right"))
            if t.strip()
        ]
        if figure.get_suptitle().strip():
            titles.insert(0, figure.get_suptitle())
        title = titles[0].strip() if titles else ""
        # the alt text says what the figure is about (its title) and what it shows
        self.alt = f"{title.rstrip('.')}. {alt}" if title and title not in alt else alt
        self.note = note

    def png(self) -> bytes:
        """The figure as PNG bytes (at the house style's ``savefig.dpi``)."""
        buffer = io.BytesIO()
        with mpl.rc_context(HOUSE_STYLE):
            self.figure.savefig(buffer, format="png", bbox_inches="tight")
        return buffer.getvalue()

    def _repr_html_(self) -> str:
        data = base64.b64encode(self.png()).decode("ascii")
        width_px = int(round(self.figure.get_figwidth() * 96))
        note = f'<figcaption class="meting-note">{html.escape(self.note)}</figcaption>'
        return (
            f'<figure class="meting-figure" style="margin: 0.5em 0 1em 0;">'
            f'<img src="data:image/png;base64,{data}" alt="{html.escape(self.alt)}" '
            f'style="width: {width_px}px; max-width: 100%;">'
            f"{note if self.note else ''}</figure>"
        )

    def __repr__(self) -> str:
        return f"<figuur: {self.alt}>"


def _new_figure(n_rows: int, row_height: float = 0.27, extra: float = 1.3) -> tuple[Figure, Axes]:
    with mpl.rc_context(HOUSE_STYLE):
        height = max(2.2, n_rows * row_height + extra)
        fig = Figure(figsize=(FIG_WIDTH_IN, height), layout="constrained")
        ax = fig.add_subplot()
    return fig, ax


def _check_columns(table: pd.DataFrame, columns: Sequence[str | None]) -> None:
    assert_no_identifiers(table, where="a table to plot")
    missing = [c for c in columns if c is not None and c not in table.columns]
    if missing:
        raise ReportError(
            f"a plotted table must have the columns {missing}; got columns "
            f"{[str(c) for c in table.columns]}."
        )


def _small(table: pd.DataFrame, n: str | None, min_n: int) -> pd.Series:
    mask = pd.Series(False, index=table.index)
    if SUPPRESSED in table.columns:
        mask |= table[SUPPRESSED].fillna(False).astype(bool)
    if n is not None and n in table.columns:
        counts = pd.to_numeric(table[n], errors="coerce")
        mask |= (counts < min_n) | counts.isna()
    return mask


def _left_out_note(count: int, what: str, min_n: int) -> str:
    if count == 0:
        return ""
    from meting.report.formatting import count_plural

    return f"{count_plural(count, what)} met minder dan {min_n} respondenten niet getoond."


def forest_plot(
    table: pd.DataFrame,
    label: str,
    *,
    estimate: str = "estimate",
    lower: str = "lower",
    upper: str = "upper",
    n: str | None = "n",
    target: float = 7.0,
    min_n: int = DEFAULT_MIN_CELL_SIZE,
    labels: Mapping[str, str] | None = None,
    title: str | None = None,
    xlabel: str = "rapportcijfer (1-10)",
    what: str = "cellen",
    sort: bool = False,
) -> ReportFigure:
    """Estimates with their intervals against the target (a vertical line at 7).

    Points are coloured and shaped by verdict (:func:`verdict_classes`): the table's own
    ``verdict`` column when it has one (so the figure and the table agree), else whether the
    interval lies entirely above or below the target. Cells under ``min_n`` respondents (or marked
    ``onderdrukt``) are left out and counted in the note.

    Parameters
    ----------
    table
        One row per estimate (an estimate table or ``SaeResult.cells``).
    label
        The column that names each row (for example ``life_event``).
    estimate, lower, upper
        Columns of the point estimate and the interval bounds.
    n
        The count column used for suppression (``None``: no count-based suppression).
    target
        The target line (the cabinet's 7).
    min_n
        The minimum cell size.
    labels
        Display names for the values of ``label`` (for example life-event names).
    title, xlabel
        Texts in Dutch.
    what
        What a row is, plural, for the note (``"levensgebeurtenissen"``).
    sort
        Sort rows by estimate (highest on top); default False: the table's order (the registry
        order of the report tables), first row on top, so figure and table read alike.
    """
    _check_columns(table, [label, estimate, lower, upper])
    small = _small(table, n, min_n)
    shown = table.loc[~small & table[estimate].notna()]
    shown = shown.sort_values(estimate, ascending=True) if sort else shown.iloc[::-1]
    y = np.arange(len(shown))
    est = shown[estimate].to_numpy(dtype=float)
    lo = shown[lower].to_numpy(dtype=float)
    hi = shown[upper].to_numpy(dtype=float)
    verdict, legend = verdict_classes(shown, lower, upper, target)
    colors = [COLORS[v] for v in verdict]

    fig, ax = _new_figure(len(shown))
    with mpl.rc_context(HOUSE_STYLE):
        ax.hlines(y, lo, hi, colors=colors, linewidth=1.6)
        for cls in ("above", "neutral", "below", "none"):
            rows = verdict == cls
            if rows.any():
                # no verdict (a prediction without respondents): an open marker
                face = "white" if cls == "none" else COLORS[cls]
                ax.scatter(
                    est[rows],
                    y[rows],
                    marker=VERDICT_MARKERS[cls],
                    s=30,
                    zorder=3,
                    facecolors=face,
                    edgecolors=COLORS[cls],
                )
        ax.axvline(target, color=COLORS["target"], linewidth=1.0, linestyle="--", zorder=1)
        names = shown[label].astype(str)
        if labels:
            names = names.map(lambda v: labels.get(v, v))
        ax.set_yticks(y, names.tolist())
        ax.set_ylim(-0.7, max(len(shown) - 0.3, 0.7))
        ax.set_xlabel(xlabel)
        ax.xaxis.set_major_formatter(DutchScalarFormatter())
        if title:
            ax.set_title(title)
        t = fmt_number(target, 0) if float(target).is_integer() else fmt_number(target, 1)
        present = [v for v in ("above", "neutral", "below", "none") if (verdict == v).any()]
        handles = [
            Line2D(
                [],
                [],
                color=COLORS[v],
                marker=VERDICT_MARKERS[v],
                markerfacecolor="white" if v == "none" else COLORS[v],
                linewidth=1.6,
                label=legend[v],
            )
            for v in present
        ]
        handles.append(Line2D([], [], color="black", linestyle="--", label=f"doel: {t}"))
        fig.legend(handles=handles, loc="outside lower center", ncol=len(handles))
    note = _left_out_note(int(small.sum()), what, min_n)
    alt = f"Forest plot: {len(shown)} {what} met interval, verticale lijn bij {t}."
    return ReportFigure(fig, alt=alt, note=note)


def bar_plot(
    table: pd.DataFrame,
    label: str,
    value: str,
    *,
    lower: str | None = None,
    upper: str | None = None,
    n: str | None = "n",
    min_n: int = DEFAULT_MIN_CELL_SIZE,
    percent: bool = True,
    labels: Mapping[str, str] | None = None,
    title: str | None = None,
    xlabel: str = "",
    what: str = "cellen",
    sort: bool = False,
) -> ReportFigure:
    """Horizontal bars (for example the share 'goed' per BurgerServiceCode norm, or channels).

    Values are proportions in [0, 1] when ``percent`` is true and print as ``56%``.
    """
    _check_columns(table, [label, value, lower, upper])
    small = _small(table, n, min_n)
    shown = table.loc[~small & table[value].notna()]
    if sort:
        shown = shown.sort_values(value, ascending=True)
    else:
        shown = shown.iloc[::-1]
    y = np.arange(len(shown))
    fig, ax = _new_figure(len(shown))
    with mpl.rc_context(HOUSE_STYLE):
        vals = shown[value].to_numpy(dtype=float)
        if lower is not None and upper is not None:
            err = np.vstack(
                [
                    vals - shown[lower].to_numpy(dtype=float),
                    shown[upper].to_numpy(dtype=float) - vals,
                ]
            )
            ax.barh(
                y,
                vals,
                xerr=err,
                color=COLORS["accent"],
                height=0.6,
                error_kw={"ecolor": "#444444", "elinewidth": 0.8, "capsize": 2},
            )
        else:
            ax.barh(y, vals, color=COLORS["accent"], height=0.6)
        names = shown[label].astype(str)
        if labels:
            names = names.map(lambda v: labels.get(v, v))
        ax.set_yticks(y, names.tolist())
        if percent:
            ax.set_xlim(0, 1)
            ax.xaxis.set_major_formatter(DutchPercentFormatter(xmax=1.0, decimals=0))
        else:
            ax.xaxis.set_major_formatter(DutchScalarFormatter())
        ax.set_xlabel(xlabel)
        if title:
            ax.set_title(title)
    note = _left_out_note(int(small.sum()), what, min_n)
    return ReportFigure(fig, alt=f"Staafdiagram: {len(shown)} {what}.", note=note)


def trend_plot(
    table: pd.DataFrame,
    x: str,
    group: str,
    *,
    estimate: str = "estimate",
    lower: str = "lower",
    upper: str = "upper",
    n: str | None = "n",
    target: float = 7.0,
    min_n: int = DEFAULT_MIN_CELL_SIZE,
    order: Sequence[str] | None = None,
    labels: Mapping[str, str] | None = None,
    title: str | None = None,
    ylabel: str = "rapportcijfer (1-10)",
) -> ReportFigure:
    """Estimates per wave (x) for a few groups (lines), with intervals and the target line."""
    _check_columns(table, [x, group, estimate, lower, upper])
    small = _small(table, n, min_n)
    shown = table.loc[~small & table[estimate].notna()]
    xs = list(order) if order is not None else sorted(shown[x].astype(str).unique())
    pos = {v: i for i, v in enumerate(xs)}
    palette = [
        COLORS["accent"],
        COLORS["second"],
        COLORS["above"],
        COLORS["below"],
        "#009E73",
        "#CC79A7",
    ]
    with mpl.rc_context(HOUSE_STYLE):
        fig = Figure(figsize=(FIG_WIDTH_IN, 3.4), layout="tight")
        ax = fig.add_subplot()
        ax.grid(axis="y")
        groups = list(dict.fromkeys(shown[group].astype(str)))
        for k, g in enumerate(groups):
            part = shown.loc[shown[group].astype(str) == g]
            px = (
                part[x].astype(str).map(pos).to_numpy(dtype=float)
                + (k - (len(groups) - 1) / 2) * 0.06
            )
            est = part[estimate].to_numpy(dtype=float)
            color = palette[k % len(palette)]
            ax.errorbar(
                px,
                est,
                yerr=np.vstack(
                    [
                        est - part[lower].to_numpy(dtype=float),
                        part[upper].to_numpy(dtype=float) - est,
                    ]
                ),
                color=color,
                marker="o",
                markersize=4,
                linewidth=1.4,
                capsize=3,
                label=(labels or {}).get(g, g),
            )
        ax.axhline(target, color=COLORS["target"], linewidth=1.0, linestyle="--")
        ax.set_xticks(range(len(xs)), xs)
        # a fixed margin: with one wave the autoscaled axis stretched the groups' small offsets
        margin = 0.5 if len(xs) == 1 else 0.25
        ax.set_xlim(-margin, len(xs) - 1 + margin)
        ax.set_ylabel(ylabel)
        ax.yaxis.set_major_formatter(DutchScalarFormatter())
        if title:
            ax.set_title(title)
        # below the axes: a legend inside would cover the lines and their intervals
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=2, frameon=False)
    note = _left_out_note(int(small.sum()), "cellen", min_n)
    return ReportFigure(fig, alt=f"Lijndiagram per meting voor {len(groups)} groepen.", note=note)


def scatter_truth_plot(
    table: pd.DataFrame,
    truth: str,
    estimates: Mapping[str, str],
    *,
    title: str | None = None,
    xlabel: str = "werkelijke waarde (synthetische populatie)",
    ylabel: str = "schatting",
) -> ReportFigure:
    """Estimates against the synthetic truth, with the identity line (validation report).

    Parameters
    ----------
    table
        One row per cell, with the truth column and one column per estimator.
    truth
        The column of true values.
    estimates
        Display name -> column, for example ``{"direct": "direct", "model": "estimate"}``.
    """
    _check_columns(table, [truth, *estimates.values()])
    palette = [COLORS["second"], COLORS["accent"], COLORS["above"], COLORS["below"]]
    with mpl.rc_context(HOUSE_STYLE):
        fig = Figure(figsize=(FIG_WIDTH_IN * 0.75, FIG_WIDTH_IN * 0.75), layout="tight")
        ax = fig.add_subplot()
        ax.grid(axis="both")
        t = table[truth].to_numpy(dtype=float)
        lo_hi = [np.nanmin(t), np.nanmax(t)]
        for k, (name, col) in enumerate(estimates.items()):
            e = table[col].to_numpy(dtype=float)
            ax.scatter(t, e, s=10, alpha=0.6, color=palette[k % len(palette)], label=name)
            lo_hi += [np.nanmin(e), np.nanmax(e)]
        lo, hi = float(np.nanmin(lo_hi)), float(np.nanmax(lo_hi))
        ax.plot(
            [lo, hi],
            [lo, hi],
            color="black",
            linewidth=0.8,
            linestyle="--",
            label="schatting = waarheid",
        )
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.xaxis.set_major_formatter(DutchScalarFormatter())
        ax.yaxis.set_major_formatter(DutchScalarFormatter())
        if title:
            ax.set_title(title)
        ax.legend(loc="upper left")
    return ReportFigure(fig, alt="Spreidingsdiagram van schattingen tegen de werkelijke waarde.")
