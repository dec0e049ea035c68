"""Which municipalities a municipality report's TRI*M figure and table show (trim_peers)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from meting import columns as C
from meting.privacy_rules import SUPPRESSED
from meting.report.sections.trim import trim_html, trim_peers


def trim_like(
    n: int, provinces: list[str], suppressed: frozenset[int] = frozenset()
) -> pd.DataFrame:
    """A trim_table-shaped table: index 50 + i for municipality i (GM1000 + i)."""
    est = 50.0 + np.arange(n)
    table = pd.DataFrame(
        {
            C.MUNICIPALITY: [f"GM{1000 + i}" for i in range(n)],
            "naam": [f"Gemeente {i}" for i in range(n)],
            "estimate": est,
            "lower": est - 2,
            "upper": est + 2,
            "n": 100,
            SUPPRESSED: [i in suppressed for i in range(n)],
        }
    )
    table.loc[table[SUPPRESSED], ["estimate", "lower", "upper"]] = np.nan
    table.attrs["national"] = {"estimate": 55.0, "lower": 54.0, "upper": 56.0, "n": 1000.0}
    table.attrs["provinces"] = dict(zip(table[C.MUNICIPALITY], provinces, strict=True))
    return table


def test_a_small_wave_shows_every_municipality_and_the_place():
    table = trim_like(10, ["A"] * 10)
    shown, sentence = trim_peers(table, "GM1003", table.attrs["provinces"], max_rows=25)
    assert shown is table
    # index 53; six municipalities (54..59) are higher: place 7 of 10
    assert "op plaats 7 van de 10 gemeenten" in sentence
    assert "53,0" in sentence


def test_a_national_wave_shows_the_province_with_the_national_row():
    provinces = ["A"] * 5 + ["B"] * 40
    table = trim_like(45, provinces)
    shown, sentence = trim_peers(table, "GM1002", table.attrs["provinces"], max_rows=25)
    assert shown[C.MUNICIPALITY].tolist() == [f"GM{1000 + i}" for i in range(5)]
    assert shown.attrs["national"] == table.attrs["national"]
    assert "provincie A" in sentence
    assert "plaats 43 van de 45" in sentence  # counted over the whole wave, not the province
    printed = trim_html(shown, highlight="GM1002").html
    assert "Nederland (alle gemeenten in de steekproef)" in printed
    assert "Gemeente 30" not in printed


def test_a_large_province_shows_the_nearest_by_index_around_the_municipality():
    table = trim_like(60, ["B"] * 60)
    shown, sentence = trim_peers(table, "GM1030", table.attrs["provinces"], max_rows=11)
    # ranked by index (59 at the top), GM1030 is 30th; five above and five below it
    assert sorted(shown[C.MUNICIPALITY]) == [f"GM{1000 + i}" for i in range(25, 36)]
    assert "de 11 gemeenten in de provincie B die qua index het dichtst bij" in sentence
    top, _ = trim_peers(table, "GM1059", table.attrs["provinces"], max_rows=11)
    assert sorted(top[C.MUNICIPALITY]) == [f"GM{1000 + i}" for i in range(49, 60)]


def test_a_suppressed_municipality_has_no_place_and_names_are_escaped():
    table = trim_like(5, ["<b>A</b>"] * 5, suppressed=frozenset({2}))
    table.loc[2, "naam"] = "<script>x</script>"
    _, sentence = trim_peers(table, "GM1002", table.attrs["provinces"], max_rows=25)
    assert "te weinig respondenten" in sentence
    assert "<script>" not in sentence
    _, national = trim_peers(table, "GM1002", table.attrs["provinces"], max_rows=2)
    assert "<b>" not in national


def test_provinces_known_for_a_few_are_not_used():
    # the national parameters know the province of the project's municipalities only
    provinces = ["A"] * 3 + [""] * 57
    table = trim_like(60, provinces)
    shown, sentence = trim_peers(table, "GM1001", table.attrs["provinces"], max_rows=11)
    assert len(shown) == 11 and "GM1001" in set(shown[C.MUNICIPALITY])
    # GM1001 (index 51) is second from the bottom: the 11 lowest indexes
    assert set(shown[C.MUNICIPALITY]) == {f"GM{1000 + i}" for i in range(11)}
    assert "provincie" not in sentence and "in de meting" in sentence


def test_the_nearest_by_index_are_municipalities_with_an_index():
    # the municipality is near the bottom, where the suppressed (no index) would be sorted
    table = trim_like(60, [""] * 60, suppressed=frozenset({0, 1, 2}))
    shown, sentence = trim_peers(table, "GM1004", table.attrs["provinces"], max_rows=11)
    assert len(shown) == 11 and not shown[SUPPRESSED].any()
    assert set(shown[C.MUNICIPALITY]) == {f"GM{1000 + i}" for i in range(3, 14)}
    assert "de 11 gemeenten in de meting" in sentence
