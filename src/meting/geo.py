"""Dutch municipal boundaries of 1 January 2008, 2009 and 2010, shipped with the package.

The files in `meting/geodata/` are the generalised CBS/Kadaster municipality boundaries
(TopoJSON, RD New, EPSG:28992) from the cartomap/nl project; `geodata/README.md` gives their
source, checksums and licence. Print `CREDIT` under every map.

`division(year)` gives the codes and names of a year's division (no geometry, no GeoPandas
import); `boundaries(year)` gives the polygons as a GeoDataFrame in RD New.
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from typing import TYPE_CHECKING

import pandas as pd

from meting.errors import ParameterError

if TYPE_CHECKING:
    import geopandas

YEARS: tuple[int, ...] = (2008, 2009, 2010)
CRS = "EPSG:28992"
CREDIT = "Gemeentegrenzen: Kadaster / CBS, via PDOK; gegeneraliseerd door cartomap/nl"

# Names the source files spell wrongly (see geodata/README.md, "Quirks"); corrected on reading.
NAME_FIXES: dict[str, str] = {
    "GM0051": "Skarsterlân",
    "GM0653": "Gaasterlân-Sleat",
    "GM0710": "Wûnseradiel",
    "GM0003": "Appingedam",
    "GM0820": "Nuenen, Gerwen en Nederwetten",
}


def _path(year: int) -> resources.abc.Traversable:
    if year not in YEARS:
        raise ParameterError(
            f"no municipal boundaries for {year}: the package ships {', '.join(map(str, YEARS))}"
        )
    return resources.files("meting") / "geodata" / f"gemeente_{year}.topojson"


def year_of_division(reference_date: object) -> int:
    """The boundary year whose division holds on `reference_date` (1 January of its year),
    clipped to the years shipped."""
    year = pd.Timestamp(str(reference_date)).year
    if year < YEARS[0]:
        raise ParameterError(
            f"no municipal boundaries for {reference_date}: earliest is {YEARS[0]}"
        )
    return min(year, YEARS[-1])


@lru_cache(maxsize=len(YEARS))
def division(year: int) -> pd.DataFrame:
    """Codes (`municipality`, e.g. GM0014) and names (`name`) of the division of 1 January
    `year`, sorted by code. Reads the TopoJSON properties only."""
    topo = json.loads(_path(year).read_text(encoding="utf-8"))
    (layer,) = topo["objects"].values()
    rows = [(g["properties"]["statcode"], g["properties"]["statnaam"]) for g in layer["geometries"]]
    frame = pd.DataFrame(rows, columns=["municipality", "name"])
    frame["name"] = frame["municipality"].map(NAME_FIXES).fillna(frame["name"])
    return frame.sort_values("municipality", ignore_index=True)


def boundaries(year: int) -> geopandas.GeoDataFrame:
    """Polygons of the division of 1 January `year`: columns `municipality`, `name`,
    `geometry`, CRS RD New. A fresh copy each call (callers may add columns)."""
    return _boundaries(year).copy()


@lru_cache(maxsize=len(YEARS))
def _boundaries(year: int) -> geopandas.GeoDataFrame:
    import geopandas

    with resources.as_file(_path(year)) as path:
        raw = geopandas.read_file(path)
    frame = raw.rename(columns={"statcode": "municipality", "statnaam": "name"})[
        ["municipality", "name", "geometry"]
    ].set_crs(CRS, allow_override=True)
    frame["name"] = frame["municipality"].map(NAME_FIXES).fillna(frame["name"])
    return frame.sort_values("municipality", ignore_index=True)


#: Area shares below this are treated as generalisation noise, not as territory that moved: the
#: generalised boundaries of successive years differ by up to a few percent along shared borders
#: (measured: 1,0-1,4 % slivers between municipalities whose border did not change).
MIN_AREA_SHARE = 0.02


def code_changes(from_year: int, to_year: int, min_share: float = MIN_AREA_SHARE) -> pd.DataFrame:
    """The codes of the division of `from_year` that are gone in that of `to_year`, and where
    their territory went, read off the boundaries themselves.

    For each disappeared code the polygons of `to_year` that cover it (GeoPandas overlay,
    intersection) give one row per new code with the share of the old polygon's area; shares
    below `min_share` are dropped as generalisation noise and the rest rescaled to add up to 1.
    The area share is an APPROXIMATION of the population share. Columns: `old_code`, `old_name`,
    `new_code`, `new_name`, `area_share` (as measured), `population_share` (rescaled), sorted by
    old and new code. Border corrections between codes that persist are not code changes and are
    not listed.
    """
    old, new = boundaries(from_year), boundaries(to_year)
    gone = sorted(set(old["municipality"]) - set(new["municipality"]))
    left = old[old["municipality"].isin(gone)].rename(
        columns={"municipality": "old_code", "name": "old_name"}
    )
    left["old_area"] = left.area
    right = new.rename(columns={"municipality": "new_code", "name": "new_name"})
    pieces = left.overlay(right, how="intersection", keep_geom_type=True)
    pieces["area_share"] = pieces.area / pieces["old_area"]
    pieces = (
        pieces.groupby(["old_code", "old_name", "new_code", "new_name"], as_index=False)[
            "area_share"
        ]
        .sum()
        .sort_values(["old_code", "new_code"], ignore_index=True)
    )
    kept = pieces[pieces["area_share"] >= min_share].copy()
    uncovered = sorted(set(gone) - set(kept["old_code"]))
    if uncovered:  # pragma: no cover - every shipped code lands somewhere
        raise ParameterError(
            f"every code gone between {from_year} and {to_year} must be covered by a new polygon; "
            f"got none for {uncovered}."
        )
    kept["population_share"] = kept["area_share"] / kept.groupby("old_code")[
        "area_share"
    ].transform("sum")
    return pd.DataFrame(kept[["old_code", "old_name", "new_code", "new_name", "area_share",
                              "population_share"]]).reset_index(drop=True)  # fmt: skip
