"""The comparison over time (meting.trends, pipeline.wave_changes) and the shrinkage weight.

Checked against independent quantities: the verdicts recomputed from the two waves' estimates by
the rule written out here (difference, independent-samples se, Welch-Satterthwaite df, two-sided t
test, Holm within the table by statsmodels), the registry's order, a municipality's trend against a
weighted mean computed by hand over the codes that map to it, and the closed form of the
Fay-Herriot shrinkage weight.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from statsmodels.stats.multitest import multipletests

from meting import columns as C
from meting import pipeline as A
from meting import trends
from meting.registry import load_registry
from meting.report import comparison_text as CT
from meting.report import tables
from meting.sae import shrinkage_weight
from meting.settings.records import CodeChange
from meting.synthetic import generate_command

PROJECT_PARAMS = Path(__file__).resolve().parents[1] / "params"
WAVES = ("2008-nulmeting", "2009-vervolgmeting")


@pytest.fixture(scope="module")
def waves(tmp_path_factory: pytest.TempPathFactory) -> dict[str, A.WaveAnalysis]:
    root = tmp_path_factory.mktemp("project")
    shutil.copytree(PROJECT_PARAMS, root / "params")
    generate_command(list(WAVES), out_dir=root / "data" / "synthetic", params_dir=root / "params")
    registry = load_registry(root / "params")
    return {w: A.analyse_wave(registry, w) for w in WAVES}


@pytest.fixture(scope="module")
def family_changes(waves: dict[str, A.WaveAnalysis]) -> dict[str, pd.DataFrame]:
    """``wave_changes`` of every family, computed once for the module (each test copies)."""
    a, b = (waves[w] for w in WAVES)
    return {family: A.wave_changes(a, b, family) for family in trends.FAMILIES}


def _rule(changes: pd.DataFrame, min_n: int, alpha: float = 0.05) -> list[str | None]:
    """The verdicts by the rule, from the per-wave columns only."""
    diff = changes["estimate_later"] - changes["estimate_earlier"]
    v1, v2 = changes["se_earlier"] ** 2, changes["se_later"] ** 2
    df = (v1 + v2) ** 2 / (v1**2 / changes["df_earlier"] + v2**2 / changes["df_later"])
    t = diff / np.sqrt(v1 + v2)
    p = 2 * stats.t.sf(np.abs(t), df)
    ok = (np.fmin(changes["n_earlier"], changes["n_later"]) >= min_n) & np.isfinite(p)
    p_adj = np.full(len(p), np.nan)
    p_adj[ok.to_numpy()] = multipletests(p[ok.to_numpy()], method="holm")[1]
    out: list[str | None] = []
    for pa, tt, good in zip(p_adj, t, ok, strict=True):
        if not good:
            out.append(None)
        elif pa <= alpha:
            out.append("verbeterd" if tt > 0 else "verslechterd")
        else:
            out.append("geen aantoonbaar verschil")
    return out


@pytest.mark.parametrize("family", trends.FAMILIES)
def test_family_verdicts_follow_the_one_rule(
    waves: dict[str, A.WaveAnalysis], family_changes: dict[str, pd.DataFrame], family: str
) -> None:
    a = waves[WAVES[0]]
    changes = family_changes[family].copy()
    assert len(changes) > 0
    label = trends.family_label(family)
    assert changes[label].notna().all()  # every row named in Dutch
    expected = _rule(changes, a.settings.min_cell_size, 1 - a.settings.confidence)
    got = [None if pd.isna(v) else v for v in changes["verdict"]]
    assert got == expected


def test_family_rows_in_registry_order(
    waves: dict[str, A.WaveAnalysis], family_changes: dict[str, pd.DataFrame]
) -> None:
    reg = waves[WAVES[1]].registry
    events = family_changes["events"][C.LIFE_EVENT].astype(str).tolist()
    assert events == [e for e in reg.life_events if e in events]
    assert len(events) == len(reg.life_events)
    orgs = family_changes["organisations"][C.ORGANISATION].astype(str).tolist()
    assert orgs == [o for o in reg.organisations if o in orgs]
    norms = family_changes["norms"]["variable"].astype(str).tolist()
    assert norms == list(C.BSC_NORMS)
    muns = family_changes["municipalities"][C.MUNICIPALITY].astype(str).tolist()
    assert muns == sorted(muns) == [m for m in reg.municipalities if m in muns]
    trim = family_changes["trim"][C.MUNICIPALITY].astype(str).tolist()
    assert trim[0] == trends.NATIONAL and trim[1:] == muns
    levels = family_changes["levels"]["variable"].astype(str).tolist()
    assert levels == [C.SCORE_GOVERNMENT, C.SCORE_CHAIN, C.SCORE_COOPERATION, "organisations"]


def test_municipality_trend_maps_codes_to_the_current_one(
    waves: dict[str, A.WaveAnalysis],
) -> None:
    """A code change (Son en Breugel into Veldhoven, dated before the later wave) gathers both
    codes' respondents under the new code in every wave: n and the weighted mean by hand."""
    reg = waves[WAVES[-1]].registry
    change = CodeChange(
        old_code="GM0848",
        new_code="GM0861",
        new_name="Veldhoven",
        valid_from=dt.date(2008, 6, 1),
        population_share=1.0,
    )
    merged = dataclasses.replace(reg, code_changes=(*reg.code_changes, change))
    moved = {w: dataclasses.replace(an, registry=merged) for w, an in waves.items()}
    est, changes = trends.municipality_trend(moved, "GM0861", order=list(WAVES))
    assert est["meting"].tolist() == [w for w in WAVES for _ in trends.TREND_VARIABLES]
    for w, an in waves.items():
        data = an.design.data
        mine = data[C.MUNICIPALITY].astype(str).isin(["GM0848", "GM0861"]).to_numpy()
        for var in trends.TREND_VARIABLES:
            y = data[var].to_numpy(dtype=float)
            use = mine & np.isfinite(y)
            row = est.loc[(est["meting"] == w) & (est["variable"] == var)].iloc[0]
            assert row["n"] == use.sum()
            expected = np.sum(an.design.w[use] * y[use]) / np.sum(an.design.w[use])
            assert row["estimate"] == pytest.approx(expected, rel=1e-12)
    pair = changes[WAVES]
    assert pair["variable"].tolist() == list(trends.TREND_VARIABLES)
    assert [None if pd.isna(v) else v for v in pair["verdict"]] == _rule(pair, 30)
    # without the change, Veldhoven alone has fewer respondents
    alone, _ = trends.municipality_trend(waves, "GM0861", order=list(WAVES))
    assert (alone["n"].to_numpy() < est["n"].to_numpy()).all()


def test_trend_table_marks_are_the_verdicts(family_changes: dict[str, pd.DataFrame]) -> None:
    changes = {WAVES: family_changes["events"].copy()}
    html = str(
        tables.trend_table(changes, "levensgebeurtenis", waves=list(WAVES), min_n=30,
                           short={"2008-nulmeting": "2008", "2009-vervolgmeting": "2009"})
    )  # fmt: skip
    marks = {"verbeterd": "▲", "verslechterd": "▼", "geen aantoonbaar verschil": "○"}
    for _, row in changes[WAVES].iterrows():
        cell = f"{CT.fmt_change(row['estimate'])}\u00a0{marks[row['verdict']]}"  # kept together
        assert f">{cell}<" in html
    assert "2008 → 2009" in html and "vóór afronding" in html
    small = changes[WAVES].assign(n_earlier=5)  # below the minimum: no level, no difference
    html = str(tables.trend_table({WAVES: small}, "levensgebeurtenis", waves=list(WAVES), min_n=30))
    body = html.split("<tbody>")[1].split("</tbody>")[0]
    assert "▲" not in body and "▼" not in body and "○" not in body


def test_family_sentence_counts_the_verdicts() -> None:
    table = pd.DataFrame(
        {
            "naam": ["A", "B", "C", "D"],
            "estimate": [0.31, -0.2, 0.01, np.nan],
            "verdict": ["verbeterd", "verslechterd", "geen aantoonbaar verschil", None],
        }
    )
    text = CT.family_sentence(
        {("x", "y"): table}, name="naam", subject="Gemeenten", singular="gemeente",
        plural="gemeenten",
    )  # fmt: skip
    assert text.startswith("Gemeenten: van x naar y 1 verbeterd, 1 verslechterd en 1 zonder")
    assert "van de 3 gemeenten met een toets" in text
    assert "Verbeterd: A (+0,31)." in text and "Verslechterd: B (-0,20)." in text
    assert "1 gemeente zonder toets" in text
    assert CT.fmt_change(0.026, "share") == "+2,6 procentpunt"


def test_shrinkage_weight_is_the_closed_form() -> None:
    se = np.array([0.1, 0.3, 1.0, np.nan])
    sd = 0.3
    got = shrinkage_weight(sd, se)
    np.testing.assert_allclose(got[:3], se[:3] ** 2 / (sd**2 + se[:3] ** 2), rtol=1e-15)
    assert got[3] == 1.0  # no respondents: all model
    assert got[1] == pytest.approx(0.5)  # se equal to the between-cell sd: half and half
    draws = np.array([[0.1, 0.2], [0.4, 0.8]])  # chains x draws: the posterior mean over all
    expected = np.mean([0.09 / (s**2 + 0.09) for s in draws.ravel()])
    assert shrinkage_weight(draws, np.array([0.3]))[0] == pytest.approx(expected, rel=1e-14)


def test_shrinkage_column_of_the_small_area_tables(
    waves: dict[str, A.WaveAnalysis], mock_sampling
) -> None:
    """Per cell 1 - gamma from the posterior sd_cell and the cell's se; 1 without respondents;
    per municipality the population-weighted mean of its cells."""
    an = waves[WAVES[0]]
    sae = A.fit_small_areas(an)
    cells = A.sae_cells_with_verdicts(an, sae)
    sd = sae.idata.posterior["sd_cell"].to_numpy().ravel()
    se = cells["direct_se"].to_numpy(dtype=float)
    for i in np.flatnonzero(np.isfinite(se))[:5]:
        assert cells["shrinkage"].iloc[i] == pytest.approx(
            np.mean(se[i] ** 2 / (sd**2 + se[i] ** 2))
        )
    empty = ~cells["observed"].to_numpy(dtype=bool)
    assert empty.any() and (cells.loc[empty, "shrinkage"] == 1.0).all()
    assert cells["shrinkage"].between(0, 1).all()
    by_mun = A.sae_by(an, sae, C.MUNICIPALITY).set_index(C.MUNICIPALITY)
    pop = A.cell_population(an.registry)
    keyed = cells.astype({C.LIFE_EVENT: str, C.MUNICIPALITY: str}).merge(
        pop, on=[C.LIFE_EVENT, C.MUNICIPALITY]
    )
    code = "GM1711"
    mine = keyed.loc[keyed[C.MUNICIPALITY] == code]
    expected = np.average(mine["shrinkage"], weights=mine["population"])
    assert by_mun.loc[code, "shrinkage"] == pytest.approx(expected, rel=1e-12)
