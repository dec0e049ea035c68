"""The shipped municipal boundaries: counts and checksums as documented, names corrected."""

import hashlib
from importlib import resources

import pytest

from meting import geo
from meting.errors import ParameterError

# From geodata/README.md (the source's own table).
EXPECTED = {
    2008: (443, "b3dc57e150932dd595d3fc764c271fb65ac4425deb030ef70ff3f1ab1b544ca4"),
    2009: (441, "9e6a2791c41ecb836537f731e7fe0eb027793ac4ba6901125bf5b443826346b8"),
    2010: (431, "8770a7ceec24011d4ddfddba69c8dfe62ad921b3d9599b830337fba1e3a39fdf"),
}


@pytest.mark.parametrize("year", geo.YEARS)
def test_division_matches_the_documented_files(year: int) -> None:
    count, sha = EXPECTED[year]
    raw = (resources.files("meting") / "geodata" / f"gemeente_{year}.topojson").read_bytes()
    assert hashlib.sha256(raw).hexdigest() == sha
    frame = geo.division(year)
    assert len(frame) == count
    assert frame["municipality"].is_unique
    assert frame["municipality"].str.fullmatch(r"GM\d{4}").all()


def test_names_are_corrected() -> None:
    names = geo.division(2008).set_index("municipality")["name"]
    assert names["GM0051"] == "Skarsterlân"
    assert names["GM0014"] == "Groningen"
    assert geo.division(2010).set_index("municipality")["name"]["GM0003"] == "Appingedam"


@pytest.mark.parametrize("year", geo.YEARS)
def test_no_name_has_a_stray_full_stop(year: int) -> None:
    # A full stop belongs only in an abbreviation in brackets: Bergen (NH.), Bergen (L.).
    names = geo.division(year)["name"]
    stray = names[names.str.replace(r"\([A-Z]+\.\)", "", regex=True).str.contains(".", regex=False)]
    assert stray.empty, stray.tolist()
    assert (names == "Nuenen, Gerwen en Nederwetten").sum() == 1


def test_boundaries_in_rd_new() -> None:
    frame = geo.boundaries(2010)
    assert str(frame.crs) == geo.CRS
    assert len(frame) == 431
    xmin, ymin, xmax, ymax = frame.total_bounds
    # The Netherlands in RD New metres.
    assert 0 < xmin < xmax < 300_000 and 300_000 < ymin < ymax < 625_000


def test_unknown_year() -> None:
    with pytest.raises(ParameterError, match="2011"):
        geo.division(2011)
    assert geo.year_of_division("2009-01-01") == 2009
    assert geo.year_of_division("2012-05-01") == 2010
