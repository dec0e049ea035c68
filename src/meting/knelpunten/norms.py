"""BurgerServiceCode norms: weighted share "goed" (4-5) and "niet goed" (1-2), and the weakest norms.

A norm answered "n.v.t." is missing and left out of that norm's denominator (each norm is a
domain mean of a 0/1 indicator over the respondents who judged it), exactly as
``svymean(~I(bsc_01 >= 4), design, na.rm = TRUE)`` computes it.  Standard errors are Taylor
linearised on the whole design (domains as in ``svyby``).

Rule for the weakest norms of a group (:func:`weakest_norms`)
--------------------------------------------------------------
Within a group (e.g. a life event) the norm with the lowest weighted share "goed" is the
*reference*.  Every other norm is compared with it by a design-based one-sided t-test of the
paired difference (same respondents, so the covariance of the two shares is in the standard error):
``H0: share_j = share_ref`` against ``share_j > share_ref``.  A norm is flagged as weakest
(``weakest = True``) when it is the reference or when that test does not reject at ``alpha``:
it cannot be told apart from the lowest norm.  The flag set therefore grows with uncertainty
instead of naming a single "loser" on noise.  Because the reference is chosen by the data, the
test is conservative in the direction of flagging more norms, not fewer.  Norms with fewer than
``min_n`` respondents in the group are not ranked (``weakest`` is missing).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy import stats

from meting.checks import check_design_columns, check_level, check_min_n
from meting.columns import BSC_NEGATIVE, BSC_NORMS, BSC_POSITIVE, LIFE_EVENT
from meting.design import SurveyDesign
from meting.errors import ParameterError
from meting.intervals import beta_interval
from meting.knelpunten._common import (
    as_list,
    check_design,
    domain_codes,
    numeric,
    with_columns,
)
from meting.labels import NORM_NAMES

__all__ = [
    "OUTCOME_NEGATIVE",
    "OUTCOME_POSITIVE",
    "norm_indicators",
    "norm_shares",
    "weakest_norms",
]

OUTCOME_POSITIVE: Final = "goed"
OUTCOME_NEGATIVE: Final = "niet goed"


def _check_norms(design: SurveyDesign, norms: Sequence[str]) -> list[str]:
    norms = as_list(norms)
    if not norms:
        raise ParameterError("norms must name at least one norm column; got none. Use BSC_NORMS.")
    check_design_columns(design.data, norms, "norm")
    return norms


def norm_indicators(values: np.ndarray, outcome: str = OUTCOME_POSITIVE) -> np.ndarray:
    """0/1 indicator of a 1-5 norm answer: 1 for "goed" (4-5) or "niet goed" (1-2), NaN if missing.

    Parameters
    ----------
    values
        Norm answers (float, NaN = n.v.t.).
    outcome
        ``"goed"`` (answers in :data:`meting.columns.BSC_POSITIVE`) or ``"niet goed"``
        (:data:`meting.columns.BSC_NEGATIVE`).
    """
    if outcome not in (OUTCOME_POSITIVE, OUTCOME_NEGATIVE):
        raise ParameterError(
            f"outcome must be {OUTCOME_POSITIVE!r} or {OUTCOME_NEGATIVE!r}; got {outcome!r}."
        )
    levels = BSC_POSITIVE if outcome == OUTCOME_POSITIVE else BSC_NEGATIVE
    out = np.isin(values, levels).astype(float)
    out[np.isnan(values)] = np.nan
    return out


def norm_shares(
    design: SurveyDesign,
    by: str | Sequence[str] | None = None,
    norms: Sequence[str] = BSC_NORMS,
    level: float = 0.95,
) -> pd.DataFrame:
    """Weighted share "goed" (4-5) and "niet goed" (1-2) per norm, with design-based intervals.

    Parameters
    ----------
    design
        The (weighted) survey design.
    by
        Group columns (e.g. ``"life_event"`` or ``"municipality"``); None for the whole sample.
    norms
        Norm columns (1-5, missing = n.v.t.).
    level
        Confidence level of the intervals.

    Returns
    -------
    pandas.DataFrame
        One row per group x norm x outcome: the group columns, ``norm`` (column name),
        ``norm_name`` (Dutch name), ``outcome`` (``"goed"`` / ``"niet goed"``), then the estimate
        columns ``variable, estimate, se, df, lower, upper, deff, n`` (``estimate`` is a
        proportion 0-1; ``n`` counts respondents who judged the norm; ``variable`` is the
        norm column; ``method`` ``"ciprop-beta"``). The interval is Korn and Graubard's
        (``svyciprop(method = "beta")``, :meth:`meting.design.SurveyDesign.ciprop`): it stays
        in [0, 1] and keeps a positive width at a share of 0 or 1, where a clipped Wald
        interval collapses; ``df`` is the group's degrees of freedom.
    """
    design = check_design(design)
    level = check_level(level)
    norms = _check_norms(design, norms)
    by_cols = as_list(by)
    cols: dict[str, np.ndarray] = {}
    names: list[tuple[str, str, str]] = []
    for j, norm in enumerate(norms):
        values = numeric(design.data, norm)
        for k, outcome in enumerate((OUTCOME_POSITIVE, OUTCOME_NEGATIVE)):
            tmp = f"__knelpunt_norm_{j}_{k}"
            cols[tmp] = norm_indicators(values, outcome)
            names.append((tmp, norm, outcome))
    work = with_columns(design, cols)
    parts = []
    for tmp, norm, outcome in names:
        table = work.ciprop(tmp, method="beta", by=by_cols or None, level=level)
        table["variable"] = norm
        table.insert(len(by_cols), "outcome", outcome)
        table.insert(len(by_cols), "norm_name", NORM_NAMES.get(norm, norm))
        table.insert(len(by_cols), "norm", norm)
        parts.append(table)
    out = pd.concat(parts, ignore_index=True)
    out = out.sort_values([*by_cols, "outcome", "norm"], kind="stable").reset_index(drop=True)
    return out


def weakest_norms(
    design: SurveyDesign,
    by: str | Sequence[str] | None = LIFE_EVENT,
    norms: Sequence[str] = BSC_NORMS,
    alpha: float = 0.05,
    min_n: int = 30,
    level: float = 0.95,
) -> pd.DataFrame:
    """Rank the norms by share "goed" within each group and flag the weakest (see module doc).

    Parameters
    ----------
    design
        The (weighted) survey design.
    by
        Group columns; default per life event.
    norms
        Norm columns.
    alpha
        Level of the one-sided test "higher than the lowest norm".
    min_n
        Fewest respondents who judged a norm in a group for it to be ranked.
    level
        Confidence level of the share intervals.

    Returns
    -------
    pandas.DataFrame
        One row per group x norm: group columns, ``norm, norm_name``, the share "goed"
        (``estimate, se, df, lower, upper, n``), ``rank`` (1 = lowest share among the
        ranked norms), ``reference`` (the lowest norm of the group), ``diff_to_lowest``
        (share minus the lowest share), ``se_diff`` (design-based, paired), ``p_value``
        (one-sided), ``weakest`` (bool; missing when not ranked).  Sorted by group and rank.
    """
    design = check_design(design)
    level = check_level(level)
    min_n = check_min_n(min_n)
    if not 0 < float(alpha) < 1:
        raise ParameterError(f"alpha must lie strictly between 0 and 1; got {alpha!r}.")
    norms = _check_norms(design, norms)
    by_cols = as_list(by)
    dom, keys = domain_codes(design, by_cols)
    n_dom, n_norm, n = len(keys), len(norms), design.n
    y = np.column_stack([norm_indicators(numeric(design.data, c)) for c in norms])
    w = design.w
    valid = (dom >= 0)[:, None] & ~np.isnan(y)
    d = np.where(dom >= 0, dom, 0)
    wv = np.where(valid, w[:, None], 0.0)
    yv = np.where(valid, y, 0.0)
    wsum = np.zeros((n_dom, n_norm))
    ysum = np.zeros((n_dom, n_norm))
    count = np.zeros((n_dom, n_norm))
    np.add.at(wsum, d, wv)
    np.add.at(ysum, d, wv * yv)
    np.add.at(count, d, valid.astype(float))
    with np.errstate(divide="ignore", invalid="ignore"):
        share = ysum / wsum
        infl = np.where(valid, wv * (yv - share[d]) / wsum[d], 0.0)
    ranked = count >= min_n
    masked = np.where(ranked & np.isfinite(share), share, np.inf)
    ref = masked.argmin(axis=1)  # per domain
    has_ref = np.isfinite(masked.min(axis=1))
    diff_infl = infl - infl[np.arange(n), ref[d]][:, None]
    rows = np.flatnonzero(dom >= 0)
    cols_idx = dom[rows][:, None] * n_norm + np.arange(n_norm)[None, :]
    k = n_dom * n_norm
    both = sp.csr_matrix(
        (
            np.concatenate([infl[rows].ravel(), diff_infl[rows].ravel()]),
            (
                np.concatenate([np.repeat(rows, n_norm)] * 2),
                np.concatenate([cols_idx.ravel(), cols_idx.ravel() + k]),
            ),
        ),
        shape=(n, 2 * k),
    )
    var = design.variance(both)
    se = np.sqrt(np.maximum(var[:k], 0.0)).reshape(n_dom, n_norm)
    se_diff = np.sqrt(np.maximum(var[k:], 0.0)).reshape(n_dom, n_norm)
    df = float(design.degf())
    diff = share - share[np.arange(n_dom), ref][:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        stat = diff / se_diff
    p_value = np.where(se_diff > 0, stats.t.sf(stat, df), np.where(diff > 0, 0.0, 1.0))
    is_ref = np.arange(n_norm)[None, :] == ref[:, None]
    p_value = np.where(is_ref, 1.0, p_value)
    weakest = is_ref | (p_value > alpha)
    ok = ranked & has_ref[:, None] & np.isfinite(share)
    order = np.argsort(np.where(ok, share, np.inf), axis=1, kind="stable")
    rank = np.empty_like(order)
    rank[np.arange(n_dom)[:, None], order] = np.arange(1, n_norm + 1)[None, :]

    out = keys.loc[keys.index.repeat(n_norm)].reset_index(drop=True)
    out["norm"] = np.tile(norms, n_dom)
    out["norm_name"] = [NORM_NAMES.get(c, c) for c in out["norm"]]
    out["estimate"] = share.ravel()
    out["se"] = se.ravel()
    out["df"] = df
    n_rows = np.bincount(d[dom >= 0], minlength=n_dom).astype(float)
    lower, upper = beta_interval(
        share.ravel(), se.ravel(), df, level, np.repeat(n_rows, n_norm), count.ravel()
    )
    out["lower"] = lower  # Korn-Graubard, as norm_shares (no clipped Wald interval)
    out["upper"] = upper
    out["n"] = count.ravel().astype(np.int64)
    okr = ok.ravel()
    out["rank"] = pd.Series(rank.ravel(), dtype="Int64").where(okr, pd.NA)
    out["reference"] = np.repeat(np.asarray(norms, dtype=object)[ref], n_norm)
    out.loc[~np.repeat(has_ref, n_norm), "reference"] = None
    out["diff_to_lowest"] = np.where(okr, diff.ravel(), np.nan)
    out["se_diff"] = np.where(okr, se_diff.ravel(), np.nan)
    out["p_value"] = np.where(okr, p_value.ravel(), np.nan)
    out["weakest"] = pd.Series(weakest.ravel(), dtype="boolean").where(okr, pd.NA)
    out = out.sort_values([*by_cols, "rank"], kind="stable", na_position="last").reset_index(
        drop=True
    )
    out.attrs.update(alpha=float(alpha), min_n=min_n)
    return out
