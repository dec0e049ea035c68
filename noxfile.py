"""Sessions: `nox -s tests`, `nox -s report`, `nox -s lint`, `nox -s tests_slow`, `nox -s lock`.

Every session installs from `requirements/lock.txt`, so a rerun installs the same versions.
"""

from __future__ import annotations

import os
from pathlib import Path

import nox

ROOT = Path(__file__).parent
LOCK = ROOT / "requirements" / "lock.txt"

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
}


def _install(session: nox.Session, extras: str = "") -> None:
    target = f".[{extras}]" if extras else "."
    session.install("-c", str(LOCK), "-e", target)


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """Run the test suite (fast tests; slow MCMC checks sit behind `-m slow`)."""
    _install(session, "test")
    workers = os.environ.get("METING_TEST_WORKERS", "auto")
    session.run("pytest", "-n", workers, *session.posargs, env=ENV)


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


@nox.session(python=PYTHON)
def report(session: nox.Session) -> None:
    """Generate the synthetic waves and render every report (HTML and PDF) into reports/."""
    _install(session)
    session.run("meting", "generate", env=ENV)
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
        "-o",
        str(LOCK),
    )
