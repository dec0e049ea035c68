"""Conversion of a :class:`~meting.design.SurveyDesign` into a :class:`ReplicateDesign`
(``as.svrepdesign``: JK1, JKn, bootstrap weights from :mod:`meting.replicate`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd

from meting.errors import DesignError
from meting.estimators.inputs import as_list
from meting.replicate import ReplicateDesign, bootstrap_weights, jackknife_weights

if TYPE_CHECKING:
    from meting.design import SurveyDesign


def as_replicate(
    design: SurveyDesign,
    type: Literal["JK1", "JKn", "bootstrap"] = "JKn",
    replicates: int = 50,
    random_seed: int | None = None,
    mse: bool = False,
) -> ReplicateDesign:
    """:meth:`SurveyDesign.as_replicate <meting.design.SurveyDesign.as_replicate>` (documented there)."""
    if design.calibration:
        raise DesignError(
            "as_replicate needs a design before weighting; got a calibrated design "
            f"({', '.join(h.method for h in design.history) or 'weighted'}). Make the "
            "replicates from the unweighted design and weight each replicate, or use the "
            "linearisation of the calibrated design."
        )
    st = design.structure
    psu, strata = st.psu1, st.stratum1  # type: ignore[union-attr]
    fpc_factor = None
    fpc_cols = as_list(design.fpc)
    if fpc_cols:
        f = pd.to_numeric(design.data[fpc_cols[0]]).to_numpy(dtype=float)
        all_fpc = np.concatenate(
            [pd.to_numeric(design.data[c]).to_numpy(dtype=float) for c in fpc_cols]
        )
        n_h = st.stages[0].n_psu  # type: ignore[union-attr]
        first = np.full(n_h.size, -1, dtype=np.int64)
        first[strata[::-1]] = np.arange(strata.size)[::-1]
        fh = f[first]
        fpc_factor = 1.0 - n_h / fh if np.any(all_fpc > 1) else 1.0 - fh
    if type in ("JK1", "JKn"):
        if type == "JK1" and int(strata.max()) > 0:
            raise DesignError(
                "type 'JK1' is for unstratified designs; got "
                f"{int(strata.max()) + 1} strata. Use type='JKn'."
            )
        reps, scale, rscales = jackknife_weights(
            design.w, psu, strata, fpc_factor, stratified=type == "JKn"
        )
    elif type == "bootstrap":
        reps, scale = bootstrap_weights(design.w, psu, strata, int(replicates), random_seed)
        rscales = np.ones(reps.shape[1])
    else:
        raise DesignError(f"type must be 'JK1', 'JKn' or 'bootstrap'; got {type!r}.")
    return ReplicateDesign(
        design.data,
        weights=design.weights,
        type=type,
        scale=scale,
        rscales=rscales,
        mse=mse,
        degf=design.degf(),
        weight_values=design.w.copy(),
        repweight_values=reps,
    )
