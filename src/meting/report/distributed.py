"""Reports and per-wave fits as tasks on Dask distributed, on this machine or an existing cluster.

:func:`connect` gives the client: a :class:`~distributed.LocalCluster` on this machine's cores
(one process per worker, one thread each) by default; the scheduler at ``--scheduler
tcp://HOST:PORT`` or ``$DASK_SCHEDULER_ADDRESS`` otherwise (a cluster started with
``dask scheduler`` / ``dask worker``, dask-jobqueue on SLURM, Kubernetes...). The workers of an
external cluster need this package installed and the project folder (params, data, notebooks,
the report folder) at the same path, as on a shared file system.

:func:`run_tasks` submits the plan: one task per wave whose municipality reports read the stored
whole-wave tables (:func:`meting.artefacts.build_artefacts`, the fits), one per report
(:func:`meting.report.render.render`), each report depending on the tasks it waits for. The first
failure stops the run: tasks not yet started are cancelled, running ones finish, the error names
the report and the cell (as :class:`~meting.errors.ReportError` says it) and every report already
rendered stays in place (each is committed atomically by ``render``). Progress lines give the
reports done and remaining and an estimate of the time left; on a terminal a tqdm bar too.
"""

from __future__ import annotations

import contextlib
import logging
import os
import resource
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from meting.errors import ParameterError, ReportError
from meting.report.render import RenderJob, RenderResult, render

__all__ = [
    "ArtefactJob",
    "Task",
    "TaskStats",
    "connect",
    "run_tasks",
    "scheduler_address",
    "with_artefacts",
]

#: Environment variable of an existing scheduler (Dask's own name for it).
SCHEDULER_ENV = "DASK_SCHEDULER_ADDRESS"


def scheduler_address(scheduler: str | None = None) -> str | None:
    """``scheduler``, else ``$DASK_SCHEDULER_ADDRESS``, else None (a local cluster)."""
    address = scheduler or os.environ.get(SCHEDULER_ENV) or None
    if address is not None and "://" not in address and ":" not in address:
        raise ParameterError(
            f"--scheduler must be a scheduler address such as tcp://HOST:PORT; got {address!r}."
        )
    return address


def _die_with_parent(parent: int | None = None) -> None:
    """This process is killed when its parent dies (``prctl(PR_SET_PDEATHSIG)`` on Linux): the
    workers of a local cluster do not outlive a ``meting report`` that is killed (their notebook
    kernels exit by themselves when their parent is gone: ipykernel's parent poller)."""
    import signal

    parent = parent or os.getppid()
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, int(signal.SIGKILL), 0, 0, 0)  # 1 = PR_SET_PDEATHSIG
        except (OSError, AttributeError):  # pragma: no cover - no libc prctl
            pass
    if os.getppid() != parent:  # pragma: no cover - the parent died before prctl took effect
        os._exit(1)


@contextlib.contextmanager
def connect(
    scheduler: str | None = None, n_workers: int = 1, *, processes: bool | None = None
) -> Iterator[Any]:
    """A Dask client: the external scheduler (see :func:`scheduler_address`) or a local cluster
    of ``n_workers`` workers with one thread each (``processes`` default: ``n_workers > 1``; one
    worker runs in this process)."""
    from distributed import Client, LocalCluster

    address = scheduler_address(scheduler)
    if address is not None:
        try:
            client = Client(address, timeout="30s")
        except (OSError, TimeoutError) as exc:
            raise ParameterError(
                f"the Dask scheduler must be reachable; {address} is not ({exc}). Start it "
                "(`dask scheduler`) or leave --scheduler out for a local cluster."
            ) from exc
        with client:
            yield client
        return
    processes = n_workers > 1 if processes is None else processes
    cluster = LocalCluster(
        n_workers=n_workers,
        threads_per_worker=1,
        processes=processes,
        dashboard_address=None,
        silence_logs=logging.ERROR,
    )
    with cluster, Client(cluster) as client:
        if processes:  # the nannies live in this process; their workers are its children
            client.run(_die_with_parent)
        yield client


@dataclass(frozen=True)
class ArtefactJob:
    """The whole-wave work of one wave (:func:`meting.artefacts.build_artefacts`)."""

    name: str
    params_dir: str
    wave: str


@dataclass(frozen=True)
class Task:
    """One task of a run: a report (:class:`RenderJob`) or a wave's artefacts."""

    name: str
    kind: str
    label: str
    job: RenderJob | ArtefactJob
    after: tuple[str, ...] = ()

    @property
    def is_report(self) -> bool:
        return isinstance(self.job, RenderJob)


@dataclass(frozen=True)
class TaskStats:
    """What one task cost on its worker: wall and CPU seconds (this process and the notebook
    kernels it waited for), the peak resident memory of the worker and of its largest kernel so
    far, and the render's stages."""

    name: str
    kind: str
    wall_s: float
    cpu_s: float
    peak_rss_mb: float
    kernel_peak_mb: float
    worker_pid: int
    result: RenderResult | str | None = None
    stages: dict[str, float] = field(default_factory=dict)
    skipped: bool = False


def _cpu() -> float:
    """CPU seconds of this process, its finished children and its running ones (a warm kernel,
    :func:`meting.report.kernel.warm_kernel`, runs on between reports)."""
    import psutil

    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    total = me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime
    for child in psutil.Process().children(recursive=True):
        with contextlib.suppress(psutil.Error):
            t = child.cpu_times()
            total += t.user + t.system
    return total


def _peak_mb(pid: int | str = "self") -> float | None:
    """A process's own peak resident memory (Linux ``VmHWM``), None where it cannot be read.

    ``getrusage``'s ``ru_maxrss`` is not that: a process started by fork + exec (a Dask worker
    spawned by its nanny, a kernel started by a worker) starts with the resident size of its
    parent at the fork, so a worker spawned by a process holding a national wave (5,8 GB)
    reported 5,8 GB while it never used more than a few hundred MB. ``VmHWM`` is reset at exec.
    """
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024  # kB
    return None


def _kernel_peak_mb() -> float:
    """The largest peak resident memory of a running kernel (a warm kernel stays alive between
    reports); ``ru_maxrss`` of finished children where no kernel runs (an upper bound, see
    :func:`_peak_mb`)."""
    import psutil

    peaks = []
    for child in psutil.Process().children(recursive=True):
        with contextlib.suppress(psutil.Error):
            own = _peak_mb(child.pid)
            peaks.append(own if own is not None else child.memory_info().rss / 2**20)
    if peaks:
        return max(peaks)
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # KiB on Linux


def execute(task: Task, force: bool, *_after: object) -> TaskStats:
    """Run one task on a worker (``_after``: the results of the tasks it waits for). A report
    whose inputs are unchanged since its last render is skipped unless ``force``
    (:mod:`meting.report.uptodate`)."""
    from meting.report import uptodate

    os.environ.setdefault("PYTHONHASHSEED", "0")
    os.environ.setdefault("MPLBACKEND", "Agg")
    t0, c0 = time.perf_counter(), _cpu()
    result: RenderResult | str | None
    stages: dict[str, float] = {}
    skipped = False
    if isinstance(task.job, RenderJob):
        digest = uptodate.inputs_digest(task.job)
        if not force and uptodate.is_up_to_date(task.job, digest):
            result, skipped = None, True
        else:
            result = render(task.job)
            uptodate.record(task.job, digest)
            stages = dict(result.seconds)
    else:
        from meting.artefacts import build_artefacts

        try:
            result = build_artefacts(task.job.params_dir, task.job.wave)
        except Exception as exc:
            raise ReportError(
                f"the whole-wave work of wave {task.job.wave} ({task.name}) failed: "
                f"{type(exc).__name__}: {exc}\n  no report of that wave was rendered; earlier "
                "reports are left in place."
            ) from exc
    peak = _peak_mb()
    if peak is None:  # not Linux: an upper bound (see _peak_mb)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    kernel_peak = _kernel_peak_mb()
    return TaskStats(
        name=task.name,
        kind=task.kind,
        wall_s=time.perf_counter() - t0,
        cpu_s=_cpu() - c0,
        peak_rss_mb=peak,
        kernel_peak_mb=kernel_peak,
        worker_pid=os.getpid(),
        result=result,
        stages=stages,
        skipped=skipped,
    )


def with_artefacts(tasks: Sequence[Task], params_dir: str) -> list[Task]:
    """Add one artefacts task per wave that municipality reports read, and make those reports
    (and the wave's own report, which would fit the same model) wait for it instead of for the
    wave report."""
    waves = sorted(
        {
            str(t.job.parameters["wave"])
            for t in tasks
            if t.kind == "municipality" and isinstance(t.job, RenderJob)
        }
    )
    if not waves:
        return list(tasks)
    extra = {
        w: Task(
            f"rekenwerk-{w}",
            "artefacts",
            f"rekenwerk meting {w}",
            ArtefactJob(f"rekenwerk-{w}", params_dir, w),
        )  # fmt: skip
        for w in waves
    }
    out: list[Task] = list(extra.values())
    for t in tasks:
        wave = t.job.parameters.get("wave") if isinstance(t.job, RenderJob) else None
        if t.kind == "municipality" and wave in extra:
            t = replace(t, after=(extra[wave].name,))
        elif t.kind == "wave" and t.name in extra:
            t = replace(t, after=(*t.after, extra[t.name].name))
        out.append(t)
    return out


def _eta(seconds: float) -> str:
    """A duration for the progress line, in Dutch with a decimal comma."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} uur".replace(".", ",")


def _time_left(left: Sequence[Task], done: Sequence[TaskStats], workers: int) -> float | None:
    """Seconds the reports still to make will take: per kind of report the mean wall seconds of
    the finished ones of that kind (else of all finished reports), summed and shared over the
    workers (but never less than the longest of them). Measured per report, not from the start
    of the run, so the whole-wave work that came first does not inflate it. None until a report
    of the most numerous kind still to make has finished: a wave report's 90 s is no estimate
    of the municipality reports' 8 s (it made the first line of a national run say 5,6 hours)."""
    finished = [s for s in done if s.kind != "artefacts"]
    kinds = Counter(t.kind for t in left)
    if not finished or not kinds or kinds.most_common(1)[0][0] not in {s.kind for s in finished}:
        return None
    overall = sum(s.wall_s for s in finished) / len(finished)
    by_kind: dict[str, list[float]] = {}
    for s in finished:
        by_kind.setdefault(s.kind, []).append(s.wall_s)
    each = [
        sum(by_kind[t.kind]) / len(by_kind[t.kind]) if t.kind in by_kind else overall for t in left
    ]
    # one report is not shared: the last long one takes its own time, whatever the workers
    return max(sum(each) / max(workers, 1), max(each, default=0.0))


def run_tasks(
    tasks: Sequence[Task], client: Any, emit: Callable[[str], None], *, force: bool = False
) -> tuple[list[TaskStats], list[str]]:
    """Submit every task with its dependencies and follow them to the end (see the module doc).

    Returns the stats of the finished tasks and the failure messages (empty when all went well).
    """
    from distributed import as_completed

    run = uuid.uuid4().hex[:8]
    futures: dict[str, Any] = {}
    by_key: dict[str, Task] = {}
    for t in tasks:  # dependencies first (the plan is in that order)
        deps = [futures[a] for a in t.after if a in futures]
        key = f"{t.kind}-{t.name}-{run}"
        futures[t.name] = client.submit(execute, t, force, *deps, key=key, pure=False, retries=0)
        by_key[key] = t
    n_reports = sum(t.is_report for t in tasks)
    bar = _progress_bar(n_reports)
    say = bar.write if bar is not None else emit
    stats: list[TaskStats] = []
    failures: list[str] = []
    done_reports = 0
    finished: set[str] = set()
    try:
        workers = sum(client.nthreads().values())
    except Exception:  # pragma: no cover - scheduler gone
        workers = 1
    stopped = False
    failed_reports = 0
    tasks_by_name = {t.name: t for t in tasks}
    try:
        for future in as_completed(list(futures.values())):
            task = by_key[future.key]
            if future.status == "cancelled":
                continue
            if future.status == "error":
                if _failed_before(task, tasks_by_name, futures):
                    continue  # it waited for a task that failed: that failure is the one to say
                exc = future.exception()
                failures.append(
                    str(exc)
                    if isinstance(exc, ReportError)
                    else f"report {task.name} failed: {type(exc).__name__}: {exc}"
                )
                failed_reports += task.is_report
                say(f"[{done_reports}/{n_reports}] {task.label} ... MISLUKT")
                if not stopped:
                    stopped = True
                    _cancel_waiting(client, futures)
                continue
            result: TaskStats = future.result()
            stats.append(result)
            finished.add(task.name)
            if not task.is_report:
                say(f"{task.label} ... klaar in {result.wall_s:.0f} s")
                continue
            done_reports += 1
            if bar is not None:
                bar.update(1)
            left = n_reports - done_reports
            to_do = [t for t in tasks if t.is_report and t.name not in finished]
            seconds = _time_left(to_do, [s for s in stats if not s.skipped] or stats, workers)
            eta = f"; nog {left}" if left else ""
            if left and seconds is not None:
                eta += f", ongeveer {_eta(seconds)}"
            what = "ongewijzigd, niet opnieuw gemaakt" if result.skipped else (
                f"klaar in {result.wall_s:.0f} s"
            )  # fmt: skip
            say(f"[{done_reports}/{n_reports}] {task.label} ... {what}{eta}")
    finally:
        if bar is not None:
            bar.close()
    if failures:
        not_started = n_reports - done_reports - failed_reports
        if not_started > 0:
            from meting.report.formatting import count_noun

            emit(
                f"{count_noun(not_started, 'rapport', 'rapporten')} niet gemaakt door de fout "
                "hierboven."
            )
    return stats, failures


def _failed_before(task: Task, tasks: dict[str, Task], futures: dict[str, Any]) -> bool:
    """Whether a task ``task`` waits for (directly or further up) has failed: a dependent task
    fails with the exception of the task it waited for, which is reported once, for that task."""
    seen: set[str] = set()
    stack = list(task.after)
    while stack:
        name = stack.pop()
        if name in seen or name not in futures:
            continue
        seen.add(name)
        if futures[name].status == "error":
            return True
        stack.extend(tasks[name].after)
    return False


def _cancel_waiting(client: Any, futures: dict[str, Any]) -> None:
    """Cancel every task that is not running yet; running tasks finish (and commit)."""
    try:
        running = {k for keys in client.processing().values() for k in keys}
    except Exception:  # pragma: no cover - scheduler gone
        running = set()
    waiting = [f for f in futures.values() if not f.done() and f.key not in running]
    if waiting:
        client.cancel(waiting)


def _progress_bar(total: int) -> Any:
    """A tqdm bar on stderr when it is a terminal (done, remaining, time left), else None."""
    if total == 0 or not sys.stderr.isatty():
        return None
    from tqdm import tqdm

    return tqdm(total=total, unit="rapport", desc="rapporten", file=sys.stderr, leave=False)
