"""The progress line of a run (meting.report.distributed): the time left is measured per kind
of report from the finished ones, not from the start of the run, and is written in Dutch."""

from __future__ import annotations

import pytest

from meting.report.distributed import Task, TaskStats, _eta, _time_left


def _task(name: str, kind: str) -> Task:
    return Task(name, kind, name, job=None)  # type: ignore[arg-type]  # the job is not read


def _done(kind: str, wall_s: float) -> TaskStats:
    return TaskStats(
        name=f"{kind}-{wall_s}", kind=kind, wall_s=wall_s, cpu_s=wall_s, peak_rss_mb=0.0,
        kernel_peak_mb=0.0, worker_pid=1,
    )  # fmt: skip


def test_durations_are_dutch() -> None:
    assert _eta(42) == "42 s"
    assert _eta(600) == "10 min"
    assert _eta(2.5 * 3600) == "2,5 uur"


def test_time_left_is_per_kind_and_shared_over_the_workers() -> None:
    done = [_done("artefacts", 220.0), _done("wave", 200.0), _done("municipality", 10.0),
            _done("municipality", 12.0)]  # fmt: skip
    left = [_task(f"GM{i:04d}", "municipality") for i in range(100)] + [_task("v", "validation")]
    # 100 municipality reports of 11 s; the validation report, of a kind not seen yet, at the
    # mean of all finished reports (74 s); the artefacts task (220 s) is no report and not counted
    assert _time_left(left, done, workers=2) == pytest.approx((100 * 11.0 + 74.0) / 2)
    assert _time_left(left, done, workers=0) == pytest.approx(100 * 11.0 + 74.0)


def test_the_last_long_report_is_not_shared_over_the_workers() -> None:
    done = [_done("wave", 150.0)]
    assert _time_left([_task("2010-vervolgmeting", "wave")], done, workers=2) == 150.0


def test_no_estimate_before_a_report_is_done() -> None:
    left = [_task("GM0014", "municipality")]
    assert _time_left(left, [], workers=2) is None
    assert _time_left(left, [_done("artefacts", 220.0)], workers=2) is None


def test_no_estimate_of_the_many_reports_from_another_kind() -> None:
    # a national run: the first wave report is done, no municipality report yet
    left = [_task(f"GM{i:04d}", "municipality") for i in range(431)] + [_task("v", "validation")]
    assert _time_left(left, [_done("wave", 93.0)], workers=2) is None
    assert _time_left(left, [_done("wave", 93.0), _done("municipality", 8.0)], workers=2) == (
        pytest.approx((431 * 8.0 + (93.0 + 8.0) / 2) / 2)
    )
