"""Contact channels: use shares, the score by channel, and the shift between two waves.

A respondent may use several channels (``channel_balie``, ``channel_telefoon``,
``channel_internet``, ``channel_brief``: 0/1 each).  The score "by channel" is therefore a domain
mean over the *users* of that channel (the domains overlap; each is estimated on the whole design,
as ``svyby`` would with the channel as a domain), not a partition of the sample.  The use share of a
channel is the weighted mean of its 0/1 column.

The shift between two waves is ``later - earlier`` for each channel (and group), with
``se = sqrt(se_earlier^2 + se_later^2)`` (independent samples) and Welch-Satterthwaite degrees of
freedom, as :func:`meting.comparison.compare_waves` does.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from meting.checks import check_design_columns, check_level
from meting.columns import CHANNEL_COLUMNS, CHANNELS, SCORE_CHAIN
from meting.comparison import welch_satterthwaite_df
from meting.design import SurveyDesign
from meting.errors import ParameterError
from meting.knelpunten._common import as_list, check_design, numeric, t_quantile, with_columns

__all__ = ["channel_scores", "channel_shift", "channel_use"]

_CHANNEL_OF = dict(zip(CHANNEL_COLUMNS, CHANNELS, strict=True))


def _check_channels(design: SurveyDesign, channels: Sequence[str]) -> list[str]:
    channels = as_list(channels)
    if not channels:
        raise ParameterError("channels must name at least one column; got none.")
    check_design_columns(design.data, channels, "channel")
    for c in channels:
        v = numeric(design.data, c)
        bad = ~np.isnan(v) & ~np.isin(v, (0, 1))
        if bad.any():
            i = int(np.argmax(bad))
            raise ParameterError(
                f"channel column {c!r} must hold 0 or 1; got {v[i]!r} at row {i}. "
                "Validate the wave with meting.loaders."
            )
    return channels


def channel_use(
    design: SurveyDesign,
    by: str | Sequence[str] | None = None,
    channels: Sequence[str] = CHANNEL_COLUMNS,
    level: float = 0.95,
) -> pd.DataFrame:
    """Weighted share of respondents who used each channel (shares need not sum to 1).

    Returns
    -------
    pandas.DataFrame
        Group columns, ``channel`` (``balie``, ...), then the estimate columns ``variable,
        estimate, se, df, lower, upper, deff, n`` (``estimate`` a proportion 0-1), with
        Korn-Graubard intervals (``svyciprop(method = "beta")``; ``method`` ``"ciprop-beta"``)
        that stay in [0, 1] without clipping and keep a positive width at 0 or 1.
    """
    design = check_design(design)
    level = check_level(level)
    channels = _check_channels(design, channels)
    by_cols = as_list(by)
    parts = []
    for c in channels:
        t = design.ciprop(c, method="beta", by=by_cols or None, level=level)
        t.insert(len(by_cols), "channel", _CHANNEL_OF.get(c, c))
        parts.append(t)
    out = pd.concat(parts, ignore_index=True)
    out = out.sort_values([*by_cols], kind="stable").reset_index(drop=True)
    return out


def channel_scores(
    design: SurveyDesign,
    outcome: str = SCORE_CHAIN,
    by: str | Sequence[str] | None = None,
    channels: Sequence[str] = CHANNEL_COLUMNS,
    level: float = 0.95,
) -> pd.DataFrame:
    """Weighted mean of ``outcome`` among the users of each channel (overlapping domains).

    Returns
    -------
    pandas.DataFrame
        Group columns, ``channel``, then ``variable, estimate, se, df, lower, upper, deff,
        n`` (``n``: users of the channel with the outcome observed).
    """
    design = check_design(design)
    level = check_level(level)
    channels = _check_channels(design, channels)
    check_design_columns(design.data, [outcome], "outcome")
    by_cols = as_list(by)
    y = numeric(design.data, outcome)
    cols, names = {}, []
    for j, c in enumerate(channels):
        used = numeric(design.data, c) == 1
        tmp = f"__knelpunt_channel_{j}"
        cols[tmp] = np.where(used, y, np.nan)  # outside the domain: left out, as svyby does
        names.append((tmp, c))
    work = with_columns(design, cols)
    parts = []
    for tmp, c in names:
        t = work.mean(tmp, by=by_cols or None, level=level)
        t["variable"] = outcome
        t.insert(len(by_cols), "channel", _CHANNEL_OF.get(c, c))
        parts.append(t)
    out = pd.concat(parts, ignore_index=True)
    out = out.sort_values([*by_cols], kind="stable").reset_index(drop=True)
    return out


def channel_shift(
    earlier: pd.DataFrame,
    later: pd.DataFrame,
    keys: Sequence[str] = ("channel",),
    level: float = 0.95,
) -> pd.DataFrame:
    """Change of a channel table (use or score) between two waves: later - earlier.

    Parameters
    ----------
    earlier, later
        Tables from :func:`channel_use` or :func:`channel_scores` of two waves.
    keys
        Columns that identify a row in both (``channel`` plus any group columns).
    level
        Confidence level.

    Returns
    -------
    pandas.DataFrame
        ``keys``, ``estimate_earlier, se_earlier, n_earlier, estimate_later, se_later, n_later,
        difference, se, df, lower, upper, statistic, p_value`` (two-sided t with
        Welch-Satterthwaite df; samples treated as independent).
    """
    keys = list(keys)
    level = check_level(level)
    for name, t in (("earlier", earlier), ("later", later)):
        missing = [c for c in [*keys, "estimate", "se", "df", "n"] if c not in t.columns]
        if missing:
            raise ParameterError(
                f"{name} table must have column {missing[0]!r}; got {list(t.columns)}. "
                "Pass tables from channel_use or channel_scores."
            )
    cols = [*keys, "estimate", "se", "df", "n"]
    merged = earlier[cols].merge(later[cols], on=keys, suffixes=("_earlier", "_later"))
    diff = merged["estimate_later"] - merged["estimate_earlier"]
    se = np.sqrt(merged["se_earlier"] ** 2 + merged["se_later"] ** 2)
    df = welch_satterthwaite_df(
        merged["se_earlier"].to_numpy(float),
        merged["df_earlier"].to_numpy(float),
        merged["se_later"].to_numpy(float),
        merged["df_later"].to_numpy(float),
    )
    q = t_quantile(level, df)
    out = merged.drop(columns=["df_earlier", "df_later"])
    out["difference"] = diff
    out["se"] = se
    out["df"] = df
    out["lower"] = diff - q * se
    out["upper"] = diff + q * se
    with np.errstate(divide="ignore", invalid="ignore"):
        out["statistic"] = diff / se
    out["p_value"] = 2 * stats.t.sf(np.abs(out["statistic"]), df)
    out.attrs.update(level=level)
    return out
