"""``meting report``: plan every report from ``params/``, render them in parallel, write the index.

The plan (one :class:`Planned` per report):

* a **wave report** per ``params/waves/*.yaml`` -> ``reports/<wave>/index.html|pdf|ipynb``;
* one **comparison** across the waves (when there are at least two) ->
  ``reports/vergelijking/index.*``;
* one **validation** report of the models on the latest synthetic wave ->
  ``reports/validatie/index.*``;
* a **municipality report** per municipality of the registry that exists on the latest wave's
  reference date (``params/municipalities/*.yaml``; for the national set every municipality of
  the real division), **for the latest wave only** (the current figures are what a
  municipality acts on; its earlier waves appear in that report and in the comparison) ->
  ``reports/<latest wave>/gemeenten/<code>.*``; ``limit`` keeps that many, spread evenly over
  the sorted codes (a small national run); ``municipalities_of`` (``meting report
  --municipalities-of 2008-nulmeting``) takes another wave's municipalities and division instead.

``meting report --national`` plans the same for the national parameter set
(``params/nationaal/``) into its ``reports_dir`` (``reports/nationaal/``).

Municipality reports wait for the whole-wave work of their wave (:mod:`meting.artefacts`: the
weighting, the small-area fit and every municipality's tables, computed once and stored), the
validation waits for the wave reports (which fit the models). Reports and those per-wave tasks run
on Dask distributed (:mod:`meting.report.distributed`): a local cluster on this machine's cores,
or an existing cluster given by its scheduler address. The first failure stops the build: running
reports finish, pending ones are not started, earlier reports stay in place, and the error names
the notebook and the cell.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from meting.errors import ParameterError, ReportError
from meting.pipeline import wave_data_files
from meting.registry import project_root
from meting.report.index_page import (
    COMPARISON_DIR,
    MUNICIPALITY_DIR,
    VALIDATION_DIR,
    wave_title,
    write_index,
)
from meting.report.render import FAILED_DIR, RenderJob, recover

if TYPE_CHECKING:
    from meting.report.distributed import Task

__all__ = [
    "NOTEBOOKS",
    "Planned",
    "default_notebooks_dir",
    "municipality_codes",
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


def municipality_codes(registry: Any, wave: str, limit: int | None = None) -> list[str]:
    """The municipalities that get a report for ``wave``: those existing on its reference date
    (sorted codes); with ``limit``, that many spread evenly over them (first and last included)."""
    on = registry.waves[wave].reference_date
    existing = getattr(registry, "municipalities_on", None)
    codes = existing(on) if existing is not None else sorted(registry.municipalities)
    if limit is None or limit >= len(codes):
        return list(codes)
    if limit < 1:
        raise ParameterError(f"--limit must be at least 1; got {limit}. Leave it out for all.")
    if limit == 1:
        return [codes[0]]
    step = (len(codes) - 1) / (limit - 1)
    return [codes[round(i * step)] for i in range(limit)]


def plan_reports(
    registry: Any,
    out_dir: Path,
    notebooks_dir: Path | None = None,
    *,
    pdf: bool = True,
    limit: int | None = None,
    municipalities_of: str | None = None,
) -> list[Planned]:
    """Every report the parameters ask for, wave reports first (others wait for them); at most
    ``limit`` municipality reports (:func:`municipality_codes`), of the wave
    ``municipalities_of`` (default: the latest)."""
    notebooks_dir = notebooks_dir or default_notebooks_dir()
    params_dir = str(registry.params_dir)
    # failing notebooks are kept outside the served report folder
    failed = Path(getattr(registry, "project_root", out_dir.parent)) / FAILED_DIR
    latest = _latest(registry)
    if municipalities_of is not None and municipalities_of not in registry.waves:
        raise ParameterError(
            f"--municipalities-of must be a wave label from {registry.params_dir}/waves/; got "
            f"{municipalities_of!r}. Choose from {sorted(registry.waves)}."
        )
    of = municipalities_of or latest
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
            reuse_kernel=kind == "municipality",  # many small reports: one warm kernel per worker
        )

    waves = sorted(registry.waves.values(), key=lambda w: (w.label != latest, w.year, w.label))
    for wave in waves:
        plan.append(
            Planned(
                job(
                    wave.label,
                    wave_title(wave),
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
    if of is not None:
        for code in municipality_codes(registry, of, limit):
            mun = registry.municipalities[code]
            plan.append(
                Planned(
                    job(
                        code,
                        f"Gemeente {mun.name} ({code}), {of}",
                        "municipality",
                        out_dir / of / MUNICIPALITY_DIR,
                        code,
                        wave=of,
                        municipality=code,
                    ),
                    kind="municipality",
                    label=f"gemeente {code} ({mun.name})",
                    after=(of,),
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


def _tasks(plan: list[Planned], registry: Any, precompute: bool) -> list[Task]:
    """The plan as Dask tasks (:mod:`meting.report.distributed`), with the per-wave artefacts
    that the municipality reports read when ``precompute``."""
    from meting.report.distributed import Task, with_artefacts

    tasks = [Task(p.job.name, p.kind, p.label, p.job, p.after) for p in plan]
    return with_artefacts(tasks, str(registry.params_dir)) if precompute else tasks


def report_command(
    only: Sequence[str] | None = None,
    params_dir: Path | str | None = None,
    out_dir: Path | str | None = None,
    jobs: int | None = None,
    *,
    notebooks_dir: Path | str | None = None,
    pdf: bool = True,
    emit: Callable[[str], None] | None = None,
    national: bool = False,
    limit: int | None = None,
    scheduler: str | None = None,
    precompute: bool | None = None,
    force: bool = False,
    municipalities_of: str | None = None,
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
        Workers of the local cluster, one report each at a time (default: the cores available);
        not used with ``scheduler``.
    notebooks_dir
        The report notebooks (default: the project's ``notebooks/``).
    pdf
        Also write PDFs.
    emit
        Where progress lines go (default: print to stdout).
    national
        The national parameter set (``<params>/nationaal/``); its reports go to its
        ``reports_dir`` (``reports/nationaal/``) unless ``out_dir`` is given.
    limit
        At most this many municipality reports, spread over the code list.
    scheduler
        Address of an existing Dask scheduler (``tcp://HOST:PORT``; default
        ``$DASK_SCHEDULER_ADDRESS``, else a local cluster): the same run on that cluster.
    precompute
        Compute the whole-wave tables of the municipality reports once per wave, as tasks that
        those reports wait for (:mod:`meting.artefacts`); default: when the notebooks are the
        project's own (they read them).
    force
        Render every report, also those whose inputs are unchanged since their last render
        (:mod:`meting.report.uptodate`; by default those are kept).
    municipalities_of
        The wave whose municipality reports are planned (on its division; default the latest).

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
    from meting.report.distributed import connect, run_tasks, scheduler_address

    emit = emit or (lambda line: print(line, flush=True))
    if national:
        from meting.synthetic.national import national_params_dir

        params_dir = national_params_dir(params_dir)
    address = scheduler_address(scheduler)
    registry = load_registry(params_dir)
    default_out = registry.reports_dir or project_root() / "reports"
    out = (Path(out_dir) if out_dir is not None else default_out).resolve()
    if jobs is not None and jobs < 1:
        raise ParameterError(f"--jobs must be at least 1; got {jobs}. Leave it out for all cores.")
    plan = plan_reports(
        registry,
        out,
        Path(notebooks_dir) if notebooks_dir else None,
        pdf=pdf,
        limit=limit,
        municipalities_of=municipalities_of,
    )
    plan = _select(plan, list(only or []))
    _check_inputs(registry, plan)
    tasks = _tasks(plan, registry, notebooks_dir is None if precompute is None else precompute)
    n_jobs = min(jobs or _default_jobs(), max(1, len(plan)))
    out.mkdir(parents=True, exist_ok=True)
    with _Lock(out):
        for line in recover(out):  # debris of a run that was killed
            emit(f"opgeruimd na een afgebroken run: {line}")
        where = f"op {address}" if address else f"{n_jobs} tegelijk"
        emit(f"{len(plan)} rapporten, {where}; uitvoer in {out}")
        t0 = time.perf_counter()
        with connect(address, n_jobs) as client:
            stats, failures = run_tasks(tasks, client, emit, force=force)
        if failures:
            raise ReportError("\n".join(failures))
        index = write_index(registry, out)
    n_done = sum(1 for st in stats if st.kind != "artefacts")
    emit(f"klaar: {n_done} rapporten in {time.perf_counter() - t0:.0f} s; overzicht: {index}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(report_command(sys.argv[1:]))
