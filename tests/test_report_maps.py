"""Report maps (meting.report.maps): the choropleth of the chain mark per municipality and the
locator map, on the division of the wave's reference date.

References are independent of the drawing code: the divisions' codes read from the TopoJSON
properties (``geo.division``, no GeoPandas), the verdict-to-shape table of the forest plots
written out here, the colour computed by hand from RdBu, and the code changes written into a copy
of ``params/``. The map from the pipeline runs on a generated wave with mocked NUTS.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import matplotlib as mpl
import numpy as np
import pandas as pd
import pytest
from matplotlib.patches import PathPatch

from meting import geo
from meting.errors import ReportError
from meting.registry import Registry, load_registry
from meting.report import maps
from meting.report.plots import COLORS

PROJECT_PARAMS = Path(__file__).resolve().parents[1] / "params"
WAVE_OF_YEAR = {2008: "2008-nulmeting", 2009: "2009-vervolgmeting", 2010: "2010-vervolgmeting"}
# The forest plots' shapes per verdict, written out (not read from the module under test).
SHAPE = {"waarschijnlijk ≥ 7": "^", "onzeker": "o", "waarschijnlijk < 7": "v"}
TRANSPARENT = (0.0, 0.0, 0.0, 0.0)


@pytest.fixture(scope="module")
def registry() -> Registry:
    return load_registry(PROJECT_PARAMS)


@pytest.fixture(scope="module")
def merged_registry(tmp_path_factory: pytest.TempPathFactory) -> Registry:
    """params/ plus the merger of 1 January 2009: Alkemade (GM0483) and Jacobswoude (GM0645)
    became Kaag en Braassem (GM1884)."""
    root = tmp_path_factory.mktemp("merged")
    shutil.copytree(PROJECT_PARAMS, root / "params")
    changes = root / "params" / "municipality_code_changes.csv"
    text = changes.read_text(encoding="utf-8")
    with changes.open("a", encoding="utf-8") as f:  # params/ may list the real merger already
        if "GM0483,GM1884" not in text:
            f.write("GM0483,GM1884,Kaag en Braassem,2009-01-01,1.0,Alkemade\n")
        if "GM0645,GM1884" not in text:
            f.write("GM0645,GM1884,Kaag en Braassem,2009-01-01,1.0,Jacobswoude\n")
    return load_registry(root / "params")


def _table(registry: Registry) -> pd.DataFrame:
    codes = sorted(registry.municipalities)
    rng = np.random.default_rng(7)
    estimate = np.round(rng.uniform(6.55, 7.45, len(codes)), 3)
    verdict = np.where(
        estimate >= 7.2,
        "waarschijnlijk ≥ 7",
        np.where(estimate <= 6.6, "waarschijnlijk < 7", "onzeker"),
    )
    return pd.DataFrame(
        {
            "naam": [registry.municipalities[c].name for c in codes],
            "municipality": codes,
            "estimate": estimate,
            "n": rng.integers(60, 400, len(codes)),
            "verdict": verdict,
        }
    )


def _patches(fig: maps.ReportFigure) -> dict[str, PathPatch]:
    ax = fig.figure.axes[0]
    found = [p for p in ax.patches if isinstance(p, PathPatch) and p.get_gid()]
    out = {p.get_gid(): p for p in found}
    assert len(out) == len(found)  # one patch per code
    return out


def _markers(fig: maps.ReportFigure) -> dict[str, object]:
    ax = fig.figure.axes[0]
    return {
        line.get_gid().removeprefix("oordeel:"): line
        for line in ax.get_lines()
        if (line.get_gid() or "").startswith("oordeel:")
    }


def _legend_texts(fig: maps.ReportFigure) -> list[str]:
    (legend,) = fig.figure.legends
    return [t.get_text() for t in legend.get_texts()]


def test_one_patch_per_municipality_blank_outside_the_sample(registry: Registry) -> None:
    table = _table(registry)
    fig = maps.municipality_map(table, registry=registry, wave="2008-nulmeting", min_n=30)
    patches = _patches(fig)
    assert sorted(patches) == geo.division(2008)["municipality"].tolist()  # 443, one each
    sampled = set(table["municipality"])
    for code, patch in patches.items():
        if code in sampled:
            assert patch.get_facecolor() != TRANSPARENT
        else:
            assert patch.get_facecolor() == TRANSPARENT, code  # no fill
            assert not patch.get_hatch()
    # the colour is RdBu of the value on a scale symmetric about 7 (values in 6,55 - 7,45: 6,5 - 7,5)
    cmap = mpl.colormaps["RdBu"]
    for code, value in zip(table["municipality"], table["estimate"], strict=True):
        expected = cmap((value - 6.5) / 1.0)
        assert patches[code].get_facecolor() == pytest.approx(expected, abs=1e-2), code
        red, _, blue, _ = patches[code].get_facecolor()
        assert (blue > red) == (value > 7.0), code
    assert "429 gemeenten" in fig.note and "niet in de steekproef" in fig.note


def test_legend_in_dutch_with_decimal_commas(registry: Registry) -> None:
    table = _table(registry)
    table.loc[0, "n"] = 12
    fig = maps.municipality_map(table, registry=registry, wave="2008-nulmeting", min_n=30)
    texts = _legend_texts(fig)
    assert "niet in de steekproef (geen kleur)" in texts
    assert "niet getoond: minder dan 30 respondenten" in texts
    assert {"waarschijnlijk ≥ 7", "onzeker", "waarschijnlijk < 7"} <= set(texts)
    bar = fig.figure.axes[1]
    ticks = [t.get_text() for t in bar.get_yticklabels()]
    assert ticks == ["6,5", "7,0 = doel", "7,5"]
    everything = [*texts, *ticks, fig.alt, fig.note]
    assert not any(re.search(r"\d\.\d", t) for t in everything), everything
    assert geo.CREDIT in [t.get_text() for t in fig.figure.texts]  # under the map


def test_verdict_markers_are_the_table_verdicts(registry: Registry) -> None:
    table = _table(registry)
    table.loc[2, "verdict"] = None  # a row without a verdict: open circle
    fig = maps.municipality_map(table, registry=registry, wave="2008-nulmeting", min_n=30)
    markers = _markers(fig)
    assert set(markers) == set(table["municipality"])
    for code, verdict in zip(table["municipality"], table["verdict"], strict=True):
        line = markers[code]
        if pd.isna(verdict):
            assert line.get_marker() == "o" and line.get_markerfacecolor() == "white"
        else:
            assert line.get_marker() == SHAPE[verdict], code
            assert line.get_markerfacecolor() == "black"


def test_suppressed_cell_is_hatched_without_value(registry: Registry) -> None:
    table = _table(registry)
    small, flagged = table["municipality"].iloc[3], table["municipality"].iloc[4]
    table.loc[3, "n"] = 12
    table["onderdrukt"] = False
    table.loc[4, "onderdrukt"] = True
    fig = maps.municipality_map(table, registry=registry, wave="2008-nulmeting", min_n=30)
    patches, markers = _patches(fig), _markers(fig)
    for code in (small, flagged):
        assert patches[code].get_facecolor() == TRANSPARENT
        assert patches[code].get_hatch() == maps.HATCH_SUPPRESSED
        assert code not in markers
    assert len(markers) == len(table) - 2
    assert "2 gemeenten met minder dan 30 respondenten niet getoond" in fig.alt
    # the suppressed values reach no text: the range is over the shown ones
    shown = table.drop(index=[3, 4])
    low = shown.loc[shown["estimate"].idxmin()]
    assert f"van {low['estimate']:.1f}".replace(".", ",") in fig.alt


def test_municipality_without_respondents_is_outside_the_sample(registry: Registry) -> None:
    table = _table(registry)
    table.loc[0, "n"] = 0  # in params, no respondents: the model predicts it, the map leaves it
    fig = maps.municipality_map(table, registry=registry, wave="2008-nulmeting", min_n=30)
    code = table["municipality"].iloc[0]
    assert _patches(fig)[code].get_facecolor() == TRANSPARENT
    assert not _patches(fig)[code].get_hatch() and code not in _markers(fig)
    assert "13 gemeenten in de steekproef" in fig.alt and "de andere 430 gemeenten" in fig.alt


def test_alt_text_gives_the_numbers(registry: Registry) -> None:
    table = _table(registry)
    fig = maps.municipality_map(table, registry=registry, wave="2008-nulmeting", min_n=30)
    low = table.loc[table["estimate"].idxmin()]
    high = table.loc[table["estimate"].idxmax()]
    comma = lambda x: f"{x:.1f}".replace(".", ",")  # noqa: E731
    assert fig.alt.startswith(
        "Kaart van Nederland (gemeentelijke indeling van 1 januari 2008, 443 gemeenten)"
    )
    assert "14 gemeenten in de steekproef" in fig.alt
    assert (
        f"van {comma(low['estimate'])} ({low['naam']}) tot {comma(high['estimate'])} ({high['naam']})"
        in fig.alt
    )
    for verdict, count in table["verdict"].value_counts().items():
        assert f"{count} {verdict}" in fig.alt
    assert "de andere 429 gemeenten" in fig.alt
    html = fig._repr_html_()
    assert 'alt="Kaart van Nederland' in html and fig.png().startswith(b"\x89PNG")


def test_merged_code_lands_on_the_new_polygon(merged_registry: Registry) -> None:
    table = pd.DataFrame(
        {
            "naam": ["Alkemade", "Dordrecht"],
            "municipality": ["GM0483", "GM0505"],
            "estimate": [7.4, 6.6],
            "n": [120, 200],
            "verdict": ["waarschijnlijk ≥ 7", "waarschijnlijk < 7"],
        }
    )
    # 2009 wave (reference date 2009-09-01): the 2009 division, Alkemade is part of Kaag en Braassem
    fig = maps.municipality_map(table, registry=merged_registry, wave="2009-vervolgmeting")
    patches, markers = _patches(fig), _markers(fig)
    assert "GM0483" not in patches and len(patches) == 441
    assert patches["GM1884"].get_facecolor() != TRANSPARENT
    assert "GM0645" not in patches  # Jacobswoude went into it too
    assert markers["GM1884"].get_marker() == "^"
    assert set(markers) == {"GM1884", "GM0505"}
    # before the merger (2008 wave) the old code is its own polygon
    before = maps.municipality_map(table, registry=merged_registry, wave="2008-nulmeting")
    assert _patches(before)["GM0483"].get_facecolor() != TRANSPARENT
    assert "GM1884" not in _patches(before)
    # two rows of the table on one polygon: refused, not averaged silently
    both = pd.concat(
        [table, table.iloc[[0]].assign(municipality="GM0645", naam="Jacobswoude")],
        ignore_index=True,
    )
    with pytest.raises(ReportError, match="GM1884"):
        maps.municipality_map(both, registry=merged_registry, wave="2009-vervolgmeting")


def test_unreliable_fit_is_hatched_and_explained(registry: Registry) -> None:
    table = _table(registry)
    fig = maps.municipality_map(
        table, registry=registry, wave="2008-nulmeting", min_n=30, unreliable=True
    )
    patches = _patches(fig)
    assert {patches[c].get_hatch() for c in table["municipality"]} == {maps.HATCH_UNRELIABLE}
    assert "modelcontrole niet gehaald: onzeker" in _legend_texts(fig)
    assert "convergentiecontrole" in fig.note


def test_names_are_plain_text(registry: Registry) -> None:
    table = _table(registry).iloc[:2].copy()
    table.loc[0, "naam"] = r"Een $\x$ gemeente"  # as mathtext this fails when drawn
    fig = maps.municipality_map(table, registry=registry, wave="2008-nulmeting", title=r"$\x$")
    assert fig.png().startswith(b"\x89PNG")
    names = [t.get_text() for t in fig.figure.axes[0].texts]
    assert r"Een $\x$ gemeente" in names


def test_a_national_map_has_no_names_and_says_where_they_are(registry: Registry) -> None:
    # every municipality of the 2008 division in the sample, as in a national wave
    codes = geo.division(2008)["municipality"].tolist()
    rng = np.random.default_rng(3)
    table = pd.DataFrame(
        {
            "naam": [f"Gemeente {i}" for i in range(len(codes))],
            "municipality": codes,
            "estimate": rng.uniform(6.6, 7.4, len(codes)),
            "n": np.full(len(codes), 40),
            "verdict": "onzeker",
            # every verdict published with caution (the publication flag of the model)
            "publication": "publiceren met voorbehoud",
        }
    )
    fig = maps.municipality_map(table, registry=registry, wave="2008-nulmeting", min_n=30)
    assert not fig.figure.axes[0].texts  # no names drawn
    assert len(_markers(fig)) == len(codes)  # but every verdict marker
    assert f"meer dan {maps.MAX_MAP_NAMES} gemeenten" in fig.note
    # the cautions are counted, not listed: no code in the note
    assert f"onzekerheid): {len(codes)} gemeenten." in fig.note
    assert not re.search(r"GM\d{4}", fig.note)
    # a sample of at most MAX_MAP_NAMES lists the codes it flags
    few = maps.municipality_map(table.iloc[:3], registry=registry, wave="2008-nulmeting")
    assert ", ".join(sorted(codes[:3])) in few.note
    # a small sample keeps its names
    small = maps.municipality_map(table.iloc[:5], registry=registry, wave="2008-nulmeting")
    assert len(small.figure.axes[0].texts) == 5
    assert "geen namen" not in small.note


def test_bad_arguments_are_named(registry: Registry) -> None:
    table = _table(registry)
    with pytest.raises(ReportError, match="verdict|lower"):
        maps.municipality_map(
            table.drop(columns="verdict"), registry=registry, wave="2008-nulmeting"
        )
    with pytest.raises(ReportError, match="minimum cell size"):
        maps.municipality_map(table, registry=registry, wave="2008-nulmeting", min_n=0)
    with pytest.raises(ReportError, match="2011-meting"):
        maps.locator_map("GM1711", registry=registry, wave="2011-meting")


def test_code_off_the_division_is_said(registry: Registry) -> None:
    table = _table(registry).iloc[:2].copy()
    table.loc[1, "municipality"] = "GM9999"
    fig = maps.municipality_map(table, registry=registry, wave="2008-nulmeting")
    assert "GM9999" in fig.note and "1 gemeente niet op de kaart" in fig.alt
    assert len(_patches(fig)) == 443


@pytest.mark.parametrize("year", geo.YEARS)
def test_locator_map_highlights_one_polygon(registry: Registry, year: int) -> None:
    fig = maps.locator_map(
        "GM1711", registry=registry, wave=WAVE_OF_YEAR[year], name="Echt-Susteren"
    )
    patches = _patches(fig)
    assert sorted(patches) == geo.division(year)["municipality"].tolist()
    accent = mpl.colors.to_rgba(COLORS["accent"])
    highlighted = [c for c, p in patches.items() if p.get_facecolor() == pytest.approx(accent)]
    assert highlighted == ["GM1711"]
    assert "Echt-Susteren (GM1711)" in fig.alt and f"1 januari {year}" in fig.alt
    assert geo.CREDIT in fig.note


def test_locator_map_follows_a_merger(merged_registry: Registry) -> None:
    fig = maps.locator_map("GM0483", registry=merged_registry, wave="2009-vervolgmeting")
    accent = mpl.colors.to_rgba(COLORS["accent"])
    patches = _patches(fig)
    assert [c for c, p in patches.items() if p.get_facecolor() == pytest.approx(accent)] == [
        "GM1884"
    ]
    assert "Kaag en Braassem (GM1884)" in fig.alt


# --- the map of the pipeline's table -------------------------------------------------------


@pytest.fixture(scope="module")
def wave_tables(tmp_path_factory: pytest.TempPathFactory, sampling_mock):
    from meting import pipeline
    from meting.synthetic import generate_command

    root = tmp_path_factory.mktemp("project")
    shutil.copytree(PROJECT_PARAMS, root / "params")
    generate_command(
        ["2008-nulmeting"], out_dir=root / "data" / "synthetic", params_dir=root / "params"
    )
    registry = load_registry(root / "params")
    an = pipeline.analyse_wave(registry, "2008-nulmeting")
    with sampling_mock():
        sae = pipeline.fit_small_areas(an)
    return registry, pipeline.sae_by(an, sae, "municipality")


def test_map_of_the_pipeline_table_agrees_with_it(wave_tables) -> None:
    registry, by_mun = wave_tables
    fig = maps.municipality_map(
        by_mun, registry=registry, wave="2008-nulmeting", min_n=registry.settings.min_cell_size
    )
    markers = _markers(fig)
    for code, verdict in zip(by_mun["municipality"].astype(str), by_mun["verdict"], strict=True):
        assert markers[code].get_marker() == ("o" if pd.isna(verdict) else SHAPE[verdict]), code
    assert len(_patches(fig)) == 443
    assert f"{len(by_mun)} gemeenten in de steekproef" in fig.alt
