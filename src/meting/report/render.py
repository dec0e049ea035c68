"""Render one notebook into a report: papermill -> HTML (nbconvert, our template) -> PDF (WeasyPrint).

Everything is written to a temporary folder next to the destination first and moved into place
(``os.replace``) only when the executed notebook, the HTML and the PDF all exist, so a failure
never damages the previous complete report. A failing notebook is kept in ``<out>/_failed/`` for
inspection, and the :class:`~meting.errors.ReportError` names the notebook, the cell and the error.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import time
import uuid
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat

from meting.errors import ReportError

__all__ = [
    "KERNEL_NAME",
    "REMOVE_TAGS",
    "TEMPLATE_DIR",
    "TEMPLATE_NAME",
    "RenderJob",
    "RenderResult",
    "export_html",
    "html_to_pdf",
    "load_notebook",
    "render",
]

TEMPLATE_DIR = Path(__file__).resolve().parents[1] / "templates"
TEMPLATE_NAME = "meting_report"
KERNEL_NAME = "python3"
#: Cells with these tags never reach the HTML/PDF (they stay in the executed notebook).
REMOVE_TAGS = frozenset({"remove-cell", "parameters", "injected-parameters"})
#: Default time limit per cell (seconds); a hung kernel fails the report instead of the build.
CELL_TIMEOUT_S = 1800


@dataclass(frozen=True)
class RenderJob:
    """One report to render.

    Parameters
    ----------
    name
        Short id (``2008-nulmeting``, ``GM0505``, ``vergelijking``); names the failed notebook.
    title
        Dutch title (HTML ``<title>``, PDF metadata, progress lines).
    notebook
        The notebook source: a jupytext ``.py`` (percent format) or an ``.ipynb``.
    parameters
        Papermill parameters (JSON types: str, int, float, bool, lists, dicts).
    out_dir
        The destination folder.
    stem
        File name without suffix: ``<out_dir>/<stem>.html|pdf|ipynb``.
    failed_dir
        Where a failing notebook is kept (``<stem>`` is replaced by ``name``).
    pdf
        Also write the PDF.
    cell_timeout
        Seconds a single cell may run.
    """

    name: str
    title: str
    notebook: Path
    parameters: Mapping[str, Any] = field(default_factory=dict)
    out_dir: Path = Path("reports")
    stem: str = "index"
    failed_dir: Path | None = None
    pdf: bool = True
    cell_timeout: int = CELL_TIMEOUT_S

    @property
    def outputs(self) -> dict[str, Path]:
        """The final paths by kind (``ipynb``, ``html``, ``pdf``)."""
        kinds = ["ipynb", "html"] + (["pdf"] if self.pdf else [])
        return {k: self.out_dir / f"{self.stem}.{k}" for k in kinds}

    @property
    def failed_path(self) -> Path:
        """Where the partially executed notebook goes when the render fails."""
        base = self.failed_dir if self.failed_dir is not None else self.out_dir / "_failed"
        return base / f"{self.name}.ipynb"


@dataclass(frozen=True)
class RenderResult:
    """A finished render: the files written, the time each stage took (seconds), PDF pages."""

    name: str
    files: dict[str, Path]
    seconds: dict[str, float]
    pages: int = 0

    @property
    def total_seconds(self) -> float:
        """Wall time of the whole render."""
        return sum(self.seconds.values())


def load_notebook(path: Path) -> nbformat.NotebookNode:
    """Read a notebook source (``.py`` via jupytext, ``.ipynb`` via nbformat), outputs cleared.

    The kernelspec is forced to ``python3`` (the environment's own kernel).
    """
    path = Path(path)
    if not path.is_file():
        raise ReportError(f"the notebook must exist; got {str(path)!r}. Check notebooks/.")
    if path.suffix == ".py":
        import jupytext

        nb = jupytext.read(path, fmt="py:percent")
    elif path.suffix == ".ipynb":
        nb = nbformat.read(path, as_version=4)
    else:
        raise ReportError(
            f"a notebook must be a jupytext .py or an .ipynb file; got {str(path)!r}."
        )
    nb.metadata["kernelspec"] = {
        "name": KERNEL_NAME,
        "display_name": "Python 3",
        "language": "python",
    }
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    return nb


def _strip_stderr(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Copy of ``nb`` without stderr streams (log lines, warnings): not for the reader's eyes."""
    nb = nbformat.from_dict(nb)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = [
                o
                for o in cell.outputs
                if not (o.output_type == "stream" and o.get("name") == "stderr")
            ]
    return nb


def export_html(nb: nbformat.NotebookNode, title: str) -> str:
    """The report HTML of an executed notebook: no code, no CDN, images embedded, ``lang="nl"``."""
    from nbconvert import HTMLExporter
    from nbconvert.preprocessors import TagRemovePreprocessor

    exporter = HTMLExporter(
        template_name=TEMPLATE_NAME,
        extra_template_basedirs=[str(TEMPLATE_DIR)],
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
        embed_images=True,
        language_code="nl",
    )
    exporter.register_preprocessor(
        TagRemovePreprocessor(remove_cell_tags=set(REMOVE_TAGS), enabled=True), enabled=True
    )
    nb = _strip_stderr(nb)
    nb.metadata["title"] = title
    body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": title}})
    return body


def html_to_pdf(html: str, target: Path, base_url: Path | None = None) -> int:
    """Render report HTML to an A4 PDF with WeasyPrint (no browser, no LaTeX).

    Returns
    -------
    int
        The number of pages written.
    """
    for name in ("weasyprint", "fontTools"):
        logging.getLogger(name).setLevel(logging.ERROR)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*HarfBuzz-Subset.*")
        import weasyprint

        document = weasyprint.HTML(string=html, base_url=str(base_url or target.parent)).render()
        document.write_pdf(target)
    return len(document.pages)


def _failure_message(job: RenderJob, exc: BaseException, kept: Path | None) -> str:
    from papermill.exceptions import PapermillExecutionError

    where = f"notebook {job.notebook.name} ({job.name})"
    if isinstance(exc, PapermillExecutionError):
        source = "\n".join("    " + line for line in str(exc.source).splitlines()[:12])
        text = (
            f"{where} failed in cell {exc.cell_index} (In [{exc.exec_count}]): "
            f"{exc.ename}: {exc.evalue}\n  cell source:\n{source}"
        )
    else:
        text = f"{where} failed: {type(exc).__name__}: {exc}"
    if kept is not None:
        text += f"\n  the partially executed notebook is kept in {kept}"
    return text + "\n  the previous report (if any) is left in place."


def render(job: RenderJob) -> RenderResult:
    """Execute, export and move one report into place.

    Returns
    -------
    RenderResult
        The final files and the seconds spent executing, exporting HTML and writing the PDF.

    Raises
    ------
    ReportError
        When the notebook fails (notebook, cell index, execution count, error and cell source in
        the message) or an export fails; earlier reports are left untouched.
    """
    import papermill

    os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    job.out_dir.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{job.name}-", dir=job.out_dir))
    executed = tmp / f"{job.stem}.ipynb"
    seconds: dict[str, float] = {}
    pages = 0
    try:
        nb = load_notebook(job.notebook)
        t0 = time.perf_counter()
        try:
            papermill.execute_notebook(
                nb,
                str(executed),
                parameters=dict(job.parameters),
                kernel_name=KERNEL_NAME,
                progress_bar=False,
                log_output=False,
                cwd=str(tmp),
                execution_timeout=job.cell_timeout,
                start_timeout=120,
            )
        except Exception as exc:
            kept = _keep_failed(executed, job)
            raise ReportError(_failure_message(job, exc, kept)) from exc
        seconds["notebook"] = time.perf_counter() - t0

        try:
            t0 = time.perf_counter()
            done = nbformat.read(executed, as_version=4)
            body = export_html(done, job.title)
            html_path = tmp / f"{job.stem}.html"
            html_path.write_text(body, encoding="utf-8")
            seconds["html"] = time.perf_counter() - t0
            if job.pdf:
                t0 = time.perf_counter()
                pages = html_to_pdf(body, tmp / f"{job.stem}.pdf", base_url=tmp)
                seconds["pdf"] = time.perf_counter() - t0
        except Exception as exc:
            kept = _keep_failed(executed, job)
            raise ReportError(_failure_message(job, exc, kept)) from exc

        for kind, final in job.outputs.items():
            os.replace(tmp / f"{job.stem}.{kind}", final)
        job.failed_path.unlink(missing_ok=True)
        return RenderResult(name=job.name, files=job.outputs, seconds=seconds, pages=pages)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _keep_failed(executed: Path, job: RenderJob) -> Path | None:
    if not executed.is_file():
        return None
    target = job.failed_path
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.with_name(f".{target.name}.{uuid.uuid4().hex}")
    shutil.copyfile(executed, staging)
    os.replace(staging, target)
    return target
