"""Survey statistics without R: proportion intervals at the edges, argument checks, schemas."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from meting import contrast
from meting.design import SurveyDesign
from meting.errors import DesignError
from meting.intervals import beta_interval
from meting.knelpunten.channels import channel_use
from meting.knelpunten.norms import norm_shares
from meting.results import RESULT_COLUMNS


def _frame(n: int = 80, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    group = np.repeat(["a", "b"], n // 2)
    bsc = np.where(group == "a", 5, rng.integers(1, 6, n))  # group a: everyone "goed"
    return pd.DataFrame(
        {
            "group": group,
            "psu": np.arange(n) // 4,
            "bsc_01": bsc,
            "channel_balie": np.where(group == "a", 0, rng.integers(0, 2, n)),
            "y": rng.normal(7, 1, n),
            "w": rng.uniform(1, 3, n),
        }
    )


def test_norm_share_interval_has_width_at_zero_and_one() -> None:
    d = SurveyDesign(_frame(), weights="w", ids="psu")
    shares = norm_shares(d, by="group", norms=["bsc_01"]).set_index(["group", "outcome"])
    zero = shares.loc[("a", "niet goed")]
    one = shares.loc[("a", "goed")]
    assert zero["estimate"] == 0 and zero["lower"] == 0 and zero["upper"] > 0.02
    assert one["estimate"] == 1 and one["upper"] == 1 and one["lower"] < 0.98
    assert (shares["lower"] >= 0).all() and (shares["upper"] <= 1).all()
    assert (shares["method"] == "ciprop-beta").all()
    # the fallback n_eff = respondents: Clopper-Pearson for 0 out of n
    n = zero["n"]
    assert zero["upper"] == pytest.approx(1 - 0.025 ** (1 / n))


def test_channel_use_interval_at_zero() -> None:
    d = SurveyDesign(_frame(), weights="w", ids="psu")
    use = channel_use(d, by="group", channels=["channel_balie"]).set_index("group")
    assert use.loc["a", "estimate"] == 0 and use.loc["a", "upper"] > 0


def test_beta_interval_without_fallback_is_nan_like_r() -> None:
    lo, hi = beta_interval(np.array([0.0]), np.array([0.0]), np.array([10.0]), 0.95, [20.0])
    assert np.isnan(lo[0]) and np.isnan(hi[0])


def test_new_estimators_return_result_tables() -> None:
    d = SurveyDesign(_frame().assign(x=lambda f: f["y"] + 1), weights="w", ids="psu")
    tables = [
        d.ciprop("channel_balie", by="group", method="xlogit"),
        d.ratio("y", "x", by="group"),
        d.quantile("y", [0.25, 0.5], by="group"),
        contrast(d, "y", "group", {"a": 1, "b": -1}),
    ]
    for t in tables:
        assert [c for c in t.columns if c in RESULT_COLUMNS] == list(RESULT_COLUMNS)


def test_argument_checks() -> None:
    d = SurveyDesign(_frame(), weights="w")
    with pytest.raises(DesignError, match="method must be one of"):
        d.ciprop("channel_balie", method="wilson")  # type: ignore[arg-type]
    with pytest.raises(DesignError, match="probs must lie"):
        d.quantile("y", 1.5)
    with pytest.raises(DesignError, match="qrule"):
        d.quantile("y", 0.5, qrule="hf1")  # type: ignore[arg-type]
    with pytest.raises(DesignError, match="deff must be"):
        d.mean("y", deff="with")  # type: ignore[arg-type]
    with pytest.raises(DesignError, match="covariance must be given"):
        contrast(d.mean("y", by="group"), coefficients={"a": 1})
    assert d.mean("y", deff=False)["deff"].isna().all()


def test_contrast_matches_hand_computation() -> None:
    d = SurveyDesign(_frame(), weights="w", ids="psu")
    table = d.mean("y", by="group")
    cov = d.covariance("y", by="group")
    c = contrast(d, "y", "group", {"a": 1, "b": -1})
    est = table["estimate"].to_numpy()
    assert c["estimate"][0] == pytest.approx(est[0] - est[1])
    assert c["se"][0] == pytest.approx(np.sqrt(cov[0, 0] + cov[1, 1] - 2 * cov[0, 1]))
    assert c["n"][0] == table["n"].sum()


def test_domain_df_counts_psus_of_the_domain() -> None:
    frame = _frame()
    d = SurveyDesign(frame, weights="w", ids="psu")
    t = d.mean("y", by="group").set_index("group")
    assert t.loc["a", "df"] == frame.loc[frame.group == "a", "psu"].nunique() - 1
    assert d.mean("y")["df"][0] == frame["psu"].nunique() - 1


def test_wave_comparison_uses_domain_df() -> None:
    from meting.comparison import compare_waves, welch_satterthwaite_df

    a = SurveyDesign(_frame(seed=1), weights="w", ids="psu").mean("y", by="group")
    b = SurveyDesign(_frame(seed=2), weights="w", ids="psu").mean("y", by="group")
    out = compare_waves(a, b, keys=["group"], min_n=1).set_index("group")
    for g in ("a", "b"):
        ea, eb = a.set_index("group").loc[g], b.set_index("group").loc[g]
        expected = welch_satterthwaite_df(
            np.array([ea.se]), np.array([ea.df]), np.array([eb.se]), np.array([eb.df])
        )[0]
        assert ea.df == 9  # 10 clusters in the domain, not the design's 19
        assert out.loc[g, "df"] == pytest.approx(expected)


def _clustered(n: int = 900, seed: int = 5) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    stratum = rng.integers(0, 3, n)
    return pd.DataFrame(
        {
            "stratum": stratum,
            "psu": stratum * 100 + rng.integers(0, 15, n),
            "gm": rng.choice([f"GM{i:04d}" for i in range(1, 12)], n),
            "sex": rng.choice(["m", "v"], n),
            "y": np.where(rng.random(n) < 0.1, np.nan, rng.normal(7, 1.2, n) + stratum * 0.2),
            "w": rng.uniform(1, 3, n),
        }
    )


def _each_vs_rest(d: SurveyDesign, labels: list[str]) -> pd.DataFrame:
    """The reference: one two-domain contrast per label (svycontrast on svyby)."""
    import dataclasses

    rows = []
    for label in labels:
        g = np.where(d.data["gm"].to_numpy() == label, "gemeente", "rest")
        one = dataclasses.replace(d, data=d.data.assign(_deel=g))
        rows.append(contrast(one, "y", "_deel", {"gemeente": 1.0, "rest": -1.0}))
    return pd.concat(rows, ignore_index=True)


@pytest.mark.parametrize("weighting", ["rake", "none"])
def test_every_domain_against_the_rest_equals_one_contrast_each(weighting: str) -> None:
    from meting.contrast import domains_vs_rest
    from meting.weighting import rake

    f = _clustered()
    d = SurveyDesign(f, weights="w", strata="stratum", ids="psu")
    if weighting == "rake":
        margins = {
            "sex": {k: 20.0 * v for k, v in f["sex"].value_counts().items()},
            "gm": {k: 20.0 * v for k, v in f["gm"].value_counts().items()},
        }
        d = rake(d, margins)[0]
    labels = sorted(f["gm"].unique())
    out = domains_vs_rest(d, "y", "gm", labels)
    ref = _each_vs_rest(d, labels)
    assert out["gm"].tolist() == labels
    for col in ("estimate", "se", "lower", "upper", "df", "n"):
        np.testing.assert_allclose(out[col], ref[col], rtol=1e-10, err_msg=col)
    assert (out["method"] == "contrast").all() and (out["contrast"] == "gemeente - rest").all()


def test_against_the_rest_with_lonely_psus_averaged_per_domain() -> None:
    """lonely_psu="average" on an uncalibrated design rescales the first stage per domain: that
    path goes contrast by contrast, and a label without respondents gets NaN, not an error."""
    from meting.contrast import domains_vs_rest

    f = _clustered()
    f.loc[f.index[:1], ["stratum", "psu"]] = [7, 700]  # a stratum with one PSU
    d = SurveyDesign(f, weights="w", strata="stratum", ids="psu", lonely_psu="average")
    labels = ["GM0001", "GM0005", "GM9999"]
    out = domains_vs_rest(d, "y", "gm", labels)
    ref = _each_vs_rest(d, labels[:2])
    np.testing.assert_allclose(out["se"][:2], ref["se"], rtol=1e-10)
    np.testing.assert_allclose(out["estimate"][:2], ref["estimate"], rtol=1e-10)
    assert out.loc[2, ["estimate", "se", "lower", "upper"]].isna().all()
