"""The fixed layout of the project: what a fresh clone holds at the top level."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LAYOUT = (
    "pyproject.toml",
    "README.md",
    "ARCHITECTURE.md",
    "noxfile.py",
    "notebooks",
    "src/meting",
    "params",
    "data",
    "reports",
    "tests",
    "benchmarks",
)


@pytest.mark.parametrize("name", LAYOUT)
def test_layout_is_committed(name: str) -> None:
    """Each part of the layout is in git (so a fresh clone has it), not only on this disk."""
    tracked = subprocess.run(
        ["git", "ls-files", "--", name], cwd=ROOT, capture_output=True, text=True, check=False
    )
    if tracked.returncode != 0:  # not a git checkout (an sdist): the files are what we have
        assert (ROOT / name).exists()
        return
    assert tracked.stdout.strip(), f"{name} is not committed"


@pytest.mark.parametrize("folder", ["data", "reports"])
def test_generated_folders_say_what_lands_there(folder: str) -> None:
    text = (ROOT / folder / "README.md").read_text(encoding="utf-8")
    assert "ignored" in text or "not committed" in text
