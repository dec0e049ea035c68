"""The fast CSV path (pyarrow, byte-level checks): the same raw table, line numbers and problems
as the general reader, also where a check's block boundary falls inside a line or a character."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from meting import csv_reader
from meting.loaders import read_table
from meting.raw_table import to_numbers
from meting.schema import ProblemsError

GOOD = Path(__file__).parent / "data" / "good" / "respondents.csv"


def test_to_numbers_reads_as_pandas_to_numeric_does() -> None:
    cells = ["1", "+5", "-0", "7.", ".5", "1e5", "1e400", "inf", "zeven", "7,5", "0x10", None]
    arrow = pd.Series(cells, dtype=pd.StringDtype("pyarrow", na_value=np.nan))
    expected = pd.to_numeric(pd.Series(cells, dtype=object), errors="coerce").astype("float64")
    np.testing.assert_array_equal(to_numbers(arrow).to_numpy(), expected.to_numpy())
    np.testing.assert_array_equal(to_numbers(arrow.iloc[:6]).to_numpy(), expected.iloc[:6])


def test_unquoted_file_with_bom_crlf_blank_lines_and_spaces(tmp_path: Path) -> None:
    text = "a,b,c\r\n1 , NA,x\r\n\r\n,,\r\n 2,3,null\r\n"
    path = tmp_path / "f.csv"
    path.write_bytes(b"\xef\xbb\xbf" + text.encode())
    df = read_table(path)
    assert list(df.columns) == ["a", "b", "c"]
    assert df.index.tolist() == [2, 5]  # the blank line and the line of separators dropped
    assert df["a"].tolist() == ["1", "2"]
    assert df["b"].isna().tolist() == [True, False]
    assert df["c"].tolist()[0] == "x" and pd.isna(df["c"].iloc[1])


@pytest.mark.parametrize("block", [7, 16, 64])
def test_checks_across_block_boundaries(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, block: int
) -> None:
    monkeypatch.setattr(csv_reader, "_BLOCK", block)
    lines = GOOD.read_text(encoding="utf-8").splitlines()
    path = tmp_path / "good.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")  # holds 'één' (2-byte chars)
    pd.testing.assert_frame_equal(read_table(path), read_table(GOOD))
    stray = list(lines)
    stray[5] = stray[5][:20] + "\r" + stray[5][20:]
    path.write_text("\n".join(stray) + "\n", encoding="utf-8")
    with pytest.raises(ProblemsError, match=r"line 6: must not hold a carriage return"):
        read_table(path)


def test_too_many_and_too_few_fields_are_listed_together(tmp_path: Path) -> None:
    path = tmp_path / "f.csv"
    path.write_text("a,b,c\n1,2,3\n1,2,3,4\n\n1,2\n", encoding="utf-8")
    with pytest.raises(ProblemsError) as info:
        read_table(path)
    (problem,) = info.value.problems
    assert problem.rows == (3, 5)
    assert problem.values == ("4 fields", "2 fields")
    assert "must have 3 fields on every line" in str(problem)
