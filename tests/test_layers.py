"""The layers of the package: the analyses (meting.knelpunten) never import the report side, and
the project root is found in one place."""

from __future__ import annotations

import ast
from pathlib import Path

import meting

SRC = Path(meting.__file__).resolve().parent


def imported_modules(source: str, package: str) -> list[tuple[int, str]]:
    """(line, module) of every import in ``source`` (a module of ``package``); for ``from a
    import b`` both ``a`` and ``a.b``; relative imports resolved against ``package``."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parts = parts[: len(parts) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            found.append((node.lineno, base))
            found += [(node.lineno, f"{base}.{alias.name}") for alias in node.names]
    return found


def _is_report(module: str) -> bool:
    return module == "meting.report" or module.startswith("meting.report.")


def test_knelpunten_does_not_import_report() -> None:
    files = sorted((SRC / "knelpunten").glob("*.py"))
    assert len(files) > 5
    bad = [
        f"{path.name}:{line} imports {module}"
        for path in files
        for line, module in imported_modules(path.read_text(encoding="utf-8"), "meting.knelpunten")
        if _is_report(module)
    ]
    assert not bad, "meting.knelpunten must not import meting.report: " + "; ".join(bad)


def test_the_import_scan_finds_every_form() -> None:
    source = (
        "import meting.report.plots\n"
        "from meting.report import plots\n"
        "def f():\n"
        "    from ..report.privacy import SUPPRESSED\n"
        "    from . import norms\n"
    )
    modules = [m for _, m in imported_modules(source, "meting.knelpunten")]
    assert [m for m in modules if _is_report(m)] == [
        "meting.report.plots",
        "meting.report",
        "meting.report.plots",
        "meting.report.privacy",
        "meting.report.privacy.SUPPRESSED",
    ]
    assert "meting.knelpunten.norms" in modules


def test_project_root_is_found_in_one_place() -> None:
    from meting.registry import project_root
    from meting.report import build, notebooks, provenance

    assert (project_root() / "src" / "meting" / "__init__.py").is_file()
    assert provenance.project_root is project_root
    assert notebooks.project_root is project_root
    assert build.default_notebooks_dir() == project_root() / "notebooks"
    # only registry.project_root climbs from __file__ to the root (render.py finds the templates
    # inside the package, which is not the project root)
    climbing = sorted(
        str(path.relative_to(SRC))
        for path in SRC.rglob("*.py")
        if ".parents[" in path.read_text(encoding="utf-8")
    )
    assert climbing == ["registry.py", "report/render.py"]
