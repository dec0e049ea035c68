"""JupyterLab's stylesheet cut down to what a report uses (WeasyPrint reads it for every PDF).

nbconvert's ``lab`` template inlines JupyterLab's whole ``index.css`` (about 240 kB: editors,
menus, widgets, a hundred icons as data URIs) and ``theme-light.css``. WeasyPrint parses and
matches every rule of it for every report: more than a second of CPU per PDF for rules that can
never match. :func:`distil` keeps the rules whose selectors name only classes that a report's
HTML can carry (:func:`report_classes`: those of nbconvert's ``lab`` and ``base`` templates and
of the report's own HTML), every rule without a class (elements, ``:root``), and the ``@media``
blocks filtered the same way; it drops the icon variables (``--jp-icon-*``), which no kept rule
uses. The result is ``templates/meting_report/static/lab.css``, which the report template
includes instead of the full stylesheet; the rendered report is the same.

Regenerate it after an nbconvert upgrade (a test compares it with the installed stylesheet)::

    python -m meting.report.lab_css
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from meting.report.render import TEMPLATE_DIR, TEMPLATE_NAME

__all__ = ["OUTPUT", "distil", "lab_sources", "main", "report_classes"]

#: Where the cut-down stylesheet goes (beside the report template).
OUTPUT = TEMPLATE_DIR / TEMPLATE_NAME / "static" / "lab.css"
#: Classes the report's own code and nbconvert's filters put into the HTML (besides the templates).
OWN_CLASSES = frozenset(
    {
        "jp-RenderedHTMLCommon",
        "jp-RenderedHTML",
        "jp-RenderedMarkdown",
        "jp-MarkdownOutput",
        "jp-RenderedImage",
        "jp-RenderedText",
        "jp-RenderedSVG",
        "jp-RenderedLatex",
        "jp-OutputArea-output",
        "jp-OutputArea-child",
        "jp-OutputArea-executeResult",
        "jp-OutputArea-prompt",
        "jp-OutputPrompt",
        "jp-OutputArea",
        "jp-mod-trusted",
        "jp-mod-noInput",
        "jp-mod-noOutputs",
        "jp-CodeCell",
        "jp-MarkdownCell",
        "jp-Notebook-cell",
        "jp-Notebook",
        "jp-Cell",
        "anchor-link",
        "dataframe",
    }
)
_CLASS = re.compile(r"\.(-?[_a-zA-Z][\w-]*)")
_TOKEN = re.compile(r"\bjp-[A-Za-z][\w-]*")
#: ``:not(...)``: a class in it need not be present for the selector to match.
_NOT = re.compile(r":not\([^()]*\)")


def _nbconvert_templates() -> Path:
    from nbconvert.exporters.templateexporter import TemplateExporter

    for base in TemplateExporter().template_paths:
        if (Path(base) / "lab" / "index.html.j2").is_file():
            return Path(base)
        if Path(base).name == "lab" and (Path(base) / "index.html.j2").is_file():
            return Path(base).parent
    raise FileNotFoundError("nbconvert's lab template must be installed; got none.")


def lab_sources() -> tuple[str, str]:
    """The installed ``lab/static/index.css`` and ``theme-light.css``."""
    static = _nbconvert_templates() / "lab" / "static"
    return (
        (static / "index.css").read_text(encoding="utf-8"),
        (static / "theme-light.css").read_text(encoding="utf-8"),
    )


def report_classes() -> frozenset[str]:
    """Every ``jp-*`` class of nbconvert's ``lab`` and ``base`` templates and :data:`OWN_CLASSES`."""
    root = _nbconvert_templates()
    found = set(OWN_CLASSES)
    for folder in ("lab", "base"):
        for path in sorted((root / folder).glob("*.j2")):
            found |= set(_TOKEN.findall(path.read_text(encoding="utf-8")))
    return frozenset(found)


def _split_selectors(prelude: str) -> list[str]:
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(prelude):
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(prelude[start:i])
            start = i + 1
    parts.append(prelude[start:])
    return [p.strip() for p in parts if p.strip()]


def _classes(selector: str) -> set[str]:
    """The classes an element must carry for ``selector`` to match it (not those in ``:not()``)."""
    return set(_CLASS.findall(_NOT.sub("", selector)))


def _rules(nodes: Iterable[Any], classes: frozenset[str]) -> list[str]:
    import tinycss2

    out: list[str] = []
    for node in nodes:
        kind = getattr(node, "type", None)
        if kind == "qualified-rule":
            prelude = tinycss2.serialize(node.prelude).strip()
            keep = [s for s in _split_selectors(prelude) if _classes(s) <= classes]
            if not keep:
                continue
            body = tinycss2.serialize(node.content)
            if prelude == ":root" or "--jp-icon-" in body:
                decls = tinycss2.parse_blocks_contents(node.content)
                body = (
                    "".join(
                        f"\n  {d.name}:{tinycss2.serialize(d.value)};"
                        for d in decls
                        if getattr(d, "type", None) == "declaration"
                        and not d.name.startswith("--jp-icon-")
                    )
                    + "\n"
                )
            out.append(f"{', '.join(keep)} {{{body}}}")
        elif kind == "at-rule":
            keyword = node.lower_at_keyword
            prelude = tinycss2.serialize(node.prelude).strip()
            if keyword == "media" and node.content is not None:
                inner = _rules(
                    tinycss2.parse_rule_list(
                        node.content, skip_comments=True, skip_whitespace=True
                    ),
                    classes,
                )
                if inner:
                    out.append(f"@media {prelude} {{\n" + "\n".join(inner) + "\n}")
            elif keyword in ("import", "keyframes", "-webkit-keyframes"):
                continue  # nothing fetched, nothing animated in a PDF
            else:
                out.append(tinycss2.serialize([node]))
    return out


def distil(css: str, classes: frozenset[str]) -> str:
    """The rules of ``css`` that can match HTML whose classes are all in ``classes``."""
    import tinycss2

    nodes = tinycss2.parse_stylesheet(css, skip_comments=True, skip_whitespace=True)
    return "\n".join(_rules(nodes, classes)) + "\n"


def build() -> str:
    """The distilled ``index.css`` + ``theme-light.css`` (in that order, as nbconvert has them)."""
    classes = report_classes()
    index, theme = lab_sources()
    text = (
        "/* JupyterLab's index.css and theme-light.css (nbconvert's lab template), cut down by\n"
        "   meting.report.lab_css to the rules a report can use. Generated: do not edit. */\n"
        + distil(index, classes)
        + distil(theme, classes)
    )
    if "var(--jp-icon-" in text:  # pragma: no cover - guarded: a kept rule needs an icon
        raise AssertionError("a kept rule uses a dropped --jp-icon-* variable")
    return text


def main(argv: list[str] | None = None) -> int:
    text = build()
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_text(text, encoding="utf-8")
    print(f"written: {OUTPUT} ({len(text) // 1024} kB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
