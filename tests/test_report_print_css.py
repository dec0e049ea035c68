"""The print rules of the report template (what WeasyPrint lays the PDF pages out with)."""

from __future__ import annotations

import re
from pathlib import Path

TEMPLATE = Path(__file__).resolve().parents[1] / "src/meting/templates/meting_report/index.html.j2"


def _print_css() -> str:
    text = TEMPLATE.read_text(encoding="utf-8")
    return text[text.index("@media print") :]


def _rule(css: str, selector: str) -> str:
    match = re.search(r"(?m)^\s*" + re.escape(selector) + r"[^{\n]*\{([^}]*)\}", css)
    assert match, selector
    return match.group(1)


def test_headings_and_captions_stay_with_what_they_introduce() -> None:
    css = _print_css()
    assert "break-after: avoid" in _rule(css, "h1, h2, h3, h4")
    assert "break-after: avoid" in _rule(css, "caption")
    assert "break-inside: avoid" in _rule(css, ".jp-MarkdownCell")
    assert "break-before: avoid" in _rule(css, ".meting-note")


def test_tables_kept_whole_or_repeat_their_header() -> None:
    css = _print_css()
    assert "break-inside: avoid" in _rule(css, "table.meting-table")
    assert "display: table-header-group" in _rule(css, "thead")
    assert "break-inside: avoid" in _rule(css, ".jp-OutputArea-output img")


def test_markdown_text_stays_within_the_margins() -> None:
    rule = _rule(_print_css(), ".jp-MarkdownOutput, .jp-RenderedMarkdown")
    assert "width: auto" in rule and "padding-left: 0" in rule
