"""linked_trends: changes first -> last wave from the linked small-area model, per cell and
aggregated per municipality and life event, with the verdict rule; the report table and the
Samenvatting line (mocked NUTS: plumbing; the model itself is tested in tests/test_sae_linked.py)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from meting import columns as C
from meting import linked_trends as L
from meting import pipeline as A
from meting.errors import ParameterError
from meting.registry import Registry, load_registry
from meting.report import comparison_text as CT
from meting.report.trend_tables import linked_change_table
from meting.synthetic import generate_command

PROJECT_PARAMS = Path(__file__).resolve().parents[1] / "params"
WAVES = ["2008-nulmeting", "2010-vervolgmeting"]


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Registry:
    root = tmp_path_factory.mktemp("project")
    shutil.copytree(PROJECT_PARAMS, root / "params")
    generate_command(WAVES, out_dir=root / "data" / "synthetic", params_dir=root / "params")
    return load_registry(root / "params")


@pytest.fixture(scope="module")
def changes(registry: Registry, sampling_mock) -> dict[str | None, pd.DataFrame]:
    with sampling_mock():
        # waves given out of order: the change is still first -> last by year
        return {
            by: L.linked_changes(registry, WAVES[::-1], by)
            for by in (None, C.MUNICIPALITY, C.LIFE_EVENT)
        }


def _respondents(registry: Registry, wave: str) -> pd.DataFrame:
    raw = A.load_wave_data(registry, wave).respondents
    on = registry.waves[WAVES[-1]].reference_date
    raw = raw.loc[raw[C.SCORE_CHAIN].notna()].copy()
    raw["code"] = [registry.map_code(str(m), on=on) for m in raw[C.MUNICIPALITY]]
    return raw


def test_aggregate_is_the_population_weighted_mean_of_the_cell_changes(
    registry: Registry, changes
) -> None:
    cells = changes[None]
    # weights computed here from the registry's population, mapped to the latest division
    on = registry.waves[WAVES[-1]].reference_date
    pop = A.cell_population(registry)
    pop["code"] = [registry.map_code(str(m), on=on) for m in pop[C.MUNICIPALITY]]
    pop = pop.groupby([C.LIFE_EVENT, "code"])["population"].sum()
    w = np.array(
        [pop[(e, m)] for e, m in zip(cells[C.LIFE_EVENT], cells[C.MUNICIPALITY], strict=True)]
    )
    for by in (C.MUNICIPALITY, C.LIFE_EVENT):
        key = cells[by].astype(str)
        expected = (cells["estimate"] * w).groupby(key).sum() / pd.Series(w).groupby(
            key.to_numpy()
        ).sum().reindex((cells["estimate"] * w).groupby(key).sum().index)
        got = changes[by].set_index(changes[by][by].astype(str))["estimate"]
        np.testing.assert_allclose(got.loc[expected.index], expected, rtol=1e-9)
        agg = changes[by]
        assert agg["prob_improved"].between(0, 1).all()
        assert (agg["lower_90"] <= agg["estimate"]).all()
        assert (agg["estimate"] <= agg["upper_90"]).all()
        assert (agg["lower"] <= agg["lower_90"]).all()
        assert set(agg["method"]) == {"linked-difference"}
        assert agg["naam"].notna().all()


def test_respondent_counts_per_municipality_come_from_the_data(registry: Registry, changes) -> None:
    table = changes[C.MUNICIPALITY].set_index(C.MUNICIPALITY)
    for side, wave in (("earlier", WAVES[0]), ("later", WAVES[1])):
        counts = _respondents(registry, wave).groupby("code").size()
        got = table[f"n_{side}"]
        np.testing.assert_array_equal(
            got.to_numpy(), counts.reindex(got.index).fillna(0).to_numpy()
        )
    assert set(table["wave_earlier"]) == {WAVES[0]} and set(table["wave_later"]) == {WAVES[1]}


def test_cells_without_respondents_in_a_wave_get_no_verdict(changes) -> None:
    cells = changes[None]
    both = cells["observed_earlier"].astype(bool) & cells["observed_later"].astype(bool)
    assert (~both).any() and both.any()  # the synthetic waves have empty cells
    assert cells.loc[~both, "verdict"].isna().all()
    assert (cells.loc[~both, "reason"] == L.REASON_PREDICTION).all()
    published = cells["publication"].ne("niet publiceren")
    assert cells.loc[both & published, "verdict"].isin(L.VERDICTS).all()
    assert (cells.loc[both & ~published, "reason"] == L.REASON_NOT_PUBLISHED).all()
    assert cells.loc[~both, "estimate"].notna().all()  # a prediction still has a change


def test_verdict_rule_uses_the_thresholds() -> None:
    table = pd.DataFrame(
        {
            "prob_improved": [0.95, 0.9499, 0.05, 0.0501, 0.5, 0.999],
            "n_earlier": [10, 10, 10, 10, 10, 0],
            "n_later": [10, 10, 10, 10, 10, 10],
        }
    )
    out = L.change_verdicts(table, upper=0.95, lower=0.05)
    same = "geen aantoonbaar verschil"
    assert out["verdict"].tolist()[:5] == ["verbeterd", same, "verslechterd", same, same]
    assert out["verdict"].iloc[5] is None and out["reason"].iloc[5] == L.REASON_PREDICTION
    assert out["reason"].iloc[:5].isna().all()
    with pytest.raises(ParameterError, match="lower < upper"):
        L.change_verdicts(table, upper=0.05, lower=0.95)


def test_a_change_is_as_publishable_as_the_worse_of_its_two_waves() -> None:
    table = pd.DataFrame(
        {
            "prob_improved": [0.99, 0.99, 0.01, 0.99],
            "n_earlier": [40, 2, 12, 0],
            "n_later": [40, 7, 40, 7],
            "publication_earlier": [
                "publiceren",
                "niet publiceren",
                "publiceren met voorbehoud",
                "niet publiceren",
            ],
            "publication_later": ["publiceren", "publiceren met voorbehoud", "publiceren"] * 1
            + ["publiceren met voorbehoud"],
        }
    )
    out = L.change_verdicts(table, upper=0.95, lower=0.05)
    assert out["publication"].tolist() == [
        "publiceren",
        "niet publiceren",
        "publiceren met voorbehoud",
        "niet publiceren",
    ]
    # n = 2 and 7 (Echt-Susteren's Immigratie naar Nederland, 2008 -> 2010): no verdict
    assert out["verdict"].tolist() == ["verbeterd", None, "verslechterd", None]
    assert out["reason"].tolist() == [
        None,
        L.REASON_NOT_PUBLISHED,
        None,
        L.REASON_PREDICTION,  # no respondents in a wave: a prediction first
    ]


def test_change_table_marks_caution_and_names_the_rule() -> None:
    table = pd.DataFrame(
        {
            "naam": ["Verhuizen", "Immigratie naar Nederland"],
            "estimate": [0.3, -0.4],
            "lower_90": [0.1, -1.2],
            "upper_90": [0.5, 0.4],
            "prob_improved": [0.99, 0.02],
            "n_earlier": [40, 2],
            "n_later": [12, 7],
            "publication_earlier": ["publiceren", "niet publiceren"],
            "publication_later": ["publiceren met voorbehoud", "publiceren met voorbehoud"],
            "wave_earlier": WAVES[0],
            "wave_later": WAVES[1],
        }
    )
    judged = L.change_verdicts(table, upper=0.95, lower=0.05)
    html = linked_change_table(judged, "levensgebeurtenis", upper=0.95, lower=0.05)._repr_html_()
    html = html.replace("\xa0", " ").replace("\u2060", "")
    assert "verbeterd (met voorbehoud)" in html and "geen (niet publiceren)" in html
    assert "verslechterd" not in html.split("<tbody>")[1].split("</tbody>")[0]
    assert "de slechtste van beide metingen" in html


def test_small_cells_of_the_linked_fit_get_no_verdict(registry: Registry, changes) -> None:
    rule = registry.settings.publication_rule()
    cells = changes[None]
    fewest = np.minimum(cells["n_earlier"].fillna(0), cells["n_later"].fillna(0))
    small = (fewest > 0) & (fewest < rule.min_n_caution)
    assert small.any()  # the synthetic waves have them
    assert cells.loc[small, "verdict"].isna().all()
    assert (cells.loc[small, "reason"] == L.REASON_NOT_PUBLISHED).all()
    for by in (C.MUNICIPALITY, C.LIFE_EVENT):  # aggregates: the rule on their own n and cv
        agg = changes[by]
        assert (
            agg["publication"]
            .isin(["publiceren", "publiceren met voorbehoud", "niet publiceren"])
            .all()
        )
        few = np.minimum(agg["n_earlier"], agg["n_later"]) < rule.min_n_publish
        assert agg.loc[few, "publication"].ne("publiceren").all()


def test_linked_changes_rejects_an_unknown_grouping(registry: Registry) -> None:
    with pytest.raises(ParameterError, match="by must be"):
        L.linked_changes(registry, WAVES, "organisation")


def test_table_and_sentence_agree_with_the_verdicts(changes) -> None:
    table = changes[C.MUNICIPALITY].copy()
    # fix three verdicts so the counts are known
    table["verdict"] = "geen aantoonbaar verschil"
    table.loc[0, "verdict"], table.loc[1, "verdict"] = "verbeterd", "verslechterd"
    table.loc[2, ["verdict", "reason"]] = [None, L.REASON_PREDICTION]
    short = {w: w[:4] for w in WAVES}
    html = linked_change_table(
        table, "gemeente", upper=0.95, lower=0.05, short=short, caption="Tabel"
    )._repr_html_()
    html = html.replace("\xa0", " ").replace("\u2060", "")  # the text a reader sees
    assert "verandering 2008 → 2010" in html and "geen (modelvoorspelling)" in html
    assert "95%" in html and "5%" in html
    data = linked_change_table(table, "gemeente", upper=0.95, lower=0.05, short=short).data
    assert data is not None
    assert list(data.frame.columns[:3]) == ["gemeente", "meting_eerder", "meting_later"]
    np.testing.assert_array_equal(data.frame["verschil"], table["estimate"])
    text = CT.linked_sentence([(table, "gemeente", "gemeenten")], short=short)
    n = len(table)
    assert text.startswith("Model over de metingen, van 2008 naar 2010:")
    assert f"van de {n - 1} gemeenten 1 verbeterd, 1 verslechterd en {n - 3}" in text
    assert "1 gemeente alleen als modelvoorspelling" in text
    assert f"{table.loc[0, 'naam']} (" in text


def test_wave_artefacts_carry_the_linked_changes_of_a_municipality(
    registry: Registry, sampling_mock
) -> None:
    from meting.artefacts import linked_waves, wave_artefacts

    with sampling_mock():
        art = wave_artefacts(registry, WAVES[-1])
        # the artefacts hold the benchmarked fit (the reports publish benchmarked estimates)
        upto = linked_waves(registry, WAVES[-1])
        fit = A.fit_linked_small_areas(registry, upto, benchmark=True)
    changes = {by: L.linked_changes(registry, upto, by, sae=fit) for by in (C.MUNICIPALITY, None)}
    code = str(changes[C.MUNICIPALITY][C.MUNICIPALITY].iloc[0])
    tabs = art.municipality(code)
    linked = tabs.linked
    assert linked is not None and linked["benchmarked"].all()
    assert tabs.linked_parameters is not None
    assert list(tabs.linked_parameters["parameter"][:2]) == ["sd_cell", "sd_wave"]
    total = changes[C.MUNICIPALITY].set_index(C.MUNICIPALITY).loc[code]
    assert linked.loc[0, C.LIFE_EVENT] == "" and linked.loc[0, "naam"] == total["naam"]
    np.testing.assert_allclose(linked.loc[0, "estimate"], total["estimate"], rtol=1e-12)
    cells = changes[None]
    mine = cells[cells[C.MUNICIPALITY] == code].set_index(C.LIFE_EVENT)
    rest = linked.iloc[1:].set_index(C.LIFE_EVENT)
    assert set(rest.index) == set(mine.index)
    np.testing.assert_allclose(rest["estimate"], mine.loc[rest.index, "estimate"], rtol=1e-12)
    assert rest["verdict"].isna().tolist() == mine.loc[rest.index, "verdict"].isna().tolist()


def test_benchmarked_life_events_have_the_direct_change_and_no_verdict_of_their_own(
    registry: Registry, sampling_mock
) -> None:
    with sampling_mock():
        fit = A.fit_linked_small_areas(registry, WAVES, benchmark=True)
    events = L.linked_changes(registry, WAVES, C.LIFE_EVENT, sae=fit)
    assert events["benchmarked"].all()
    assert events["verdict"].isna().all()
    assert (events["reason"] == L.REASON_BENCHMARKED).all()
    # the design-based estimates of each wave (independent of the model): their difference
    direct = {
        w: A.life_event_estimates(A.analyse_wave(registry, w)).set_index(C.LIFE_EVENT)
        for w in WAVES
    }
    key = events[C.LIFE_EVENT].astype(str)
    expected = key.map(direct[WAVES[1]]["estimate"] - direct[WAVES[0]]["estimate"])
    np.testing.assert_allclose(events["estimate"], expected.to_numpy(dtype=float), atol=1e-9)
    # the municipalities keep the model's own verdicts
    towns = L.linked_changes(registry, WAVES, C.MUNICIPALITY, sae=fit)
    assert towns["benchmarked"].all() and towns["verdict"].notna().any()
    html = linked_change_table(events, "levensgebeurtenis", upper=0.95, lower=0.05)._repr_html_()
    assert "zie de directe schatting" in html and "Gebenchmarkt" in html
    text = CT.linked_sentence(
        [(towns, "gemeente", "gemeenten"), (events, "levensgebeurtenis", "levensgebeurtenissen")]
    )
    assert "de levensgebeurtenissen zijn gebenchmarkt" in text
    assert "levensgebeurtenissen alleen als modelvoorspelling" not in text
