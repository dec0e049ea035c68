"""The data contract as data, the checks (every problem at once, vectorised) and the final dtypes.

The tables here are built in memory from a small valid table; each test breaks one thing and
asserts on the message: file, column, line (header = line 1) and value.
"""

from __future__ import annotations

import dataclasses
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from meting import columns as C
from meting.errors import SchemaError
from meting.registry import load_registry
from meting.schema import (
    MAX_LISTED,
    ORGANISATION_COLUMNS,
    RESPONDENT_COLUMNS,
    Problem,
    ProblemsError,
    check_organisations,
    check_respondents,
    coerce_organisations,
    coerce_respondents,
)

WAVE = "2008-nulmeting"


@pytest.fixture(scope="module")
def registry():
    return load_registry()


def raw_table(n: int = 4) -> pd.DataFrame:
    """A valid raw respondent table (every cell text), as read from a ``,``-separated file."""
    cols: dict[str, list[str | None]] = {
        C.RESPONDENT_ID: [f"R{i:04d}" for i in range(1, n + 1)],
        C.WAVE: [WAVE] * n,
        C.MUNICIPALITY: (["GM0505", "GM0794"] * n)[:n],
        C.LIFE_EVENT: (["verhuizen", "werkloos"] * n)[:n],
    }
    for name in (*C.SCORES, *C.BSC_NORMS):
        cols[name] = ["4"] * n
    for name in C.CHANNEL_COLUMNS:
        cols[name] = ["0"] * n
    cols[C.AGE_BAND] = (["18-34", "65+"] * n)[:n]
    cols[C.SEX] = (["man", "vrouw"] * n)[:n]
    cols[C.EDUCATION] = (["laag", "hoog"] * n)[:n]
    cols[C.DESIGN_WEIGHT] = ["1.5"] * n
    return pd.DataFrame(cols, dtype="str")


def messages(problems: list[Problem]) -> list[str]:
    return [str(p) for p in problems]


def test_contract_covers_every_column_of_columns_py() -> None:
    names = [s.name for s in RESPONDENT_COLUMNS]
    expected = [
        C.RESPONDENT_ID, C.WAVE, C.MUNICIPALITY, C.LIFE_EVENT, *C.SCORES, *C.BSC_NORMS,
        *C.CHANNEL_COLUMNS, C.AGE_BAND, C.SEX, C.EDUCATION, C.SIZE_CLASS, *C.TRIM_QUESTIONS,
        C.STRATUM, C.CLUSTER, C.DESIGN_WEIGHT,
    ]  # fmt: skip
    assert names == expected
    assert len(set(names)) == len(names)
    assert [s.name for s in ORGANISATION_COLUMNS] == [
        C.RESPONDENT_ID,
        C.ORGANISATION,
        C.ORGANISATION_SCORE,
    ]
    by_name = {s.name: s for s in RESPONDENT_COLUMNS}
    assert (by_name[C.SCORE_CHAIN].low, by_name[C.SCORE_CHAIN].high) == (1, 10)
    assert (by_name["bsc_07"].low, by_name["bsc_07"].high) == (1, 5)
    assert by_name[C.SCORE_CHAIN].nullable and not by_name[C.LIFE_EVENT].nullable
    assert by_name[C.AGE_BAND].levels == ("18-34", "35-49", "50-64", "65+")
    assert not by_name[C.EDUCATION].required  # required only when the wave asks for it


def test_valid_table_has_no_problems(registry) -> None:
    assert check_respondents(raw_table(), source="r.csv", registry=registry) == []


def test_problem_str_names_file_column_line_and_value() -> None:
    p = Problem("respondents.csv", "score_chain", (7,), ("11",), "must be an integer 1-10", count=1)
    assert (
        str(p)
        == "respondents.csv, column 'score_chain', line 7: must be an integer 1-10; got '11'."
    )
    many = Problem(
        "r.csv",
        "sex",
        tuple(range(2, 12)),
        ("M",) * 10,
        "must be one of 'man', 'vrouw'",
        "Recode.",
        25,
    )
    assert str(many) == (
        "r.csv, column 'sex', 25 lines (first 10: 2, 3, 4, 5, 6, 7, 8, 9, 10, 11): "
        "must be one of 'man', 'vrouw'; got 'M'. Recode."
    )
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.file = "x"  # type: ignore[misc]


def test_every_problem_is_found_at_once(registry) -> None:
    df = raw_table(6)
    df.loc[0, C.SCORE_CHAIN] = "11"  # line 2
    df.loc[3, C.SCORE_CHAIN] = "7.5"  # line 5
    df.loc[1, C.SCORE_GOVERNMENT] = "zeven"  # line 3
    df.loc[2, C.MUNICIPALITY] = "505"  # line 4
    df.loc[4, C.LIFE_EVENT] = None  # line 6
    df.loc[5, C.DESIGN_WEIGHT] = "0"  # line 7
    df = df.drop(columns=[C.SEX]).assign(opmerking="x")
    found = messages(check_respondents(df, source="r.csv", registry=registry))
    assert len(found) == 8, found
    text = "\n".join(found)
    for expected in (
        "r.csv, column 'sex': must be present (a required column of the respondent table)",
        "r.csv, column 'opmerking': must be a column of the respondent table",
        "r.csv, column 'score_chain', line 2: must be an integer 1-10; got '11'",
        "r.csv, column 'score_chain', line 5: must be an integer 1-10; got '7.5'",
        "r.csv, column 'score_government', line 3: must be a number (an integer 1-10); got 'zeven'",
        "r.csv, column 'municipality', line 4: must be a CBS municipality code: 'GM' followed by 4 digits",
        "r.csv, column 'life_event', line 6: must not be empty",
        "r.csv, column 'design_weight', line 7: must be a number greater than 0; got '0'",
    ):
        assert expected in text


def test_rows_are_capped_and_counted(registry) -> None:
    df = raw_table(40)
    df[C.SCORE_COOPERATION] = "12"
    (p,) = check_respondents(df, source="r.csv", registry=registry)
    assert p.count == 40 and len(p.rows) == MAX_LISTED
    assert p.rows == tuple(range(2, 2 + MAX_LISTED))
    assert str(p).startswith("r.csv, column 'score_cooperation', 40 lines (first 10: 2, 3,")


def test_index_with_line_numbers_is_used_when_marked(registry) -> None:
    df = raw_table(3)
    df.index = pd.Index([2, 5, 9])  # blank lines were dropped in between
    df.attrs.update(meting_numbered=True)
    df.loc[9, C.SCORE_CHAIN] = "0"
    (p,) = check_respondents(df, source="r.csv", registry=registry)
    assert p.rows == (9,)


def test_typed_frame_is_checked_like_a_raw_one(registry) -> None:
    typed = coerce_respondents(raw_table())
    assert check_respondents(typed, source="r.parquet", registry=registry) == []
    broken = typed.assign(score_chain=pd.array([1, 2, 11, None], dtype="Int16"))
    (p,) = check_respondents(broken, source="r.parquet", registry=registry)
    assert (p.column, p.rows, p.values) == (C.SCORE_CHAIN, (4,), ("11",))


def test_numbers_integral_floats_and_bounds(registry) -> None:
    df = raw_table(6)
    df["bsc_03"] = ["1", "5", "5.0", "6", "0", None]  # 1-5; empty = n.v.t.
    df[C.CHANNEL_COLUMNS[0]] = ["0", "1", "1.0", "2", "-1", "1"]
    found = check_respondents(df, source="r.csv", registry=registry)
    by_col = {p.column: p for p in found}
    assert by_col["bsc_03"].rows == (5, 6) and by_col["bsc_03"].values == ("6", "0")
    assert by_col["bsc_03"].message == "must be an integer 1-5"
    assert (
        by_col["channel_balie"].rows == (5, 6)
        and by_col["channel_balie"].message == "must be 0 or 1"
    )


def test_decimal_comma_depends_on_the_file_kind(registry) -> None:
    df = raw_table(3)
    df[C.DESIGN_WEIGHT] = ["1,25", "2,5", "3"]
    (p,) = check_respondents(df, source="r.csv", registry=registry)
    assert p.message == "must be written with a decimal point, not a decimal comma"
    assert p.rows == (2, 3) and p.values == ("1,25", "2,5")
    assert "write 1.25 for 1,25" in p.fix
    semicolon = df.copy()
    semicolon.attrs.update(meting_decimal=",")
    assert check_respondents(semicolon, source="r.csv", registry=registry) == []
    typed = coerce_respondents(semicolon)
    np.testing.assert_array_equal(typed[C.DESIGN_WEIGHT].to_numpy(), [1.25, 2.5, 3.0])


def test_mixed_decimal_marks_in_a_semicolon_file_are_ambiguous(registry) -> None:
    df = raw_table(3)
    df[C.DESIGN_WEIGHT] = ["1,25", "1.250", "3"]
    df.attrs.update(meting_decimal=",")
    (p,) = check_respondents(df, source="r.csv", registry=registry)
    assert (p.column, p.rows, p.values) == (C.DESIGN_WEIGHT, (3,), ("1.250",))
    assert "thousands separator" in p.fix


def test_municipality_codes(registry) -> None:
    df = raw_table(5)
    df[C.MUNICIPALITY] = [
        "505",
        "GM505",
        "gm0505",
        "GM9999",
        "GM1982",
    ]  # GM1982: Land van Cuijk (code change)
    found = check_respondents(df, source="r.csv", registry=registry)
    assert len(found) == 3
    malformed, unknown, not_yet = found
    # GM1982 is Land van Cuijk from 2022 on: not a code of the 2008 wave
    assert (not_yet.rows, not_yet.values) == ((6,), ("GM1982",))
    assert "valid on the wave's reference date 2008-03-01" in not_yet.message
    assert malformed.rows == (2, 3, 4) and malformed.values == ("505", "GM505", "gm0505")
    assert "kept as text with leading zeros" in malformed.message
    assert "Write 'GM0505' for '505'" in malformed.fix
    assert (unknown.rows, unknown.values) == ((5,), ("GM9999",))
    assert "params/municipalities/" in unknown.message


def test_known_municipality_is_asked_once_per_distinct_code(registry) -> None:
    calls: list[str] = []

    def is_known(code: str) -> bool:
        calls.append(code)
        return code == "GM0505"

    stand_in = SimpleNamespace(
        waves=registry.waves, life_events=registry.life_events, is_known_municipality=is_known
    )
    df = raw_table(200)
    found = check_respondents(df, source="r.csv", registry=stand_in)
    assert sorted(calls) == ["GM0505", "GM0794"]
    (p,) = found
    assert p.count == 100 and p.values[0] == "GM0794"


def test_life_event_wave_and_categories(registry) -> None:
    df = raw_table(4)
    df.loc[0, C.LIFE_EVENT] = "scheiden"
    df.loc[1, C.WAVE] = "2011-meting"
    df.loc[2, C.WAVE] = "2010-vervolgmeting"
    df.loc[3, C.SEX] = "Man"
    found = messages(check_respondents(df, source="r.csv", registry=registry))
    assert any(
        m.startswith("r.csv, column 'life_event', line 2: must be a life-event code")
        and "got 'scheiden'" in m
        for m in found
    )
    assert any(m.startswith("r.csv, column 'wave', line 3: must be a wave label") for m in found)
    assert any(
        m.startswith("r.csv, column 'wave', line 4: must be '2008-nulmeting' on every line")
        for m in found
    )
    assert "r.csv, column 'sex', line 5: must be one of 'man', 'vrouw'; got 'Man'" in "\n".join(
        found
    )


def test_wave_argument_must_match(registry) -> None:
    found = check_respondents(
        raw_table(2), source="r.csv", registry=registry, wave="2009-vervolgmeting"
    )
    (p,) = found
    assert p.rows == (
        2,
        3,
    ) and "must be '2009-vervolgmeting' on every line (the wave being loaded)" in str(p)


def test_education_is_required_only_when_the_wave_asks(registry) -> None:
    df = raw_table(3).drop(columns=[C.EDUCATION])
    assert registry.waves[WAVE].require_education
    (p,) = check_respondents(df, source="r.csv", registry=registry)
    assert p.column == C.EDUCATION and "must be present" in p.message
    relaxed_wave = dataclasses.replace(registry.waves[WAVE], require_education=False)
    relaxed = dataclasses.replace(registry, waves={**registry.waves, WAVE: relaxed_wave})
    assert check_respondents(df, source="r.csv", registry=relaxed) == []
    with_gaps = raw_table(3)
    with_gaps.loc[1, C.EDUCATION] = None
    assert check_respondents(with_gaps, source="r.csv", registry=relaxed) == []
    (p,) = check_respondents(with_gaps, source="r.csv", registry=registry)
    assert (p.column, p.rows, p.message) == (C.EDUCATION, (3,), "must not be empty")


def test_duplicate_ids_name_every_line(registry) -> None:
    df = raw_table(30)
    df.loc[[3, 9], C.RESPONDENT_ID] = "R0002"  # lines 5 and 11, and R0002 itself on line 3
    df.loc[20:29, C.RESPONDENT_ID] = [f"X{i}" for i in range(5)] * 2  # 5 more pairs
    found = check_respondents(df, source="r.csv", registry=registry)
    assert len(found) == 6
    assert str(found[0]).startswith(
        "r.csv, column 'respondent_id', lines 3, 5, 11: must be unique within the wave."
    )
    assert found[1].rows == (22, 27)


def test_many_duplicated_ids_are_summed_up(registry) -> None:
    df = raw_table(40)
    df[C.RESPONDENT_ID] = [f"D{i}" for i in range(20)] * 2
    found = check_respondents(df, source="r.csv", registry=registry)
    assert len(found) == 11
    assert (
        found[-1].rows == () and "10 more values occur more than once (20 lines)" in found[-1].fix
    )


def test_duplicate_header_names(registry) -> None:
    df = raw_table(2)
    df.insert(5, C.SCORE_CHAIN, "5", allow_duplicates=True)
    (p,) = check_respondents(df, source="r.csv", registry=registry)
    assert (
        str(p)
        == "r.csv, column 'score_chain': must appear once in the header; got '2 times'. Remove or rename the copies."
    )


def test_misspelled_column_gets_a_hint(registry) -> None:
    df = raw_table(2).rename(columns={C.SCORE_CHAIN: "Score_Chain"})
    missing, extra = check_respondents(df, source="r.csv", registry=registry)
    assert "Column 'Score_Chain' looks like it: rename it to 'score_chain'" in str(missing)
    assert "Did you mean 'score_chain'?" in str(extra)


def test_organisation_checks(registry) -> None:
    respondents = raw_table(3)
    org = pd.DataFrame(
        {
            C.RESPONDENT_ID: ["R0001", "R0001", "R0099", "R0002", "R0002"],
            C.ORGANISATION: ["gemeente", "bank", "uwv", "uwv", "uwv"],
            C.ORGANISATION_SCORE: ["7", "6", "5", None, "8"],
        },
        dtype="str",
    )
    found = messages(check_organisations(org, respondents, source="o.csv", registry=registry))
    joined = "\n".join(found)
    assert (
        "o.csv, column 'respondent_id', line 4: must be a respondent_id of the respondent table."
        in joined
    )
    assert (
        "o.csv, column 'organisation', line 3: must be an organisation code from params/organisations.yaml; got 'bank'"
        in joined
    )
    assert "o.csv, column 'score', line 5: must not be empty" in joined
    assert "o.csv, column 'respondent_id + organisation', lines 5, 6: must be unique" in joined
    assert len(found) == 4
    assert check_organisations(org.iloc[[0]], None, source="o.csv", registry=registry) == []


def test_coerce_gives_final_dtypes() -> None:
    df = raw_table(4)
    df.loc[1, C.SCORE_CHAIN] = None
    df["stratum"] = ["één", "twee", "één", "twee"]
    typed = coerce_respondents(df)
    assert list(typed.columns[:4]) == [C.RESPONDENT_ID, C.WAVE, C.MUNICIPALITY, C.LIFE_EVENT]
    assert typed[C.RESPONDENT_ID].dtype == "string"
    assert typed[C.SCORE_CHAIN].dtype == "Int8" and typed[C.SCORE_CHAIN].isna().sum() == 1
    assert typed["bsc_01"].dtype == "Int8" and typed["channel_internet"].dtype == "Int8"
    assert typed[C.AGE_BAND].dtype == pd.CategoricalDtype(list(C.AGE_BANDS), ordered=True)
    assert typed[C.SEX].dtype == pd.CategoricalDtype(list(C.SEXES), ordered=False)
    assert typed[C.DESIGN_WEIGHT].dtype == "float64"
    assert isinstance(typed.index, pd.RangeIndex)
    org = coerce_organisations(
        pd.DataFrame(
            {C.RESPONDENT_ID: ["R1"], C.ORGANISATION: ["uwv"], C.ORGANISATION_SCORE: ["7"]}
        )
    )
    assert org[C.ORGANISATION_SCORE].dtype == "Int8" and org[C.ORGANISATION_SCORE].iloc[0] == 7


def test_coerce_refuses_unchecked_data() -> None:
    df = raw_table(2)
    df.loc[0, C.SCORE_CHAIN] = "zeven"
    with pytest.raises(SchemaError, match="score_chain"):
        coerce_respondents(df)


def test_problems_error_lists_all_and_counts() -> None:
    ps = [
        Problem("a.csv", "x", (2,), ("1",), "must be y"),
        Problem("a.csv", None, (), (), "must be z"),
    ]
    err = ProblemsError(ps, "a.csv")
    assert isinstance(err, SchemaError) and err.problems == ps
    assert str(err).splitlines() == [
        "2 problems in a.csv:",
        "  a.csv, column 'x', line 2: must be y; got '1'.",
        "  a.csv: must be z.",
    ]


def test_large_table_is_checked_without_python_per_row(registry) -> None:
    """Vectorised: checking 20,000 rows runs no more Python function calls than 2,000 rows (no
    per-row loop, apply or map), counted with sys.setprofile instead of timed on a shared machine;
    and every bad row is counted."""
    import sys
    from collections import Counter

    def python_calls(n: int) -> tuple[int, list]:
        df = raw_table(n)
        df.loc[::1000, C.SCORE_CHAIN] = "11"
        check_respondents(df, source="big.csv", registry=registry)  # imports and caches warm
        calls: Counter[str] = Counter()

        def profile(frame, event, arg) -> None:
            if event == "call":
                calls[event] += 1

        sys.setprofile(profile)
        try:
            found = check_respondents(df, source="big.csv", registry=registry)
        finally:
            sys.setprofile(None)
        return calls["call"], found

    small, _ = python_calls(2_000)
    large, found = python_calls(20_000)
    (p,) = found
    assert p.count == 20
    assert large < 1.05 * small + 100, (small, large)
