"""The result of a small-area fit: :class:`SaeResult` (cells in the result schema, diagnostics,
draws and population-weighted aggregates)."""

from __future__ import annotations

from dataclasses import dataclass

import arviz as az
import numpy as np
import pandas as pd

from meting.errors import ParameterError, SchemaError
from meting.sae.aggregate import weighted_aggregate
from meting.sae.data import _numeric, _require_columns
from meting.sae.diagnostics import Diagnostics

__all__ = ["CELL_EXTRA_COLUMNS", "SaeResult"]

#: Extra columns of a cell table after the core result columns (:mod:`meting.results`).
CELL_EXTRA_COLUMNS = ("lower_90", "upper_90", "prob_ge_target", "direct", "direct_se", "observed")


@dataclass(frozen=True)
class SaeResult:
    """A fitted small-area model.

    Attributes
    ----------
    cells
        One row per cell, a result table (:mod:`meting.results`): the group columns, then
        ``variable, estimate, se, lower, upper, level, df, n, method`` (posterior mean, sd and
        central 95% interval of the cell mean; df missing; method ``fay-herriot``,
        ``unit-level`` or ``mrp``), then :data:`CELL_EXTRA_COLUMNS`: the 90% interval,
        ``prob_ge_target``, ``direct, direct_se`` (the direct estimate beside it) and ``observed``
        (False: no respondents, a prediction from the effects).
    diagnostics
        Convergence over every parameter; see :class:`~meting.sae.diagnostics.Diagnostics`.
    idata
        The posterior (and sampler statistics); no observed data. ``theta`` holds the cell draws,
        in the row order of ``cells``.
    target
        The threshold of ``prob_ge_target`` (the cabinet's 7).
    population
        Population count per cell when the model was post-stratified (MRP), else None; the default
        weights of :meth:`aggregate`.
    """

    cells: pd.DataFrame
    diagnostics: Diagnostics
    idata: az.InferenceData
    target: float = 7.0
    population: np.ndarray | None = None

    @property
    def groups(self) -> list[str]:
        return list(self.cells.columns[: list(self.cells.columns).index("variable")])

    def draws(self) -> np.ndarray:
        """Cell draws as an array (chains x draws flattened, cells), in the order of ``cells``."""
        theta = self.idata.posterior["theta"]  # type: ignore[attr-defined]
        return theta.stack(sample=("chain", "draw")).transpose("sample", "cell").to_numpy()

    def aggregate(
        self,
        by: str | list[str] | None,
        weights: pd.DataFrame | None = None,
        *,
        weight: str = "population",
    ) -> pd.DataFrame:
        """Population-weighted aggregates of the cell means, computed on the draws.

        Parameters
        ----------
        by
            Group column(s) to aggregate to, e.g. ``"life_event"`` (a life event nationally) or
            ``"municipality"`` (a municipality over all life events); None or ``[]`` gives one
            national figure.
        weights
            A table with the model's group columns and a ``weight`` column (population counts per
            cell). Every cell of the result must appear once. None uses the population of the
            MRP fit.
        weight
            Name of the weight column in ``weights``.

        Returns
        -------
        pandas.DataFrame
            A result table: the ``by`` columns, the core columns (posterior of the aggregate),
            ``lower_90, upper_90, prob_ge_target`` and ``population`` (total weight); ``n`` is
            the number of respondents.
        """
        by_list = [by] if isinstance(by, str) else list(by or [])
        groups = self.groups
        if weights is None:
            if self.population is None:
                raise ParameterError(
                    "weights must be given for a model fitted without population; got None. "
                    "Pass a table with the group columns and population counts per cell."
                )
            w = np.asarray(self.population, dtype=float)
        else:
            _require_columns(weights, [*groups, weight], "weights")
            if weights.duplicated(groups).any():
                raise SchemaError(
                    f"weights must have one row per cell of {groups}; got duplicates. "
                    "Sum the population per cell first."
                )
            keyed = self.cells[groups].merge(
                weights[[*groups, weight]].astype({g: str for g in groups}),
                on=groups,
                how="left",
            )
            w = _numeric(keyed, weight, "weights")
            bad = ~np.isfinite(w) | (w < 0)
            if bad.any():
                raise SchemaError(
                    f"weights column {weight!r} must be a count >= 0 for every cell; got "
                    f"{w[bad][0]!r} for {keyed.loc[bad, groups].iloc[0].to_dict()}. "
                    "Add the missing cells (weight 0 if they have no population)."
                )
        return weighted_aggregate(
            self.draws(),
            self.cells,
            by_list,
            w,
            self.target,
            variable=str(self.cells["variable"].iloc[0]),
            method=str(self.cells["method"].iloc[0]),
        )
