"""Rendering one notebook: offline HTML in Dutch, a PDF, and safe failure (meting.report.render).

The self-test notebook is rendered once per module (a render takes several seconds).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import zlib
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import openpyxl
import pandas as pd
import pytest

from meting.errors import ReportError
from meting.report.formatting import fmt_ci, fmt_int, fmt_score
from meting.report.render import (
    KERNEL_NAME,
    RenderJob,
    RenderResult,
    export_html,
    load_notebook,
    recover,
    render,
)

pytestmark = pytest.mark.integration  # real renders: `pytest -m integration`

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
    names = sorted(p.name for p in folder.iterdir())
    assert names == ["index.html", "index.ipynb", "index.pdf", "tabellen"]
    executed = nbformat.read(result.files["ipynb"], as_version=4)
    assert any("injected-parameters" in c.metadata.get("tags", []) for c in executed.cells)
    assert set(result.seconds) == {"notebook", "html", "pdf", "tables"}


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


def _pdf_text(data: bytes) -> bytes:
    """The PDF with every Flate stream inflated (WeasyPrint packs objects into object streams)."""
    parts = [data]
    for match in re.finditer(rb"stream\r?\n", data):
        end = data.find(b"endstream", match.end())
        try:
            parts.append(zlib.decompress(data[match.end() : end]))
        except zlib.error:
            continue
    return b"".join(parts)


def test_pdf_is_tagged_dutch_titled_with_bookmarks_and_alt(
    rendered: tuple[RenderResult, str],
) -> None:
    result, html = rendered
    text = _pdf_text(result.files["pdf"].read_bytes())
    assert b"/StructTreeRoot" in text  # tagged: a structure tree for screen readers
    assert b"/MarkInfo" in text
    assert re.search(rb"/Lang\s*\(nl\)", text)
    assert re.search(rb"/Title\s*\(Zelftest\)", text)  # document title (metadata)
    assert b"/Outlines" in text  # bookmarks
    assert re.search(rb"/Title\s*\(Zelftest van de rapportage", text)  # ... one per heading
    figures = len(re.findall(r"<img\b", html))
    assert figures >= 1
    assert len(re.findall(rb"/Alt\s*\(", text)) >= figures  # every figure has its alt text
    if shutil.which("pdfinfo"):
        info = subprocess.run(
            ["pdfinfo", str(result.files["pdf"])], capture_output=True, text=True, check=True
        ).stdout
        assert re.search(r"^Tagged:\s+yes$", info, re.MULTILINE)


class _Access(HTMLParser):
    """Images with their alt text, header cells with their scope, and heading levels."""

    def __init__(self) -> None:
        super().__init__()
        self.alts: list[str | None] = []
        self.scopes: list[str | None] = []
        self.headings: list[int] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "img":
            self.alts.append(a.get("alt"))
        elif tag == "th":
            self.scopes.append(a.get("scope"))
        elif re.fullmatch(r"h[1-6]", tag):
            self.headings.append(int(tag[1]))


def test_html_is_accessible(rendered: tuple[RenderResult, str]) -> None:
    _, html = rendered
    assert '<html lang="nl">' in html
    found = _Access()
    found.feed(html)
    assert found.alts and all(alt and alt.strip() for alt in found.alts)
    assert found.alts[0].startswith("Rapportcijfer per levensgebeurtenis.")  # title first
    assert found.scopes and all(s in ("col", "row") for s in found.scopes)
    assert found.headings[0] == 1
    assert all(b - a <= 1 for a, b in zip(found.headings, found.headings[1:], strict=False))


def test_tables_beside_the_report_match_its_numbers(rendered: tuple[RenderResult, str]) -> None:
    result, html = rendered
    folder = result.files["html"].parent / "tabellen"
    assert sorted(p.name for p in folder.iterdir()) == [
        "levensgebeurtenissen.csv",
        "tabellen-selftest.xlsx",
        "toelichting.csv",
    ]
    data = pd.read_csv(folder / "levensgebeurtenissen.csv", keep_default_na=False, na_values=[""])
    # the printed rows of Tabel 2 in the report page
    table = html[html.index("<caption>Tabel 2</caption>") :]
    table = table[: table.index("</table>")]
    table = table.replace("\xa0", " ").replace("\u2060", "")  # the text a reader sees
    rows = [
        re.findall(r"<td [^>]*>([^<]*)</td>", row)
        for row in re.findall(r"<tr>(.*?)</tr>", table, re.S)
    ]
    rows = [r for r in rows if r]
    assert len(rows) == len(data) == 4
    for printed, (_, row) in zip(rows, data.iterrows(), strict=True):
        assert printed[0] == row["levensgebeurtenis"]
        assert printed[1] == fmt_score(row["rapportcijfer"])
        assert printed[2] == fmt_ci(
            row["rapportcijfer_ondergrens"], row["rapportcijfer_bovengrens"]
        )
        assert printed[3] == fmt_int(row["n"])
    small = data.iloc[3]
    assert rows[3][1] == "–" and pd.isna(small["rapportcijfer"])
    assert small["onderdrukt_reden"] == "minder dan 30 respondenten"
    wb = openpyxl.load_workbook(folder / "tabellen-selftest.xlsx")
    assert wb.sheetnames == ["toelichting", "levensgebeurtenissen"]
    assert wb["levensgebeurtenissen"]["B2"].value == pytest.approx(7.04, rel=1e-14)
    assert wb["levensgebeurtenissen"]["B5"].value is None
    assert not list(folder.parent.glob(".*"))  # no staging debris beside the report


def test_recover_finishes_a_commit_with_its_tables_folder(tmp_path: Path) -> None:
    """A render killed after its commit point: recover() puts the tables folder in place too,
    replacing the old one whole."""
    out = tmp_path / "gemeenten"
    old = out / "GM0505" / "tabellen"
    old.mkdir(parents=True)
    (old / "oud.csv").write_text("n\n1\n")
    commit = out / ".commit-GM0505-abc"
    (commit / "tabellen").mkdir(parents=True)
    (commit / "tabellen" / "nieuw.csv").write_text("n\n2\n")
    (commit / "GM0505.html").write_text("<html></html>")
    (commit / "MANIFEST.json").write_text(
        json.dumps(
            {"files": ["GM0505.html"], "remove": [], "dirs": {"tabellen": "GM0505/tabellen"}}
        )
    )
    done = recover(out)
    assert done and not commit.exists()
    assert sorted(p.name for p in old.iterdir()) == ["nieuw.csv"]
    assert (out / "GM0505.html").is_file()
    assert sorted(p.name for p in (out / "GM0505").iterdir()) == ["tabellen"]


def _without_render_time(html: str) -> str:
    """The HTML with the provenance block's render time (a minute) masked."""
    return re.sub(r"\d{1,2} \w+ \d{4}, \d{2}:\d{2}", "<tijd>", html)


def test_a_warm_kernel_renders_the_report_a_fresh_one_renders(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import papermill.engines

    from meting.report import kernel

    writes: list[str] = []
    write_ipynb = papermill.engines.write_ipynb

    def counted(nb: nbformat.NotebookNode, path: str) -> None:
        writes.append(path)
        write_ipynb(nb, path)

    monkeypatch.setattr(papermill.engines, "write_ipynb", counted)

    def job(title: str, folder: str, *, reuse: bool, fail: bool = False) -> RenderJob:
        return RenderJob(
            name=folder,
            title=title,
            notebook=SELFTEST,
            parameters={"title": title, "min_n": 30, "fail": fail},
            out_dir=tmp_path / folder,
            failed_dir=tmp_path / "_failed",
            reuse_kernel=reuse,
        )

    render(job("Eerste", "warm1", reuse=True))
    # the warm engine writes the executed notebook when it starts and when it completes, not at
    # every cell's start and end as papermill does (twice for each of the ten cells)
    assert len(writes) == 2
    manager = kernel._WARM[KERNEL_NAME][0]
    warm = render(job("Tweede", "warm2", reuse=True))
    assert kernel._WARM[KERNEL_NAME][0] is manager  # the same kernel rendered both
    fresh = render(job("Tweede", "fresh", reuse=False))
    html = warm.files["html"].read_text(encoding="utf-8")
    assert "Eerste" not in html
    assert _without_render_time(html) == _without_render_time(
        fresh.files["html"].read_text(encoding="utf-8")
    )
    executed = nbformat.read(warm.files["ipynb"], as_version=4)
    assert kernel.RESET_TAG not in json.dumps(executed)  # the reset cell is gone again
    counts = [c.execution_count for c in executed.cells if c.cell_type == "code"]
    assert counts[0] == 1
    # a failing report names the cell a fresh kernel names, and discards the warm kernel
    messages = []
    for reuse in (True, False):
        with pytest.raises(ReportError) as caught:
            render(job("Fout", f"fout{reuse}", reuse=reuse, fail=True))
        messages.append(re.search(r"failed in cell \d+ \(In \[\d+\]\)", str(caught.value)))
        # the failed notebook is kept, up to and with the error, from a warm kernel too
        kept = re.search(r"notebook is kept in (\S+)", str(caught.value))
        assert kept, caught.value
        failed = nbformat.read(kept.group(1), as_version=4)
        assert any(
            o.get("output_type") == "error" for c in failed.cells for o in c.get("outputs", [])
        )
    assert messages[0] and messages[1] and messages[0].group() == messages[1].group()
    assert KERNEL_NAME not in kernel._WARM
