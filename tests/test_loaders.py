"""Reading wave files: CSV (``,`` and ``;`` with decimal commas), Parquet, SPSS ``.sav``.

The good files in ``tests/data/good/`` hold the same six respondents; every format must load to the
same validated table. Each broken file in ``tests/data/bad/`` has one defect, on a known line.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pyreadstat
import pytest

from meting import columns as C
from meting.errors import ParameterError, SchemaError
from meting.loaders import WaveData, load_wave, read_table
from meting.registry import load_registry
from meting.schema import ProblemsError

DATA = Path(__file__).parent / "data"
GOOD = DATA / "good"
BAD = DATA / "bad"


@pytest.fixture(scope="module")
def registry():
    return load_registry()


@pytest.fixture(scope="module")
def expected(registry) -> WaveData:
    return load_wave(GOOD / "respondents.csv", GOOD / "organisations.csv", registry=registry)


def test_good_csv_loads_with_the_values_of_the_file(expected: WaveData) -> None:
    r = expected.respondents
    assert len(r) == 6 and expected.wave == "2008-nulmeting"
    assert r[C.RESPONDENT_ID].tolist() == [f"R000{i}" for i in range(1, 7)]
    assert r[C.MUNICIPALITY].tolist() == [
        "GM0505",
        "GM0505",
        "GM0794",
        "GM0794",
        "GM1684",
        "GM0014",
    ]
    assert r[C.SCORE_CHAIN].tolist() == [8, 5, pd.NA, 7, 8, 4]
    assert r["bsc_05"].isna().tolist() == [True] + [False] * 5  # n.v.t. on line 2
    np.testing.assert_array_equal(r[C.DESIGN_WEIGHT], [1.25, 2.5, 0.75, 12.5, 1.0, 3.125])
    assert r["stratum"].tolist() == [
        "één",
        "één",
        "twee",
        "twee",
        "twee",
        "één",
    ]  # UTF-8 read as such
    assert r[C.SEX].tolist() == ["vrouw", "man", "man", "vrouw", "man", "vrouw"]
    org = expected.organisations
    assert org is not None and len(org) == 10
    assert org[C.ORGANISATION_SCORE].tolist() == [7, 6, 5, 8, 8, 7, 9, 8, 4, 6]


def test_sha256_and_paths_are_recorded(expected: WaveData) -> None:
    for role, name in (("respondents", "respondents.csv"), ("organisations", "organisations.csv")):
        assert expected.paths[role] == GOOD / name
        assert expected.sha256[role] == hashlib.sha256((GOOD / name).read_bytes()).hexdigest()


def test_semicolon_csv_with_decimal_commas_and_bom(expected: WaveData, registry) -> None:
    raw = (GOOD / "respondents_semicolon.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") and b";1,25\r\n" in raw  # what the test relies on
    wave = load_wave(GOOD / "respondents_semicolon.csv", registry=registry)
    pd.testing.assert_frame_equal(wave.respondents, expected.respondents)


def test_parquet_loads_to_the_same_table(tmp_path: Path, expected: WaveData, registry) -> None:
    path = tmp_path / "respondents.parquet"
    expected.respondents.to_parquet(path, index=False)
    wave = load_wave(path, registry=registry)
    pd.testing.assert_frame_equal(wave.respondents, expected.respondents)


def test_parquet_with_plain_numpy_types_and_booleans(
    tmp_path: Path, expected: WaveData, registry
) -> None:
    frame = expected.respondents.astype({c: "float64" for c in (*C.SCORES, *C.BSC_NORMS)})
    frame = frame.astype({c: bool for c in C.CHANNEL_COLUMNS} | {C.AGE_BAND: object, C.SEX: object})
    path = tmp_path / "r.parquet"
    frame.to_parquet(path, index=False)
    pd.testing.assert_frame_equal(
        load_wave(path, registry=registry).respondents, expected.respondents
    )


def _write_sav(frame: pd.DataFrame, path: Path) -> None:
    """SPSS file with numeric codes and value labels, as SPSS exports hold them."""
    sav = frame.copy()
    labels = {
        C.SEX: {1.0: "man", 2.0: "vrouw"},
        C.AGE_BAND: {float(i + 1): v for i, v in enumerate(C.AGE_BANDS)},
        C.EDUCATION: {float(i + 1): v for i, v in enumerate(C.EDUCATION_LEVELS)},
    }
    for name, mapping in labels.items():
        codes = {v: k for k, v in mapping.items()}
        sav[name] = sav[name].astype(str).map(codes).astype(float)
    for name in (*C.SCORES, *C.BSC_NORMS, *C.CHANNEL_COLUMNS):
        sav[name] = sav[name].astype("Float64").to_numpy(dtype=float, na_value=np.nan)
    for name in (C.RESPONDENT_ID, C.WAVE, C.MUNICIPALITY, C.LIFE_EVENT, "stratum"):
        sav[name] = sav[name].astype(object)
    # The ends of the mark scale carry labels too; they must not replace the numbers.
    labels[C.SCORE_CHAIN] = {1.0: "zeer slecht", 10.0: "uitstekend"}
    labels[C.CHANNEL_COLUMNS[0]] = {0.0: "nee", 1.0: "ja"}
    pyreadstat.write_sav(sav, str(path), variable_value_labels=labels)


def test_sav_with_value_labels_loads_to_the_same_table(
    tmp_path: Path, expected: WaveData, registry
) -> None:
    path = tmp_path / "respondents.sav"
    _write_sav(expected.respondents, path)
    raw, meta = pyreadstat.read_sav(str(path), apply_value_formats=False)
    assert raw[C.SEX].tolist()[:2] == [2.0, 1.0]  # the file holds codes, not labels
    assert meta.variable_value_labels[C.SEX] == {1.0: "man", 2.0: "vrouw"}
    wave = load_wave(path, registry=registry)
    pd.testing.assert_frame_equal(wave.respondents, expected.respondents)


def test_sav_code_without_label_is_reported_by_row(
    tmp_path: Path, expected: WaveData, registry
) -> None:
    frame = expected.respondents.copy()
    path = tmp_path / "r.sav"
    _write_sav(frame, path)
    df, meta = pyreadstat.read_sav(str(path))
    df.loc[2, C.SEX] = 3.0  # no label
    pyreadstat.write_sav(df, str(path), variable_value_labels=meta.variable_value_labels)
    with pytest.raises(ProblemsError) as exc:
        load_wave(path, registry=registry)
    (p,) = exc.value.problems
    assert str(p).startswith(
        f"{path}, column 'sex', row 3: must be one of 'man', 'vrouw'; got '3'."
    )


def test_read_table_keeps_every_cell_as_text_with_line_numbers() -> None:
    df = read_table(BAD / "score_not_integer.csv")
    assert df.loc[5, C.SCORE_CHAIN] == "7.5"
    assert df.index.tolist() == [2, 3, 4, 5, 6, 7]
    assert df.attrs["meting_decimal"] == "." and df.attrs["meting_unit"] == "line"
    assert all(pd.api.types.is_string_dtype(df[c]) for c in df.columns)
    semi = read_table(GOOD / "respondents_semicolon.csv")
    assert semi.attrs["meting_decimal"] == "," and semi.loc[2, C.DESIGN_WEIGHT] == "1,25"


def test_blank_lines_and_quoted_newlines_keep_line_numbers(tmp_path: Path, registry) -> None:
    lines = (GOOD / "respondents.csv").read_text(encoding="utf-8").splitlines()
    # blank line after line 2; a stratum with a line break inside quotes on line 5
    body = lines[:2] + [""] + lines[2:4] + [lines[4].replace(",twee,", ',"twee\nb",')] + lines[5:]
    body[-1] = body[-1].replace(",5,4,3,", ",5,44,3,")  # score_chain 44 on the last respondent
    path = tmp_path / "r.csv"
    path.write_text("\n".join(body) + "\n", encoding="utf-8")
    df = read_table(path)
    assert df.index.tolist() == [2, 4, 5, 6, 8, 9]  # line 3 blank, record on 6-7
    with pytest.raises(ProblemsError) as exc:
        load_wave(path, registry=registry)
    (p,) = exc.value.problems
    assert (p.column, p.rows, p.values) == (C.SCORE_CHAIN, (9,), ("44",))


def test_spaces_and_na_spellings_are_missing_values(tmp_path: Path, registry) -> None:
    text = (GOOD / "respondents.csv").read_text(encoding="utf-8")
    text = text.replace(",7,8,6,", ", 7 ,NA,6,", 1)
    path = tmp_path / "r.csv"
    path.write_text(text, encoding="utf-8")
    r = load_wave(path, registry=registry).respondents
    assert r[C.SCORE_GOVERNMENT].iloc[0] == 7 and pd.isna(r[C.SCORE_CHAIN].iloc[0])


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (
            "missing_column.csv",
            "column 'score_chain': must be present (a required column of the respondent table)",
        ),
        (
            "extra_column.csv",
            "column 'opmerking': must be a column of the respondent table in the data contract",
        ),
        (
            "text_in_number.csv",
            "column 'score_government', line 4: must be a number (an integer 1-10); got 'zeven'",
        ),
        (
            "score_out_of_range.csv",
            "column 'score_chain', lines 3, 7: must be an integer 1-10; got '0', '11'",
        ),
        (
            "score_not_integer.csv",
            "column 'score_chain', line 5: must be an integer 1-10; got '7.5'",
        ),
        (
            "decimal_comma.csv",
            "column 'score_government', line 3: must be written with a decimal point, not a decimal comma; got '7,5'",
        ),
        (
            "decimal_comma_unquoted.csv",
            "line 3: must have 26 fields on every line, as the header has; got 27 fields",
        ),
        (
            "unknown_municipality.csv",
            "column 'municipality', line 4: must be a municipality in params/municipalities/",
        ),
        (
            "malformed_municipality.csv",
            "column 'municipality', lines 2, 3: must be a CBS municipality code: 'GM' followed by 4 digits, kept as text with leading zeros (GM0505); got '505', 'GM505'",
        ),
        (
            "unknown_life_event.csv",
            "column 'life_event', line 5: must be a life-event code from params/life_events.yaml; got 'scheiden'",
        ),
        (
            "duplicate_ids.csv",
            "column 'respondent_id', lines 3, 6: must be unique within the wave.",
        ),
        ("empty.csv", ": must not be empty"),
        ("header_only.csv", ": must hold data lines below the header"),
        (
            "latin1.csv",
            "lines 2, 3, 7: must be UTF-8 text; byte 0xE9 ('é' in Latin-1 / Windows-1252) is not UTF-8. Save the file as UTF-8",
        ),
        (
            "zero_weight.csv",
            "column 'design_weight', lines 3, 6: must be a number greater than 0; got '0', '-1'",
        ),
        (
            "missing_life_event.csv",
            "column 'life_event', line 4: must not be empty. Every respondent needs a life event",
        ),
        ("bad_level.csv", "column 'sex', line 2: must be one of 'man', 'vrouw'; got 'M'"),
    ],
)
def test_each_bad_file_raises_with_a_precise_message(name: str, expected: str, registry) -> None:
    path = BAD / name
    before = path.read_bytes()
    with pytest.raises(SchemaError) as exc:
        load_wave(path, registry=registry)
    message = str(exc.value)
    assert f"{path}{'' if expected.startswith(':') else ', '}{expected}" in message
    assert message.splitlines()[0].startswith(("1 problem in", "2 problems in"))
    assert path.read_bytes() == before


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (
            "organisations_unknown_respondent.csv",
            "column 'respondent_id', line 4: must be a respondent_id of the respondent table.",
        ),
        (
            "organisations_unknown_organisation.csv",
            "column 'organisation', line 8: must be an organisation code from params/organisations.yaml; got 'bank'",
        ),
    ],
)
def test_bad_organisation_files(name: str, expected: str, registry) -> None:
    with pytest.raises(ProblemsError) as exc:
        load_wave(GOOD / "respondents.csv", BAD / name, registry=registry)
    assert f"{BAD / name}, {expected}" in str(exc.value)
    assert len(exc.value.problems) == 1


def test_problems_of_both_files_are_listed_together(registry) -> None:
    with pytest.raises(ProblemsError) as exc:
        load_wave(
            BAD / "score_out_of_range.csv",
            BAD / "organisations_unknown_organisation.csv",
            registry=registry,
        )
    lines = str(exc.value).splitlines()
    assert (
        lines[0]
        == f"2 problems in {BAD / 'score_out_of_range.csv'} and {BAD / 'organisations_unknown_organisation.csv'}:"
    )
    assert len(lines) == 3


def test_unknown_suffix_and_missing_file(tmp_path: Path, registry) -> None:
    xlsx = tmp_path / "r.xlsx"
    xlsx.write_bytes(b"PK")
    with pytest.raises(
        ProblemsError,
        match=r"r\.xlsx: must be a \.csv, \.txt, \.parquet or \.sav file; got '\.xlsx'",
    ):
        read_table(xlsx)
    with pytest.raises(ProblemsError, match="must be an existing file"):
        read_table(tmp_path / "nope.csv")
    broken = tmp_path / "r.parquet"
    broken.write_bytes(b"not parquet")
    with pytest.raises(ProblemsError, match="must be a readable Parquet file"):
        read_table(broken)


def test_wave_must_match_the_one_asked_for(registry) -> None:
    with pytest.raises(
        ParameterError, match=r"wave must be a wave label from params/waves/ .*; got '2011'"
    ):
        load_wave(GOOD / "respondents.csv", registry=registry, wave="2011")
    with pytest.raises(
        ProblemsError, match=r"must be '2009-vervolgmeting' on every line \(the wave being loaded\)"
    ):
        load_wave(GOOD / "respondents.csv", registry=registry, wave="2009-vervolgmeting")


def test_input_is_opened_read_only(tmp_path: Path, registry) -> None:
    """Loading works on read-only files and leaves them as they were."""
    copy = tmp_path / "respondents.csv"
    shutil.copy(GOOD / "respondents.csv", copy)
    copy.chmod(0o444)
    stat = copy.stat()
    load_wave(copy, registry=registry)
    assert copy.stat().st_mtime_ns == stat.st_mtime_ns
    assert copy.read_bytes() == (GOOD / "respondents.csv").read_bytes()


def test_default_registry_is_the_projects(expected: WaveData) -> None:
    wave = load_wave(GOOD / "respondents.csv")
    pd.testing.assert_frame_equal(wave.respondents, expected.respondents)


def test_tab_separated_txt(tmp_path: Path, expected: WaveData, registry) -> None:
    text = (GOOD / "respondents.csv").read_text(encoding="utf-8").replace(",", "\t")
    path = tmp_path / "respondents.txt"
    path.write_text(text, encoding="utf-8")
    pd.testing.assert_frame_equal(
        load_wave(path, registry=registry).respondents, expected.respondents
    )
