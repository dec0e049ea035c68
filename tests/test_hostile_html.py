"""Names from data or parameters never become live markup in a report or the index page."""

from __future__ import annotations

import ast
import datetime
import re
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest

from meting.report import html_text, to_html
from meting.report.build import write_index

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
EVIL_NAME = "<script>alert(1)</script>Dordrecht"
EVIL_PROVINCE = "Zuid-Holland<img src=x onerror=alert(1)>"
LIVE = re.compile(r"<\s*(script|img)\b", re.IGNORECASE)


def test_html_text_escapes_markup() -> None:
    assert html_text(EVIL_NAME) == "&lt;script&gt;alert(1)&lt;/script&gt;Dordrecht"
    assert not LIVE.search(html_text(EVIL_PROVINCE))
    assert html_text("a\"b'c&") == "a&quot;b&#x27;c&amp;"
    assert html_text(None) == ""


def test_table_cells_headings_and_caption_are_escaped() -> None:
    df = pd.DataFrame({"gemeente": [EVIL_NAME], EVIL_PROVINCE: [7.1]})
    table = str(to_html(df, {EVIL_PROVINCE: "score"}, caption=EVIL_NAME, note=EVIL_PROVINCE))
    assert not LIVE.search(table)
    assert "&lt;script&gt;" in table and "&lt;img" in table


def _header_cell(notebook: str) -> str:
    import jupytext  # imported here: a second of import for each xdist worker otherwise

    nb = jupytext.read(NOTEBOOKS / notebook, fmt="py:percent")
    return next(c.source for c in nb.cells if c.cell_type == "code" and "<h1>" in c.source)


def test_municipality_report_header_escapes_name_and_province() -> None:
    from IPython.display import HTML

    from meting.report import fmt_date, fmt_int

    namespace = {
        "HTML": HTML,
        "html_text": html_text,
        "fmt_date": fmt_date,
        "fmt_int": fmt_int,
        "mun": SimpleNamespace(name=EVIL_NAME, province=EVIL_PROVINCE),
        "municipality": "GM0505",
        "wave": "2010<b>x</b>",
        "wave_info": SimpleNamespace(reference_date=datetime.date(2010, 3, 1)),
        "cells": pd.DataFrame({"n": [3, 4]}),
    }
    out = eval(compile(_header_cell("30_municipality_report.py"), "cell", "eval"), namespace)
    page = out._repr_html_() if hasattr(out, "_repr_html_") else out.data
    assert not LIVE.search(page), page
    assert "<b>x</b>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;Dordrecht" in page
    assert "Zuid-Holland&lt;img src=x onerror=alert(1)&gt;" in page


def _unescaped(tree: ast.AST) -> list[str]:
    """f-string parts inside ``HTML(...)`` calls that are not wrapped in html_text/fmt_*."""
    bad = []
    for call in ast.walk(tree):
        if not (isinstance(call, ast.Call) and getattr(call.func, "id", None) == "HTML"):
            continue
        for node in ast.walk(call):
            if not isinstance(node, ast.FormattedValue):
                continue
            value = node.value
            name = getattr(getattr(value, "func", None), "id", "")
            if isinstance(value, ast.Call) and (name == "html_text" or name.startswith("fmt_")):
                continue
            if isinstance(value, ast.Name) and value.id in {"T"}:  # the numeric target
                continue
            if isinstance(value, ast.Attribute) and value.attr == "year":  # an int
                continue
            bad.append(ast.unparse(value))
    return bad


@pytest.mark.parametrize("notebook", sorted(p.name for p in NOTEBOOKS.glob("*.py")))
def test_every_html_fstring_in_notebooks_is_escaped(notebook: str) -> None:
    tree = ast.parse((NOTEBOOKS / notebook).read_text(encoding="utf-8"))
    assert _unescaped(tree) == []


def test_index_page_escapes_names(tmp_path: Path) -> None:
    wave = SimpleNamespace(
        label="2010-vervolgmeting", year=2010, kind="vervolgmeting<i>", source="synthetic"
    )
    registry = SimpleNamespace(
        waves={wave.label: wave},
        municipalities={"GM0505": SimpleNamespace(name=EVIL_NAME, province=EVIL_PROVINCE)},
    )
    folder = tmp_path / wave.label / "gemeenten"
    folder.mkdir(parents=True)
    (folder / "GM0505.html").write_text("<html></html>")
    (tmp_path / wave.label / "index.html").write_text("<html></html>")
    page = write_index(registry, tmp_path, now=datetime.date(2024, 1, 2)).read_text()
    body = page.split("<body>", 1)[1]
    assert not LIVE.search(body)
    assert "<i>" not in body
    assert '<th scope="row">&lt;script&gt;alert(1)&lt;/script&gt;Dordrecht</th>' in body
    assert "<td>GM0505</td>" in body
    assert "synthetische gegevens" in body  # the index says so on its first screen
