"""House-style figures: Dutch ticks, suppressed cells left out with a note (meting.report.plots)."""

from __future__ import annotations

import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from meting.report.plots import (
    DutchPercentFormatter,
    DutchScalarFormatter,
    bar_plot,
    forest_plot,
    trend_plot,
)


def _table() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "event": ["a", "b", "c", "d"],
            "estimate": [7.4, 6.5, 7.0, 5.0],
            "lower": [7.2, 6.2, 6.8, 4.0],
            "upper": [7.6, 6.8, 7.2, 6.0],
            "n": [200, 150, 80, 12],
        }
    )


def test_tick_labels_use_decimal_comma() -> None:
    fig = Figure()
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.set_xlim(6.4, 7.6)
    ax.xaxis.set_major_formatter(DutchScalarFormatter())
    fig.canvas.draw()
    labels = [t.get_text() for t in ax.get_xticklabels()]
    assert "7,0" in labels and all("." not in t for t in labels), labels
    ax.yaxis.set_major_formatter(DutchPercentFormatter(xmax=1.0, decimals=1))
    fig.canvas.draw()
    assert "20,0%" in [t.get_text() for t in ax.get_yticklabels()]


def test_forest_plot_leaves_out_small_cells_with_note() -> None:
    fig = forest_plot(_table(), "event", min_n=30, what="levensgebeurtenissen")
    ax = fig.figure.axes[0]
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert sorted(labels) == ["a", "b", "c"]  # d (n = 12) left out
    assert labels == ["c", "b", "a"]  # bottom to top: the table's order, its first row on top
    by_value = forest_plot(_table(), "event", min_n=30, sort=True).figure.axes[0]
    assert [t.get_text() for t in by_value.get_yticklabels()] == ["b", "c", "a"]  # highest on top
    assert fig.note == "1 levensgebeurtenis met minder dan 30 respondenten niet getoond."
    x_lines = [line.get_xdata()[0] for line in ax.get_lines() if line.get_linestyle() == "--"]
    assert x_lines == [7.0]  # the target line
    html = fig._repr_html_()
    assert html.count('src="data:image/png;base64,') == 1 and "niet getoond" in html
    assert fig.png().startswith(b"\x89PNG")


def test_bar_and_trend_plots() -> None:
    shares = pd.DataFrame({"kanaal": ["balie", "internet"], "estimate": [0.5, 0.6], "n": [100, 10]})
    bars = bar_plot(shares, "kanaal", "estimate", min_n=30)
    ax = bars.figure.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["balie"]
    waves = _table().assign(wave=["2008", "2009", "2008", "2009"], group=["x", "x", "y", "y"])
    trend = trend_plot(waves, "wave", "group", min_n=30, order=["2008", "2009"])
    assert trend.note.startswith("1 cel met")
    one_wave = trend_plot(waves.assign(wave="2008"), "wave", "group", min_n=30)
    lo, hi = one_wave.figure.axes[0].get_xlim()
    assert (lo, hi) == (-0.5, 0.5)  # the groups' offsets (0,03) stay small beside one wave


def test_figure_verdicts_are_the_table_verdicts() -> None:
    """The class of each marker is read off the table's verdict, never off the interval alone:
    'niet te onderscheiden van 7' is neutral although it contains 'onder'."""
    import pandas as pd

    from meting.report.plots import verdict_classes

    table = pd.DataFrame(
        {
            "lower": [7.1, 6.1, 6.5, 6.8, 6.0, 7.2, 5.0],
            "upper": [7.5, 6.9, 7.5, 7.3, 6.9, 7.9, 6.0],
            "verdict": [
                "significant boven 7",
                "niet te onderscheiden van 7",  # interval below 7, but Holm says no
                "niet te onderscheiden van 7",
                "onzeker",
                "waarschijnlijk < 7",
                "waarschijnlijk ≥ 7",
                None,  # no respondents: no verdict
            ],
        }
    )
    classes, labels = verdict_classes(table, "lower", "upper", 7.0)
    assert list(classes) == ["above", "neutral", "neutral", "neutral", "below", "above", "none"]
    assert labels["neutral"] == "niet te onderscheiden van 7"
    assert labels["none"] == "geen oordeel"
    changes = pd.DataFrame({"lower": [0.1, -0.5, -0.9], "upper": [0.5, 0.5, -0.1]}).assign(
        verdict=["verbeterd", "geen aantoonbaar verschil", "verslechterd"]
    )
    assert list(verdict_classes(changes, "lower", "upper", 0.0)[0]) == ["above", "neutral", "below"]


def test_a_row_without_verdict_is_an_open_marker_in_figure_and_legend() -> None:
    """A prediction without respondents (no verdict) is drawn hollow, unlike the filled
    'niet te onderscheiden' circle of the same shape, in the plot and in its legend."""
    import numpy as np
    from matplotlib.colors import to_rgba

    from meting.report.plots import VERDICT_LABELS

    table = _table().assign(verdict=["waarschijnlijk ≥ 7", "onzeker", None, "onzeker"])
    fig = forest_plot(table, "event", n=None, what="levensgebeurtenissen")
    ax = fig.figure.axes[0]
    faces = {
        tuple(np.round(c.get_facecolors()[0], 3)): tuple(np.round(c.get_edgecolors()[0], 3))
        for c in ax.collections
        if len(c.get_offsets()) and c.get_facecolors().size
    }
    white = tuple(np.round(to_rgba("white"), 3))
    assert white in faces and faces[white] != white  # hollow, with a coloured edge
    assert len(faces) == 3  # above, neutral (filled) and none (hollow)
    legend = fig.figure.legends[0]
    hollow = [h for h in legend.legend_handles if h.get_markerfacecolor() == "white"]
    assert [h.get_label() for h in hollow] == [VERDICT_LABELS["none"]]
