"""The channels section: use share and the users' chain score per contact channel, and the shift
between two waves (blank when either wave's cell is small).
"""

from __future__ import annotations

from collections.abc import Mapping

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from meting import columns as C
from meting.checks import check_min_n
from meting.design import SurveyDesign
from meting.knelpunten import channel_scores, channel_shift, channel_use
from meting.labels import CHANNEL_LABELS
from meting.report.export import export_table
from meting.report.formatting import (
    EMPTY,
    DutchTable,
    fmt_diff,
    fmt_pct,
    fmt_score,
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
from meting.report.sections._shared import pct_interval, score_interval

__all__ = [
    "channel_shift_html",
    "channel_shift_table",
    "channel_table",
    "channel_table_html",
    "channel_use_plot",
]


def channel_table(
    design: SurveyDesign, *, min_n: int, outcome: str = C.SCORE_CHAIN, level: float = 0.95
) -> pd.DataFrame:
    """Use share and the users' mean ``outcome`` per channel, small cells blanked.

    Returns
    -------
    pandas.DataFrame
        ``channel, kanaal, gebruik, gebruik_lower, gebruik_upper, estimate, lower,
        upper`` (the score of the users), ``n`` (users with a score), ``onderdrukt``.
    """
    min_n = check_min_n(min_n)
    use = channel_use(design, level=level)
    score = channel_scores(design, outcome=outcome, level=level)
    out = pd.DataFrame(
        {
            "channel": use["channel"].astype(str),
            "kanaal": use["channel"].astype(str).map(lambda v: CHANNEL_LABELS.get(v, v)),
            "gebruik": use["estimate"].to_numpy(dtype=float),
            "gebruik_lower": use["lower"].to_numpy(dtype=float),
            "gebruik_upper": use["upper"].to_numpy(dtype=float),
        }
    )
    s = score.set_index(score["channel"].astype(str))
    for col in ("estimate", "lower", "upper", "n"):
        out[col] = out["channel"].map(s[col]).to_numpy()
    out["n"] = out["n"].fillna(0).astype(np.int64)
    return suppress_small_cells(
        out,
        min_n,
        value_cols=["gebruik", "gebruik_lower", "gebruik_upper", "estimate", "lower",
                    "upper"],
    )  # fmt: skip


def channel_table_html(table: pd.DataFrame, *, caption: str | None = None) -> DutchTable:
    """Print a :func:`channel_table`."""
    out = pd.DataFrame(
        {
            "kanaal": table["kanaal"],
            "gebruikt door": table["gebruik"],
            "95%-interval gebruik": pct_interval(table["gebruik_lower"], table["gebruik_upper"]),
            "ketencijfer gebruikers": table["estimate"],
            "95%-interval cijfer": score_interval(table["lower"], table["upper"]),
            "n": table["n"],
        }
    )
    formats = {
        "gebruikt door": "pct",
        "95%-interval gebruik": "text",
        "ketencijfer gebruikers": "score",
        "95%-interval cijfer": "text",
        "n": "int",
    }
    data = export_table(
        {
            "kanaal": (table["kanaal"], "tekst"),
            "gebruik": (table["gebruik"], "aandeel"),
            "gebruik_ondergrens": (table["gebruik_lower"], "aandeel"),
            "gebruik_bovengrens": (table["gebruik_upper"], "aandeel"),
            "rapportcijfer": (table["estimate"], "cijfer"),
            "rapportcijfer_ondergrens": (table["lower"], "cijfer"),
            "rapportcijfer_bovengrens": (table["upper"], "cijfer"),
            "n": (table["n"], "aantal"),
            "onderdrukt_reden": (suppression_reasons(table), "tekst"),
        }
    )
    return to_html(out, formats, caption=caption, note=suppression_note(table) or None, data=data)


def channel_shift_table(
    earlier: SurveyDesign,
    later: SurveyDesign,
    *,
    min_n: int,
    outcome: str = C.SCORE_CHAIN,
    level: float = 0.95,
) -> pd.DataFrame:
    """Shift later - earlier of the channel use and of the users' score, per channel.

    Returns
    -------
    pandas.DataFrame
        One row per channel x measure (``maat``: ``"gebruik"`` or ``"ketencijfer"``):
        ``channel, kanaal, maat, estimate_earlier, estimate_later, difference, lower,
        upper, p_value``, ``n`` (the smaller of the two waves' counts), ``onderdrukt``.
    """
    min_n = check_min_n(min_n)
    parts = []
    for maat, fn in (
        ("gebruik", lambda d: channel_use(d, level=level)),
        ("ketencijfer", lambda d: channel_scores(d, outcome=outcome, level=level)),
    ):
        shift = channel_shift(fn(earlier), fn(later), level=level)
        parts.append(shift.assign(maat=maat))
    out = pd.concat(parts, ignore_index=True)
    out["channel"] = out["channel"].astype(str)
    out["n"] = np.minimum(out["n_earlier"], out["n_later"]).astype(np.int64)
    out = out[
        ["channel", "maat", "estimate_earlier", "estimate_later", "difference", "lower",
         "upper", "p_value", "n"]
    ]  # fmt: skip
    out.insert(1, "kanaal", out["channel"].map(lambda v: CHANNEL_LABELS.get(v, v)))
    out = out.sort_values(["maat", "channel"], key=lambda s: s.map(_ORDER.get)).reset_index(
        drop=True
    )
    return suppress_small_cells(
        out,
        min_n,
        value_cols=["estimate_earlier", "estimate_later", "difference", "lower", "upper",
                    "p_value"],
    )  # fmt: skip


def channel_use_plot(
    designs: Mapping[str, SurveyDesign],
    *,
    min_n: int,
    level: float = 0.95,
    title: str | None = None,
) -> ReportFigure:
    """Grouped bars: the use share of each channel per wave (``designs``: wave label -> design,
    in display order), with intervals; cells below ``min_n`` respondents left out."""
    min_n = check_min_n(min_n)
    labels = list(designs)
    palette = [COLORS["accent"], COLORS["second"], COLORS["above"], COLORS["below"], "#009E73"]
    width = 0.8 / max(len(labels), 1)
    left_out = 0
    with mpl.rc_context(HOUSE_STYLE):
        fig = Figure(figsize=(FIG_WIDTH_IN, 3.2), layout="constrained")
        ax = fig.add_subplot()
        ax.grid(axis="x", visible=False)
        ax.grid(axis="y", visible=True)
        x = np.arange(len(C.CHANNELS))
        for k, label in enumerate(labels):
            use = channel_use(designs[label], level=level).set_index("channel")
            use = use.reindex(list(C.CHANNELS))
            ok = (use["n"] >= min_n).to_numpy()
            left_out += int((~ok).sum())
            est = use["estimate"].to_numpy(dtype=float)
            err = np.vstack([est - use["lower"], use["upper"] - est])
            pos = x + (k - (len(labels) - 1) / 2) * width
            ax.bar(
                pos[ok], est[ok], width=width * 0.95, yerr=err[:, ok], label=label,
                color=palette[k % len(palette)],
                error_kw={"ecolor": "#444444", "elinewidth": 0.8, "capsize": 2},
            )  # fmt: skip
        ax.set_xticks(x, [CHANNEL_LABELS[c] for c in C.CHANNELS])
        ax.yaxis.set_major_formatter(DutchPercentFormatter(xmax=1.0, decimals=0))
        ax.set_ylabel("aandeel dat het kanaal gebruikte")
        ax.legend(loc="upper left", ncol=len(labels))
        ax.set_ylim(0, 1)
        if title:
            ax.set_title(title)
    note = (
        f"{left_out} cellen met minder dan {min_n} respondenten niet getoond." if left_out else ""
    )
    return ReportFigure(
        fig, alt=f"Staafdiagram: kanaalgebruik in {len(labels)} metingen.", note=note
    )


_ORDER = {"gebruik": 0, "ketencijfer": 1, "balie": 0, "telefoon": 1, "internet": 2, "brief": 3}


def channel_shift_html(table: pd.DataFrame, *, caption: str | None = None) -> DutchTable:
    """Print a :func:`channel_shift_table` (shares in %, differences in %-points; scores 1-10)."""
    share = (table["maat"] == "gebruik").to_numpy()

    def fmt(values: pd.Series, pct: np.ndarray, diff: bool = False) -> list[str]:
        out = []
        for v, p in zip(values, pct, strict=True):
            if pd.isna(v):
                out.append(EMPTY)
            elif p:
                out.append(fmt_diff(100 * v, 1) if diff else fmt_pct(v))
            else:
                out.append(fmt_diff(v, 2) if diff else fmt_score(v))
        return out

    lower = fmt(table["lower"], share, diff=True)
    upper = fmt(table["upper"], share, diff=True)
    out = pd.DataFrame(
        {
            "kanaal": table["kanaal"],
            "maat": np.where(share, "gebruik (%)", "ketencijfer gebruikers"),
            "eerder": fmt(table["estimate_earlier"], share),
            "later": fmt(table["estimate_later"], share),
            "verschil": fmt(table["difference"], share, diff=True),
            "95%-interval": [
                EMPTY if lo == EMPTY else f"{lo} – {hi}"
                for lo, hi in zip(lower, upper, strict=True)
            ],
            "p": table["p_value"],
        }
    )
    note = "Verschil bij gebruik in procentpunten; p-waarden niet gecorrigeerd voor meer toetsen."
    small = suppression_note(table)
    data = export_table(
        {
            "kanaal": (table["kanaal"], "tekst"),
            "maat": (table["maat"], "tekst"),
            "eerder": (table["estimate_earlier"], "getal2"),
            "later": (table["estimate_later"], "getal2"),
            "verschil": (table["difference"], "getal2"),
            "verschil_ondergrens": (table["lower"], "getal2"),
            "verschil_bovengrens": (table["upper"], "getal2"),
            "p": (table["p_value"], "p"),
            "n": (table["n"], "aantal"),
            "onderdrukt_reden": (suppression_reasons(table), "tekst"),
        }
    )
    return to_html(
        out,
        {c: "text" for c in ("eerder", "later", "verschil", "95%-interval", "maat")} | {"p": "p"},
        caption=caption,
        note=f"{note} {small}".strip(),
        data=data,
    )
