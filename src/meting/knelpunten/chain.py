"""The chain view of a life event: its organisations' scores beside the chain and cooperation scores.

The organisation ratings are a long table (``respondent_id, organisation, score``: one row per
respondent x organisation contacted).  Each rating carries its respondent's weight; the score of
organisation ``o`` in life event ``e`` is the ratio mean ``sum w_i y_io / sum w_i`` over the
respondents of ``e`` who rated ``o``.  Its influence values are summed per respondent and go to the
design's variance (respondents are the sampled units; ratings of one respondent are correlated),
so the standard error is design-based.  ``organisaties`` pools all ratings of the event (a
contact-weighted mean, the level the 2008 headline "organisations 7,0" refers to).

The gap of an organisation to the chain is ``score_o - chain``, with a standard error from the
joint influence values (same respondents, so the covariance counts).  The gap of the event is
the one of its best organisation (highest score): the 2008 finding was organisations 7,0 against
chains 6,7.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import numpy as np
import pandas as pd
import scipy.sparse as sp

from meting.checks import check_design_columns, check_level
from meting.columns import (
    LIFE_EVENT,
    ORGANISATION,
    ORGANISATION_SCORE,
    RESPONDENT_ID,
    SCORE_CHAIN,
    SCORE_COOPERATION,
)
from meting.design import SurveyDesign
from meting.errors import SchemaError
from meting.knelpunten._common import as_list, check_design, domain_codes, numeric, t_quantile

__all__ = ["ITEM_CHAIN", "ITEM_COOPERATION", "ITEM_ORGANISATIONS", "chain_gaps", "chain_view"]

ITEM_CHAIN: Final = "keten"
ITEM_COOPERATION: Final = "samenwerking"
ITEM_ORGANISATIONS: Final = "organisaties"
KIND_ORGANISATION: Final = "organisatie"


def _ratio_influence(
    rows: np.ndarray, cols: np.ndarray, y: np.ndarray, w: np.ndarray, k: int, n: int
) -> tuple[np.ndarray, np.ndarray, sp.csr_matrix]:
    """Ratio means of y over (row, column) entries and their influence matrix (n x k)."""
    wsum = np.bincount(cols, weights=w, minlength=k)
    tot = np.bincount(cols, weights=w * y, minlength=k)
    count = np.bincount(cols, minlength=k).astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = tot / wsum
        vals = w * (y - mean[cols]) / wsum[cols]
    u = sp.csr_matrix((vals, (rows, cols)), shape=(n, k))  # duplicates are summed
    return mean, count, u


def chain_view(
    design: SurveyDesign,
    organisations: pd.DataFrame,
    by: str | Sequence[str] | None = LIFE_EVENT,
    level: float = 0.95,
) -> pd.DataFrame:
    """Per life event: each organisation's weighted score, all organisations, the chain, cooperation.

    Parameters
    ----------
    design
        The (weighted) survey design of the respondents (with ``respondent_id``).
    organisations
        The long organisation table: ``respondent_id, organisation, score`` (1-10).
    by
        Group columns of the respondent table (default the life event; add ``"municipality"``
        for a municipal view).
    level
        Confidence level.

    Returns
    -------
    pandas.DataFrame
        One row per group x item: group columns, ``item`` (organisation code, ``"organisaties"``,
        ``"keten"`` or ``"samenwerking"``), ``kind`` (``"organisatie"`` for single organisations,
        else the item), then ``estimate, se, df, lower, upper, n`` (``n``: respondents
        rating it), ``gap_to_chain`` (estimate - chain score), ``gap_se`` (design-based),
        ``is_best`` (highest-scoring organisation of the group).
    """
    design = check_design(design)
    level = check_level(level)
    by_cols = as_list(by)
    check_design_columns(design.data, [RESPONDENT_ID, SCORE_CHAIN, SCORE_COOPERATION], "chain view")
    need = [RESPONDENT_ID, ORGANISATION, ORGANISATION_SCORE]
    absent = [c for c in need if c not in organisations.columns]
    if absent:
        raise SchemaError(
            f"organisation table must have column {absent[0]!r}; got "
            f"{list(map(str, organisations.columns))}. Use the long table of the data contract."
        )
    ids = pd.Index(design.data[RESPONDENT_ID].astype("string"))
    if not ids.is_unique:
        raise SchemaError(
            f"{RESPONDENT_ID} must be unique in the respondent table; got "
            f"{int(ids.duplicated().sum())} duplicates. Fix the respondent file."
        )
    org = organisations.dropna(subset=[ORGANISATION_SCORE])
    dup = org.duplicated([RESPONDENT_ID, ORGANISATION])
    if dup.any():
        i = int(np.argmax(dup.to_numpy()))
        raise SchemaError(
            "organisation table must have one row per respondent x organisation; got a repeat "
            f"at row {org.index[i]} ({org[RESPONDENT_ID].iloc[i]}, "
            f"{org[ORGANISATION].iloc[i]}). Remove the duplicate ratings."
        )
    pos = ids.get_indexer(pd.Index(org[RESPONDENT_ID].astype("string")))
    if (pos < 0).any():
        i = int(np.argmax(pos < 0))
        raise SchemaError(
            f"organisation table {RESPONDENT_ID} must exist in the respondent table; got "
            f"{org[RESPONDENT_ID].iloc[i]!r} at row {org.index[i]} "
            f"({int((pos < 0).sum())} such rows). Load both files of the same wave."
        )
    dom, keys = domain_codes(design, by_cols)
    n_dom, n = len(keys), design.n
    w = design.w
    score = org[ORGANISATION_SCORE].astype("float64").to_numpy()
    rd = dom[pos]
    keep = rd >= 0
    pos, score, rd = pos[keep], score[keep], rd[keep]
    org_codes, org_levels = pd.factorize(org[ORGANISATION].astype("string")[keep], sort=True)
    n_org = len(org_levels)
    # columns: organisation x domain | organisations pooled per domain | chain | cooperation
    c_org = rd * n_org + org_codes
    k_org = n_dom * n_org
    m_org, cnt_org, u_org = _ratio_influence(pos, c_org, score, w[pos], k_org, n)
    m_all, cnt_all, u_all = _ratio_influence(pos, rd, score, w[pos], n_dom, n)
    items = []
    for col in (SCORE_CHAIN, SCORE_COOPERATION):
        y = numeric(design.data, col)
        ok = (dom >= 0) & ~np.isnan(y)
        r = np.flatnonzero(ok)
        items.append(_ratio_influence(r, dom[r], y[r], w[r], n_dom, n))
    (m_chain, cnt_chain, u_chain), (m_coop, cnt_coop, u_coop) = items
    # gaps to the chain: organisation columns minus the chain column of their domain
    dom_of_org = np.repeat(np.arange(n_dom), n_org)
    gap_org = u_org - u_chain[:, dom_of_org]
    gap_all = u_all - u_chain
    u = sp.hstack([u_org, u_all, u_chain, u_coop, gap_org, gap_all]).tocsr()
    # only the columns of cells with ratings: the rest are dropped below (n = 0), and a national
    # wave's municipality x life event x organisation grid is mostly empty (200.000 columns,
    # 60.000 with ratings); each column's variance depends on that column alone
    rated = np.concatenate([cnt_org, cnt_all, cnt_chain, cnt_coop, cnt_org, cnt_all]) > 0
    var = np.full(u.shape[1], np.nan)
    var[rated] = design.variance(u[:, np.flatnonzero(rated)].tocsr())
    k_est = k_org + 3 * n_dom
    se = np.sqrt(np.maximum(var[:k_est], 0.0))
    gap_se = np.sqrt(np.maximum(var[k_est:], 0.0))
    est = np.concatenate([m_org, m_all, m_chain, m_coop])
    cnt = np.concatenate([cnt_org, cnt_all, cnt_chain, cnt_coop])
    chain_of = np.concatenate([m_chain[dom_of_org], m_chain, m_chain, m_chain])
    gap = est - chain_of
    gap_se_all = np.concatenate([gap_se, np.zeros(n_dom), np.full(n_dom, np.nan)])
    dom_idx = np.concatenate([dom_of_org, np.tile(np.arange(n_dom), 3)])
    item = np.concatenate(
        [
            np.tile(np.asarray(org_levels, dtype=object), n_dom),
            np.repeat(np.array([ITEM_ORGANISATIONS, ITEM_CHAIN, ITEM_COOPERATION], object), n_dom),
        ]
    )
    kind = np.where(np.arange(item.size) < k_org, KIND_ORGANISATION, item)
    df = float(design.degf())
    q = t_quantile(level, df)
    out = keys.iloc[dom_idx].reset_index(drop=True) if by_cols else pd.DataFrame(index=dom_idx)
    out = out.reset_index(drop=True)
    out["item"] = item
    out["kind"] = kind
    out["estimate"] = est
    out["se"] = se
    out["df"] = df
    out["lower"] = est - q * se
    out["upper"] = est + q * se
    out["n"] = cnt.astype(np.int64)
    out["gap_to_chain"] = np.where(item == ITEM_CHAIN, 0.0, gap)
    out["gap_se"] = np.where(item == ITEM_CHAIN, 0.0, gap_se_all)
    out.loc[out["item"] == ITEM_COOPERATION, ["gap_to_chain", "gap_se"]] = np.nan
    out = out[out["n"] > 0].reset_index(drop=True)
    is_org = out["kind"] == KIND_ORGANISATION
    best = pd.Series(False, index=out.index)
    if is_org.any():
        grp = (
            out[is_org].groupby(by_cols, sort=False)
            if by_cols
            else out[is_org].groupby(lambda _: 0)
        )
        best.loc[grp["estimate"].idxmax().to_numpy()] = True
    out["is_best"] = best.to_numpy()
    order = {ITEM_CHAIN: 1, ITEM_COOPERATION: 2, ITEM_ORGANISATIONS: 3}
    out["_o"] = out["item"].map(order).fillna(0)
    out = out.sort_values(
        [*by_cols, "_o", "estimate"], ascending=[True] * len(by_cols) + [True, False]
    )
    out = out.drop(columns="_o").reset_index(drop=True)
    return out


def chain_gaps(view: pd.DataFrame, by: str | Sequence[str] = LIFE_EVENT) -> pd.DataFrame:
    """One row per group: best organisation, its score, the chain score and the gap between them.

    Parameters
    ----------
    view
        A table from :func:`chain_view`.
    by
        Its group columns.

    Returns
    -------
    pandas.DataFrame
        Group columns, ``best_organisation, best_score, organisations_score, chain_score,
        cooperation_score, gap, gap_se, gap_lower, gap_upper`` (gap = best organisation - chain,
        interval at the view's level), ``n_chain``.
    """
    by_cols = as_list(by)
    level = float(view["level"].iloc[0]) if "level" in view and len(view) else 0.95

    def indexed(sub: pd.DataFrame) -> pd.DataFrame:
        return sub.set_index(by_cols) if by_cols else sub.set_index(pd.Index([0] * len(sub)))

    def pick(item: str) -> pd.DataFrame:
        return indexed(view[view["item"] == item])

    best = indexed(view[view["is_best"]])
    chain, coop, allorg = pick(ITEM_CHAIN), pick(ITEM_COOPERATION), pick(ITEM_ORGANISATIONS)
    out = pd.DataFrame(
        {
            "best_organisation": best["item"],
            "best_score": best["estimate"],
            "organisations_score": allorg["estimate"],
            "chain_score": chain["estimate"],
            "cooperation_score": coop["estimate"],
            "gap": best["gap_to_chain"],
            "gap_se": best["gap_se"],
            "n_chain": chain["n"],
        }
    )
    # Groups without a best organisation have no gap: align the df on the output's index first.
    df_best = best["df"].reindex(out.index).to_numpy(float)
    q = t_quantile(level, df_best) if len(out) else np.array([])
    out["gap_lower"] = out["gap"] - q * out["gap_se"]
    out["gap_upper"] = out["gap"] + q * out["gap_se"]
    out = out.reset_index() if by_cols else out.reset_index(drop=True)
    return out[
        [*by_cols, "best_organisation", "best_score", "organisations_score", "chain_score",
         "cooperation_score", "gap", "gap_se", "gap_lower", "gap_upper", "n_chain"]
    ]  # fmt: skip
