"""``meting validate``: every problem at once, with file, column, line and value; input unchanged."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from meting.cli import main
from meting.registry import load_registry
from meting.validate import validate_files

DATA = Path(__file__).parent / "data"
GOOD = DATA / "good"
BAD = DATA / "bad"


def digest(paths: list[Path]) -> dict[Path, str]:
    return {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in paths}


@pytest.fixture(scope="module")
def registry():
    return load_registry()


def test_good_files_exit_zero(capsys: pytest.CaptureFixture[str]) -> None:
    paths = [
        GOOD / "respondents.csv",
        GOOD / "organisations.csv",
        GOOD / "respondents_semicolon.csv",
    ]
    assert main(["validate", *map(str, paths)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out == [
        f"OK: {GOOD / 'respondents.csv'}: 6 respondents",
        f"OK: {GOOD / 'organisations.csv'}: 10 organisation ratings",
        f"OK: {GOOD / 'respondents_semicolon.csv'}: 6 respondents",
    ]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (
            "missing_column.csv",
            [
                "column 'score_chain': must be present (a required column of the respondent table). Add the column."
            ],
        ),
        (
            "extra_column.csv",
            [
                "column 'opmerking': must be a column of the respondent table in the data contract (see ARCHITECTURE.md). Rename or remove the column."
            ],
        ),
        (
            "text_in_number.csv",
            ["column 'score_government', line 4: must be a number (an integer 1-10); got 'zeven'."],
        ),
        (
            "score_out_of_range.csv",
            ["column 'score_chain', lines 3, 7: must be an integer 1-10; got '0', '11'."],
        ),
        (
            "score_not_integer.csv",
            [
                "column 'score_chain', line 5: must be an integer 1-10; got '7.5'. Use whole numbers only."
            ],
        ),
        (
            "decimal_comma.csv",
            [
                "column 'score_government', line 3: must be written with a decimal point, not a decimal comma; got '7,5'. This file is comma-separated, so 7,5 is not a number here; the column takes whole numbers only (an integer 1-10).",
                "column 'design_weight', line 2: must be written with a decimal point, not a decimal comma; got '1,25'. This file is comma-separated, so write 1.25 for 1,25",
            ],
        ),
        (
            "decimal_comma_unquoted.csv",
            [
                "line 3: must have 26 fields on every line, as the header has; got 27 fields. Check the separators and quotes on these lines. A decimal comma in a comma-separated file splits a number in two"
            ],
        ),
        (
            "unknown_municipality.csv",
            [
                "column 'municipality', line 4: must be a municipality in params/municipalities/ (or an old code in the dated code changes); got 'GM9999'."
            ],
        ),
        (
            "malformed_municipality.csv",
            [
                "column 'municipality', lines 2, 3: must be a CBS municipality code: 'GM' followed by 4 digits, kept as text with leading zeros (GM0505); got '505', 'GM505'. Write 'GM0505' for '505'."
            ],
        ),
        (
            "unknown_life_event.csv",
            [
                "column 'life_event', line 5: must be a life-event code from params/life_events.yaml; got 'scheiden'. Known: arbeidsongeschikt, burgerlijke_staat,"
            ],
        ),
        (
            "duplicate_ids.csv",
            ["column 'respondent_id', lines 3, 6: must be unique within the wave."],
        ),
        ("empty.csv", [": must not be empty. The file holds no header and no data."]),
        (
            "header_only.csv",
            [": must hold data lines below the header. The file has a header only."],
        ),
        (
            "latin1.csv",
            [
                "lines 2, 3, 7: must be UTF-8 text; byte 0xE9 ('é' in Latin-1 / Windows-1252) is not UTF-8. Save the file as UTF-8"
            ],
        ),
        (
            "zero_weight.csv",
            ["column 'design_weight', lines 3, 6: must be a number greater than 0; got '0', '-1'."],
        ),
        (
            "missing_life_event.csv",
            ["column 'life_event', line 4: must not be empty. Every respondent needs a life event"],
        ),
        (
            "bad_level.csv",
            [
                "column 'age_band', line 5: must be one of '18-34', '35-49', '50-64', '65+'; got '18-35'.",
                "column 'sex', line 2: must be one of 'man', 'vrouw'; got 'M'.",
            ],
        ),
    ],
)
def test_each_bad_file(name: str, expected: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    path = BAD / name
    before = digest([path])
    assert main(["validate", str(path)]) == 1
    out = capsys.readouterr().out.splitlines()
    problems, summary = out[:-1], out[-1]
    assert len(problems) == len(expected)
    sep = "" if expected[0].startswith(":") else ", "
    for line, want in zip(problems, expected, strict=True):
        assert line.startswith(f"{path}{sep}{want}"), line
    n = len(expected)
    assert (
        summary == f"{n} problem{'s' if n > 1 else ''} in 1 of 1 file; the files were not changed."
    )
    assert digest([path]) == before


def test_organisation_files_are_recognised_and_cross_checked(
    capsys: pytest.CaptureFixture[str],
) -> None:
    org = BAD / "organisations_unknown_respondent.csv"
    # organisation file first: recognised by its columns, checked against the respondents given after it
    assert main(["validate", str(org), str(GOOD / "respondents.csv")]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out == [
        f"{org}, column 'respondent_id', line 4: must be a respondent_id of the respondent table. "
        "Every organisation rating belongs to a respondent: correct the id or drop the line.",
        "1 problem in 1 of 2 files; the files were not changed.",
    ]
    # alone, it cannot be cross-checked, and the output says so
    assert main(["validate", str(org)]) == 0
    out = capsys.readouterr().out
    assert "were not checked against respondent ids" in out
    assert f"OK: {org}: 10 organisation ratings" in out


def test_every_problem_of_every_file_at_once(capsys: pytest.CaptureFixture[str]) -> None:
    paths = [
        BAD / "score_out_of_range.csv",
        BAD / "latin1.csv",
        GOOD / "respondents.csv",
        BAD / "organisations_unknown_organisation.csv",
    ]
    before = digest(paths)
    assert main(["validate", *map(str, paths)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 4
    assert out[0].startswith(f"{paths[0]}, column 'score_chain', lines 3, 7")
    assert out[1].startswith(f"{paths[1]}, lines 2, 3, 7: must be UTF-8 text")
    assert out[2].startswith(f"{paths[3]}, column 'organisation', line 8")
    assert out[3] == "3 problems in 3 of 4 files; the files were not changed."
    assert digest(paths) == before


def test_validate_files_returns_problems(registry) -> None:
    problems = validate_files(
        [BAD / "duplicate_ids.csv", GOOD / "organisations.csv"], registry=registry
    )
    # R0005 is gone from duplicate_ids.csv (it became a second R0002), so its two ratings are orphans
    assert [(p.file, p.column, p.rows, p.values) for p in problems] == [
        (str(BAD / "duplicate_ids.csv"), "respondent_id", (3, 6), ()),
        (str(GOOD / "organisations.csv"), "respondent_id", (8, 9), ()),
    ]
    assert validate_files([GOOD / "respondents.csv"], registry=registry) == []


def test_params_option_is_used(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``--params`` points at another parameter folder; a missing one stops with a clear message."""
    assert (
        main(["--params", str(tmp_path / "nothing"), "validate", str(GOOD / "respondents.csv")])
        == 1
    )
    err = capsys.readouterr().err
    assert err.startswith("meting validate: ") and "nothing" in err


def test_synthetic_wave_follows_the_contract(
    tmp_path: Path, registry, capsys: pytest.CaptureFixture[str]
) -> None:
    """The generator's files pass `meting validate` and load back to the generator's own tables."""
    import pandas as pd

    from meting.loaders import load_wave
    from meting.synthetic import generate_wave, write_wave

    wave = generate_wave(registry, "2008-nulmeting", n_respondents=400)
    respondents, organisations = write_wave(wave, tmp_path)[:2]
    assert main(["validate", str(respondents), str(organisations)]) == 0
    assert capsys.readouterr().out.splitlines()[0] == f"OK: {respondents}: 400 respondents"
    loaded = load_wave(respondents, organisations, registry=registry, wave="2008-nulmeting")
    pd.testing.assert_frame_equal(loaded.respondents, wave.respondents)
    pd.testing.assert_frame_equal(loaded.organisations, wave.organisations.reset_index(drop=True))
