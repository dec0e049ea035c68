"""Provenance block: hashes, git state, versions, date (meting.report.provenance)."""

from __future__ import annotations

import datetime
import hashlib
import shutil
import subprocess
from pathlib import Path

import pytest

from meting.report.provenance import (
    FileRecord,
    collect_provenance,
    git_state,
    package_versions,
    report_date,
    sha256_file,
)

# SHA-256 of b"abc" (FIPS 180-2, appendix B.1)
ABC_SHA256 = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


def test_sha256_matches_the_standard_vector(tmp_path: Path) -> None:
    (tmp_path / "abc.txt").write_bytes(b"abc")
    assert sha256_file(tmp_path / "abc.txt") == ABC_SHA256
    record = FileRecord.of(tmp_path / "abc.txt", root=tmp_path)
    assert record == FileRecord(path="abc.txt", size=3, sha256=ABC_SHA256)
    outside = FileRecord.of(tmp_path / "abc.txt", root=tmp_path / "elsewhere")
    assert outside.path == "abc.txt"  # no absolute (home) paths in a report


def test_a_remembered_hash_follows_the_file(tmp_path: Path) -> None:
    """sha256_file remembers a hash by path, size and modification time: a rewrite with a new
    time is hashed again, and so is one within the racy window (the same time, same size)."""
    import os

    f = tmp_path / "data.csv"
    f.write_bytes(b"abc")
    assert sha256_file(f) == ABC_SHA256
    f.write_bytes(b"xyz")  # at once, same size: inside the racy window, so hashed again
    assert sha256_file(f) != ABC_SHA256
    f.write_bytes(b"abc")
    os.utime(f, ns=(10**18, 10**18))  # long ago: remembered
    assert sha256_file(f) == ABC_SHA256
    f.write_bytes(b"xyz")
    os.utime(f, ns=(10**18 + 1, 10**18 + 1))
    assert sha256_file(f) == hashlib.sha256(b"xyz").hexdigest()


@pytest.mark.skipif(shutil.which("git") is None, reason="git not installed")
def test_git_state_reports_commit_and_dirty(tmp_path: Path) -> None:
    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-c", "user.name=t", "-c", "user.email=t@t", *args],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()

    assert git_state(tmp_path) == (None, None)
    git("init", "-q")
    (tmp_path / "f.txt").write_text("1")
    git("add", "f.txt")
    git("commit", "-q", "-m", "x")
    head = git("rev-parse", "HEAD")
    assert git_state(tmp_path) == (head, False)
    (tmp_path / "f.txt").write_text("2")
    assert git_state(tmp_path) == (head, True)


def test_date_from_source_date_epoch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1267401600")  # 2010-03-01T00:00:00Z
    assert report_date().date() == datetime.date(2010, 3, 1)
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "gisteren")
    with pytest.raises(Exception, match="SOURCE_DATE_EPOCH"):
        report_date()


def test_block_lists_everything_in_dutch(tmp_path: Path) -> None:
    params = tmp_path / "params"
    (params / "waves").mkdir(parents=True)
    (params / "analysis.yaml").write_text("target: 7.0\n")
    (params / "waves" / "2008.yaml").write_text("label: x\n")
    (params / "notes.txt").write_text("not a parameter file")
    data = tmp_path / "respondents.csv"
    data.write_bytes(b"abc")
    prov = collect_provenance(
        data_files=[data],
        params_dir=params,
        seeds={"MCMC": 22081},
        parameters={"wave": "2008-nulmeting"},
        root=tmp_path,
        now=datetime.datetime(2010, 3, 1, 14, 5),
    )
    assert [f.path for f in prov.parameter_files] == [
        "params/analysis.yaml",
        "params/waves/2008.yaml",
    ]
    html = prov.to_html()
    assert 'class="meting-provenance"' in html and "herkomst en reproduceerbaarheid" in html
    assert "1 maart 2010, 14:05" in html
    assert ABC_SHA256 in html and "respondents.csv" in html
    assert "22081" in html and "2008-nulmeting" in html
    assert "onbekend (geen git-werkmap)" in html
    md = prov.to_markdown()
    assert md.startswith("## Bijlage: herkomst en reproduceerbaarheid")
    assert "| modelschatting (MCMC-trekkingen) | 22081 |" in md
    assert prov.as_dict()["seeds"] == {"MCMC": 22081}
    versions = dict(package_versions(["pandas", "surely-not-installed-xyz"]))
    assert versions["surely-not-installed-xyz"] == "niet geïnstalleerd"
    assert versions["python"].count(".") == 2


def test_appendix_labels_are_dutch_and_the_params_checksum_recomputes(tmp_path: Path) -> None:
    """No English label (wave, seed(s) alone, draws, chains, municipality) in the appendix; the
    one parameter checksum is what `sha256sum` over the sorted files gives."""
    import hashlib
    import re

    params = tmp_path / "params"
    (params / "waves").mkdir(parents=True)
    (params / "analysis.yaml").write_text("target: 7.0\n")
    (params / "waves" / "2008.yaml").write_text("label: x\n")
    (params / "B.csv").write_text("a\n")
    prov = collect_provenance(
        params_dir=params,
        seeds={"MCMC": 1, "synthetische data": 2008},
        parameters={"wave": "2010-vervolgmeting", "municipality": "GM0505"},
        root=tmp_path,
        now=datetime.datetime(2010, 3, 1),
    )
    html = prov.to_html()
    text = re.sub(r"<code>.*?</code>", "", html)  # the shell command is not a label
    text = re.sub(r"<[^>]+>", " ", text)
    for word in ("wave", "municipality", "draws", "chains", "divergences", "Seeds", "Git-commit"):
        assert re.search(rf"\b{word}\b", text) is None, word
    assert "meting" in text and "gemeente" in text and "synthetische gegevens" in text
    assert "3 bestanden" in text
    lines = "".join(
        f"{hashlib.sha256(p.read_bytes()).hexdigest()}  {p.relative_to(tmp_path).as_posix()}\n"
        for p in sorted(params.rglob("*"), key=lambda p: p.relative_to(tmp_path).as_posix())
        if p.is_file()
    )
    assert prov.params_digest() == hashlib.sha256(lines.encode()).hexdigest()
    assert prov.params_digest() in html
    if shutil.which("sha256sum") and shutil.which("sort"):
        out = subprocess.run(
            "find params -type f | LC_ALL=C sort | xargs sha256sum | sha256sum",
            shell=True, cwd=tmp_path, capture_output=True, text=True, check=True,
        ).stdout.split()[0]  # fmt: skip
        assert out == prov.params_digest()
