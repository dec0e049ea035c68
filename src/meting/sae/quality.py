"""Quality figures per small-area cell, as statistics offices publish them with their estimates.

* ``cv``: the coefficient of variation, posterior sd / posterior mean (the relative standard
  error of the estimate);
* ``shrinkage``: the share of the estimate that comes from the model rather than from the cell's
  own direct estimate, ``1 - gamma`` averaged over the posterior draws. In the Fay-Herriot model
  ``gamma = sd_cell^2 / (sd_cell^2 + se^2)`` (the weight of the direct estimate in the
  conditional posterior mean, Rao & Molina 2015, sec. 6.1), in the unit-level model the same with
  ``se^2 = sigma^2 / n``; 1 for a cell without respondents, near 0 for a large cell. The linked
  model's form is in :mod:`meting.sae.linked_conditional`;
* ``publication``: a publication flag by the rule below (:class:`PublicationRule`).

The publication rule, CBS-style (three classes, as CBS, Statistics Canada and the ONS publish
model-based and survey figures): a cell is

* ``"publiceren"`` when it has at least ``min_n_publish`` respondents and ``cv <= cv_publish``;
* ``"publiceren met voorbehoud"`` (publish with caution) when it has at least ``min_n_caution``
  respondents and ``cv <= cv_caution``;
* ``"niet publiceren"`` otherwise, which includes every cell without respondents (a model
  prediction) and every cell below ``min_n_caution``.

The thresholds live in ``params/analysis.yaml`` (``sae_publication``, typed in
:class:`meting.settings.analysis.SaePublication`); the defaults (n >= 30 and cv <= 4 %; n >= 5
and cv <= 8 %) are chosen for marks on the 1-10 scale, where a cv of 4 % at a mark of 6,5 is a
95 % interval of about +/- 0,5 mark and 8 % about +/- 1 mark. The relative thresholds of offices
that publish counts and totals (16,5 % / 33,3 % at Statistics Canada) would pass every cell of a
mark, so n carries the weight here and the cv guards against a wide posterior.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

import numpy as np
import pandas as pd

from meting.errors import ParameterError

if TYPE_CHECKING:  # the rule is read by every report (Settings.publication_rule): no xarray
    import xarray as xr

__all__ = [
    "PUBLICATION_LABELS",
    "PublicationRule",
    "add_quality",
    "cell_shrinkage",
]

#: The publication classes, best first.
PUBLICATION_LABELS: Final = ("publiceren", "publiceren met voorbehoud", "niet publiceren")


@dataclass(frozen=True)
class PublicationRule:
    """Thresholds of the publication flag (see the module docstring)."""

    min_n_publish: int = 30
    cv_publish: float = 0.04
    min_n_caution: int = 5
    cv_caution: float = 0.08

    def __post_init__(self) -> None:
        if not 0 < self.cv_publish <= self.cv_caution:
            raise ParameterError(
                f"PublicationRule needs 0 < cv_publish <= cv_caution; got {self.cv_publish!r} "
                f"and {self.cv_caution!r}. Give the stricter threshold to 'publiceren'."
            )
        if not 1 <= self.min_n_caution <= self.min_n_publish:
            raise ParameterError(
                f"PublicationRule needs 1 <= min_n_caution <= min_n_publish; got "
                f"{self.min_n_caution!r} and {self.min_n_publish!r}."
            )

    def flag(self, n: np.ndarray, cv: np.ndarray) -> np.ndarray:
        """The publication class of each cell from its respondents and cv."""
        n = np.nan_to_num(np.asarray(n, dtype=float), nan=0.0)
        cv = np.asarray(cv, dtype=float)
        ok_cv = np.isfinite(cv)
        publish = (n >= self.min_n_publish) & ok_cv & (cv <= self.cv_publish)
        caution = (n >= self.min_n_caution) & ok_cv & (cv <= self.cv_caution)
        return np.select(
            [publish, caution], list(PUBLICATION_LABELS[:2]), default=PUBLICATION_LABELS[2]
        ).astype(object)


def cell_shrinkage(
    posterior: xr.Dataset,
    observed: np.ndarray,
    *,
    variance: np.ndarray | None = None,
    n: np.ndarray | None = None,
) -> np.ndarray:
    """Posterior mean of ``1 - gamma`` per cell of a single-wave fit (see the module docstring).

    Give ``variance`` (Fay-Herriot: the sampling variance per cell) or ``n`` (unit level and MRP:
    respondents per cell, with ``sigma`` in the posterior). NaN for a model without cell effects
    (one group: no ``sd_cell``); 1 for a cell without data.
    """
    observed = np.asarray(observed, dtype=bool)
    if "sd_cell" not in posterior:
        return np.full(observed.shape, np.nan)
    tau2 = posterior["sd_cell"].to_numpy().reshape(-1)[:, None] ** 2
    if variance is not None:
        v = np.where(observed, np.asarray(variance, dtype=float), 1.0)[None, :]
        precision = np.where(observed, 1.0 / v, 0.0)
        gamma = tau2 * precision / (1.0 + tau2 * precision)
        return np.where(observed, 1.0 - gamma.mean(axis=0), 1.0)
    assert n is not None
    sigma2 = posterior["sigma"].to_numpy().reshape(-1)[:, None] ** 2
    counts = np.asarray(n, dtype=float)[None, :]
    gamma = tau2 * counts / (sigma2 + tau2 * counts)
    return np.where(observed, 1.0 - gamma.mean(axis=0), 1.0)


def add_quality(
    cells: pd.DataFrame, shrinkage: np.ndarray, rule: PublicationRule | None = None
) -> pd.DataFrame:
    """``cells`` with ``cv``, ``shrinkage`` and ``publication`` added (after the other columns)."""
    rule = rule or PublicationRule()
    estimate = cells["estimate"].to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        cv = cells["se"].to_numpy(dtype=float) / np.abs(estimate)
    n = cells["n"].to_numpy(dtype=float, na_value=np.nan)
    out = cells.assign(cv=cv, shrinkage=np.asarray(shrinkage, dtype=float))
    out["publication"] = pd.Series(rule.flag(n, cv), index=out.index, dtype="str")
    return out
