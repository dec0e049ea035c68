"""``meting report``: plan every report from ``params/``, render them in parallel, write the index.

The plan (one :class:`Planned` per report):

* a **wave report** per ``params/waves/*.yaml`` -> ``reports/<wave>/index.html|pdf|ipynb``;
* one **comparison** across the waves (when there are at least two) ->
  ``reports/vergelijking/index.*``;
* one **validation** report of the models on the latest synthetic wave ->
  ``reports/validatie/index.*``;
* a **municipality report** per ``params/municipalities/*.yaml``, **for the latest wave only**
  (the current figures are what a municipality acts on; its earlier waves appear in that report
  and in the comparison) -> ``reports/<latest wave>/gemeenten/<code>.*``.

Municipality reports and the validation wait for the report of their wave (which fits the
small-area models and fills the cache), so they read the fits from the cache. Everything else runs
side by side in a process pool. The first failure stops the build: running reports finish,
pending ones are not started, earlier reports stay in place, and the error names the notebook
and the cell.
"""

from __future__ import annotations

import concurrent.futures as cf
import datetime
import multiprocessing
import os
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from meting.errors import ParameterError, ReportError
from meting.pipeline import wave_data_files
from meting.registry import project_root
from meting.report.formatting import fmt_date, html_text
from meting.report.render import FAILED_DIR, RenderJob, RenderResult, recover, render

__all__ = [
    "NOTEBOOKS",
    "Planned",
    "default_notebooks_dir",
    "plan_reports",
    "report_command",
    "write_index",
]

#: Notebook file (in notebooks/) of each kind of report.
NOTEBOOKS = {
    "wave": "10_wave_report.py",
    "comparison": "20_comparison_report.py",
    "municipality": "30_municipality_report.py",
    "validation": "40_validation_report.py",
}
COMPARISON_DIR = "vergelijking"
VALIDATION_DIR = "validatie"
MUNICIPALITY_DIR = "gemeenten"
LOCK_FILE = ".meting-report.lock"


def default_notebooks_dir() -> Path:
    """``<project root>/notebooks``."""
    return project_root() / "notebooks"


@dataclass(frozen=True)
class Planned:
    """One report in the plan: what to render, its progress label and what it waits for."""

    job: RenderJob
    kind: str
    label: str
    after: tuple[str, ...] = ()


def _latest(registry: Any, synthetic_only: bool = False) -> str | None:
    waves = [w for w in registry.waves.values() if not synthetic_only or w.source == "synthetic"]
    if not waves:
        return None
    return max(waves, key=lambda w: (w.year, w.reference_date, w.label)).label


def _wave_title(wave: Any) -> str:
    return f"{str(wave.kind).capitalize()} {wave.year} ({wave.label})"


def plan_reports(
    registry: Any, out_dir: Path, notebooks_dir: Path | None = None, *, pdf: bool = True
) -> list[Planned]:
    """Every report the parameters ask for, wave reports first (others wait for them)."""
    notebooks_dir = notebooks_dir or default_notebooks_dir()
    params_dir = str(registry.params_dir)
    # failing notebooks are kept outside the served report folder
    failed = Path(getattr(registry, "project_root", out_dir.parent)) / FAILED_DIR
    latest = _latest(registry)
    plan: list[Planned] = []

    def job(name: str, title: str, kind: str, folder: Path, stem: str, **params: Any) -> RenderJob:
        return RenderJob(
            name=name,
            title=title,
            notebook=notebooks_dir / NOTEBOOKS[kind],
            parameters={"params_dir": params_dir, **params},
            out_dir=folder,
            stem=stem,
            failed_dir=failed,
            pdf=pdf,
        )

    waves = sorted(registry.waves.values(), key=lambda w: (w.label != latest, w.year, w.label))
    for wave in waves:
        plan.append(
            Planned(
                job(
                    wave.label,
                    _wave_title(wave),
                    "wave",
                    out_dir / wave.label,
                    "index",
                    wave=wave.label,
                ),
                kind="wave",
                label=f"meting {wave.label}",
            )
        )
    synthetic_latest = _latest(registry, synthetic_only=True)
    if synthetic_latest is not None:
        plan.append(
            Planned(
                job(
                    VALIDATION_DIR,
                    "Validatie van de modellen",
                    "validation",
                    out_dir / VALIDATION_DIR,
                    "index",
                    wave=synthetic_latest,
                ),
                kind="validation",
                label=f"validatie ({synthetic_latest})",
                # it checks the fits of every synthetic wave, which their wave reports make
                after=tuple(registry.synthetic_waves()),
            )
        )
    if len(registry.waves) >= 2:
        plan.append(
            Planned(
                job(
                    COMPARISON_DIR,
                    "Vergelijking van de metingen",
                    "comparison",
                    out_dir / COMPARISON_DIR,
                    "index",
                ),
                kind="comparison",
                label="vergelijking van de metingen",
            )
        )
    if latest is not None:
        for code, mun in sorted(registry.municipalities.items()):
            plan.append(
                Planned(
                    job(
                        code,
                        f"Gemeente {mun.name} ({code}), {latest}",
                        "municipality",
                        out_dir / latest / MUNICIPALITY_DIR,
                        code,
                        wave=latest,
                        municipality=code,
                    ),
                    kind="municipality",
                    label=f"gemeente {code} ({mun.name})",
                    after=(latest,),
                )
            )
    return plan


def _select(plan: list[Planned], only: Sequence[str]) -> list[Planned]:
    if not only:
        return plan
    names = {p.job.name.lower(): p.job.name for p in plan}
    aliases = {MUNICIPALITY_DIR: "municipality", "metingen": "wave"}
    wanted: set[str] = set()
    unknown = []
    for item in only:
        key = item.lower()
        if key in aliases:
            wanted |= {p.job.name for p in plan if p.kind == aliases[key]}
        elif key in names:
            wanted.add(names[key])
        else:
            unknown.append(item)
    if unknown:
        raise ParameterError(
            f"reports to render must be names from the plan; got unknown {unknown}. "
            f"Choose from {sorted(names.values())} or {sorted(aliases)}."
        )
    chosen = [p for p in plan if p.job.name in wanted]
    # a dependency outside the selection is already rendered (or its cache is): drop it
    return [
        Planned(p.job, p.kind, p.label, tuple(a for a in p.after if a in wanted)) for p in chosen
    ]


def _check_inputs(registry: Any, plan: list[Planned]) -> None:
    missing_nb = sorted({str(p.job.notebook) for p in plan if not p.job.notebook.is_file()})
    if missing_nb:
        raise ReportError(
            f"report notebooks must exist; got missing {missing_nb}. Restore them from git."
        )
    waves = {str(p.job.parameters["wave"]) for p in plan if "wave" in p.job.parameters}
    if any(p.kind == "comparison" for p in plan):
        waves |= set(registry.waves)
    problems = []
    for label in sorted(waves):
        for role, path in wave_data_files(registry, label).items():
            if not path.is_file():
                how = (
                    "run `meting generate`"
                    if registry.waves[label].source == "synthetic"
                    else f"fix source.{role} in {registry.waves[label].file}"
                )
                problems.append(f"{path} (wave {label}, {role}; {how})")
    if problems:
        raise ParameterError(
            "data files of the waves must exist; got missing:\n  " + "\n  ".join(problems)
        )


def _default_jobs() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not on Linux
        return max(1, os.cpu_count() or 1)


def _die_with_parent(parent: int) -> None:
    """Pool worker initializer: the worker is killed when the process that started it dies.

    On Linux ``prctl(PR_SET_PDEATHSIG, SIGKILL)``; elsewhere (and as a second line) a daemon
    thread that polls the parent pid. The notebook kernels a worker starts exit by themselves
    when their parent is gone (ipykernel's parent poller).
    """
    import signal
    import threading

    if sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, int(signal.SIGKILL), 0, 0, 0)  # 1 = PR_SET_PDEATHSIG
        except (OSError, AttributeError):  # pragma: no cover - no libc prctl
            pass
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)

    def watch() -> None:
        while True:
            time.sleep(1.0)
            if os.getppid() != parent:
                os._exit(1)

    threading.Thread(target=watch, name="meting-parent-watch", daemon=True).start()


class _Lock:
    """An exclusive lock on the report folder for one ``meting report`` run (``fcntl.flock``)."""

    def __init__(self, out_dir: Path) -> None:
        self.path = out_dir / LOCK_FILE
        self.handle: Any = None

    def __enter__(self) -> _Lock:
        self.handle = open(self.path, "a+")
        try:
            import fcntl
        except ImportError:  # pragma: no cover - not on POSIX
            return self
        try:
            fcntl.flock(self.handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self.handle.close()
            raise ReportError(
                f"the report folder must not be in use by another `meting report`; {self.path} "
                "is locked. Wait for that run to finish, or use another --out folder."
            ) from None
        return self

    def __exit__(self, *exc: object) -> None:
        if self.handle is not None:
            self.handle.close()


def _run_plan(
    plan: list[Planned], jobs: int, emit: Callable[[str], None]
) -> tuple[list[RenderResult], list[str]]:
    """Render the plan with at most ``jobs`` at once, respecting ``after``; stop at a failure."""
    total = len(plan)
    results: list[RenderResult] = []
    failures: list[str] = []
    done: set[str] = set()
    pending = list(plan)
    running: dict[cf.Future[RenderResult], Planned] = {}
    if jobs == 1:
        # one at a time in this process: no pool to start, plain tracebacks
        pool: cf.Executor = cf.ThreadPoolExecutor(max_workers=1)
    else:
        pool = cf.ProcessPoolExecutor(
            max_workers=jobs,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_die_with_parent,
            initargs=(os.getpid(),),
        )
    with pool:
        while pending or running:
            if not failures:
                ready = [p for p in pending if all(a in done for a in p.after)]
                for p in ready[: max(0, jobs - len(running))]:
                    pending.remove(p)
                    running[pool.submit(render, p.job)] = p
            if not running:
                break
            finished, _ = cf.wait(running, return_when=cf.FIRST_COMPLETED)
            for future in finished:
                p = running.pop(future)
                try:
                    result = future.result()
                except ReportError as exc:
                    failures.append(str(exc))
                    emit(f"[{len(results) + len(failures)}/{total}] {p.label} ... MISLUKT")
                    continue
                except Exception as exc:  # a crashed worker or a bug: still name the report
                    failures.append(f"report {p.job.name} failed: {type(exc).__name__}: {exc}")
                    emit(f"[{len(results) + len(failures)}/{total}] {p.label} ... MISLUKT")
                    continue
                results.append(result)
                done.add(p.job.name)
                emit(
                    f"[{len(results) + len(failures)}/{total}] {p.label} ... "
                    f"klaar in {result.total_seconds:.0f} s"
                )
    if failures and pending:
        emit(f"{len(pending)} rapport(en) niet gestart door de fout hierboven.")
    return results, failures


def _link(path: Path, out_dir: Path, text: str) -> str:
    rel = path.relative_to(out_dir).as_posix()
    return f'<a href="{html_text(rel)}">{html_text(text)}</a>'


def _entry(out_dir: Path, folder: Path, stem: str, title: str) -> str | None:
    page = folder / f"{stem}.html"
    if not page.is_file():
        return None
    links = [_link(page, out_dir, title)]
    pdf = folder / f"{stem}.pdf"
    if pdf.is_file():
        links.append(f"({_link(pdf, out_dir, 'pdf')})")
    return "<li>" + " ".join(links) + "</li>"


def write_index(registry: Any, out_dir: Path, now: datetime.date | None = None) -> Path:
    """Write ``<out_dir>/index.html`` linking every report that exists on disk (atomically)."""
    now = now or datetime.date.today()
    sections: list[str] = []
    waves = sorted(registry.waves.values(), key=lambda w: (w.year, w.label))
    items = [_entry(out_dir, out_dir / w.label, "index", _wave_title(w)) for w in waves]
    items += [
        _entry(out_dir, out_dir / COMPARISON_DIR, "index", "Vergelijking van de metingen"),
        _entry(out_dir, out_dir / VALIDATION_DIR, "index", "Validatie van de modellen"),
    ]
    sections.append("<h2>Rapportages</h2><ul>" + "".join(i for i in items if i) + "</ul>")
    for wave in waves:
        folder = out_dir / wave.label / MUNICIPALITY_DIR
        found = [
            _entry(out_dir, folder, code, f"{mun.name} ({code})")
            for code, mun in sorted(registry.municipalities.items(), key=lambda kv: kv[1].name)
        ]
        entries = [e for e in found if e]
        if entries:
            sections.append(
                f"<h2>Gemeenten, {html_text(_wave_title(wave))}</h2><ul>"
                + "".join(entries)
                + "</ul>"
            )
    synthetic = [w.label for w in waves if w.source == "synthetic"]
    notice = (
        '<p class="synthetic"><strong>Let op: synthetische gegevens.</strong> De metingen '
        f"{html_text(', '.join(synthetic))} zijn gesimuleerd (vast willekeurig startgetal of seed, afgestemd op de "
        "gepubliceerde cijfers); aantallen en uitkomsten zijn niet die van een echte enquête.</p>"
        if synthetic
        else ""
    )
    page = f"""<!DOCTYPE html>
<html lang="nl">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Een 7 voor dienstverlening: rapportages</title>
<style>
body {{ font-family: "DejaVu Sans", Arial, sans-serif; max-width: 46em; margin: 2em auto;
       padding: 0 1em; color: #1a1a1a; line-height: 1.45; }}
h1, h2 {{ color: #154273; }}
li {{ margin: 0.2em 0; }}
.note {{ color: #5c5c5c; font-size: 0.9em; }}
.synthetic {{ border: 2px solid #b35900; background: #fff4e5; padding: 0.6em 1em; }}
</style>
</head>
<body>
<h1>Een 7 voor dienstverlening</h1>
<p>Beoordeling van de overheidsdienstverlening rond levensgebeurtenissen, tegen het doel van het
kabinet: een 7. Elke rapportage is er als webpagina en als pdf; de uitgevoerde notebooks staan
ernaast.</p>
{notice}
{"".join(sections)}
<p class="note">Overzicht bijgewerkt op {fmt_date(now)}.</p>
</body>
</html>
"""
    target = out_dir / "index.html"
    staging = out_dir / f".index-{uuid.uuid4().hex}.html"
    staging.write_text(page, encoding="utf-8")
    os.replace(staging, target)
    return target


def report_command(
    only: Sequence[str] | None = None,
    params_dir: Path | str | None = None,
    out_dir: Path | str | None = None,
    jobs: int | None = None,
    *,
    notebooks_dir: Path | str | None = None,
    pdf: bool = True,
    emit: Callable[[str], None] | None = None,
) -> int:
    """Render the reports (the ``meting report`` command).

    Parameters
    ----------
    only
        Names of reports to render (wave labels, ``vergelijking``, ``validatie``, municipality
        codes, or ``gemeenten`` / ``metingen`` for all of a kind); default all.
    params_dir
        The parameter folder (default: the project's ``params/`` or ``$METING_PARAMS``).
    out_dir
        The report folder (default: the project's ``reports/``).
    jobs
        Reports rendered at once (default: the cores available).
    notebooks_dir
        The report notebooks (default: the project's ``notebooks/``).
    pdf
        Also write PDFs.
    emit
        Where progress lines go (default: print to stdout).

    Returns
    -------
    int
        0 when every report was rendered.

    Raises
    ------
    ParameterError
        A parameter file is invalid (file and field named) or a data file is missing; nothing
        is rendered.
    ReportError
        A report failed (notebook and cell named); earlier reports are left in place.
    """
    from meting.registry import load_registry

    emit = emit or (lambda line: print(line, flush=True))
    registry = load_registry(params_dir)
    out = Path(out_dir) if out_dir is not None else project_root() / "reports"
    out = out.resolve()
    if jobs is not None and jobs < 1:
        raise ParameterError(f"--jobs must be at least 1; got {jobs}. Leave it out for all cores.")
    plan = plan_reports(registry, out, Path(notebooks_dir) if notebooks_dir else None, pdf=pdf)
    plan = _select(plan, list(only or []))
    _check_inputs(registry, plan)
    n_jobs = min(jobs or _default_jobs(), max(1, len(plan)))
    out.mkdir(parents=True, exist_ok=True)
    with _Lock(out):
        for line in recover(out):  # debris of a run that was killed
            emit(f"opgeruimd na een afgebroken run: {line}")
        emit(f"{len(plan)} rapporten, {n_jobs} tegelijk; uitvoer in {out}")
        t0 = time.perf_counter()
        results, failures = _run_plan(plan, n_jobs, emit)
        if failures:
            raise ReportError("\n".join(failures))
        index = write_index(registry, out)
    emit(f"klaar: {len(results)} rapporten in {time.perf_counter() - t0:.0f} s; overzicht: {index}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(report_command(sys.argv[1:]))
