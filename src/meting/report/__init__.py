"""Reports: Dutch formatting, disclosure control, provenance, figures and rendering.

A report notebook calls :func:`setup_notebook` first (in a cell tagged ``remove-cell``), then
builds its tables with :func:`to_html` after :func:`suppress_small_cells`, its figures with
:mod:`meting.report.plots`, and ends with :func:`collect_provenance`. ``meting report``
(:func:`meting.report.build.report_command`) renders every report.
"""

from __future__ import annotations

import importlib
import logging
import warnings
from typing import Any

from meting.report.formatting import (
    EMPTY,
    fmt_ci,
    fmt_date,
    fmt_diff,
    fmt_int,
    fmt_number,
    fmt_p,
    fmt_pct,
    fmt_score,
    format_frame,
    html_text,
    to_html,
)
from meting.report.privacy import assert_no_identifiers, suppress_small_cells, suppression_note

__all__ = [
    "EMPTY",
    "Note",
    "assert_no_identifiers",
    "collect_provenance",
    "fmt_ci",
    "fmt_date",
    "fmt_diff",
    "fmt_int",
    "fmt_number",
    "fmt_p",
    "fmt_pct",
    "fmt_score",
    "format_frame",
    "html_text",
    "setup_notebook",
    "suppress_small_cells",
    "suppression_note",
    "to_html",
    "warning_box",
]

_LAZY = {
    "collect_provenance": "meting.report.provenance",
    "maps": "meting.report.maps",
    "plots": "meting.report.plots",
    "selection": "meting.report.selection",
    "tables": "meting.report.tables",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        module = importlib.import_module(_LAZY[name])
        return module if module.__name__.endswith("." + name) else getattr(module, name)
    raise AttributeError(f"module 'meting.report' has no attribute {name!r}")


def setup_notebook() -> None:
    """Quiet, reproducible notebook output: no library warnings or sampler logs in the report.

    Call it in the first cell of a report notebook (tagged ``remove-cell``). Warnings about the
    *results* are shown on purpose with :func:`warning_box`, not through Python's warnings.
    """
    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    warnings.filterwarnings("ignore", message=".*ipywidgets.*")
    # PyTensor and PyMC warn with paths into site-packages: never into a report
    for module in ("pytensor", "pymc", "arviz", "nutpie"):
        warnings.filterwarnings("ignore", module=rf"{module}(\..*)?$")
    for name in ("pymc", "pytensor", "nutpie", "arviz", "matplotlib", "fontTools"):
        logging.getLogger(name).setLevel(logging.ERROR)
    import gc

    import pandas as pd

    # a report kernel makes many short-lived pandas and matplotlib objects: the cycle detector at
    # Python's default threshold (700) runs thousands of passes per report (render.PDF_GC_THRESHOLD)
    gc.set_threshold(50_000, 20, 100)
    pd.set_option("display.max_columns", 30)
    pd.set_option("display.width", 120)


class Note:
    """A block of report HTML (a note or a warning) that displays in a notebook."""

    def __init__(self, html: str) -> None:
        self.html = html

    def _repr_html_(self) -> str:
        return self.html

    def __str__(self) -> str:
        return self.html


def warning_box(messages: list[str] | str, title: str = "Let op") -> Note:
    """A red-bordered warning (for example model diagnostics not met), shown at the top of a report.

    An empty list gives an empty block, so a notebook can always display it.
    """
    import html

    items = [messages] if isinstance(messages, str) else list(messages)
    if not items:
        return Note("")
    body = "".join(f"<li>{html.escape(m)}</li>" for m in items)
    return Note(
        f'<div class="meting-warning"><strong>{html.escape(title)}</strong><ul>{body}</ul></div>'
    )
