"""Dutch formatting of numbers, dates and tables (meting.report.formatting)."""

from __future__ import annotations

import datetime

import numpy as np
import pandas as pd
import pytest

from meting.errors import ReportError
from meting.report.formatting import (
    EMPTY,
    MONTHS_NL,
    fmt_ci,
    fmt_date,
    fmt_diff,
    fmt_int,
    fmt_number,
    fmt_p,
    fmt_pct,
    fmt_score,
    format_frame,
    to_html,
)


@pytest.mark.parametrize(
    ("value", "decimals", "expected"),
    [
        (7.0, 1, "7,0"),
        (1234.5, 1, "1.234,5"),
        (1234567.891, 2, "1.234.567,89"),
        (-1234.5, 1, "-1.234,5"),
        (0.0, 1, "0,0"),
        (-0.04, 1, "0,0"),  # no "-0,0"
        (6.95, 1, "7,0"),  # half away from zero on the decimal form, as a reader rounds
        (6.25, 1, "6,3"),
        (2.5, 0, "3"),
        (np.float32(6.5), 1, "6,5"),
        (np.int64(12), 0, "12"),
    ],
)
def test_fmt_number(value: float, decimals: int, expected: str) -> None:
    assert fmt_number(value, decimals) == expected


def test_scores_counts_and_missing() -> None:
    assert fmt_score(7.0) == "7,0"
    assert fmt_score(6.66) == "6,7"
    assert fmt_int(12345) == "12.345"
    assert fmt_int(999) == "999"
    for missing in (None, float("nan"), pd.NA, np.nan):
        assert fmt_score(missing) == EMPTY
    assert fmt_number(1234.5, 1, thousands=False) == "1234,5"


def test_percentages_p_values_differences_intervals() -> None:
    assert fmt_pct(0.56) == "56%"
    assert fmt_pct(0.125, 1) == "12,5%"
    assert fmt_pct(56.0, ratio=False) == "56%"
    assert fmt_p(0.0345) == "0,035"
    assert fmt_p(0.0004) == "< 0,001"
    assert fmt_p(1.0) == "1,000"
    assert fmt_diff(0.31) == "+0,3"
    assert fmt_diff(-0.2) == "-0,2"
    assert fmt_diff(0.01) == "0,0"
    assert fmt_ci(6.81, 7.24) == "6,8 – 7,2"
    assert fmt_ci(6.58, 6.63) == "6,58 – 6,63"  # never '6,6 – 6,6'
    assert fmt_ci(6.6, 6.6) == "6,6 – 6,6"  # a zero-width interval stays as it is
    with pytest.raises(ReportError, match="p-value"):
        fmt_p(1.5)
    with pytest.raises(ReportError, match="numeric"):
        fmt_number("7")  # type: ignore[arg-type]


def test_dutch_dates_without_locale() -> None:
    assert MONTHS_NL[2] == "maart"
    assert fmt_date(datetime.date(2010, 3, 1)) == "1 maart 2010"
    assert fmt_date("2008-05-17") == "17 mei 2008"
    assert fmt_date(datetime.date(2026, 11, 23), weekday=True) == "maandag 23 november 2026"
    assert [fmt_date(datetime.date(2009, m, 1)).split()[1] for m in (1, 6, 7, 10, 12)] == [
        "januari",
        "juni",
        "juli",
        "oktober",
        "december",
    ]


def test_format_frame_uses_names_then_dtypes() -> None:
    df = pd.DataFrame(
        {
            "life_event": ["verhuizen", "trouwen"],
            "estimate": [7.0, 6.66],
            "n": [1234, 5],
            "p_value": [0.0001, 0.5],
            "share": [0.5, 0.25],
        }
    )
    out = format_frame(df, {"share": "pct"})
    assert out["estimate"].tolist() == ["7,0", "6,7"]
    assert out["n"].tolist() == ["1.234", "5"]
    assert out["p_value"].tolist() == ["< 0,001", "0,500"]
    assert out["share"].tolist() == ["50%", "25%"]
    assert out["life_event"].tolist() == ["verhuizen", "trouwen"]
    with pytest.raises(ReportError, match="must name columns"):
        format_frame(df, {"nope": "pct"})
    with pytest.raises(ReportError, match="column format"):
        format_frame(df, {"share": "percent"})


def test_to_html_escapes_aligns_and_refuses_ids() -> None:
    df = pd.DataFrame({"groep": ["<b>x</b>"], "estimate": [7.04]})
    table = to_html(df, rename={"estimate": "Rapportcijfer"}, caption="Tabel 1", note="noot")
    assert "&lt;b&gt;x&lt;/b&gt;" in table.html
    assert '<td class="num">7,0</td>' in table.html
    assert "<caption>Tabel 1</caption>" in table.html
    assert "Rapportcijfer" in table.html and "noot" in table.html
    assert table._repr_html_() == table.html
    with pytest.raises(ReportError, match="respondent_id"):
        to_html(pd.DataFrame({"respondent_id": ["r1"], "estimate": [7.0]}))


def test_one_plural_helper() -> None:
    from meting.report.formatting import count_noun, count_plural

    assert count_noun(1, "levensgebeurtenis", "levensgebeurtenissen") == "1 levensgebeurtenis"
    assert count_noun(2, "levensgebeurtenis", "levensgebeurtenissen") == "2 levensgebeurtenissen"
    assert count_noun(0, "gemeente", "gemeenten") == "0 gemeenten"
    assert count_plural(1, "levensgebeurtenissen") == "1 levensgebeurtenis"
    assert count_plural(1, "cellen") == "1 cel" and count_plural(3, "cellen") == "3 cellen"
    assert (
        count_plural(1, "normen") == "1 norm" and count_plural(1200, "kanalen") == "1.200 kanalen"
    )


def test_verdict_and_interval_columns_do_not_wrap() -> None:
    import pandas as pd

    from meting.report.formatting import to_html

    html = str(
        to_html(
            pd.DataFrame(
                {"naam": ["a"], "oordeel": ["significant boven 7"], "95%-interval": ["1 – 2"]}
            )
        )
    )
    assert '<td class="txt">significant boven\u00a07</td>' in html  # wraps, but not before the 7
    assert '<td class="txt">1\u00a0–\u2060\u00a02</td>' in html  # an interval never wraps
    from meting.report.formatting import glue_value

    assert glue_value("+0,4 (+0,3 tot +0,6)") == "+0,4 (+0,3\u00a0tot\u00a0+0,6)"
    assert glue_value("6,6 – 7,0") == "6,6\u00a0–\u2060\u00a07,0"  # no break after the dash
    assert '<td class="txt">a</td>' in html


def test_verdict_threshold_stays_with_its_words() -> None:
    from meting.report.formatting import glue_threshold

    nb = "\u00a0"
    assert glue_threshold("significant boven 7") == f"significant boven{nb}7"
    assert glue_threshold("niet te onderscheiden van 7") == f"niet te onderscheiden van{nb}7"
    assert glue_threshold("waarschijnlijk ≥ 7") == f"waarschijnlijk{nb}≥{nb}7"
    assert glue_threshold("waarschijnlijk < 6,5") == f"waarschijnlijk{nb}<{nb}6,5"
    assert glue_threshold("geen aantoonbaar verschil") == f"geen aantoonbaar{nb}verschil"
    assert glue_threshold("verbeterd") == "verbeterd"
