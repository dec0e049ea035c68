"""Estimators against the synthetic truth: what the validation report shows for every wave.

The synthetic waves keep the true mean of every cell (``truth_cells.csv``), so each estimator can
be checked against it: bias, RMSE and interval coverage of the direct and the model estimates by
cell-size class (cells without respondents are model predictions, checked apart), and how often
each verdict class is right.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from meting import columns as C
from meting.errors import ParameterError
from meting.pipeline import WaveAnalysis, direct_cells, sae_cells_with_verdicts, wave_data_files

if TYPE_CHECKING:
    from meting.sae import SaeResult

__all__ = [
    "SIZE_CLASSES",
    "coverage_by_size",
    "truth_comparison",
    "validation_summary",
    "verdict_accuracy",
]

#: Cell-size classes of the validation tables: (label, lowest n, highest n).
SIZE_CLASSES: tuple[tuple[str, int, float], ...] = (
    ("0 (voorspelling)", 0, 0),
    ("1-9", 1, 9),
    ("10-29", 10, 29),
    ("30 en meer", 30, np.inf),
)


def truth_comparison(an: WaveAnalysis, sae: SaeResult) -> pd.DataFrame:
    """Per life event x municipality: the synthetic truth beside the direct and model estimates
    (with the model's verdict), and whether each interval covers the truth (synthetic waves
    only): ``model_covers`` (95%), ``model_covers_90`` and ``direct_covers`` (95%)."""
    path = wave_data_files(an.registry, an.label)["respondents"].with_name("truth_cells.csv")
    if not path.is_file():
        raise ParameterError(
            f"the truth of wave {an.label} must exist for the validation; got no {path}. "
            "Run `meting generate` (synthetic waves only)."
        )
    truth = pd.read_csv(path, dtype={C.MUNICIPALITY: str, C.LIFE_EVENT: str})
    truth = truth.loc[truth[C.WAVE] == an.label, [C.LIFE_EVENT, C.MUNICIPALITY, "true_chain"]]
    direct = direct_cells(an)[[C.LIFE_EVENT, C.MUNICIPALITY, "lower", "upper"]]
    direct = direct.rename(columns={"lower": "direct_lower", "upper": "direct_upper"})
    out = sae_cells_with_verdicts(an, sae).astype({C.LIFE_EVENT: str, C.MUNICIPALITY: str})
    out = out.merge(truth, on=[C.LIFE_EVENT, C.MUNICIPALITY], how="left", validate="one_to_one")
    out = out.merge(direct, on=[C.LIFE_EVENT, C.MUNICIPALITY], how="left", validate="one_to_one")
    out["model_covers"] = (out["lower"] <= out["true_chain"]) & (out["true_chain"] <= out["upper"])
    out["model_covers_90"] = (out["lower_90"] <= out["true_chain"]) & (
        out["true_chain"] <= out["upper_90"]
    )
    out["direct_covers"] = (out["direct_lower"] <= out["true_chain"]) & (
        out["true_chain"] <= out["direct_upper"]
    )
    return out


def validation_summary(comparison: pd.DataFrame, min_n: int = 0) -> pd.DataFrame:
    """Bias, RMSE and 95% coverage of the direct and the model estimates against the truth, over
    the observed cells with at least ``min_n`` respondents (all observed cells when 0)."""
    c = comparison.loc[comparison["observed"] & (comparison["n"] >= max(min_n, 1))]
    c = c.loc[c["direct"].notna()]
    rows = []
    for name, est, cover in (
        ("direct", "direct", "direct_covers"),
        ("model", "estimate", "model_covers"),
    ):
        err = c[est] - c["true_chain"]
        rows.append(
            {
                "schatter": name,
                "cellen": len(c),
                "gemiddelde afwijking": float(err.mean()),
                "RMSE": float(np.sqrt((err**2).mean())),
                "dekking 95%-interval": float(c[cover].mean()),
            }
        )
    return pd.DataFrame(rows)


def coverage_by_size(comparison: pd.DataFrame) -> pd.DataFrame:
    """Per cell-size class (:data:`SIZE_CLASSES`): cells, RMSE of the model and of the direct
    estimate, and the coverage of the model's 90% and 95% intervals (about 90% and 95% when the
    model is calibrated). Cells without respondents form their own class: predictions."""
    n = pd.to_numeric(comparison["n"], errors="coerce").fillna(0).to_numpy(dtype=float)
    rows = []
    for label, lo, hi in SIZE_CLASSES:
        c = comparison.loc[(n >= lo) & (n <= hi)]
        if c.empty:
            continue
        model_err = c["estimate"] - c["true_chain"]
        direct = c.loc[c["direct"].notna()]
        direct_err = direct["direct"] - direct["true_chain"]
        rows.append(
            {
                "cellen": len(c),
                "respondenten per cel": label,
                "RMSE model": float(np.sqrt((model_err**2).mean())),
                "RMSE direct": float(np.sqrt((direct_err**2).mean())) if len(direct) else np.nan,
                "dekking 90%": float(c["model_covers_90"].mean()),
                "dekking 95%": float(c["model_covers"].mean()),
            }
        )
    out = pd.DataFrame(rows)
    cols = ["respondenten per cel", "cellen", "RMSE model", "RMSE direct"]
    return out[[*cols, "dekking 90%", "dekking 95%"]]


def verdict_accuracy(comparison: pd.DataFrame, target: float = 7.0) -> pd.DataFrame:
    """Per verdict class of the model: cells, and how often the truth lies on the side the verdict
    states ("waarschijnlijk ≥ 7": true mean at least the target; "waarschijnlijk < 7": below it).
    For "onzeker" the share of cells truly at least the target is given, and cells without a
    verdict (no respondents) are counted apart."""
    verdict = comparison["verdict"].astype("string").fillna("geen oordeel")
    at_least = comparison["true_chain"] >= target
    rows = []
    for label in sorted(verdict.unique(), key=lambda v: (v.startswith("geen"), v)):
        mine = verdict == label
        if label.startswith("waarschijnlijk ≥"):
            right = float(at_least[mine].mean())
        elif label.startswith("waarschijnlijk <"):
            right = float((~at_least[mine]).mean())
        else:
            right = np.nan
        rows.append(
            {
                "oordeel": label,
                "cellen": int(mine.sum()),
                "juist": right,
                "werkelijk ≥ doel": float(at_least[mine].mean()),
            }
        )
    return pd.DataFrame(rows)
