"""Render one notebook into a report: papermill -> HTML (nbconvert, our template) -> PDF (WeasyPrint).

Everything is written to a temporary folder next to the destination first (``.tmp-<name>-*``), so
a failure never damages the previous complete report. When the executed notebook, the HTML and the
PDF all exist, a manifest is written and the folder is renamed to ``.commit-<stem>-*`` (the commit
point, one atomic rename); then the files are moved into place in a fixed order (ipynb, pdf, html)
and the folder is removed. A run killed before the commit point leaves a ``.tmp-*`` folder that
:func:`recover` deletes; one killed after it leaves a ``.commit-*`` folder that :func:`recover`
finishes. So a report's files appear together or not at all once :func:`recover` has run (every
``meting report`` runs it first).

The notebook gets the papermill parameter ``tables_dir`` (a folder inside the staging folder): the
tables it publishes (:class:`meting.report.export.Tables`) are written there, the renderer adds
the workbook (:func:`meting.report.export.write_workbook`) and the folder is committed with the
other files as the report's ``tabellen/`` (:attr:`RenderJob.tables_dir`): an old folder is
renamed away, the new one renamed into place, the old one deleted.

PDFs are tagged (PDF/UA-1: structure tree, language, title, bookmarks per heading), so screen
readers can read them.

A failing notebook is kept outside the report folder (``<project>/.meting/failed/`` when built by
``meting report``) for inspection, and the :class:`~meting.errors.ReportError` names the notebook,
the cell and the error.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import json
import logging
import os
import re
import shutil
import tempfile
import time
import uuid
import warnings
from collections.abc import Iterator, Mapping
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
    "fewer_gc_passes",
    "html_to_pdf",
    "load_notebook",
    "recover",
    "render",
]

TEMPLATE_DIR = Path(__file__).resolve().parents[1] / "templates"
TEMPLATE_NAME = "meting_report"
KERNEL_NAME = "python3"
#: Cells with these tags never reach the HTML/PDF (they stay in the executed notebook).
REMOVE_TAGS = frozenset({"remove-cell", "parameters", "injected-parameters"})
#: Default time limit per cell (seconds); a hung kernel fails the report instead of the build.
CELL_TIMEOUT_S = 1800
#: Where failing notebooks are kept, relative to the project root (outside ``reports/``).
FAILED_DIR = Path(".meting") / "failed"
#: Prefixes of the staging folders of a render (see :func:`recover`).
TMP_PREFIX = ".tmp-"
COMMIT_PREFIX = ".commit-"
MANIFEST = "MANIFEST.json"
#: The folder of a report's published tables (beside ``index.html``, or in ``<stem>/``).
TABLES_DIR = "tabellen"
#: The papermill parameter that names the staging folder of the published tables.
TABLES_PARAMETER = "tables_dir"
#: The order in which a committed report's files are moved into place (html, the page the index
#: links, last).
COMMIT_ORDER = ("ipynb", "pdf", "html")


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
    reuse_kernel
        Run in this process's warm kernel (:func:`meting.report.kernel.warm_kernel`) instead of
        a fresh one: for the many municipality reports of a run, each ~2,5 s of CPU cheaper.
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
    reuse_kernel: bool = False

    @property
    def outputs(self) -> dict[str, Path]:
        """The final paths by kind (``ipynb``, ``html``, ``pdf``)."""
        kinds = ["ipynb", "html"] + (["pdf"] if self.pdf else [])
        return {k: self.out_dir / f"{self.stem}.{k}" for k in kinds}

    @property
    def tables_dir(self) -> Path:
        """The report's ``tabellen/`` folder: ``<out_dir>/tabellen`` beside an ``index`` report,
        ``<out_dir>/<stem>/tabellen`` for any other stem (a municipality report)."""
        if self.stem == "index":
            return self.out_dir / TABLES_DIR
        return self.out_dir / self.stem / TABLES_DIR

    @property
    def failed_path(self) -> Path:
        """Where the partially executed notebook goes when the render fails (never a served path:
        by default ``<project>/.meting/failed/``)."""
        if self.failed_dir is not None:
            base = self.failed_dir
        else:
            from meting.registry import project_root

            base = project_root() / FAILED_DIR
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

    The kernelspec is forced to ``python3`` (the environment's own kernel); the cells get the
    ids ``cell-0``, ``cell-1``, ... in order.
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
    for index, cell in enumerate(nb.cells):
        cell.id = f"cell-{index}"  # stable ids (nbformat draws random ones): the same HTML twice
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


@functools.cache
def _html_exporter() -> Any:
    """The report's HTMLExporter, built once per process (template lookup and Jinja environment
    are the slow part; a worker that renders hundreds of reports reuses it)."""
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
    return exporter


def export_html(nb: nbformat.NotebookNode, title: str) -> str:
    """The report HTML of an executed notebook: no code, no CDN, images embedded, ``lang="nl"``."""
    exporter = _html_exporter()
    nb = _strip_stderr(nb)
    nb.metadata["title"] = title
    body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": title}})
    return body


@functools.cache
def _font_config() -> Any:
    """WeasyPrint's font configuration (fontconfig set-up), made once per process."""
    from weasyprint.text.fonts import FontConfiguration

    return FontConfiguration()


#: Collector thresholds while WeasyPrint lays out a report: it makes millions of short-lived
#: objects, and at Python's default (700) a worker process with a large heap spent 0,4-0,6 s of a
#: 2-2,6 s PDF in cyclic garbage collection (benchmarks/results/bench_report_scale.txt).
PDF_GC_THRESHOLD = (50_000, 20, 100)


@contextlib.contextmanager
def fewer_gc_passes(threshold: tuple[int, int, int] = PDF_GC_THRESHOLD) -> Iterator[None]:
    """Run the block with higher cyclic-GC thresholds, and put the previous ones back after it.

    Reference counting still frees almost everything at once; only the cycle detector runs less
    often, so memory grows by at most the cycles made between two (rarer) passes.
    """
    before = gc.get_threshold()
    gc.set_threshold(*threshold)
    try:
        yield
    finally:
        gc.set_threshold(*before)


def html_to_pdf(html: str, target: Path, base_url: Path | None = None) -> int:
    """Render report HTML to an A4 PDF with WeasyPrint (no browser, no LaTeX).

    Returns
    -------
    int
        The number of pages written.
    """
    for name in ("weasyprint", "fontTools"):
        logging.getLogger(name).setLevel(logging.ERROR)
    with warnings.catch_warnings(), fewer_gc_passes():
        warnings.filterwarnings("ignore", message=".*HarfBuzz-Subset.*")
        import weasyprint

        fonts = _font_config()
        document = weasyprint.HTML(string=html, base_url=str(base_url or target.parent)).render(
            font_config=fonts, pdf_variant="pdf/ua-1", pdf_tags=True
        )
        document.write_pdf(target, pdf_variant="pdf/ua-1", pdf_tags=True)
    return len(document.pages)


def _drop_reset_cell(executed: Path) -> nbformat.NotebookNode | None:
    """Rewrite the executed notebook without the warm kernel's reset cell; the notebook, or None
    when there is none to read (the kernel failed before papermill wrote it)."""
    from meting.report.kernel import drop_reset_cell

    if not executed.exists():
        return None
    nb = drop_reset_cell(nbformat.read(executed, as_version=4))
    nbformat.write(nb, executed)
    return nb


def _failure_message(job: RenderJob, exc: BaseException, kept: Path | None) -> str:
    from papermill.exceptions import PapermillExecutionError

    where = f"notebook {job.notebook.name} ({job.name})"
    if isinstance(exc, PapermillExecutionError):
        source = "\n".join("    " + line for line in str(exc.source).splitlines()[:12])
        shift = 1 if job.reuse_kernel else 0  # the reset cell came first
        text = (
            f"{where} failed in cell {exc.cell_index - shift} (In [{exc.exec_count}]): "
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

    from meting.report import kernel

    os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    job.out_dir.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f"{TMP_PREFIX}{job.name}-", dir=job.out_dir))
    executed = tmp / f"{job.stem}.ipynb"
    staged_tables = tmp / TABLES_DIR
    seconds: dict[str, float] = {}
    pages = 0
    try:
        nb = load_notebook(job.notebook)
        warm: dict[str, Any] = {}
        if job.reuse_kernel:
            nb.cells.insert(0, kernel.reset_cell(str(tmp)))
            warm = {"engine_name": kernel.WARM_ENGINE, "km": kernel.warm_kernel(KERNEL_NAME)}
        t0 = time.perf_counter()
        try:
            papermill.execute_notebook(
                nb,
                str(executed),
                parameters={**job.parameters, TABLES_PARAMETER: str(staged_tables)},
                kernel_name=KERNEL_NAME,
                progress_bar=False,
                log_output=False,
                cwd=str(tmp),
                execution_timeout=job.cell_timeout,
                start_timeout=120,
                kernel_manager_class=kernel.IPCKernelManager,  # no TCP: no encryption warning
                **warm,
            )
        except Exception as exc:
            if job.reuse_kernel:
                kernel.discard_kernel(KERNEL_NAME)  # a failed report leaves no state behind
                _drop_reset_cell(executed)
            kept = _keep_failed(executed, job)
            raise ReportError(_failure_message(job, exc, kept)) from exc
        seconds["notebook"] = time.perf_counter() - t0

        try:
            t0 = time.perf_counter()
            done = _drop_reset_cell(executed) if job.reuse_kernel else None
            done = done or nbformat.read(executed, as_version=4)
            body = export_html(done, job.title)
            html_path = tmp / f"{job.stem}.html"
            html_path.write_text(body, encoding="utf-8")
            seconds["html"] = time.perf_counter() - t0
            if job.pdf:
                t0 = time.perf_counter()
                pages = html_to_pdf(body, tmp / f"{job.stem}.pdf", base_url=tmp)
                seconds["pdf"] = time.perf_counter() - t0
            t0 = time.perf_counter()
            from meting.report.export import write_workbook

            has_tables = write_workbook(staged_tables, job.name, job.title) is not None
            seconds["tables"] = time.perf_counter() - t0
        except Exception as exc:
            kept = _keep_failed(executed, job)
            raise ReportError(_failure_message(job, exc, kept)) from exc

        _scrub_paths(executed)
        manifest = {
            "stem": job.stem,
            "files": [f"{job.stem}.{k}" for k in COMMIT_ORDER if k in job.outputs],
            "remove": [f"{job.stem}.{k}" for k in COMMIT_ORDER if k not in job.outputs],
            # folders: staged name -> place relative to out_dir (moved before the files)
            "dirs": (
                {TABLES_DIR: job.tables_dir.relative_to(job.out_dir).as_posix()}
                if has_tables
                else {}
            ),
        }
        (tmp / MANIFEST).write_text(json.dumps(manifest), encoding="utf-8")
        committed = job.out_dir / f"{COMMIT_PREFIX}{job.stem}-{uuid.uuid4().hex[:12]}"
        os.rename(tmp, committed)  # the commit point
        tmp = committed
        _finish_commit(committed)
        job.failed_path.unlink(missing_ok=True)
        return RenderResult(name=job.name, files=job.outputs, seconds=seconds, pages=pages)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _finish_commit(folder: Path) -> None:
    """Move a committed report's files into place (in :data:`COMMIT_ORDER`), then drop the folder."""
    manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    for name, place in manifest.get("dirs", {}).items():
        source = folder / name
        if not source.is_dir():  # moved already by an earlier, interrupted commit
            continue
        target = folder.parent / place
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists():
            old = target.with_name(f"{TMP_PREFIX}old-{target.name}-{uuid.uuid4().hex[:12]}")
            os.rename(target, old)
            os.rename(source, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.rename(source, target)
    for name in manifest["files"]:
        source = folder / name
        if source.exists():
            os.replace(source, folder.parent / name)
    for name in manifest.get("remove", []):  # a report now without PDF: no stale PDF beside it
        (folder.parent / name).unlink(missing_ok=True)
    shutil.rmtree(folder, ignore_errors=True)


def recover(out_dir: Path) -> list[str]:
    """Clean up after a killed render under ``out_dir``; returns what was done (one line each).

    ``.tmp-*`` folders (a render that never reached its commit point) and ``.index-*.html`` files
    are deleted; ``.commit-*`` folders (killed while moving files into place) are finished from
    their manifest, or deleted when the manifest is missing. Call it only when no other render
    runs on ``out_dir`` (``meting report`` holds a lock for that).
    """
    out_dir = Path(out_dir)
    done: list[str] = []
    if not out_dir.is_dir():
        return done
    for path in sorted(out_dir.rglob(".*"), key=lambda p: len(p.parts), reverse=True):
        name = path.name
        if path.is_dir() and name.startswith(COMMIT_PREFIX):
            if (path / MANIFEST).is_file():
                _finish_commit(path)
                done.append(f"afgemaakt: {path.parent / name}")
            else:
                shutil.rmtree(path, ignore_errors=True)
                done.append(f"verwijderd: {path}")
        elif path.is_dir() and name.startswith(TMP_PREFIX):
            shutil.rmtree(path, ignore_errors=True)
            done.append(f"verwijderd: {path}")
        elif path.is_file() and name.startswith(".index-") and name.endswith(".html"):
            path.unlink(missing_ok=True)
            done.append(f"verwijderd: {path}")
    return done


#: A path into the Python environment (warnings of PyTensor and others print them).
_ENV_PATH = re.compile(r"site-packages|dist-packages|/\.venv/|/lib/python3\.\d+/")


def _scrub_paths(notebook: Path) -> None:
    """Drop stream outputs that name files of the environment (site-packages) from an executed
    notebook, so that no path of the machine reaches a report or its kept notebook."""
    nb = nbformat.read(notebook, as_version=4)
    changed = False
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        kept = []
        for o in cell.outputs:
            text = o.get("text", "") if o.output_type == "stream" else ""
            if isinstance(text, list):
                text = "".join(text)
            if o.output_type == "stream" and _ENV_PATH.search(text):
                changed = True
                continue
            kept.append(o)
        cell.outputs = kept
    if changed:
        nbformat.write(nb, notebook)


def _keep_failed(executed: Path, job: RenderJob) -> Path | None:
    if not executed.is_file():
        return None
    target = job.failed_path
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.with_name(f".{target.name}.{uuid.uuid4().hex}")
    shutil.copyfile(executed, staging)
    os.replace(staging, target)
    return target
