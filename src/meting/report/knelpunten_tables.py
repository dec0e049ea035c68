"""The knelpunten sections of the reports: :mod:`meting.knelpunten` tables shaped for display.

Each ``*_table`` function computes one aggregated, numeric table from a weighted
:class:`~meting.design.SurveyDesign` and blanks every cell based on fewer than ``min_n``
respondents (:func:`meting.report.privacy.suppress_small_cells`; ``onderdrukt`` marks them).
The ``*_html`` functions print such a table the Dutch way (decimal comma, ``–`` for blanks, a
suppression note); the ``*_plot`` functions draw it as a :class:`~meting.report.plots.ReportFigure`
and leave the suppressed cells out (or blank). No table here carries respondent-level values.

Rules that the report relies on (and the tests check):

* norms: share "goed" and "niet goed" per norm; cells with fewer than ``min_n`` respondents who
  judged the norm are blank and are not ranked (``weakest`` missing);
* key drivers: one national regression on all ten norms when at least ``min_complete``
  respondents judged all ten, else on norms 1-7 (norms 8-10 are often n.v.t.); ``attrs`` say
  which, and :func:`drivers_note` says it in Dutch;
* chain view: the best organisation of a life event is chosen among the organisations rated by
  at least ``min_n`` respondents, so no small-cell score is named best; a life event whose chain
  score rests on fewer than ``min_n`` respondents is blank;
* channels: the use share and the chain score of the users per channel; the shift between two
  waves is blank when either wave's cell is small;
* TRI*M: the index per municipality with its interval, beside the national index.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Rectangle
from scipy import stats

from meting import columns as C
from meting.design import SurveyDesign
from meting.errors import ParameterError
from meting.knelpunten import (
    EXPLANATIONS,
    chain_view,
    channel_scores,
    channel_shift,
    channel_use,
    key_drivers,
    norm_shares,
    trim_index,
    weakest_norms,
)
from meting.knelpunten.chain import ITEM_CHAIN, ITEM_COOPERATION, ITEM_ORGANISATIONS
from meting.knelpunten.norms import NORM_NAMES
from meting.report import Note
from meting.report.formatting import (
    EMPTY,
    DutchTable,
    fmt_ci,
    fmt_diff,
    fmt_int,
    fmt_number,
    fmt_pct,
    fmt_score,
    to_html,
)
from meting.report.plots import (
    COLORS,
    FIG_WIDTH_IN,
    HOUSE_STYLE,
    DutchPercentFormatter,
    DutchScalarFormatter,
    ReportFigure,
)
from meting.report.privacy import SUPPRESSED, suppress_small_cells, suppression_note

__all__ = [
    "CHANNEL_LABELS",
    "chain_headline",
    "chain_html",
    "chain_plot",
    "chain_table",
    "channel_shift_html",
    "channel_shift_table",
    "channel_table",
    "channel_table_html",
    "channel_use_plot",
    "drivers_html",
    "drivers_note",
    "drivers_plot",
    "drivers_table",
    "explanation",
    "municipality_chain",
    "norm_label",
    "norms_heatmap",
    "norms_html",
    "norms_table",
    "select",
    "trim_html",
    "trim_plot",
    "trim_table",
    "weakest_html",
    "weakest_summary",
    "weakest_table",
]

#: Dutch names of the contact channels (``channel`` values of :mod:`meting.knelpunten.channels`).
CHANNEL_LABELS: Mapping[str, str] = {
    "balie": "balie",
    "telefoon": "telefoon",
    "internet": "internet",
    "brief": "brief of e-mail",
}
_NORM_NUMBER = {c: i for i, c in enumerate(C.BSC_NORMS, start=1)}


def norm_label(norm: str) -> str:
    """``"bsc_04"`` -> ``"4. Persoonlijke informatieservice"``."""
    return f"{_NORM_NUMBER[norm]}. {NORM_NAMES[norm]}"


def explanation(*keys: str) -> Note:
    """The reading guides of :data:`meting.knelpunten.EXPLANATIONS` as one report paragraph."""
    unknown = [k for k in keys if k not in EXPLANATIONS]
    if unknown:
        raise ParameterError(
            f"explanation keys must be in {sorted(EXPLANATIONS)}; got {unknown}. "
            "Use one of the knelpunten section names."
        )
    import html

    body = " ".join(html.escape(EXPLANATIONS[k]) for k in keys)
    return Note(f'<p class="meting-explanation">{body}</p>')


def select(table: pd.DataFrame, column: str, value: str) -> pd.DataFrame:
    """The rows of a suppressed table where ``column == value`` (for example one municipality),
    with ``attrs["suppressed"]`` recounted on those rows, so the note under it is right."""
    if column not in table.columns:
        raise ParameterError(
            f"column to select on must be in the table; got {column!r}, columns are "
            f"{[str(c) for c in table.columns]}."
        )
    out = table.loc[table[column].astype(str) == str(value)].reset_index(drop=True)
    out.attrs = dict(table.attrs)
    if SUPPRESSED in out.columns:
        out.attrs["suppressed"] = int(out[SUPPRESSED].sum())
        out.attrs["suppressed_secondary"] = 0
    return out


def _check_min_n(min_n: int) -> int:
    if isinstance(min_n, bool) or not isinstance(min_n, int | np.integer) or min_n < 1:
        raise ParameterError(
            f"min_n must be a positive integer; got {min_n!r}. Use settings.min_cell_size."
        )
    return int(min_n)


def _names(values: pd.Series, names: Mapping[str, str] | None) -> pd.Series:
    text = values.astype(str)
    return text.map(lambda v: (names or {}).get(v, v)).astype(object)


def _pct_interval(lower: pd.Series, upper: pd.Series) -> list[str]:
    return [
        EMPTY if pd.isna(lo) or pd.isna(hi) else f"{fmt_pct(lo)} – {fmt_pct(hi)}"
        for lo, hi in zip(lower, upper, strict=True)
    ]


def _score_interval(lower: pd.Series, upper: pd.Series, decimals: int = 1) -> list[str]:
    return [fmt_ci(lo, hi, decimals) for lo, hi in zip(lower, upper, strict=True)]


# --- norms --------------------------------------------------------------------------------------


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
    min_n = _check_min_n(min_n)
    by_cols = [by] if isinstance(by, str) else list(by or [])
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
    out.attrs = {}
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
            "95%-interval goed": _pct_interval(table["goed_lower"], table["goed_upper"]),
            "niet goed": table["niet_goed"],
            "95%-interval niet goed": _pct_interval(
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
    if reference is not None:
        national = reference.set_index("norm")["goed"]
        out.insert(3, "goed landelijk", table["norm"].map(national).to_numpy(dtype=float))
        formats["goed landelijk"] = "pct"
    return to_html(out, formats, caption=caption, note=suppression_note(table) or None)


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
    min_n = _check_min_n(min_n)
    weak = weakest_norms(design, by=by, alpha=alpha, min_n=min_n, level=level)
    out = weak[[by, "norm", "estimate", "lower", "upper", "n", "rank", "weakest"]].copy()
    out[by] = out[by].astype(str)
    out.insert(1, "naam", _names(out[by], names))
    out.insert(3, "norm_label", out["norm"].map(norm_label))
    out.attrs = {}
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
        .agg(lambda s: ", ".join(str(_NORM_NUMBER[v]) for v in s))
    )
    groups = weak.drop_duplicates(by).set_index(by)["naam"]
    out = pd.DataFrame({"naam": groups})
    out["zwakste_norm"] = lowest["norm_label"].reindex(out.index)
    out["aandeel_goed"] = lowest["estimate"].reindex(out.index)
    out["n"] = lowest["n"].reindex(out.index)
    out["ook_zwak"] = others.reindex(out.index)
    out["normen_gerangschikt"] = ranked.groupby(by).size().reindex(out.index).fillna(0)
    out = out.reset_index().sort_values("naam").reset_index(drop=True)
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
        f"{empty} levensgebeurtenis(sen) zonder norm met genoeg respondenten (–)."
        if empty
        else None
    )
    return to_html(out, formats, caption=caption, note=note)


def norms_heatmap(weak: pd.DataFrame, *, title: str | None = None) -> ReportFigure:
    """Share "goed" per life event (rows) x norm (columns) from a :func:`weakest_table`; the
    norms flagged weakest are framed and bold, suppressed cells are grey with ``–``."""
    events = sorted(weak["naam"].astype(str).unique())
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


# --- key drivers --------------------------------------------------------------------------------


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
    min_n = _check_min_n(min_n)
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
            "95%-interval belang": _pct_interval(table["belang_lower"], table["belang_upper"]),
            "coëfficiënt": table["estimate"],
            "95%-interval coëfficiënt": [
                EMPTY if pd.isna(lo) else f"{fmt_diff(lo, 2)} – {fmt_diff(hi, 2)}"
                for lo, hi in zip(table["lower"], table["upper"], strict=True)
            ],
        }
    )
    formats = {
        "norm": "text",
        "belang (aandeel R²)": "pct",
        "95%-interval belang": "text",
        "coëfficiënt": lambda v: fmt_diff(v, 2),
        "95%-interval coëfficiënt": "text",
    }
    return to_html(out, formats, caption=caption)


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


# --- chain view ---------------------------------------------------------------------------------


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
    min_n = _check_min_n(min_n)
    by_cols = [by] if isinstance(by, str) else list(by)
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
    out.insert(len(by_cols), "naam", _names(out[by_cols[-1]], names))
    out.insert(
        len(by_cols) + 1,
        "beste_organisatie",
        out["best_organisation"].map(
            lambda v: EMPTY if pd.isna(v) else (organisation_names or {}).get(str(v), str(v))
        ),
    )
    out = out.drop(columns="best_organisation")
    out = out[[c for c in out.columns if c != "n"] + ["n"]]
    out = out.sort_values("chain_score", na_position="last").reset_index(drop=True)
    out.attrs = {}
    values = ["best_score", "organisations_score", "chain_score", "cooperation_score", "gap",
              "gap_lower", "gap_upper"]  # fmt: skip
    shown = suppress_small_cells(out, min_n, value_cols=values)
    shown.loc[shown[SUPPRESSED], "beste_organisatie"] = EMPTY
    order = shown.sort_values([SUPPRESSED, "chain_score"], kind="stable").index
    return shown.loc[order].reset_index(drop=True)


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
    view = chain_view(design, organisations, by=None, level=level)
    row = view.set_index("item")
    org, chain = row.loc[ITEM_ORGANISATIONS], row.loc[ITEM_CHAIN]
    q = float(stats.norm.ppf(0.5 + level / 2))
    lo, hi = org["gap_to_chain"] - q * org["gap_se"], org["gap_to_chain"] + q * org["gap_se"]
    text = (
        f"Landelijk krijgen de organisaties gemiddeld een {fmt_score(org['estimate'])} en de "
        f"ketens een {fmt_score(chain['estimate'])}: een verschil van "
        f"{fmt_diff(org['gap_to_chain'])} punt (95%-interval {fmt_diff(lo)} tot {fmt_diff(hi)}). "
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
    return to_html(out, formats, caption=caption, note=suppression_note(table) or None)


def chain_plot(
    table: pd.DataFrame, *, target: float = 7.0, title: str | None = None
) -> ReportFigure:
    """Per life event (rows, by chain score): the chain, the cooperation, all organisations and
    the best organisation as dots, a line from the chain to the best organisation, the target."""
    shown = table.loc[~table[SUPPRESSED]].sort_values("chain_score", ascending=True)
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
        f"{small} levensgebeurtenis(sen) met minder dan {min_n} respondenten niet getoond."
        if small
        else ""
    )
    alt = f"Ketenbeeld: keten, samenwerking en organisaties voor {len(shown)} levensgebeurtenissen."
    return ReportFigure(fig, alt=alt, note=note)


# --- channels -----------------------------------------------------------------------------------


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
    min_n = _check_min_n(min_n)
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
            "95%-interval gebruik": _pct_interval(table["gebruik_lower"], table["gebruik_upper"]),
            "ketencijfer gebruikers": table["estimate"],
            "95%-interval cijfer": _score_interval(table["lower"], table["upper"]),
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
    return to_html(out, formats, caption=caption, note=suppression_note(table) or None)


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
    min_n = _check_min_n(min_n)
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
    out.attrs = {}
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
    min_n = _check_min_n(min_n)
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

    def fmt(values: pd.Series, pct: bool, diff: bool = False) -> list[str]:
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
    return to_html(
        out,
        {c: "text" for c in ("eerder", "later", "verschil", "95%-interval", "maat")} | {"p": "p"},
        caption=caption,
        note=f"{note} {small}".strip(),
    )


# --- TRI*M --------------------------------------------------------------------------------------


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
    min_n = _check_min_n(min_n)
    per = trim_index(design, by=C.MUNICIPALITY, level=level)
    national = trim_index(design, by=None, level=level)
    out = per[[C.MUNICIPALITY, "estimate", "lower", "upper", "n"]].copy()
    out[C.MUNICIPALITY] = out[C.MUNICIPALITY].astype(str)
    out.insert(1, "naam", _names(out[C.MUNICIPALITY], names))
    out = out.sort_values("estimate", ascending=False).reset_index(drop=True)
    out.attrs = {}
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
            "95%-interval": _score_interval(table["lower"], table["upper"]),
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
    return to_html(out, formats, caption=caption, note=suppression_note(table) or None)


def trim_plot(
    table: pd.DataFrame, *, highlight: str | None = None, title: str | None = None
) -> ReportFigure:
    """The TRI*M index per municipality with intervals, a dashed line at the national index;
    ``highlight`` (a municipality code) drawn in a second colour."""
    shown = table.loc[~table[SUPPRESSED]].sort_values("estimate", ascending=True)
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
    note = f"{small} gemeente(n) met minder dan {min_n} respondenten niet getoond." if small else ""
    return ReportFigure(fig, alt=f"TRI*M-index van {len(shown)} gemeenten.", note=note)
