"""JupyterLab's stylesheet cut down for the reports (meting.report.lab_css)."""

from __future__ import annotations

from meting.report import lab_css as L


def test_distil_keeps_what_can_match_and_drops_the_rest() -> None:
    css = """
    :root { --jp-icon-add: url(data:image/svg+xml;base64,AAAA); --jp-ui-font-size1: 13px; }
    body { color: red; }
    .jp-Cell, .jp-Toolbar { padding: 1px; }
    .jp-Toolbar .jp-Cell { margin: 0; }
    .jp-RenderedHTMLCommon ul:not(.list-inline) { padding-left: 2em; }
    @media print { .jp-Cell { break-inside: avoid; } .lm-Menu { display: none; } }
    @media screen { .lm-Menu { color: blue; } }
    @keyframes spin { from { opacity: 0; } }
    """
    out = L.distil(css, frozenset({"jp-Cell", "jp-RenderedHTMLCommon"}))
    assert "--jp-ui-font-size1" in out and "--jp-icon-add" not in out and "base64" not in out
    assert "body {" in out and "color: red" in out
    assert ".jp-Cell {" in out and "jp-Toolbar" not in out  # the selector list is cut too
    assert ".jp-RenderedHTMLCommon ul:not(.list-inline)" in out  # a negated class need not exist
    assert "@media print" in out and "break-inside: avoid" in out and "lm-Menu" not in out
    assert "@media screen" not in out and "keyframes" not in out


def test_the_shipped_stylesheet_is_the_installed_one_cut_down() -> None:
    """Regenerate with ``python -m meting.report.lab_css`` when nbconvert's CSS changes."""
    shipped = L.OUTPUT.read_text(encoding="utf-8")
    assert shipped == L.build()
    index, theme = L.lab_sources()
    assert len(shipped) < 0.2 * (len(index) + len(theme))
    assert "var(--jp-icon-" not in shipped and ".jp-RenderedHTMLCommon" in shipped


def test_the_report_template_includes_it_instead_of_the_full_one() -> None:
    from meting.report.render import TEMPLATE_DIR

    template = (TEMPLATE_DIR / "meting_report" / "index.html.j2").read_text(encoding="utf-8")
    assert "block notebook_css" in template and 'include_css("static/lab.css")' in template
    assert "static/index.css" not in template
