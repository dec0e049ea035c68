"""The knelpunten sections of the reports (meting.report.sections) on a synthetic wave.

Every number is checked against a hand computation on the weighted respondents (weighted means
over the respondents who answered, complete cases, counts of raters), every suppression against
the raw counts, and the fallback of the key drivers against its rule.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from meting import columns as C
from meting.errors import ParameterError
from meting.registry import load_registry
from meting.report import sections as KT
from meting.report.plots import ReportFigure
from meting.report.privacy import SUPPRESSED
from meting.synthetic import generate_wave
from meting.wave_weighting import design_for_wave

WAVE = "2010-vervolgmeting"
EARLIER = "2009-vervolgmeting"


@pytest.fixture(scope="module")
def registry():
    return load_registry()


@pytest.fixture(scope="module")
def wave(registry):
    return generate_wave(registry, WAVE, n_respondents=3000)


@pytest.fixture(scope="module")
def design(registry, wave):
    return design_for_wave(wave.respondents, registry, WAVE)[0]


@pytest.fixture(scope="module")
def earlier(registry):
    w = generate_wave(registry, EARLIER, n_respondents=3000)
    return design_for_wave(w.respondents, registry, EARLIER)[0]


def _num(design, col: str) -> np.ndarray:
    return pd.to_numeric(design.data[col], errors="coerce").to_numpy(dtype=float)


def _wmean(y: np.ndarray, w: np.ndarray, keep: np.ndarray) -> float:
    keep = keep & ~np.isnan(y)
    return float(np.sum(w[keep] * y[keep]) / np.sum(w[keep]))


def test_norm_shares_are_weighted_shares_of_those_who_judged(design) -> None:
    table = KT.norms_table(design, min_n=30).set_index("norm")
    w = design.w
    everyone = np.ones(design.n, dtype=bool)
    for norm in (C.BSC_NORMS[0], C.BSC_NORMS[8]):
        x = _num(design, norm)
        judged = ~np.isnan(x)
        good = np.where(judged, (x >= 4).astype(float), np.nan)
        bad = np.where(judged, (x <= 2).astype(float), np.nan)
        assert table.loc[norm, "goed"] == pytest.approx(_wmean(good, w, everyone), rel=1e-10)
        assert table.loc[norm, "niet_goed"] == pytest.approx(_wmean(bad, w, everyone), rel=1e-10)
        assert table.loc[norm, "n"] == judged.sum()
    assert table.loc["bsc_04", "norm_label"] == "4. Persoonlijke informatieservice"


def test_small_norm_cells_are_blank_exactly_below_min_n(design) -> None:
    table = KT.norms_table(design, min_n=100, by=C.MUNICIPALITY)
    raw = (
        design.data.assign(j=pd.to_numeric(design.data["bsc_09"], errors="coerce").notna())
        .groupby(C.MUNICIPALITY, observed=True)["j"]
        .sum()
    )
    sub = table.loc[table["norm"] == "bsc_09"].set_index(C.MUNICIPALITY)
    assert sub["n"].to_dict() == raw.reindex(sub.index).to_dict()
    small = sub["n"] < 100
    assert small.any() and (~small).any()
    assert sub[SUPPRESSED].equals(small)
    assert sub.loc[small, ["goed", "niet_goed", "goed_lower"]].isna().all().all()
    assert sub.loc[~small, ["goed", "niet_goed"]].notna().all().all()
    html = KT.norms_html(sub.reset_index(), caption="x").html
    assert "–" in html and "niet getoond" in html and C.RESPONDENT_ID not in html
    # one municipality: the note counts only its own blank cells
    code = str(sub.index[small.to_numpy()][0])
    mine = KT.select(table, C.MUNICIPALITY, code)
    assert len(mine) == 10 and mine.attrs["suppressed"] == int(mine[SUPPRESSED].sum())
    big = str(sub.index[~small.to_numpy()][0])
    national = KT.norms_table(design, min_n=100)
    assert KT.select(table, C.MUNICIPALITY, big).attrs["suppressed"] == int(
        table.loc[table[C.MUNICIPALITY].astype(str) == big, SUPPRESSED].sum()
    )
    assert "goed landelijk" in KT.norms_html(mine, reference=national).html


def test_weakest_summary_names_the_lowest_ranked_norm(design, registry) -> None:
    names = {k: v.name for k, v in registry.life_events.items()}
    weak = KT.weakest_table(design, min_n=40, names=names)
    assert not weak.loc[weak[SUPPRESSED], "weakest"].fillna(False).astype(bool).any()
    assert (weak.loc[weak[SUPPRESSED], "n"] < 40).all()
    summary = KT.weakest_summary(weak)
    assert len(summary) == weak[C.LIFE_EVENT].nunique()
    w = design.w
    event = design.data[C.LIFE_EVENT].astype(str).to_numpy()
    for _, row in summary.dropna(subset=["zwakste_norm"]).iterrows():
        shares = {}
        for norm in C.BSC_NORMS:
            x = _num(design, norm)
            keep = (event == row[C.LIFE_EVENT]) & ~np.isnan(x)
            if keep.sum() >= 40:
                shares[norm] = _wmean((x >= 4).astype(float), w, keep)
        lowest = min(shares, key=shares.get)
        assert row["zwakste_norm"] == KT.norm_label(lowest)
        assert row["aandeel_goed"] == pytest.approx(shares[lowest], rel=1e-10)
        assert row["normen_gerangschikt"] == len(shares)
    fig = KT.norms_heatmap(weak, title="t")
    assert isinstance(fig, ReportFigure) and fig.png()[:4] == b"\x89PNG"
    assert fig.note.startswith(f"{int(weak[SUPPRESSED].sum())} cellen")


def test_drivers_use_all_norms_when_complete_cases_suffice(design) -> None:
    y = _num(design, C.SCORE_CHAIN)
    x = np.column_stack([_num(design, c) for c in C.BSC_NORMS])
    complete = ~np.isnan(y) & ~np.isnan(x).any(axis=1)
    table = KT.drivers_table(design, min_n=30, min_complete=int(complete.sum()))
    assert table.attrs["reduced"] is False and len(table) == 10
    assert table.attrs["n_full"] == complete.sum()
    assert (table["n"] == complete.sum()).all()
    assert table["belang"].sum() == pytest.approx(1.0, abs=1e-9)  # LMG shares add up to R^2
    assert table["belang"].is_monotonic_decreasing
    assert (
        (table["belang_lower"] <= table["belang"]) & (table["belang"] <= table["belang_upper"])
    ).all()
    # weighted R^2 of the full regression, by hand (WLS on the complete cases)
    w = design.w[complete]
    X = np.column_stack([np.ones(complete.sum()), x[complete]])
    beta = np.linalg.solve(X.T @ (w[:, None] * X), X.T @ (w * y[complete]))
    resid = y[complete] - X @ beta
    ybar = np.sum(w * y[complete]) / w.sum()
    r2 = 1 - np.sum(w * resid**2) / np.sum(w * (y[complete] - ybar) ** 2)
    assert table["r2"].iloc[0] == pytest.approx(r2, rel=1e-8)
    coef = dict(zip(C.BSC_NORMS, beta[1:], strict=True))
    assert table.set_index("norm")["estimate"].to_dict() == pytest.approx(coef, rel=1e-8)
    assert "alle tien normen" in KT.drivers_note(table).html


def test_drivers_fall_back_to_norms_one_to_seven(design) -> None:
    y = _num(design, C.SCORE_CHAIN)
    x = np.column_stack([_num(design, c) for c in C.BSC_NORMS[:7]])
    complete7 = ~np.isnan(y) & ~np.isnan(x).any(axis=1)
    table = KT.drivers_table(design, min_n=30, min_complete=1000)
    if table.attrs["n_full"] >= 1000:  # pragma: no cover - the synthetic wave has fewer
        pytest.skip("too many complete cases for the fallback")
    assert table.attrs["reduced"] is True
    assert list(table.attrs["predictors"]) == list(C.BSC_NORMS[:7])
    assert set(table["norm"]) == set(C.BSC_NORMS[:7])
    assert (table["n"] == complete7.sum()).all()
    note = KT.drivers_note(table).html
    assert "normen 1 tot en met 7" in note and "," in note
    empty = KT.drivers_table(design, min_n=30, min_complete=10**7)
    assert empty.empty and "niet geschat" in KT.drivers_note(empty).html
    fig = KT.drivers_plot(table)
    assert isinstance(fig, ReportFigure)


def test_chain_table_picks_best_among_large_organisations(design, wave, registry) -> None:
    names = {k: v.name for k, v in registry.life_events.items()}
    orgs = {k: v.name for k, v in registry.organisations.items()}
    min_n = 40
    table = KT.chain_table(design, wave.organisations, min_n=min_n, names=names)
    data = design.data
    w = pd.Series(design.w, index=data[C.RESPONDENT_ID].astype(str))
    event = data.set_index(data[C.RESPONDENT_ID].astype(str))[C.LIFE_EVENT].astype(str)
    long = wave.organisations.dropna(subset=[C.ORGANISATION_SCORE]).copy()
    long["rid"] = long[C.RESPONDENT_ID].astype(str)
    long["event"] = long["rid"].map(event)
    long["w"] = long["rid"].map(w)
    long["y"] = long[C.ORGANISATION_SCORE].astype(float)
    by = long.groupby(["event", C.ORGANISATION])
    scores = (by.apply(lambda g: np.sum(g["w"] * g["y"]) / np.sum(g["w"]))).rename("score")
    counts = by.size().rename("n")
    org = pd.concat([scores, counts], axis=1).reset_index()
    y = _num(design, C.SCORE_CHAIN)
    ev = data[C.LIFE_EVENT].astype(str).to_numpy()
    for _, row in table.iterrows():
        keep = ev == row[C.LIFE_EVENT]
        n_chain = int((keep & ~np.isnan(y)).sum())
        assert row["n"] == n_chain
        assert row[SUPPRESSED] == (n_chain < min_n)
        if row[SUPPRESSED]:
            assert np.isnan(row["chain_score"]) and row["beste_organisatie"] == "–"
            continue
        assert row["chain_score"] == pytest.approx(_wmean(y, design.w, keep), rel=1e-10)
        large = org.loc[(org["event"] == row[C.LIFE_EVENT]) & (org["n"] >= min_n)]
        if large.empty:
            assert np.isnan(row["best_score"])
            continue
        top = large.loc[large["score"].idxmax()]
        assert row["best_score"] == pytest.approx(top["score"], rel=1e-10)
        assert row["gap"] == pytest.approx(top["score"] - row["chain_score"], rel=1e-10)
        assert row["gap_lower"] < row["gap"] < row["gap_upper"]
    assert table[SUPPRESSED].any() and (~table[SUPPRESSED]).any()
    # rows in registry order (the order of the names mapping), as every report table
    assert table[C.LIFE_EVENT].astype(str).tolist() == [
        e for e in names if e in set(table[C.LIFE_EVENT].astype(str))
    ]
    html = KT.chain_html(table).html
    assert "–" in html and "niet getoond" in html
    assert isinstance(KT.chain_plot(table), ReportFigure)
    # organisation names are used when given
    named = KT.chain_table(design, wave.organisations, min_n=min_n, organisation_names=orgs)
    assert set(named.loc[~named[SUPPRESSED], "beste_organisatie"]) <= set(orgs.values()) | {"–"}
    code = str(design.data[C.MUNICIPALITY].astype(str).value_counts().index[0])
    mine = KT.municipality_chain(design, wave.organisations, code, min_n=min_n, names=names)
    assert set(mine[C.MUNICIPALITY]) == {code}
    assert mine.attrs["suppressed"] == int(mine[SUPPRESSED].sum())
    assert (mine.loc[~mine[SUPPRESSED], "n"] >= min_n).all()
    assert KT.municipality_chain(design, None, code, min_n=min_n) is None
    head = KT.chain_headline(design, wave.organisations).html
    assert "organisaties gemiddeld een" in head and "7,0 tegen 6,7" in head


def test_channel_table_and_shift_by_hand(design, earlier) -> None:
    table = KT.channel_table(design, min_n=30).set_index("channel")
    w, y = design.w, _num(design, C.SCORE_CHAIN)
    everyone = np.ones(design.n, dtype=bool)
    for col, name in zip(C.CHANNEL_COLUMNS, C.CHANNELS, strict=True):
        used = _num(design, col)
        assert table.loc[name, "gebruik"] == pytest.approx(_wmean(used, w, everyone), rel=1e-10)
        users = used == 1
        assert table.loc[name, "estimate"] == pytest.approx(_wmean(y, w, users), rel=1e-10)
        assert table.loc[name, "n"] == int((users & ~np.isnan(y)).sum())
    assert table.loc["brief", "kanaal"] == "brief of e-mail"
    shift = KT.channel_shift_table(earlier, design, min_n=30)
    assert len(shift) == 2 * len(C.CHANNELS)
    use = shift.loc[shift["maat"] == "gebruik"].set_index("channel")
    e_w = earlier.w
    e_all = np.ones(earlier.n, dtype=bool)
    for col, name in zip(C.CHANNEL_COLUMNS, C.CHANNELS, strict=True):
        before = _wmean(_num(earlier, col), e_w, e_all)
        after = _wmean(_num(design, col), w, everyone)
        assert use.loc[name, "difference"] == pytest.approx(after - before, rel=1e-9)
    blank = KT.channel_shift_table(earlier, design, min_n=2500)
    small = blank["n"] < 2500
    assert small.any() and blank.loc[small, "difference"].isna().all()
    assert blank.loc[~small, "difference"].notna().all()
    html = KT.channel_shift_html(shift).html
    assert "procentpunten" in html and "," in html
    fig = KT.channel_use_plot({EARLIER: earlier, WAVE: design}, min_n=30)
    assert fig.note == "" and fig.png()[:4] == b"\x89PNG"
    assert "8 cellen" in KT.channel_use_plot({EARLIER: earlier, WAVE: design}, min_n=10**5).note


def test_trim_index_by_hand_and_suppressed(design, registry) -> None:
    names = {k: v.name for k, v in registry.municipalities.items()}
    q = np.column_stack([_num(design, c) for c in C.TRIM_QUESTIONS])
    complete = ~np.isnan(q).any(axis=1)
    index = (q - 1).mean(axis=1) * 25.0  # 0-100, equal weights, scores 0, 25, ..., 100
    w = design.w
    table = KT.trim_table(design, min_n=30, names=names)
    nat = table.attrs["national"]
    assert nat["estimate"] == pytest.approx(_wmean(index, w, complete), rel=1e-10)
    assert nat["n"] == complete.sum()
    mun = design.data[C.MUNICIPALITY].astype(str).to_numpy()
    for _, row in table.iterrows():
        keep = (mun == row[C.MUNICIPALITY]) & complete
        assert row["n"] == keep.sum()
        assert row["estimate"] == pytest.approx(_wmean(index, w, keep), rel=1e-10)
    codes = table[C.MUNICIPALITY].astype(str).tolist()
    assert codes == [m for m in names if m in set(codes)]  # registry order
    cut = int(table["n"].median())
    small = KT.trim_table(design, min_n=cut, names=names)
    assert small.loc[small["n"] < cut, "estimate"].isna().all()
    assert small.loc[small["n"] >= cut, "estimate"].notna().all()
    code = str(table[C.MUNICIPALITY].iloc[0])
    html = KT.trim_html(small, highlight=code).html
    assert "Nederland" in html and "niet getoond" in html and "▶" in html
    fig = KT.trim_plot(small, highlight=code)
    assert "niet getoond" in fig.note and fig.png()[:4] == b"\x89PNG"


def test_bad_input_raises_meting_errors(design) -> None:
    with pytest.raises(ParameterError, match="explanation keys must be in"):
        KT.explanation("nonsense")
    with pytest.raises(ParameterError, match="min_n must be a positive integer"):
        KT.norms_table(design, min_n=0)
    assert "BurgerServiceCode" in KT.explanation("norms").html
