"""Sessions: `nox -s tests`, `nox -s report`, `nox -s lint`, `nox -s tests_slow`, `nox -s lock`.

Every session installs from `requirements/lock.txt`, so a rerun installs the same versions.

`nox -s report` keeps its environment while `requirements/lock.txt` and `pyproject.toml` are
unchanged: after an install it writes their SHA-256 into the environment (`.nox/report/`); when
the next run finds the same digest there, the session is declared `reuse_venv=True` and installs
nothing. It regenerates the synthetic waves only when their inputs (params/, the generator's
source, the lock) changed, and `meting report` skips every report whose inputs are unchanged
(`meting.report.uptodate`), so a warm run only checks.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import nox

ROOT = Path(__file__).parent
LOCK = ROOT / "requirements" / "lock.txt"
#: Transitive packages left out of every install (why: in the file).
OVERRIDES = ROOT / "requirements" / "overrides.txt"

nox.options.default_venv_backend = "uv|virtualenv"
nox.options.sessions = ["tests"]
nox.options.reuse_existing_virtualenvs = False

PYTHON = "3.11"
ENV = {
    # Keep notebook output clean and fits reproducible.
    "PYTHONHASHSEED": "0",
    "MPLBACKEND": "Agg",
    "PYDEVD_DISABLE_FILE_VALIDATION": "1",
    "UV_COMPILE_BYTECODE": "1",
    # a machine that sets PYTHONDONTWRITEBYTECODE makes every pytest worker and every kernel
    # compile the project's modules (and rewrite the test modules) again: 8 -> 18 s of test
    # collection per worker; empty means unset
    "PYTHONDONTWRITEBYTECODE": "",
}


#: Where `nox -s report` records the lock it was installed from (inside its environment).
REPORT_ENV = ROOT / ".nox" / "report"
STAMP = ".meting-lock.sha256"
#: Where the report session records the inputs the synthetic waves were generated from.
DATA_STAMP = ROOT / "data" / "synthetic" / ".generated-from.sha256"


def _digest(paths: list[Path]) -> str:
    h = hashlib.sha256()
    for path in paths:
        h.update(path.relative_to(ROOT).as_posix().encode() + b"\0" + path.read_bytes())
    return h.hexdigest()


def _lock_digest() -> str:
    return _digest([LOCK, OVERRIDES, ROOT / "pyproject.toml"])


def _generator_digest() -> str:
    files = sorted((ROOT / "params").rglob("*")) + sorted(
        (ROOT / "src" / "meting" / "synthetic").rglob("*.py")
    )
    written = sorted(DATA_STAMP.parent.glob("*/*.csv"))  # a deleted wave folder: generate again
    sizes = "".join(f"{p.relative_to(ROOT).as_posix()}:{p.stat().st_size}\n" for p in written)
    return (
        _digest([p for p in files if p.is_file()] + [LOCK])
        + hashlib.sha256(sizes.encode()).hexdigest()
    )


def _stamp_matches(stamp: Path, digest: str) -> bool:
    return stamp.is_file() and stamp.read_text(encoding="utf-8").strip() == digest


def _write_stamp(stamp: Path, digest: str) -> None:
    stamp.parent.mkdir(parents=True, exist_ok=True)
    tmp = stamp.with_name(stamp.name + ".tmp")
    tmp.write_text(digest + "\n", encoding="utf-8")
    os.replace(tmp, stamp)


#: Reuse the report environment only when it was installed from this very lock file.
REPORT_REUSE = _stamp_matches(REPORT_ENV / STAMP, _lock_digest())


def _install(session: nox.Session, extras: str = "") -> None:
    target = f".[{extras}]" if extras else "."
    # uv applies the overrides; pip (the virtualenv fallback) has no such option and installs the
    # left-out packages too, which only costs import time
    overrides = ["--override", str(OVERRIDES)] if session.venv_backend == "uv" else []
    session.install("-c", str(LOCK), *overrides, "-e", target)


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """Run the test suite: the fast suite (plain `pytest`), then the integration tests that
    render real notebooks or start a Dask cluster (`-m integration`); the slow MCMC checks sit
    behind `-m slow` (`nox -s tests_slow`). With arguments, runs `pytest ARGS` once instead."""
    _install(session, "test")
    # loadfile: a module's tests stay on one worker, so its module-scoped fixtures (generated
    # waves, weighted analyses, mocked fits) are computed once, not once per worker
    xdist = ["-n", os.environ.get("METING_TEST_WORKERS", "auto"), "--dist", "loadfile"]
    # compiled once here, not by each worker (the lock's packages are compiled at install)
    session.run("python", "-m", "compileall", "-q", str(ROOT / "src"), env=ENV)
    if session.posargs:
        session.run("pytest", *xdist, *session.posargs, env=ENV)
        return
    session.run("pytest", *xdist, env=ENV)
    session.run("pytest", *xdist, "-m", "integration and not slow", env=ENV)


@nox.session(python=PYTHON)
def tests_slow(session: nox.Session) -> None:
    """Run only the slow tests (full MCMC fits, simulation calibration)."""
    _install(session, "test")
    session.run("pytest", "-m", "slow", *session.posargs, env=ENV)


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """Ruff, mypy on src/ (config in pyproject.toml), and a check that every paired notebook
    (.py / .ipynb) is in sync."""
    _install(session, "test")
    session.run("ruff", "check", "src", "tests", "benchmarks", "notebooks", "noxfile.py")
    session.run(
        "ruff", "format", "--check", "src", "tests", "benchmarks", "notebooks", "noxfile.py"
    )
    session.run("mypy")
    session.run("python", "-m", "meting.report.notebooks", "--check", env=ENV)


@nox.session(python=PYTHON, reuse_venv=REPORT_REUSE)
def report(session: nox.Session) -> None:
    """Generate the synthetic waves and render every report (HTML and PDF) into reports/
    (warm: nothing installed, generated or rendered again when its inputs are unchanged)."""
    stamp = Path(session.virtualenv.location) / STAMP
    digest = _lock_digest()
    if not _stamp_matches(stamp, digest):
        _install(session)
        # byte-compile the project's own modules too: every notebook kernel imports them
        session.run("python", "-m", "compileall", "-q", str(ROOT / "src"), env=ENV)
        _write_stamp(stamp, digest)
    data = _generator_digest()
    if _stamp_matches(DATA_STAMP, data):
        session.log("synthetic waves unchanged since they were generated: not generated again")
    else:
        session.run("meting", "generate", env=ENV)
        _write_stamp(DATA_STAMP, _generator_digest())
    session.run("meting", "report", *session.posargs, env=ENV)


@nox.session(python=PYTHON, venv_backend="uv|virtualenv")
def lock(session: nox.Session) -> None:
    """Regenerate requirements/lock.txt from pyproject.toml (needs network)."""
    session.install("uv")
    session.run(
        "uv",
        "pip",
        "compile",
        "pyproject.toml",
        "--extra",
        "test",
        "--python-version",
        PYTHON,
        "--override",
        str(OVERRIDES),
        "-o",
        str(LOCK),
    )
