"""Weight one wave of respondents to the population margins of the registry.

The wave's parameter file names the margins (``weighting.margins``, e.g. municipality x age band
x sex, and education).  Population counts per municipality x age band x sex come from
``params/municipalities``.  The registry holds no education counts, so the education margin is
built from the adult population and the education shares by age band of
``params/population_education.yaml`` (``Registry.education_shares``; the file says where they come
from; pass ``education_shares`` to use other shares).  Only the municipalities with respondents
are weighted; their population defines every margin, so all margins share one total.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

import numpy as np
import pandas as pd

from meting import columns as C
from meting.design import SurveyDesign
from meting.errors import DesignError
from meting.registry import Registry
from meting.weighting import WeightingReport, rake


def _education_shares(registry: Registry) -> pd.DataFrame:
    """Education shares by age band (rows AGE_BANDS, columns EDUCATION_LEVELS)."""
    return registry.education_shares.frame()


def population_margins(
    registry: Registry,
    margins: tuple[tuple[str, ...], ...],
    municipalities: list[str],
    education_shares: pd.DataFrame | None = None,
    on: dt.date | None = None,
) -> dict[tuple[str, ...], dict[tuple, float]]:
    """Population counts for each margin, over the given municipalities.

    Parameters
    ----------
    registry : Registry
        The loaded parameters.
    margins : tuple of tuple of str
        Margins as in ``Wave.weighting``; columns among municipality, age_band, sex, education.
    municipalities : list of str
        Municipality codes to include.
    education_shares : pandas.DataFrame, optional
        Shares of each education level (columns) within each age band (rows), rows summing to 1.
    on : datetime.date, optional
        Each municipality's population as it is on this date (a wave's reference date;
        :meth:`meting.registry.Registry.municipality_on`).

    Returns
    -------
    dict
        Margin (tuple of columns) -> {tuple of levels: population count}.
    """
    pop = registry.population(municipalities, on=on)
    pop = pop.assign(**{C.MUNICIPALITY: pop[C.MUNICIPALITY].astype(str)})
    needs_edu = any(C.EDUCATION in m for m in margins)
    if needs_edu:
        shares = _education_shares(registry) if education_shares is None else education_shares
        sums = shares.sum(axis=1).to_numpy()
        if not np.allclose(sums, 1.0, atol=1e-6):
            raise DesignError(
                f"education_shares must sum to 1 within each age band; got sums {sums.round(4)}. "
                "Normalise the shares."
            )
        long = (
            shares.rename_axis(C.AGE_BAND)
            .reset_index()
            .melt(id_vars=C.AGE_BAND, var_name=C.EDUCATION, value_name="share")
        )
        pop = pop.merge(long, on=C.AGE_BAND, how="left", validate="many_to_many")
        pop["count"] = pop["count"] * pop["share"]
    known = {C.MUNICIPALITY, C.AGE_BAND, C.SEX, C.EDUCATION}
    out: dict[tuple[str, ...], dict[tuple, float]] = {}
    for margin in margins:
        unknown = [c for c in margin if c not in known]
        if unknown:
            raise DesignError(
                f"weighting margins must use columns {sorted(known)}; got {unknown} in {margin}. "
                "Fix weighting.margins in the wave's parameter file."
            )
        counts = pop.groupby(list(margin), observed=True)["count"].sum()
        out[tuple(margin)] = {
            (k if isinstance(k, tuple) else (k,)): float(v) for k, v in counts.items()
        }
    return out


def design_for_wave(
    respondents: pd.DataFrame,
    registry: Registry,
    wave_label: str,
    *,
    education_shares: pd.DataFrame | None = None,
    max_iter: int = 100,
    epsilon: float = 1e-10,
    weights: str | None = None,
) -> tuple[SurveyDesign, WeightingReport]:
    """Declare the design of one wave and rake it to the registry's population margins.

    Parameters
    ----------
    respondents : pandas.DataFrame
        The wave's respondent table (data contract).
    registry : Registry
        The loaded parameters.
    wave_label : str
        Label of the wave (its ``weighting.margins`` are used).
    education_shares : pandas.DataFrame, optional
        Education shares by age band; default ``params/population_education.yaml`` (``Registry.education_shares``).
    max_iter, epsilon : int, float
        Raking control (see :func:`meting.weighting.rake`).
    weights : str, optional
        Design-weight column (e.g. ``design_weight``); default: the column when present.

    Returns
    -------
    (SurveyDesign, WeightingReport)
        The raked design (respondents are the units, unstratified) and its diagnostics.
    """
    if wave_label not in registry.waves:
        raise DesignError(
            f"wave_label must be one of {sorted(registry.waves)}; got {wave_label!r}. "
            "Add the wave to params/waves/ or fix the label."
        )
    wave = registry.waves[wave_label]
    margins = tuple(tuple(m) for m in wave.weighting)
    needed = sorted({c for m in margins for c in m})
    missing = [c for c in needed if c not in respondents.columns]
    if missing:
        raise DesignError(
            f"respondents must hold the weighting columns {needed}; got {missing} missing. "
            f"Add them or change weighting.margins in {wave.file}."
        )
    data = respondents.copy()
    for col in needed:  # plain string labels so that they match the registry's keys
        data[col] = data[col].astype(str)
    if weights is None and C.DESIGN_WEIGHT in data.columns:
        weights = C.DESIGN_WEIGHT
    municipalities = sorted(data[C.MUNICIPALITY].unique().tolist())
    targets = population_margins(
        registry, margins, municipalities, education_shares, on=wave.reference_date
    )
    design = SurveyDesign(data, weights=weights)
    rake_margins: Mapping = {
        (m[0] if len(m) == 1 else m): ({k[0]: v for k, v in t.items()} if len(m) == 1 else t)
        for m, t in targets.items()
    }
    return rake(design, rake_margins, max_iter=max_iter, epsilon=epsilon)
