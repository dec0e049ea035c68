"""What the estimators share about ``by=`` domains: their degrees of freedom, the standard
errors of domain totals, t quantiles, and the lonely-PSU ``average`` rule per domain (``svyby``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy import stats

from meting.errors import DesignError
from meting.estimators.inputs import as_list

if TYPE_CHECKING:
    from meting.design import SurveyDesign


def average_factor(design: SurveyDesign, dom: np.ndarray, n_dom: int) -> np.ndarray | None:
    """Per-domain ``average`` rescaling over the strata present in each domain.

    ``svyby`` subsets an uncalibrated design, so the lonely-PSU average counts only the
    strata that occur in the domain; a calibrated design keeps every row (and stratum).
    """
    stage = design.structure.stages[0]  # type: ignore[union-attr]
    if design.lonely_psu != "average" or design.calibration or stage.usable.all():
        return None
    strat = design.structure.stratum1  # type: ignore[union-attr]
    keep = dom >= 0
    pairs = np.unique(np.c_[dom[keep], strat[keep]], axis=0)
    nstrat = np.bincount(pairs[:, 0], minlength=n_dom).astype(float)
    nok = np.bincount(pairs[:, 0], weights=stage.usable[pairs[:, 1]].astype(float), minlength=n_dom)
    with np.errstate(divide="ignore", invalid="ignore"):
        return nstrat / nok


def check_average(
    design: SurveyDesign, dom: np.ndarray, n_dom: int, keys: pd.DataFrame, factor: np.ndarray | None
) -> None:
    """Refuse estimates that ``lonely_psu="average"`` leaves undefined (R: NaN).

    Under ``average`` a unit whose strata of the next stage are all lonely has nothing to
    average over: ``survey``'s ``onestage`` returns ``0 * nstrat / 0``.  ``svyby`` drops the
    rows outside the domain of an uncalibrated design, so only domains with rows in such a
    unit are affected; a calibrated design keeps every row, so all are.
    """
    if design.lonely_psu != "average":
        return
    bad = np.zeros(n_dom, dtype=bool)
    if factor is not None:
        bad |= ~np.isfinite(factor)
    where = ""
    for s, stage in enumerate(design.structure.stages):  # type: ignore[union-attr]
        if not stage.undefined.any():
            continue
        row_bad = stage.undefined[stage.stratum_of_psu[stage.psu]]
        hit = row_bad & (dom >= 0) if not design.calibration else row_bad
        if hit.any():
            where = where or f" at stage {s + 1} (row {int(np.argmax(hit))})"
            if design.calibration:
                bad[:] = True
            else:
                bad[np.unique(dom[hit])] = True
    if bad.any():
        names = (
            ", ".join("/".join(map(str, r)) for r in keys.loc[bad].head(5).itertuples(index=False))
            if len(keys.columns)
            else "the whole sample"
        )
        raise DesignError(
            "lonely_psu='average' must have at least one stratum with two or more sampled "
            f"units to average over{where}; got none for {int(bad.sum())} domain(s) "
            f"({names}); R's survey returns NaN standard errors here. Choose "
            "lonely_psu='adjust' (centre at the overall mean), 'certainty' or 'remove', or "
            "merge the lonely units with similar ones."
        )


def domain_se(
    design: SurveyDesign, vals: np.ndarray, dom: np.ndarray, keys: pd.DataFrame
) -> np.ndarray:
    """Standard errors of domain totals of influence values ``vals`` (0 outside ``dom``)."""
    n_dom = len(keys)
    rows = np.flatnonzero(dom >= 0)
    u = sp.csr_matrix((vals[rows], (rows, dom[rows])), shape=(design.n, n_dom))
    factor = average_factor(design, dom, n_dom)
    check_average(design, dom, n_dom, keys, factor)
    v = design.variance(u, stage1_factor=factor)
    return np.sqrt(np.maximum(v, 0.0))


def domain_df(
    design: SurveyDesign,
    by: str | Sequence[str] | None,
    valid: np.ndarray,
    dom: np.ndarray,
    n_dom: int,
) -> np.ndarray:
    if as_list(by):
        return design.domain_degf(np.where(valid & (design.w != 0), dom, -1), n_dom)
    return np.full(n_dom, float(design.degf()))


def t_quantile(level: float, df: np.ndarray) -> np.ndarray:
    df = np.asarray(df, dtype=float)
    with np.errstate(invalid="ignore"):
        return np.where(df > 0, stats.t.ppf(0.5 + level / 2, np.where(df > 0, df, 1.0)), np.nan)
