"""Wave against wave: did it improve since the nulmeting?

* :func:`compare_waves` joins two estimate tables (see ``ARCHITECTURE.md``) on their keys, after
  mapping municipality codes of both waves to the later wave's municipal division through the
  registry's dated code changes, and tests the difference later - earlier.
* :func:`bayes_improvement` gives, from the posterior draws of two independent Bayesian fits, the
  probability that a cell's mean is higher in the later wave.

Both return result tables (:mod:`meting.results`) with the change in ``estimate``.

The two waves are separate samples, so their estimates are treated as independent:
``se = sqrt(se_earlier**2 + se_later**2)``. A panel overlap between waves would make that
conservative when the correlation is positive.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any, Final, Protocol, cast

import numpy as np
import pandas as pd
from scipy import stats

from meting.columns import MUNICIPALITY
from meting.errors import ParameterError, SchemaError
from meting.results import result_table
from meting.significance import (
    Adjustment,
    adjust_pvalues,
    check_adjust,
    check_columns,
    check_level,
    check_min_n,
    directional_verdicts,
    t_test_arrays,
    untested_reason,
)

CHANGE_LABELS: Final = ("verbeterd", "geen aantoonbaar verschil", "verslechterd")
REASON_ONLY_EARLIER: Final = "alleen in de eerdere meting"
REASON_ONLY_LATER: Final = "alleen in de latere meting"
REASON_MERGED: Final = (
    "meerdere gemeenten van één meting vallen na omzetting van de gemeentecodes samen; "
    "schat die meting opnieuw op de gemeentelijke indeling van {date}"
)
_SIDES: Final = ("earlier", "later")
_PER_WAVE: Final = ("estimate", "se", "df", "n")


class _Wave(Protocol):
    @property
    def reference_date(self) -> dt.date: ...


class CodeMapper(Protocol):
    """What :func:`compare_waves` needs from :class:`meting.registry.Registry`."""

    @property
    def waves(self) -> Mapping[str, _Wave]: ...

    def map_code(self, code: str, on: dt.date) -> str: ...


def welch_satterthwaite_df(
    se1: np.ndarray, df1: np.ndarray, se2: np.ndarray, df2: np.ndarray
) -> np.ndarray:
    """Welch-Satterthwaite degrees of freedom of a difference of two independent estimates.

    ``df = (v1 + v2)**2 / (v1**2 / df1 + v2**2 / df2)`` with ``v = se**2``; an infinite df
    contributes nothing to the denominator (both infinite give infinity).
    """
    v1, v2 = np.asarray(se1, float) ** 2, np.asarray(se2, float) ** 2
    with np.errstate(divide="ignore", invalid="ignore"):
        t1 = np.where(np.isinf(df1), 0.0, v1**2 / df1)
        t2 = np.where(np.isinf(df2), 0.0, v2**2 / df2)
        return (v1 + v2) ** 2 / (t1 + t2)


def _reference_date(registry: CodeMapper, later_wave: str | None) -> dt.date:
    if later_wave is None:
        raise ParameterError(
            "later_wave must be given when a registry is passed; got None. Pass the later wave's "
            "label so that municipality codes are mapped to its reference date."
        )
    try:
        return registry.waves[later_wave].reference_date
    except KeyError:
        raise ParameterError(
            f"later_wave must be a wave in the registry; got {later_wave!r}. Known waves: "
            f"{sorted(registry.waves)}."
        ) from None


def map_municipality_codes(codes: pd.Series, registry: CodeMapper, on: dt.date) -> pd.Series:
    """Map municipality codes to the division valid on ``on`` (one registry call per code)."""
    unique = pd.unique(codes.dropna())
    mapping = {code: registry.map_code(str(code), on=on) for code in unique}
    return codes.map(mapping).astype("str").where(codes.notna())


def _prepare(
    table: pd.DataFrame, join: list[str], registry: CodeMapper | None, on: dt.date | None, what: str
) -> tuple[pd.DataFrame, pd.Series]:
    """Map codes, keep the needed columns, collapse keys that now coincide (flagged)."""
    check_columns(table, [*join, *_PER_WAVE], what)
    frame = table[[*join, *_PER_WAVE]].copy()
    if registry is not None and MUNICIPALITY in join:
        frame[MUNICIPALITY] = map_municipality_codes(frame[MUNICIPALITY], registry, on)  # type: ignore[arg-type]
    merged = frame.duplicated(join, keep=False)
    frame = frame.assign(_merged=merged.to_numpy())
    frame = frame.drop_duplicates(join, keep="first")
    return frame, frame["_merged"]


def compare_waves(
    earlier: pd.DataFrame,
    later: pd.DataFrame,
    *,
    keys: Sequence[str],
    registry: CodeMapper | None = None,
    earlier_wave: str | None = None,
    later_wave: str | None = None,
    level: float = 0.95,
    adjust: Adjustment = "holm",
    min_n: int | None = 30,
    family: str | Sequence[str] | None = None,
) -> pd.DataFrame:
    """Test the change of every estimate between two waves (later - earlier).

    Parameters
    ----------
    earlier, later : pandas.DataFrame
        Estimate tables of the two waves (columns ``keys``, ``estimate, se, df, n``; ``variable``
        is joined on too when both have it).
    keys : sequence of str
        Group columns identifying a cell (``[]`` for national estimates).
    registry : Registry, optional
        When given and ``keys`` holds ``municipality``, the codes of both tables are mapped with
        ``registry.map_code(code, on=registry.waves[later_wave].reference_date)``. Cells that then
        coincide within one table (a merger) are not compared and say why.
    earlier_wave, later_wave : str, optional
        Wave labels (``later_wave`` is required with a registry).
    level : float, default 0.95
        Confidence level; tests at ``alpha = 1 - level``.
    adjust : {'holm', 'bh', 'none'}, default 'holm'
        Multiple-testing adjustment within each family.
    min_n : int or None, default 30
        Cells with fewer respondents in either wave are not tested (reason given).
    family : str or sequence of str, optional
        Column(s) of the result defining separate families.

    Returns
    -------
    pandas.DataFrame
        A result table (:mod:`meting.results`), one row per cell in either wave: the key
        columns, ``variable``, ``estimate`` (the difference later - earlier), ``se =
        sqrt(se_earlier**2 + se_later**2)`` (independent samples), ``lower, upper`` (t interval
        at ``level``), ``level``, ``df`` by Welch-Satterthwaite on the two tables' dfs (the
        domains' degrees of freedom for domain tables)
        (:func:`welch_satterthwaite_df`), ``n`` (= ``n_later``), ``method`` ``'difference'``;
        then ``estimate_earlier, se_earlier, df_earlier, n_earlier`` and the same for ``later``,
        ``null_value`` (0) and :data:`meting.significance.TEST_COLUMNS` with verdicts "verbeterd",
        "geen aantoonbaar verschil", "verslechterd". Cells present in one wave only are listed
        with the reason "alleen in de eerdere/latere meting".
    """
    level = check_level(level)
    check_adjust(adjust)
    check_min_n(min_n, allow_none=True)
    keys = [keys] if isinstance(keys, str) else list(keys)
    join = [*keys, "variable"] if "variable" in earlier and "variable" in later else keys
    if not join:
        earlier = earlier.assign(_all="")
        later = later.assign(_all="")
        join = ["_all"]
    on = _reference_date(registry, later_wave) if registry is not None else None
    e, e_merged = _prepare(earlier, join, registry, on, "earlier estimate table")
    l_, l_merged = _prepare(later, join, registry, on, "later estimate table")
    for frame, merged in ((e, e_merged), (l_, l_merged)):
        frame.loc[merged.to_numpy(), list(_PER_WAVE)] = np.nan

    both = e.merge(l_, on=join, how="outer", suffixes=("_earlier", "_later"), indicator=True)
    get = {f"{c}_{s}": both[f"{c}_{s}"].to_numpy(dtype=float) for c in _PER_WAVE for s in _SIDES}
    diff = get["estimate_later"] - get["estimate_earlier"]
    se = np.sqrt(get["se_earlier"] ** 2 + get["se_later"] ** 2)
    df = welch_satterthwaite_df(
        get["se_earlier"], get["df_earlier"], get["se_later"], get["df_later"]
    )
    n_min = np.fmin(get["n_earlier"], get["n_later"])
    n_min[np.isnan(get["n_earlier"]) | np.isnan(get["n_later"])] = np.nan

    reason = untested_reason(diff, se, df, n_min, min_n)
    side = both["_merge"].astype("str").to_numpy()
    merged_any = (
        both["_merged_earlier"].fillna(False).astype(bool)
        | both["_merged_later"].fillna(False).astype(bool)
    ).to_numpy()
    date_text = on.strftime("%d-%m-%Y") if on is not None else "de latere meting"
    reason = np.select(
        [side == "left_only", side == "right_only", merged_any],
        [REASON_ONLY_EARLIER, REASON_ONLY_LATER, REASON_MERGED.format(date=date_text)],
        default=reason,
    ).astype(object)
    reason[pd.isna(reason)] = None
    tested = pd.isna(reason)

    alpha = 1.0 - level
    t, p_two, p_greater, p_less = t_test_arrays(diff, se, df, 0.0)
    for arr in (t, p_two, p_greater, p_less):
        arr[~tested] = np.nan
    family_ids = None
    if family is not None:
        fam_cols = [family] if isinstance(family, str) else list(family)
        check_columns(both, fam_cols, "family")
        family_ids = both.groupby(fam_cols, dropna=False, sort=False).ngroup().to_numpy()
    p_adj, size = adjust_pvalues(p_two, adjust, family_ids)
    half = stats.t.ppf(1.0 - alpha / 2.0, np.where(df > 0, df, np.nan)) * se

    groups = both[[k for k in join if k not in ("_all", "variable")]]
    variable = both["variable"].astype("str") if "variable" in join else ""
    out = result_table(
        groups,
        variable=variable,
        estimate=diff,
        se=se,
        lower=diff - half,
        upper=diff + half,
        level=level,
        df=df,
        n=get["n_later"],
        method="difference",
        extra={f"{c}_{s}": get[f"{c}_{s}"] for c in _PER_WAVE for s in _SIDES},
    )
    out["null_value"] = 0.0
    out["t"] = t
    out["p_two_sided"] = p_two
    out["p_greater"] = p_greater
    out["p_less"] = p_less
    out["p_adjusted"] = p_adj
    out["adjustment"] = pd.Series(adjust, index=out.index, dtype="str").where(tested)
    out["family_size"] = size
    verdict = directional_verdicts(p_adj, t, alpha, CHANGE_LABELS)
    out["verdict"] = pd.Series(verdict, index=out.index, dtype="str")
    out["reason"] = pd.Series(reason, index=out.index, dtype="str")
    return out


def draw_table(result: Any) -> Any:
    """Cells x draws DataFrame from a small-area result (``.cells`` and ``.draws()``).

    The index is built from the cell table's group columns (those before ``variable``); anything
    else is returned unchanged.
    """
    if isinstance(result, pd.DataFrame) or not (
        hasattr(result, "cells") and callable(getattr(result, "draws", None))
    ):
        return result
    cells = result.cells
    groups = list(cells.columns[: list(cells.columns).index("variable")])
    index = (
        pd.MultiIndex.from_frame(cells[groups].astype("str"))
        if len(groups) > 1
        else pd.Index(cells[groups[0]].astype("str"), name=groups[0])
    )
    return pd.DataFrame(np.asarray(result.draws()).T, index=index)


def bayes_improvement(
    draws_earlier: pd.DataFrame,
    draws_later: pd.DataFrame,
    *,
    registry: CodeMapper | None = None,
    later_wave: str | None = None,
) -> pd.DataFrame:
    """Posterior probability that each cell's mean is higher in the later wave.

    The two fits are independent, so every pair of an earlier and a later draw is a draw from the
    joint posterior; the probability is taken over all pairs, exactly (the Mann-Whitney
    statistic from ranks, ties counting one half):
    ``P(later > earlier) + P(later = earlier) / 2``.

    Parameters
    ----------
    draws_earlier, draws_later : pandas.DataFrame or SaeResult
        Posterior draws of the cell means, one row per cell (the index identifies the cell; a
        MultiIndex with a level named ``municipality`` is mapped through the registry) and one
        column per draw (chains stacked). The numbers of draws may differ. A small-area result
        (anything with ``.cells`` and ``.draws()``) is converted with :func:`draw_table`.
    registry : Registry, optional
        Maps the ``municipality`` index level of both to ``later_wave``'s reference date.
    later_wave : str, optional
        Needed with ``registry``.

    Returns
    -------
    pandas.DataFrame
        Indexed by the union of cells: ``prob_improvement``, ``difference`` (posterior mean of
        later - earlier), ``sd`` (its posterior sd, the fits being independent),
        ``n_draws_earlier``, ``n_draws_later`` and ``reason`` (why a cell has no probability).
    """
    frames = []
    on = _reference_date(registry, later_wave) if registry is not None else None
    for what, draws in (("earlier", draws_earlier), ("later", draws_later)):
        draws = draw_table(draws)
        if not isinstance(draws, pd.DataFrame):
            raise SchemaError(
                f"draws_{what} must be a pandas DataFrame (cells x draws); got "
                f"{type(draws).__name__}. Put one row per cell, one column per posterior draw."
            )
        try:
            values = pd.DataFrame(
                draws.to_numpy(dtype=float), index=draws.index, columns=draws.columns
            )
        except (TypeError, ValueError):
            values = pd.DataFrame(np.nan, index=draws.index, columns=draws.columns)
        if values.isna().to_numpy().any() or draws.shape[1] == 0:
            raise SchemaError(
                f"draws_{what} must hold at least one numeric draw per cell and no missing values; "
                "got missing or non-numeric entries. Pass the posterior draws of the cell means."
            )
        if registry is not None and MUNICIPALITY in (draws.index.names or []):
            idx = draws.index.to_frame(index=False)
            idx[MUNICIPALITY] = map_municipality_codes(idx[MUNICIPALITY], registry, on)  # type: ignore[arg-type]
            values.index = (
                pd.MultiIndex.from_frame(idx)
                if idx.shape[1] > 1
                else pd.Index(idx[MUNICIPALITY], name=MUNICIPALITY)
            )
        frames.append(values)
    early, late = frames
    dup_e = early.index.duplicated(keep=False)
    dup_l = late.index.duplicated(keep=False)
    merged_cells = early.index[dup_e].union(late.index[dup_l])
    early = early[~early.index.duplicated()]
    late = late[~late.index.duplicated()]
    cells = early.index.union(late.index, sort=False)
    common = early.index.intersection(late.index, sort=False).difference(merged_cells, sort=False)

    a = late.loc[common].to_numpy(dtype=float)
    b = early.loc[common].to_numpy(dtype=float)
    s_a, s_b = a.shape[1], b.shape[1]
    ranks = stats.rankdata(np.concatenate([a, b], axis=1), axis=1, method="average")
    u = ranks[:, :s_a].sum(axis=1) - s_a * (s_a + 1) / 2.0
    prob = pd.Series(u / (s_a * s_b), index=common, dtype=float)

    out = pd.DataFrame(index=cells)
    out["prob_improvement"] = prob.reindex(cells)
    out["difference"] = (late.mean(axis=1) - early.mean(axis=1)).reindex(cells)
    sd = cast(pd.Series, np.sqrt(late.var(axis=1, ddof=1) + early.var(axis=1, ddof=1)))
    out["sd"] = sd.reindex(cells)
    out.loc[out["prob_improvement"].isna(), ["difference", "sd"]] = np.nan
    out["n_draws_earlier"] = early.shape[1]
    out["n_draws_later"] = late.shape[1]
    in_e = cells.isin(early.index)
    in_l = cells.isin(late.index)
    date_text = on.strftime("%d-%m-%Y") if on is not None else "de latere meting"
    reason = np.select(  # type: ignore[call-overload]
        [~in_l, ~in_e, cells.isin(merged_cells)],
        [REASON_ONLY_EARLIER, REASON_ONLY_LATER, REASON_MERGED.format(date=date_text)],
        default=None,
    ).astype(object)
    out["reason"] = pd.Series(reason, index=out.index, dtype="str")
    return out


def remap_design_municipalities(design: Any, registry: CodeMapper, on: dt.date) -> Any:
    """The same design with its ``municipality`` column mapped to the division valid on ``on``.

    Only the domain labels change: weights, strata, clusters and calibration records are kept
    (``dataclasses.replace`` on the frozen :class:`meting.design.SurveyDesign`), so a merged
    municipality is estimated as one domain with the design's own variance.
    """
    if MUNICIPALITY not in design.data.columns:
        return design
    data = design.data.copy()
    data[MUNICIPALITY] = map_municipality_codes(data[MUNICIPALITY], registry, on)
    return dataclasses.replace(design, data=data)
