"""The key-drivers section: which norms move the chain score.

One national regression on all ten norms when at least ``min_complete`` respondents judged all
ten, else on norms 1-7 (norms 8-10 are often n.v.t.); ``attrs`` say which, and
:func:`drivers_note` says it in Dutch.
"""

from __future__ import annotations

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from scipy import stats

from meting import columns as C
from meting.checks import check_min_n
from meting.design import SurveyDesign
from meting.knelpunten import key_drivers
from meting.labels import norm_label
from meting.report import Note
from meting.report.export import export_table
from meting.report.formatting import (
    EMPTY,
    DutchTable,
    Formatter,
    fmt_diff,
    fmt_int,
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
from meting.report.sections._shared import pct_interval

__all__ = [
    "drivers_html",
    "drivers_note",
    "drivers_plot",
    "drivers_table",
]


def drivers_table(
    design: SurveyDesign,
    *,
    min_n: int,
    min_complete: int = 200,
    outcome: str = C.SCORE_CHAIN,
    level: float = 0.95,
) -> pd.DataFrame:
    """National key drivers of ``outcome`` (:func:`meting.knelpunten.key_drivers`).

    All ten norms are used when at least ``max(min_complete, min_n)`` respondents judged all ten;
    otherwise norms 1-7 (norms 8-10 are often n.v.t.). Below that too, the table is empty.

    Returns
    -------
    pandas.DataFrame
        One row per norm, by importance (highest first): ``norm, norm_label, estimate,
        lower, upper, p_value`` (coefficient), ``belang, belang_lower, belang_upper``
        (LMG share of R^2, interval from its delta-method SE), ``r2``, ``n`` (complete cases).
        ``attrs``: ``predictors`` (the norms used), ``reduced`` (True when norms 1-7 only),
        ``n_full`` (complete cases with all ten norms), ``n_total`` (respondents with a score),
        ``min_complete``.
    """
    min_n = check_min_n(min_n)
    need = max(int(min_complete), min_n)
    y = pd.to_numeric(design.data[outcome], errors="coerce")
    x = design.data[list(C.BSC_NORMS)].apply(pd.to_numeric, errors="coerce")
    n_full = int((y.notna() & x.notna().all(axis=1)).sum())
    predictors = list(C.BSC_NORMS) if n_full >= need else list(C.BSC_NORMS[:7])
    fit = key_drivers(design, outcome=outcome, predictors=predictors, min_n=need, level=level)
    terms = fit.loc[fit["term"].isin(predictors)]
    if terms.empty:
        out = pd.DataFrame(
            columns=["norm", "norm_label", "estimate", "lower", "upper", "p_value",
                     "belang", "belang_lower", "belang_upper", "r2", "n"]
        )  # fmt: skip
    else:
        r2 = terms["r2"].to_numpy(dtype=float)
        share_se = terms["lmg_se"].to_numpy(dtype=float) / r2
        share = terms["lmg_share"].to_numpy(dtype=float)
        z = float(stats.norm.ppf(0.5 + level / 2))
        out = pd.DataFrame(
            {
                "norm": terms["term"].to_numpy(),
                "norm_label": terms["term"].map(norm_label).to_numpy(),
                "estimate": terms["estimate"].to_numpy(dtype=float),
                "lower": terms["lower"].to_numpy(dtype=float),
                "upper": terms["upper"].to_numpy(dtype=float),
                "p_value": terms["p_value"].to_numpy(dtype=float),
                "belang": share,
                "belang_lower": np.clip(share - z * share_se, 0, 1),
                "belang_upper": np.clip(share + z * share_se, 0, 1),
                "r2": r2,
                "n": terms["n"].to_numpy(dtype=np.int64),
            }
        )
        out = out.sort_values("belang", ascending=False).reset_index(drop=True)
    out.attrs = {
        "predictors": tuple(predictors),
        "reduced": len(predictors) < len(C.BSC_NORMS),
        "n_full": n_full,
        "n_total": int(y.notna().sum()),
        "min_complete": need,
    }
    return out


def drivers_note(table: pd.DataFrame) -> Note:
    """The Dutch sentence under the drivers: which norms, how many complete cases, R^2."""
    a = table.attrs
    if table.empty:
        text = (
            f"Te weinig respondenten beoordeelden alle normen (minder dan "
            f"{fmt_int(a['min_complete'])}); de sleutelfactoren zijn niet geschat."
        )
    else:
        n = int(table["n"].iloc[0])
        share = n / a["n_total"] if a["n_total"] else float("nan")
        r2 = fmt_pct(float(table["r2"].iloc[0]))
        if a["reduced"]:
            text = (
                f"Maar {fmt_int(a['n_full'])} respondenten beoordeelden alle tien normen (minder "
                f"dan {fmt_int(a['min_complete'])}): normen 8-10 zijn vaak niet van toepassing. "
                f"De analyse gebruikt daarom normen 1 tot en met 7, op {fmt_int(n)} respondenten "
                f"({fmt_pct(share)} van wie een ketencijfer gaf)."
            )
        else:
            text = (
                f"De analyse gebruikt alle tien normen, op de {fmt_int(n)} respondenten die ze "
                f"alle tien beoordeelden ({fmt_pct(share)} van wie een ketencijfer gaf); zij "
                "kunnen afwijken van de andere respondenten."
            )
        text += f" Samen verklaren de normen {r2} van de variantie van het ketencijfer (R²)."
    import html

    return Note(f'<p class="meting-note">{html.escape(text)}</p>')


def drivers_html(table: pd.DataFrame, *, caption: str | None = None) -> DutchTable:
    """Print a :func:`drivers_table`: norm, importance with interval, coefficient with interval."""
    out = pd.DataFrame(
        {
            "norm": table["norm_label"],
            "belang (aandeel R²)": table["belang"],
            "95%-interval belang": pct_interval(table["belang_lower"], table["belang_upper"]),
            "coëfficiënt": table["estimate"],
            "95%-interval coëfficiënt": [
                EMPTY if pd.isna(lo) else f"{fmt_diff(lo, 2)} – {fmt_diff(hi, 2)}"
                for lo, hi in zip(table["lower"], table["upper"], strict=True)
            ],
        }
    )
    formats: dict[str, Formatter | str | int] = {
        "norm": "text",
        "belang (aandeel R²)": "pct",
        "95%-interval belang": "text",
        "coëfficiënt": lambda v: fmt_diff(v, 2),
        "95%-interval coëfficiënt": "text",
    }
    data = export_table(
        {
            "norm": (table["norm_label"], "tekst"),
            "belang": (table["belang"], "aandeel"),
            "belang_ondergrens": (table["belang_lower"], "aandeel"),
            "belang_bovengrens": (table["belang_upper"], "aandeel"),
            "coefficient": (table["estimate"], "verschil2"),
            "coefficient_ondergrens": (table["lower"], "verschil2"),
            "coefficient_bovengrens": (table["upper"], "verschil2"),
            "n": (table["n"], "aantal"),
        }
    )
    return to_html(out, formats, caption=caption, data=data)


def drivers_plot(table: pd.DataFrame, *, title: str | None = None) -> ReportFigure:
    """Bars of the importance (LMG share of R^2) per norm with intervals, largest on top."""
    shown = table.sort_values("belang", ascending=True)
    y = np.arange(len(shown))
    vals = shown["belang"].to_numpy(dtype=float)
    err = np.vstack(
        [
            vals - shown["belang_lower"].to_numpy(dtype=float),
            shown["belang_upper"].to_numpy(dtype=float) - vals,
        ]
    )
    with mpl.rc_context(HOUSE_STYLE):
        fig = Figure(figsize=(FIG_WIDTH_IN, max(2.2, 0.3 * len(shown) + 1.2)), layout="constrained")
        ax = fig.add_subplot()
        ax.barh(
            y, vals, xerr=err, color=COLORS["accent"], height=0.6,
            error_kw={"ecolor": "#444444", "elinewidth": 0.8, "capsize": 2},
        )  # fmt: skip
        ax.set_yticks(y, shown["norm_label"].tolist())
        upper = float(np.nanmax(shown["belang_upper"])) if len(shown) else 1.0
        ax.set_xlim(0, min(1.0, max(0.1, upper * 1.1)))
        ax.xaxis.set_major_formatter(DutchPercentFormatter(xmax=1.0, decimals=0))
        ax.set_xlabel("belang: aandeel in de verklaarde variantie (R²) van het ketencijfer")
        if title:
            ax.set_title(title)
    return ReportFigure(fig, alt=f"Staafdiagram: belang van {len(shown)} normen.")
