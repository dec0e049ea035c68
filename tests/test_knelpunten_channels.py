"""Channels: use shares, scores among users (overlapping domains), shift between waves."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from meting.design import SurveyDesign
from meting.errors import ParameterError
from meting.knelpunten.channels import channel_scores, channel_shift, channel_use

CH = ["channel_balie", "channel_telefoon", "channel_internet", "channel_brief"]


def _data(seed: int = 0, n: int = 60) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    data = pd.DataFrame(rng.integers(0, 2, size=(n, 4)), columns=CH).astype("Int8")
    data["score_chain"] = pd.array(rng.integers(4, 10, n), dtype="Int8")
    data["w"] = rng.uniform(1, 3, n)
    return data


def test_use_and_scores_by_hand():
    data = _data()
    design = SurveyDesign(data, weights="w")
    use = channel_use(design).set_index("channel")
    scores = channel_scores(design).set_index("channel")
    w = data["w"].to_numpy()
    y = data["score_chain"].to_numpy(float)
    for col, name in zip(CH, ["balie", "telefoon", "internet", "brief"], strict=True):
        used = data[col].to_numpy(int) == 1
        assert use.loc[name, "estimate"] == pytest.approx(np.average(used, weights=w))
        m = np.average(y[used], weights=w[used])
        assert scores.loc[name, "estimate"] == pytest.approx(m)
        assert scores.loc[name, "n"] == used.sum()
        z = np.where(used, w * (y - m) / w[used].sum(), 0.0)
        n = len(z)
        assert scores.loc[name, "se"] == pytest.approx(
            np.sqrt(n / (n - 1) * ((z - z.mean()) ** 2).sum()), rel=1e-10
        )


def test_shift_between_waves():
    a = channel_scores(SurveyDesign(_data(1), weights="w"))
    b = channel_scores(SurveyDesign(_data(2, 80), weights="w"))
    shift = channel_shift(a, b).set_index("channel")
    a, b = a.set_index("channel"), b.set_index("channel")
    np.testing.assert_allclose(shift["difference"], b["estimate"] - a["estimate"])
    np.testing.assert_allclose(shift["se"], np.hypot(a["se"], b["se"]))
    v1, v2 = a["se"] ** 2, b["se"] ** 2
    df = (v1 + v2) ** 2 / (v1**2 / a["df"] + v2**2 / b["df"])
    np.testing.assert_allclose(shift["df"], df)
    assert ((shift["lower"] < shift["difference"]) & (shift["difference"] < shift["upper"])).all()


def test_bad_channel_values():
    data = _data().assign(channel_brief=pd.array([2] + [0] * 59, dtype="Int8"))
    with pytest.raises(ParameterError, match="must hold 0 or 1"):
        channel_use(SurveyDesign(data, weights="w"))
    with pytest.raises(ParameterError, match="must have column"):
        channel_shift(pd.DataFrame({"channel": []}), pd.DataFrame({"channel": []}))
