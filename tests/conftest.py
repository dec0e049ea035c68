"""Shared test configuration.

Fixtures of one area live in that area's test module; this file holds only what every test needs.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import pytest

# PyMC/ArviZ print FutureWarnings and progress bars; keep test output readable.
warnings.filterwarnings("ignore", category=FutureWarning)
os.environ.setdefault("MPLBACKEND", "Agg")

TESTS_DIR = Path(__file__).parent
REFERENCE_DIR = TESTS_DIR / "reference"
PROJECT_ROOT = TESTS_DIR.parent


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    """Folder with the R `survey` and eight-schools reference results."""
    return REFERENCE_DIR


@pytest.fixture(scope="session")
def project_root() -> Path:
    return PROJECT_ROOT
