"""Rendering one notebook: offline HTML in Dutch, a PDF, and safe failure (meting.report.render).

The self-test notebook is rendered once per module (a render takes several seconds).
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pytest

from meting.errors import ReportError
from meting.report.render import RenderJob, RenderResult, export_html, load_notebook, render

SELFTEST = Path(__file__).parent / "notebooks" / "selftest_report.py"


class _Refs(HTMLParser):
    """Collects every src/href of script, link, img, iframe, source and every <script> tag."""

    def __init__(self) -> None:
        super().__init__()
        self.refs: list[tuple[str, str]] = []
        self.scripts = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "script":
            self.scripts += 1
        for name, value in attrs:
            if name in ("src", "href") and value is not None:
                self.refs.append((tag, value))


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> tuple[RenderResult, str]:
    out = tmp_path_factory.mktemp("reports")
    job = RenderJob(
        name="selftest",
        title="Zelftest",
        notebook=SELFTEST,
        parameters={"title": "Zelftest", "min_n": 30},
        out_dir=out / "zelftest",
        failed_dir=out / "_failed",
    )
    result = render(job)
    return result, result.files["html"].read_text(encoding="utf-8")


def test_files_are_in_place(rendered: tuple[RenderResult, str]) -> None:
    result, _ = rendered
    assert sorted(result.files) == ["html", "ipynb", "pdf"]
    folder = result.files["html"].parent
    assert sorted(p.name for p in folder.iterdir()) == ["index.html", "index.ipynb", "index.pdf"]
    executed = nbformat.read(result.files["ipynb"], as_version=4)
    assert any("injected-parameters" in c.metadata.get("tags", []) for c in executed.cells)
    assert set(result.seconds) == {"notebook", "html", "pdf"}


def test_html_is_complete_offline(rendered: tuple[RenderResult, str]) -> None:
    _, html = rendered
    parser = _Refs()
    parser.feed(html)
    assert parser.scripts == 0, "a static report runs no scripts (no require.js, no MathJax)"
    external = [(t, v) for t, v in parser.refs if re.match(r"^(https?:)?//", v)]
    assert external == []
    assert all(v.startswith(("#", "data:")) for _, v in parser.refs), parser.refs
    assert "@import" not in html
    assert not re.search(r"url\(\s*['\"]?(https?:)?//", html)
    assert "mathjax" not in html.lower() and "cdnjs" not in html
    assert '<html lang="nl">' in html
    assert re.search(r'<img [^>]*src="data:image/png;base64,[A-Za-z0-9+/]{1000}', html)


def test_html_is_dutch_without_code_or_stderr(rendered: tuple[RenderResult, str]) -> None:
    _, html = rendered
    assert '<td class="num">7,0</td>' in html  # 7.04 printed with a decimal comma
    assert '<td class="num">1.234</td>' in html  # thousands separator
    assert "7.04" not in html and ">7.0<" not in html
    assert "1 levensgebeurtenis met minder dan 30 respondenten niet getoond" in html
    assert "suppress_small_cells(" not in html  # no input cells
    assert "dit hoort niet in het rapport" not in html  # stderr stripped
    assert "<title>Zelftest</title>" in html


def test_html_ends_with_provenance(rendered: tuple[RenderResult, str]) -> None:
    _, html = rendered
    assert 'class="meting-provenance"' in html
    assert "herkomst en reproduceerbaarheid" in html
    labels = ("datum van aanmaak", "git-commit", "Willekeurig startgetal (seed)",
              "Gegevensbestanden", "Parameters", "Pakketversies", "pandas")  # fmt: skip
    for label in labels:
        assert label in html
    tail = html[html.index('class="meting-provenance"') :]
    assert "<img" not in tail  # nothing after the provenance block but itself


def test_pdf_has_pages(rendered: tuple[RenderResult, str]) -> None:
    result, _ = rendered
    data = result.files["pdf"].read_bytes()
    assert data.startswith(b"%PDF-")
    assert data.rstrip().endswith(b"%%EOF")
    assert result.pages >= 1
    assert len(data) > 20_000  # text, fonts and the figure


def test_load_notebook_and_export_without_kernel(tmp_path: Path) -> None:
    nb = load_notebook(SELFTEST)
    assert nb.metadata["kernelspec"]["name"] == "python3"
    assert "parameters" in nb.cells[0].metadata["tags"]
    html = export_html(nb, "Leeg")
    assert '<html lang="nl">' in html and "<script" not in html
    with pytest.raises(ReportError, match="must exist"):
        load_notebook(tmp_path / "nope.py")
    (tmp_path / "x.txt").write_text("")
    with pytest.raises(ReportError, match="jupytext .py or an .ipynb"):
        load_notebook(tmp_path / "x.txt")
