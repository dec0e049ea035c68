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
from meting.sae.quality import PublicationRule

__all__ = ["CELL_EXTRA_COLUMNS", "QUALITY_COLUMNS", "SaeResult"]

#: Extra columns of a cell table after the core result columns (:mod:`meting.results`).
CELL_EXTRA_COLUMNS = ("lower_90", "upper_90", "prob_ge_target", "direct", "direct_se", "observed")
#: The quality columns that follow them (:mod:`meting.sae.quality`); ``benchmarked`` follows
#: these in a benchmarked result (:meth:`SaeResult.benchmarked`).
QUALITY_COLUMNS = ("cv", "shrinkage", "publication")


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
        (False: no respondents, a prediction from the effects), then :data:`QUALITY_COLUMNS`
        (``cv``, ``shrinkage``, ``publication``). A fit linked across waves has the wave column
        after the model's groups and one row per cell x wave (cell by cell, waves in order).
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
    wave
        The wave column of a fit linked across waves, else None.
    """

    cells: pd.DataFrame
    diagnostics: Diagnostics
    idata: az.InferenceData
    target: float = 7.0
    population: np.ndarray | None = None
    wave: str | None = None

    @property
    def groups(self) -> list[str]:
        """The group columns of ``cells`` (with the wave column of a linked fit)."""
        return list(self.cells.columns[: list(self.cells.columns).index("variable")])

    @property
    def waves(self) -> list[str]:
        """The waves of a linked fit, in model order (empty for a single-wave fit)."""
        if self.wave is None:
            return []
        return [str(w) for w in self.idata.posterior["wave"].to_numpy()]  # type: ignore[attr-defined]

    def draws(self) -> np.ndarray:
        """Cell draws as an array (chains x draws flattened, rows of ``cells``)."""
        theta = self.idata.posterior["theta"]  # type: ignore[attr-defined]
        dims = ("sample", "cell", "wave") if "wave" in theta.dims else ("sample", "cell")
        values = theta.stack(sample=("chain", "draw")).transpose(*dims).to_numpy()
        return values.reshape(values.shape[0], -1)

    def change(self, from_wave: str, to_wave: str) -> pd.DataFrame:
        """The change ``to_wave - from_wave`` of every cell of a linked fit, from the draws.

        Returns a result table (:mod:`meting.results`), one row per cell: the model's groups,
        ``variable``, the posterior mean (``estimate``), sd (``se``) and central 95 % interval of
        the change, ``level`` 0.95, ``df`` missing, ``n`` (respondents in ``to_wave``), ``method``
        ``"linked-difference"``; then ``lower_90, upper_90``, ``prob_improved`` (the posterior
        probability that the mean is higher in ``to_wave``), ``estimate_earlier, se_earlier,
        n_earlier, observed_earlier, publication_earlier`` and the same for ``later`` (the cells
        in the two waves; ``publication`` is their flag, :mod:`meting.sae.quality`),
        ``wave_earlier, wave_later`` and ``benchmarked`` for a benchmarked result. A cell
        observed in one wave only (or in neither) still gets a change: wider, since its missing
        wave is a prediction from its persistent effect.
        """
        from meting.results import result_table
        from meting.sae.aggregate import summarise_draws

        if self.wave is None:
            raise ParameterError(
                "change() needs a fit linked across waves; got a single-wave fit. Fit with "
                "wave='wave' (one row per cell x wave)."
            )
        waves = self.waves
        for name, value in (("from_wave", from_wave), ("to_wave", to_wave)):
            if value not in waves:
                raise ParameterError(
                    f"{name} must be one of the fitted waves {waves}; got {value!r}."
                )
        t = len(waves)
        i, j = waves.index(from_wave), waves.index(to_wave)
        diff = self.change_draws(from_wave, to_wave)
        summary = summarise_draws(diff, 0.0)
        cells = self.cells
        before = cells.iloc[i::t].reset_index(drop=True)
        after = cells.iloc[j::t].reset_index(drop=True)
        groups = [g for g in self.groups if g != self.wave]
        extra: dict[str, object] = {
            "lower_90": summary["lower_90"].to_numpy(),
            "upper_90": summary["upper_90"].to_numpy(),
            "prob_improved": (diff > 0).mean(axis=0),
        }
        for side, part in (("earlier", before), ("later", after)):
            for column in ("estimate", "se", "n", "observed", "publication"):
                if column in part.columns:
                    extra[f"{column}_{side}"] = part[column].to_numpy()
        extra["wave_earlier"] = from_wave
        extra["wave_later"] = to_wave
        if "benchmarked" in cells.columns:
            extra["benchmarked"] = before["benchmarked"].to_numpy(bool) & after[
                "benchmarked"
            ].to_numpy(bool)
        return result_table(
            before[groups],
            variable=str(cells["variable"].iloc[0]),
            estimate=summary["estimate"],
            se=summary["se"],
            lower=summary["lower"],
            upper=summary["upper"],
            level=0.95,
            df=np.nan,
            n=after["n"].to_numpy(dtype=float, na_value=np.nan),
            method="linked-difference",
            extra=extra,  # type: ignore[arg-type]
        )

    def change_draws(self, from_wave: str, to_wave: str) -> np.ndarray:
        """Draws of the change ``to_wave - from_wave`` per cell of a linked fit (draws x cells,
        cells in the row order of :meth:`change`), e.g. to aggregate changes per draw."""
        waves = self.waves
        if self.wave is None or from_wave not in waves or to_wave not in waves:
            raise ParameterError(
                f"change_draws() needs a linked fit and two of its waves {waves}; got "
                f"{from_wave!r} and {to_wave!r}."
            )
        draws = self.draws()
        draws = draws.reshape(draws.shape[0], -1, len(waves))
        return draws[:, :, waves.index(to_wave)] - draws[:, :, waves.index(from_wave)]

    def _cell_weights(self, weights: pd.DataFrame, weight: str) -> np.ndarray:
        """The weight of every row of ``cells`` from a table keyed by the group columns (for a
        linked fit the wave column may be missing: the same weight in every wave)."""
        groups = self.groups
        if self.wave is not None and self.wave not in weights.columns:
            groups = [g for g in groups if g != self.wave]
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
        return w

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
            MRP fit. For a linked fit the wave column may be left out (the same weights in
            every wave); aggregate with ``by=[..., wave]`` to keep the waves apart.
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
        if weights is None:
            if self.population is None:
                raise ParameterError(
                    "weights must be given for a model fitted without population; got None. "
                    "Pass a table with the group columns and population counts per cell."
                )
            w = np.asarray(self.population, dtype=float)
        else:
            w = self._cell_weights(weights, weight)
        return weighted_aggregate(
            self.draws(),
            self.cells,
            by_list,
            w,
            self.target,
            variable=str(self.cells["variable"].iloc[0]),
            method=str(self.cells["method"].iloc[0]),
        )

    def benchmarked(
        self,
        direct: pd.DataFrame,
        weights: pd.DataFrame,
        *,
        by: str | list[str] | None,
        weight: str = "population",
        estimate: str = "estimate",
        se: str = "se",
        method: str = "additive",
        random_seed: int,
        publication: PublicationRule | None = None,
    ) -> SaeResult:
        """The same fit with its draws benchmarked to design-based direct estimates.

        Per draw, the population-weighted aggregate of the cells of each ``by`` group is set to
        a draw of that group's direct estimate (additive or ratio, see
        :func:`meting.sae.aggregate.benchmark_draws`), so the benchmarked aggregate agrees with
        the direct estimate exactly (posterior mean = the estimate, posterior sd = its se) and
        the cells' intervals include the direct estimate's uncertainty.

        Parameters
        ----------
        direct
            Design-based estimates with the ``by`` columns, ``estimate`` and ``se`` (e.g.
            ``pipeline.life_event_estimates``); a linked fit benchmarks each wave on its own,
            so ``direct`` then needs the wave column too (added to ``by`` if missing).
        weights
            Population per cell, as in :meth:`aggregate`.
        by
            The benchmark groups, e.g. ``"life_event"``; None or ``[]``: one national benchmark.
        method
            ``"additive"`` (default: keeps the differences between the cells of a group, the
            natural rule for marks on a fixed scale) or ``"ratio"`` (keeps their ratios, the rule
            for counts).
        random_seed
            Seed of the draws of the direct estimates.
        publication
            Rule of the recomputed ``publication`` flag (None: the defaults).

        Returns
        -------
        SaeResult
            The summaries, ``cv`` and ``publication`` recomputed from the benchmarked draws and a
            column ``benchmarked`` (True where the cell's group had a direct estimate).
            Cells of groups without one keep their draws.
        """
        from meting.sae.aggregate import SUMMARY_COLUMNS, benchmark_draws, summarise_draws
        from meting.sae.quality import add_quality

        by_list = [by] if isinstance(by, str) else list(by or [])
        if self.wave is not None and self.wave not in by_list:
            by_list.append(self.wave)
        missing = [b for b in by_list if b not in self.groups]
        if missing:
            raise SchemaError(f"by must name group columns {self.groups}; got {missing}.")
        _require_columns(direct, [*by_list, estimate, se], "direct")
        if direct.duplicated(by_list).any():
            raise SchemaError(
                f"direct must have one row per group of {by_list}; got duplicates. "
                "Pass one estimate per benchmark group."
            )
        d = direct[[*by_list, estimate, se]].astype({b: str for b in by_list})
        d = d.reset_index(drop=True)
        d_est = _numeric(d, estimate, "direct")
        d_se = _numeric(d, se, "direct")
        usable = np.isfinite(d_est) & np.isfinite(d_se) & (d_se >= 0)
        d = d.assign(_group=np.where(usable, np.arange(len(d)), -1))
        if by_list:
            group = self.cells[by_list].merge(d, on=by_list, how="left")["_group"]
        else:
            group = pd.Series(np.full(len(self.cells), d["_group"].iloc[0]))
        codes = group.fillna(-1).to_numpy(dtype=np.int64)
        w = self._cell_weights(weights, weight)
        present = np.unique(codes[codes >= 0])
        remap = np.full(len(d), -1, dtype=np.int64)
        remap[present] = np.arange(len(present))
        codes = np.where(codes >= 0, remap[np.maximum(codes, 0)], -1)
        draws = benchmark_draws(
            self.draws(),
            codes,
            w,
            d_est[present],
            d_se[present],
            method=method,
            random_seed=random_seed,
        )
        theta = self.idata.posterior["theta"]  # type: ignore[attr-defined]
        shape = theta.transpose("chain", "draw", *theta.dims[2:]).shape
        posterior = self.idata.posterior.copy()  # type: ignore[attr-defined]
        posterior["theta"] = (theta.dims, draws.reshape(shape))
        groups = {g: self.idata[g] for g in self.idata.groups() if g != "posterior"}
        idata = az.InferenceData(**{"posterior": posterior, **groups})
        summary = summarise_draws(draws, self.target)
        cells = self.cells.copy()
        for column in SUMMARY_COLUMNS:
            cells[column] = summary[column].to_numpy()
        shrinkage = cells["shrinkage"].to_numpy(dtype=float)
        cells = add_quality(
            cells.drop(columns=["cv", "shrinkage", "publication"]), shrinkage, publication
        )
        cells["benchmarked"] = codes >= 0
        return SaeResult(
            cells=cells,
            diagnostics=self.diagnostics,
            idata=idata,
            target=self.target,
            population=self.population,
            wave=self.wave,
        )
