"""Accessible reports: text colours that pass WCAG AA on every background the CSS uses, headings
without skipped levels in every report notebook, and an index page with marked-up tables.

The contrast ratio is computed from the WCAG 2.x definition (relative luminance of sRGB), not
from a library, and checked against the AA threshold for normal text (4.5:1).
"""

from __future__ import annotations

import datetime
import re
from itertools import product
from pathlib import Path

import jupytext
import pytest

from meting.registry import load_registry
from meting.report.index_page import MUNICIPALITY_HEADLINE, write_index
from meting.report.render import TEMPLATE_DIR

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
TEMPLATE = TEMPLATE_DIR / "meting_report" / "index.html.j2"
AA_NORMAL_TEXT = 4.5


def _luminance(hex_colour: str) -> float:
    h = hex_colour.lstrip("#")
    if len(h) == 3:
        h = "".join(c * 2 for c in h)
    channels = [int(h[i : i + 2], 16) / 255 for i in (0, 2, 4)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: str, b: str) -> float:
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def test_contrast_formula_against_known_values() -> None:
    assert contrast("#000000", "#ffffff") == pytest.approx(21.0)
    assert contrast("#ffffff", "#ffffff") == pytest.approx(1.0)
    assert contrast("#767676", "#ffffff") == pytest.approx(4.54, abs=0.01)  # the AA grey


def _colours(css: str) -> tuple[set[str], set[str]]:
    """Text colours and background colours of a style sheet, ``var(--x)`` resolved."""
    variables = dict(re.findall(r"(--[\w-]+)\s*:\s*(#[0-9a-fA-F]{3,6})\b", css))

    def resolve(value: str) -> str | None:
        value = value.strip()
        m = re.match(r"var\((--[\w-]+)(?:\s*,\s*(#[0-9a-fA-F]{3,6}))?\)", value)
        if m:
            return variables.get(m.group(1), m.group(2))
        m = re.match(r"#[0-9a-fA-F]{3,6}\b", value)
        return m.group(0) if m else None

    text = {resolve(v) for v in re.findall(r"(?<![-\w])color\s*:\s*([^;}]+)", css)}
    back = {resolve(v) for v in re.findall(r"background(?:-color)?\s*:\s*([^;}]+)", css)}
    return {c for c in text if c}, {c for c in back if c} | {"#ffffff"}


def _index_css(tmp_path: Path) -> str:
    registry = load_registry()
    page = write_index(registry, tmp_path, now=datetime.date(2024, 1, 2)).read_text()
    return page[page.index("<style>") : page.index("</style>")]


@pytest.mark.parametrize("where", ["template", "index"])
def test_text_colours_pass_wcag_aa_on_every_background(where: str, tmp_path: Path) -> None:
    css = TEMPLATE.read_text(encoding="utf-8") if where == "template" else _index_css(tmp_path)
    text, backgrounds = _colours(css)
    assert text, "no text colours found"
    if where == "template":
        assert {"#154273", "#5c5c5c"} <= text and {"#f2f5f9", "#fdecea"} <= backgrounds
    failing = [
        (t, b, round(contrast(t, b), 2))
        for t, b in product(sorted(text), sorted(backgrounds))
        if contrast(t, b) < AA_NORMAL_TEXT
    ]
    assert failing == []


def _heading_levels(notebook: Path) -> list[int]:
    nb = jupytext.read(notebook, fmt="py:percent")
    levels: list[int] = []
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            levels += [len(m) for m in re.findall(r"^(#{1,6})\s", cell.source, re.MULTILINE)]
        else:
            levels += [int(m) for m in re.findall(r"<h([1-6])\b", cell.source)]
    return levels


@pytest.mark.parametrize("notebook", sorted(NOTEBOOKS.glob("*_report.py")), ids=lambda p: p.stem)
def test_headings_start_at_h1_and_skip_no_level(notebook: Path) -> None:
    levels = _heading_levels(notebook)
    assert levels and levels[0] == 1 and levels.count(1) == 1
    skips = [(a, b) for a, b in zip(levels, levels[1:], strict=False) if b > a + 1]
    assert skips == []


def test_index_lists_tables_and_the_headline_per_municipality(tmp_path: Path) -> None:
    registry = load_registry()
    wave = max(registry.waves.values(), key=lambda w: w.year)
    folder = tmp_path / wave.label / "gemeenten"
    folder.mkdir(parents=True)
    (tmp_path / wave.label / "index.html").write_text("<html></html>")
    wave_tables = tmp_path / wave.label / "tabellen"
    wave_tables.mkdir()
    (wave_tables / f"tabellen-{wave.label}.xlsx").write_bytes(b"")
    for code, value, verdict in (
        ("GM0505", "6.842276", "waarschijnlijk < 7"),
        ("GM0014", "7.4", "<script>x</script>"),
    ):
        (folder / f"{code}.html").write_text("<html></html>")
        tables = folder / code / "tabellen"
        tables.mkdir(parents=True)
        (tables / f"{MUNICIPALITY_HEADLINE}.csv").write_text(
            "gemeente,modelschatting,modelschatting_ondergrens,modelschatting_bovengrens,"
            f"kans_ge_doel,oordeel,oordeel_reden,n\nX,{value},6.73,6.95,0.003,{verdict},,764\n",
            encoding="utf-8",
        )
        (tables / f"tabellen-{code}.xlsx").write_bytes(b"")
    (folder / "GM0153.html").write_text("<html></html>")  # a report without tables
    page = write_index(registry, tmp_path, now=datetime.date(2024, 1, 2)).read_text()
    body = page.split("<body>", 1)[1]
    assert "<script>" not in body and "&lt;script&gt;x&lt;/script&gt;" in body
    dordrecht = re.search(r"<tr><th scope=\"row\">Dordrecht</th>(.*?)</tr>", body).group(1)
    assert "<td>GM0505</td>" in dordrecht
    assert '<td class="num">6,8</td>' in dordrecht and "6,7 – 7,0" in dordrecht
    assert "<td>waarschijnlijk &lt; 7</td>" in dordrecht
    assert f'href="{wave.label}/gemeenten/GM0505/tabellen/tabellen-GM0505.xlsx"' in dordrecht
    assert f'href="{wave.label}/gemeenten/GM0505/tabellen/"' in dordrecht
    enschede = re.search(r"<tr><th scope=\"row\">Enschede</th>(.*?)</tr>", body).group(1)
    assert enschede.count("–") >= 2 and "tabellen" not in enschede  # no tables: no figure
    assert f'href="{wave.label}/tabellen/tabellen-{wave.label}.xlsx"' in body
    assert all('scope="' in th for th in re.findall(r"<th\b[^>]*>", body))
