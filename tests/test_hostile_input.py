"""Hostile or broken input files: one clear message with file and line, a non-zero exit, no
traceback, and never a respondent id in a message."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from meting.cli import EXIT_INTERRUPTED, main

DATA = Path(__file__).parent / "data"
GOOD = DATA / "good" / "respondents.csv"
PARAMS = Path(__file__).resolve().parents[1] / "params"


def lines() -> list[str]:
    return GOOD.read_text(encoding="utf-8").splitlines()


def run_validate(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, list[str], str]:
    code = main(["validate", *args])
    captured = capsys.readouterr()
    assert "Traceback" not in captured.out + captured.err
    return code, captured.out.splitlines(), captured.err


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_cr_only_line_endings(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "mac.csv", "\r".join(lines()).encode() + b"\r")
    code, out, _ = run_validate(capsys, str(path))
    assert code == 1
    assert out[0].startswith(f"{path}: must end its lines with LF or CR LF")
    assert "CR only" in out[0]


def test_stray_cr_inside_a_field(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = lines()
    rows[3] = rows[3][:12] + "\r" + rows[3][12:]  # inside the wave label of line 4
    path = write(tmp_path, "cr.csv", ("\n".join(rows) + "\n").encode())
    code, out, _ = run_validate(capsys, str(path))
    assert code == 1
    assert out[0].startswith(f"{path}, line 4: must not hold a carriage return (CR)")


def test_line_two_fields_short_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    rows = lines()
    rows[4] = rows[4].rsplit(",", 2)[0]  # the last two fields gone
    path = write(tmp_path, "short.csv", ("\n".join(rows) + "\n").encode())
    code, out, _ = run_validate(capsys, str(path))
    assert code == 1
    assert out[0].startswith(
        f"{path}, line 5: must have 26 fields on every line, as the header has (too few fields); "
        "got 24 fields."
    )


def test_utf16_is_named_with_how_to_convert(tmp_path: Path, capsys) -> None:
    path = write(tmp_path, "unicode.csv", ("\n".join(lines()) + "\n").encode("utf-16"))
    code, out, _ = run_validate(capsys, str(path))
    assert code == 1
    assert "this file is UTF-16" in out[0] and "iconv -f UTF-16 -t UTF-8" in out[0]
    assert "1252" not in out[0]


def test_unbalanced_quote_names_the_line_it_opens(tmp_path: Path, capsys) -> None:
    rows = lines()
    rows[2] = rows[2].replace(",één,", ',"één,')  # line 3 opens a quote that never closes
    path = write(tmp_path, "quote.csv", ("\n".join(rows) + "\n").encode())
    code, out, _ = run_validate(capsys, str(path))
    assert code == 1
    assert out[0].startswith(f"{path}, line 3: must close every quote it opens")


def test_duplicate_id_message_holds_no_id(tmp_path: Path, capsys) -> None:
    rows = lines()
    rows[5] = "R0002" + rows[5][5:]
    path = write(tmp_path, "dup.csv", ("\n".join(rows) + "\n").encode())
    code, out, _ = run_validate(capsys, str(path))
    assert code == 1
    assert out[0] == (
        f"{path}, column 'respondent_id', lines 3, 6: must be unique within the wave. "
        "Give every respondent an id of its own, or remove the repeated line."
    )
    assert "R0002" not in "\n".join(out)


def test_code_valid_only_later_is_refused_in_an_early_wave(tmp_path: Path, capsys) -> None:
    rows = lines()
    rows[2] = rows[2].replace("GM0505", "GM1982")  # Land van Cuijk exists from 2022 on
    path = write(tmp_path, "later.csv", ("\n".join(rows) + "\n").encode())
    code, out, _ = run_validate(capsys, str(path))
    assert code == 1
    assert out[0] == (
        f"{path}, column 'municipality', line 3: must be a municipality code valid on the wave's "
        "reference date 2008-03-01; got 'GM1982'. GM1982 exists from 2022-01-01 on; use the code "
        "of the municipality as it was on the reference date."
    )


def test_code_merged_away_before_the_wave_is_refused(tmp_path: Path, capsys) -> None:
    params = tmp_path / "params"
    shutil.copytree(PARAMS, params)
    changes = params / "municipality_code_changes.csv"
    changes.write_text(
        changes.read_text(encoding="utf-8")
        + 'GM0848,GM1709,Moerdijk,2005-01-01,1.0,"test: opgegaan voor de nulmeting"\n',
        encoding="utf-8",
    )
    rows = lines()
    rows[2] = rows[2].replace("GM0505", "GM0848")
    path = write(tmp_path, "merged.csv", ("\n".join(rows) + "\n").encode())
    code = main(["--params", str(params), "validate", str(path)])
    out = capsys.readouterr().out.splitlines()
    assert code == 1
    assert out[0] == (
        f"{path}, column 'municipality', line 3: must be a municipality code valid on the wave's "
        "reference date 2008-03-01; got 'GM0848'. GM0848 became GM1709 on 2005-01-01: write "
        "GM1709, or check the wave."
    )


def test_ctrl_c_is_one_line_and_exit_130(monkeypatch, capsys) -> None:
    import meting.validate

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(meting.validate, "validate_command", interrupted)
    code = main(["validate", str(GOOD)])
    captured = capsys.readouterr()
    assert code == EXIT_INTERRUPTED == 130
    assert captured.err.strip() == "meting validate: afgebroken (Ctrl-C)"
    assert "Traceback" not in captured.err
