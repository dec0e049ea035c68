"""Disclosure control: small cells suppressed, secondary suppression, no identifiers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from meting.errors import ReportError
from meting.report.formatting import format_frame
from meting.report.privacy import SUPPRESSED, suppress_small_cells, suppression_note


def _table() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "municipality": ["GM0505"] * 3 + ["GM0794"] * 3,
            "life_event": ["a", "b", "c"] * 2,
            "estimate": [7.1, 6.2, 6.9, 7.3, 6.8, 6.4],
            "se": [0.1, 0.4, 0.2, 0.1, 0.3, 0.5],
            "n": [120, 12, 45, 200, 31, 29],
        }
    )


def test_primary_suppression_blanks_values_keeps_n() -> None:
    out = suppress_small_cells(_table(), 30)
    assert out[SUPPRESSED].tolist() == [False, True, False, False, False, True]
    assert out.loc[out[SUPPRESSED], ["estimate", "se"]].isna().all().all()
    assert out.loc[~out[SUPPRESSED], "estimate"].tolist() == [7.1, 6.9, 7.3, 6.8]
    assert out["n"].tolist() == [120, 12, 45, 200, 31, 29]
    assert out.attrs["suppressed"] == 2
    assert format_frame(out.drop(columns=SUPPRESSED))["estimate"].tolist()[1] == "–"
    note = suppression_note(out)
    assert note.startswith("2 cellen met minder dan 30 respondenten niet getoond")


def test_boundary_is_inclusive_and_missing_n_is_suppressed() -> None:
    t = pd.DataFrame({"estimate": [7.0, 7.0, 7.0], "n": [30, 29, np.nan]})
    out = suppress_small_cells(t, 30)
    assert out[SUPPRESSED].tolist() == [False, True, True]


def test_secondary_suppression_protects_single_hidden_cell() -> None:
    out = suppress_small_cells(_table(), 30, secondary_by=["municipality"])
    # each municipality had exactly one small cell; the next smallest one goes too
    assert out[SUPPRESSED].tolist() == [False, True, True, False, True, True]
    assert out.attrs["suppressed_secondary"] == 2
    assert "extra" in suppression_note(out)
    # a group with two hidden cells needs nothing more
    t = _table().assign(n=[120, 12, 10, 200, 300, 400])
    out = suppress_small_cells(t, 30, secondary_by=["municipality"])
    assert out[SUPPRESSED].tolist() == [False, True, True, False, False, False]


def test_bad_input_is_refused() -> None:
    with pytest.raises(ReportError, match="minimum cell size"):
        suppress_small_cells(_table(), 0)
    with pytest.raises(ReportError, match="must exist"):
        suppress_small_cells(_table(), 30, n_col="count")
    with pytest.raises(ReportError, match="respondent_id"):
        suppress_small_cells(_table().assign(respondent_id="r1"), 30)
    assert suppression_note(0, 30) == ""
    assert suppression_note(1, 50).startswith("1 cel met minder dan 50")
