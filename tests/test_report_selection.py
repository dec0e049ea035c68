"""The selection of a long municipality table (meting.report.selection): which rows, the note,
and the full table in the export."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from meting.errors import ParameterError
from meting.report import selection as SEL
from meting.report.formatting import to_html
from meting.significance import bayes_verdict_labels

ABOVE, UNSURE, BELOW = bayes_verdict_labels(7.0)


def _table(n: int, seed: int = 1) -> tuple[pd.DataFrame, dict[str, float]]:
    rng = np.random.default_rng(seed)
    codes = [f"GM{i:04d}" for i in range(1, n + 1)]
    prob = rng.uniform(0, 1, n)
    verdict = np.where(prob >= 0.9, ABOVE, np.where(prob <= 0.1, BELOW, UNSURE))
    table = pd.DataFrame(
        {"municipality": codes, "naam": [f"Gemeente {c}" for c in codes], "estimate": 7 + prob - 0.5,
         "prob_ge_target": prob, "verdict": verdict}
    )  # fmt: skip
    return table, {c: float(rng.integers(1_000, 500_000)) for c in codes}


def test_a_short_table_is_shown_whole() -> None:
    table, pop = _table(SEL.MAX_ROWS)
    pick = SEL.select_municipalities(table, target=7.0, population=pop)
    assert pick.complete and pick.note == "" and pick.rows.equals(table)
    full = to_html(table[["naam", "estimate"]], caption="t")
    assert SEL.selected_table(full, pick, lambda rows: to_html(rows)) is full


def test_a_long_table_shows_the_clear_verdicts_and_the_largest() -> None:
    table, pop = _table(443)
    pick = SEL.select_municipalities(table, target=7.0, population=pop)
    below = table.loc[table["verdict"] == BELOW].nsmallest(SEL.PER_VERDICT, "prob_ge_target")
    above = table.loc[table["verdict"] == ABOVE].nlargest(SEL.PER_VERDICT, "prob_ge_target")
    largest = sorted(pop, key=pop.get, reverse=True)[: SEL.LARGEST]
    expected = set(below["municipality"]) | set(above["municipality"]) | set(largest)
    assert set(pick.rows["municipality"]) == expected
    assert list(pick.rows.index) == sorted(pick.rows.index)  # the table's own order
    assert pick.total == 443 and not pick.complete
    n_below = int((table["verdict"] == BELOW).sum())
    assert n_below > SEL.PER_VERDICT  # the cap is exercised
    assert pick.note.startswith(f"Deze tabel toont {len(expected)} van de 443 gemeenten: ")
    assert f"de 15 gemeenten met de kleinste kans op een 7 of meer van de {n_below}" in pick.note
    assert "de 10 grootste gemeenten naar inwonertal" in pick.note
    assert "gemeenten.csv" in pick.note and "tabellen/" in pick.note


def test_singular_and_missing_verdict_groups() -> None:
    table, pop = _table(60)
    table["verdict"] = UNSURE
    table.loc[3, "verdict"] = BELOW
    pick = SEL.select_municipalities(table, target=7.0, population=pop, largest=1)
    assert "de gemeente met het oordeel 'waarschijnlijk < 7'" in pick.note
    assert "waarschijnlijk ≥ 7" not in pick.note  # no municipality above: not mentioned
    assert "de grootste gemeente naar inwonertal" in pick.note
    assert len(pick.rows) in (1, 2)


def test_the_export_holds_every_municipality_the_report_a_selection() -> None:
    table, pop = _table(100)
    pick = SEL.select_municipalities(table, target=7.0, population=pop)
    full = to_html(table[["naam", "estimate"]], caption="Tabel 10.")
    shown = SEL.selected_table(full, pick, lambda rows: to_html(rows[["naam", "estimate"]]))
    assert shown.data is full.data and len(shown.data.frame) == 100
    hidden = sorted(set(table["naam"]) - set(pick.rows["naam"]))
    assert hidden and not any(f">{name}<" in shown.html for name in hidden)
    assert all(f">{name}<" in shown.html for name in pick.rows["naam"])
    assert "Deze tabel toont" in shown.html and shown.caption == "Tabel 10."


def test_a_table_without_verdicts_is_refused() -> None:
    table, pop = _table(50)
    with pytest.raises(ParameterError, match="verdict"):
        SEL.select_municipalities(table.drop(columns="verdict"), target=7.0, population=pop)


def test_a_table_without_verdicts_shows_its_extremes_and_the_largest() -> None:
    table, pop = _table(200)
    table["estimate"] = table["estimate"] * 10
    table.loc[table.index[:5], "estimate"] = np.nan  # suppressed cells never count
    table.attrs["national"] = {"estimate": 70.0}
    table["onderdrukt"] = table["estimate"].isna()
    table.attrs["suppressed"] = 5
    pick = SEL.select_by_value(
        table, "estimate", what="TRI*M-index", name="trim", population=pop, per_side=5, largest=3
    )
    known = table.dropna(subset=["estimate"])
    expected = (
        set(known.nsmallest(5, "estimate")["municipality"])
        | set(known.nlargest(5, "estimate")["municipality"])
        | set(sorted(pop, key=pop.get, reverse=True)[:3])
    )
    assert set(pick.rows["municipality"]) == expected
    assert pick.rows.attrs["national"] == {"estimate": 70.0}  # the national row stays printable
    # the suppression note under the printed table counts the printed rows only
    assert pick.rows.attrs["suppressed"] == int(pick.rows["onderdrukt"].sum())
    assert pick.note == (
        f"Deze tabel toont {len(expected)} van de 200 gemeenten: de 5 gemeenten met de laagste "
        "TRI*M-index; de 5 gemeenten met de hoogste TRI*M-index; de 3 grootste gemeenten naar "
        "inwonertal. Alle gemeenten staan in de volledige tabel trim.csv (en in het "
        "Excel-bestand) in de map tabellen/ bij dit rapport."
    )
    short = SEL.select_by_value(table.head(20), "estimate", what="x", name="t", population=pop)
    assert short.complete and short.note == ""


def _changes(n: int, seed: int = 2) -> tuple[pd.DataFrame, dict[str, float]]:
    """A change table of ``n`` municipalities plus the national row, as wave_changes gives it."""
    rng = np.random.default_rng(seed)
    codes = [f"GM{i:04d}" for i in range(1, n + 1)]
    table = pd.DataFrame(
        {"municipality": [*codes, "landelijk"], "gemeente": [*codes, "alle gemeenten"],
         "estimate": [*rng.normal(0, 0.3, n), 0.01], "prob_improved": [*rng.uniform(0, 1, n), 0.6]}
    )  # fmt: skip
    return table, {c: float(rng.integers(1_000, 500_000)) for c in codes}


def test_a_long_change_table_shows_its_largest_changes_and_the_largest_places() -> None:
    table, pop = _changes(300)
    table.loc[:3, "estimate"] = np.nan  # untested changes are not chosen by their value
    pick = SEL.select_changes(table, population=pop, per_side=4, largest=2, name="gemeenten")
    places = table.iloc[:-1].dropna(subset=["estimate"])
    expected = (
        set(places.nsmallest(4, "estimate")["municipality"])
        | set(places.nlargest(4, "estimate")["municipality"])
        | set(sorted(pop, key=pop.get, reverse=True)[:2])
    )
    assert set(pick.rows["municipality"]) == expected
    assert pick.total == 300  # the national row is no municipality
    assert pick.note.startswith(
        f"Deze tabel toont {len(expected)} van de 300 gemeenten: de 4 gemeenten met de grootste "
        "daling; de 4 gemeenten met de grootste stijging; de 2 grootste gemeenten naar inwonertal."
    )
    by_chance = SEL.select_changes(
        table, population=pop, certainty="prob_improved", per_side=3, largest=0, name="m"
    )
    expected = set(places.nsmallest(3, "prob_improved")["municipality"]) | set(
        places.nlargest(3, "prob_improved")["municipality"]
    )
    assert set(by_chance.rows["municipality"]) == expected
    assert "de 3 gemeenten met de kleinste kans op verbetering" in by_chance.note
    # a change the report does not show (too few respondents, a model prediction) is not chosen
    # by its value, however large
    table["n_earlier"], table["n_later"], table["reason"] = 100, 100, None
    table.loc[10, "n_earlier"] = 12
    table.loc[11, "reason"] = "geen respondenten in 2008"
    table.loc[[10, 11], "estimate"] = [-5.0, 5.0]
    table.loc[[10, 11], "prob_improved"] = [0.0, 1.0]
    for certainty in ("estimate", "prob_improved"):
        pick = SEL.select_changes(
            table, population=pop, certainty=certainty, min_n=30, largest=0, name="m"
        )
        assert not {"GM0011", "GM0012"} & set(pick.rows["municipality"]), certainty
    with_reason = SEL.select_changes(table, population=pop, min_n=0, largest=0, name="m")
    assert "GM0011" in set(with_reason.rows["municipality"])  # 12 respondents are enough for 0
    with pytest.raises(ParameterError, match="certainty must be one of"):
        SEL.select_changes(table, population=pop, certainty="verdict", name="m")
    short = SEL.select_changes(table.tail(21), population=pop, name="m")
    assert (
        short.complete and short.note == "" and "landelijk" not in set(short.rows["municipality"])
    )


def test_every_pair_keeps_the_selected_places_and_the_national_row() -> None:
    first, pop = _changes(100, seed=3)
    second, _ = _changes(100, seed=4)
    changes = {("2008", "2009"): first, ("2009", "2010"): second}
    pick = SEL.select_changes(first, population=pop, per_side=5, largest=0, name="m")
    cut = SEL.subset_changes(changes, pick)
    chosen = set(pick.rows["municipality"])
    for pair, t in cut.items():
        assert set(t["municipality"]) == chosen | {"landelijk"}, pair
        assert list(t.index) == sorted(t.index)  # the table's own order
    assert len(changes[("2008", "2009")]) == 101  # the input is not changed


def test_a_table_over_the_waves_prints_the_selection_and_publishes_every_municipality() -> None:
    first, pop = _changes(100, seed=5)
    second, _ = _changes(100, seed=6)
    changes = {("2008", "2009"): first, ("2008", "2010"): second}

    def table(family, caption):  # one row per municipality, the later pair's estimate
        rows = pd.concat(family.values()).drop_duplicates("municipality", keep="last")
        return to_html(rows[["gemeente", "estimate"]], caption=caption)

    args = dict(caption="Tabel 5.", population=pop, min_n=0, per_side=3, largest=2, name="t")
    shown = SEL.selected_changes_table(changes, table, pair=("2008", "2010"), **args)
    # chosen on the whole period: the 3 largest declines and rises of 2008 -> 2010, 2 largest
    places = second.iloc[:-1]
    chosen = (
        set(places.nsmallest(3, "estimate")["gemeente"])
        | set(places.nlargest(3, "estimate")["gemeente"])
        | set(sorted(pop, key=pop.get, reverse=True)[:2])
    )
    printed = set(re.findall(r">(GM\d{4})<", shown.html))
    assert printed == chosen
    assert "Tabel 5., een selectie" in shown.html and "Deze tabel toont" in shown.html
    assert len(shown.data.frame) == 101 and shown.caption == "Tabel 5."  # published whole
    short = {pair: t.tail(11) for pair, t in changes.items()}
    whole = SEL.selected_changes_table(short, table, pair=("2008", "2010"), **args)
    assert "een selectie" not in whole.html and len(re.findall(r">(GM\d{4})<", whole.html)) == 10
