"""Hand-made result tables for tests (meting.results), intervals left empty."""

from __future__ import annotations

import numpy as np
import pandas as pd

from meting.results import result_table


def hand_table(estimate, se, df, n, groups: dict | None = None) -> pd.DataFrame:
    """A design-based result table of ``score_chain`` with the given numbers per row."""
    estimate = np.asarray(estimate, dtype=float)
    k = estimate.size
    return result_table(
        pd.DataFrame(groups) if groups else None,
        variable="score_chain",
        estimate=estimate,
        se=np.broadcast_to(se, k),
        lower=np.full(k, np.nan),
        upper=np.full(k, np.nan),
        level=0.95,
        df=np.broadcast_to(np.asarray(df, dtype=float), k),
        n=np.broadcast_to(n, k),
        method="taylor",
        extra={"deff": 1.0},
    )
