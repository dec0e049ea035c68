"""Tables to reuse (meting.report.export): the CSV and XLSX files hold the report's own numbers,
suppression included, with documented column names; nothing undocumented or identifying gets out.

The expected values are the printed cells of the report table itself (its HTML), so a CSV value
must format to exactly what a reader sees, and a cell the report blanks must be empty in the file.
"""

from __future__ import annotations

import csv
import math
from html.parser import HTMLParser
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from meting.errors import ReportError
from meting.report import tables, to_html
from meting.report.export import (
    COLUMN_DOCS,
    MANIFEST,
    ExportTable,
    Tables,
    column_doc,
    read_table,
    slug,
    write_workbook,
)
from meting.report.formatting import EMPTY, DutchTable, fmt_ci, fmt_int, fmt_p, fmt_score
from meting.report.privacy import SUPPRESSED, suppress_small_cells, suppression_reasons

MIN_N = 30


class _Cells(HTMLParser):
    """The header and body cells of the first table in an HTML fragment."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self.header: list[str] = []
        self._cell: list[str] | None = None
        self._in_head = False
        self.scopes: list[str | None] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "thead":
            self._in_head = True
        elif tag == "tr" and not self._in_head:
            self.rows.append([])
        elif tag in ("td", "th"):
            self._cell = []
            if tag == "th":
                self.scopes.append(dict(attrs).get("scope"))

    def handle_endtag(self, tag: str) -> None:
        if tag == "thead":
            self._in_head = False
        elif tag in ("td", "th") and self._cell is not None:
            text = "".join(self._cell)
            (self.header if self._in_head else self.rows[-1]).append(text)
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def _printed(table: object) -> pd.DataFrame:
    parser = _Cells()
    # compare the text a reader sees: no-break spaces as spaces, word joiners dropped
    parser.feed(str(table).replace("\xa0", " ").replace("\u2060", ""))
    return pd.DataFrame(parser.rows, columns=parser.header)


def _tested() -> pd.DataFrame:
    """A tested estimate table by hand: one cell below the minimum size, one without a test."""
    return pd.DataFrame(
        {
            "niveau": ["overheid", "keten", "klein", "ongetoetst"],
            "estimate": [6.6149, 7.2501, 5.5, 6.95],
            "se": [0.02, 0.05, 0.4, 0.9],
            "lower": [6.5757, 7.152, 4.7, 5.2],
            "upper": [6.6541, 7.3482, 6.3, 8.7],
            "n": [5873, 1207, 12, 31],
            "p_adjusted": [1.2e-80, 0.0004, 0.21, float("nan")],
            "verdict": ["significant onder 7", "significant boven 7", "niet te onderscheiden van 7",
                        None],
            "reason": [None, None, None, "te weinig vrijheidsgraden"],
        }
    )  # fmt: skip


@pytest.fixture
def published(tmp_path: Path) -> tuple[Path, object]:
    folder = tmp_path / "tabellen"
    out = Tables(folder, min_n=MIN_N)
    table = tables.estimate_table(_tested(), "niveau", "niveau", min_n=MIN_N, caption="Tabel 1")
    assert out.publish(table, "niveaus") is table  # returned for display
    assert write_workbook(folder, "2010-vervolgmeting", "Vervolgmeting 2010") is not None
    return folder, table


def test_csv_holds_the_printed_numbers_and_blanks_the_suppressed_cell(
    published: tuple[Path, object],
) -> None:
    folder, table = published
    printed = _printed(table)
    raw = (folder / "niveaus.csv").read_text(encoding="utf-8")
    assert raw.splitlines()[0] == (
        "niveau,rapportcijfer,rapportcijfer_ondergrens,rapportcijfer_bovengrens,se,n,"
        "p_gecorrigeerd,oordeel,oordeel_reden,onderdrukt_reden"
    )
    assert ";" not in raw and "6,6" not in raw  # comma-separated, decimal point
    data = read_table(folder, "niveaus")
    assert data["niveau"].tolist() == printed["niveau"].tolist()
    for (_, row), (_, shown) in zip(data.iterrows(), printed.iterrows(), strict=True):
        assert fmt_score(row["rapportcijfer"]) == shown["rapportcijfer"]
        lo, hi = row["rapportcijfer_ondergrens"], row["rapportcijfer_bovengrens"]
        assert fmt_ci(lo, hi) == shown["95%-interval"]
        assert fmt_int(row["n"]) == shown["n"]
        assert fmt_p(row["p_gecorrigeerd"]) == shown["p (gecorrigeerd)"]
    # the cell below 30 respondents: the report prints a dash, the file leaves it empty
    small = data.loc[data["niveau"] == "klein"].iloc[0]
    assert printed.loc[2, "rapportcijfer"] == EMPTY and printed.loc[2, "95%-interval"] == EMPTY
    for col in ("rapportcijfer", "rapportcijfer_ondergrens", "rapportcijfer_bovengrens", "se",
                "p_gecorrigeerd", "oordeel"):  # fmt: skip
        assert pd.isna(small[col]), col
    assert small["onderdrukt_reden"] == "minder dan 30 respondenten"
    assert small["n"] == 12  # the size of a cell discloses nobody's answer
    # the raw line has empty fields, not 'nan' or a dash
    line = next(x for x in raw.splitlines() if x.startswith("klein,"))
    assert line == "klein,,,,,12,,,,minder dan 30 respondenten"
    # a verdict where the report gives one; the reason where it gives none
    assert data["oordeel"].tolist()[:2] == ["significant onder 7", "significant boven 7"]
    untested = data.loc[data["niveau"] == "ongetoetst"].iloc[0]
    assert pd.isna(untested["oordeel"]) and untested["oordeel_reden"] == "te weinig vrijheidsgraden"
    assert pd.isna(data.loc[0, "onderdrukt_reden"])
    # numbers unrounded: the file keeps what the report rounds
    assert data.loc[0, "rapportcijfer"] == 6.6149


def test_xlsx_has_numbers_dutch_formats_and_a_toelichting(
    published: tuple[Path, object],
) -> None:
    folder, table = published
    book = folder / "tabellen-2010-vervolgmeting.xlsx"
    wb = openpyxl.load_workbook(book)
    assert wb.sheetnames == ["toelichting", "niveaus"]
    ws = wb["niveaus"]
    header = [c.value for c in ws[1]]
    data = read_table(folder, "niveaus")
    assert header == list(data.columns)
    rows = list(ws.iter_rows(min_row=2))
    assert len(rows) == len(data)
    col = {name: i for i, name in enumerate(header)}
    for cells, (_, expected) in zip(rows, data.iterrows(), strict=True):
        score = cells[col["rapportcijfer"]]
        if pd.isna(expected["rapportcijfer"]):
            assert score.value is None
        else:
            assert isinstance(score.value, float)
            # openpyxl writes 15-16 significant digits (Excel's own precision is 15)
            assert math.isclose(score.value, expected["rapportcijfer"], rel_tol=1e-14)
            assert fmt_score(score.value) == fmt_score(expected["rapportcijfer"])
        assert score.number_format == "0.0"  # shown as 6,6 in a Dutch Excel
        assert isinstance(cells[col["n"]].value, int)
        assert cells[col["n"]].number_format == "#,##0"
        assert cells[col["p_gecorrigeerd"]].number_format == "0.000"
    small = rows[2]
    assert small[col["rapportcijfer"]].value is None
    assert small[col["onderdrukt_reden"]].value == "minder dan 30 respondenten"
    # the first sheet explains every table and every column
    text = [str(v) for row in wb["toelichting"].iter_rows(values_only=True) for v in row if v]
    assert "Tabel 1" in text
    for name in header:
        assert name in text
        assert column_doc(name) in text
    assert any("minder dan 30 respondenten" in t for t in text)
    with open(folder / "toelichting.csv", encoding="utf-8", newline="") as handle:
        lines = list(csv.reader(handle))
    assert lines[0] == ["tabel", "kolom", "betekenis", "soort"]
    assert {r[1] for r in lines[1:] if r[0] == "niveaus" and r[1]} == set(header)
    assert not (folder / MANIFEST).exists()  # the staging manifest is gone


def test_workbook_is_byte_identical_for_the_same_tables(tmp_path: Path) -> None:
    books = []
    for k in range(2):
        folder = tmp_path / f"t{k}"
        Tables(folder, min_n=MIN_N).publish(
            tables.estimate_table(_tested(), "niveau", "niveau", min_n=MIN_N), "niveaus"
        )
        books.append(write_workbook(folder, "x", "X"))
    assert books[0] and books[1]
    assert books[0].read_bytes() == books[1].read_bytes()
    assert (tmp_path / "t0" / "niveaus.csv").read_bytes() == (
        tmp_path / "t1" / "niveaus.csv"
    ).read_bytes()


def test_secondary_suppression_gives_its_own_reason() -> None:
    t = pd.DataFrame({"gemeente": ["A", "A", "A"], "estimate": [7.0, 6.0, 6.5], "n": [120, 12, 45]})
    out = suppress_small_cells(t, MIN_N, secondary_by=["gemeente"])
    assert suppression_reasons(out).tolist() == [
        "",
        "minder dan 30 respondenten",
        "af te leiden uit de andere cellen",
    ]


def test_model_table_keeps_model_estimate_but_blanks_the_small_direct(tmp_path: Path) -> None:
    cells = pd.DataFrame(
        {
            "levensgebeurtenis": ["verhuizen", "klein"],
            "estimate": [7.12, 6.43],
            "lower": [6.9, 6.0],
            "upper": [7.3, 6.9],
            "prob_ge_target": [0.86, 0.03],
            "verdict": ["onzeker", "waarschijnlijk < 7"],
            "reason": [None, None],
            "direct": [7.2, 5.1],
            "n": [80, 9],
        }
    )
    table = tables.sae_table(cells, "levensgebeurtenis", "levensgebeurtenis", min_n=MIN_N)
    folder = tmp_path / "tabellen"
    Tables(folder, min_n=MIN_N).publish(table, "cellen")
    data = read_table(folder, "cellen")
    printed = _printed(table)
    assert printed.loc[1, "direct"] == EMPTY and pd.isna(data.loc[1, "direct"])
    assert fmt_score(data.loc[0, "direct"]) == printed.loc[0, "direct"] == "7,2"
    assert data.loc[1, "modelschatting"] == 6.43  # the model estimate stays (as in the report)
    assert data.loc[1, "oordeel"] == printed.loc[1, "oordeel"] == "waarschijnlijk < 7"
    assert data.loc[1, "onderdrukt_reden"] == "minder dan 30 respondenten"


def test_model_table_marks_caution_and_gives_a_not_published_cell_no_verdict(
    tmp_path: Path,
) -> None:
    from meting.significance import REASON_NOT_PUBLISHED

    cells = pd.DataFrame(
        {
            "levensgebeurtenis": ["verhuizen", "klein", "heel klein"],
            "estimate": [7.12, 6.43, 6.2],
            "lower": [6.9, 6.0, 5.1],
            "upper": [7.3, 6.9, 7.2],
            "prob_ge_target": [0.86, 0.03, 0.1],
            "verdict": ["onzeker", "waarschijnlijk < 7", None],
            "reason": [None, None, REASON_NOT_PUBLISHED],
            "direct": [7.2, 5.1, 4.0],
            "n": [80, 9, 2],
            "publication": ["publiceren", "publiceren met voorbehoud", "niet publiceren"],
        }
    )
    table = tables.sae_table(cells, "levensgebeurtenis", "levensgebeurtenis", min_n=MIN_N)
    printed = _printed(table)
    assert printed["oordeel"].tolist() == [
        "onzeker",
        "waarschijnlijk < 7 (met voorbehoud)",
        "geen (niet publiceren)",
    ]
    html = table._repr_html_().replace("\xa0", " ")
    assert "1 rij met voorbehoud" in html and "1 rij zonder oordeel" in html
    folder = tmp_path / "tabellen"
    Tables(folder, min_n=MIN_N).publish(table, "cellen")
    data = read_table(folder, "cellen")
    assert data["publicatie"].tolist() == cells["publication"].tolist()
    assert data.loc[1, "oordeel"] == "waarschijnlijk < 7"  # the export keeps the verdict itself
    assert pd.isna(data.loc[2, "oordeel"]) and data.loc[2, "oordeel_reden"] == REASON_NOT_PUBLISHED


def test_publish_refuses_undocumented_columns_ids_and_bad_names(tmp_path: Path) -> None:
    out = Tables(tmp_path / "t", min_n=MIN_N)
    with pytest.raises(ReportError, match="documented identifiers"):
        out.publish(to_html(pd.DataFrame({"geheim": [1.0]})), "x")
    leaky = DutchTable("", data=ExportTable(pd.DataFrame({"respondent_id": ["r1"], "n": [1]})))
    with pytest.raises(ReportError, match="respondent_id"):
        out.publish(leaky, "y")
    with pytest.raises(ReportError, match="identifier"):
        out.publish(to_html(pd.DataFrame({"n": [1]})), "Met Spatie")
    with pytest.raises(ReportError, match="export data"):
        out.publish("<table></table>", "z")
    out.publish(to_html(pd.DataFrame({"n": [1]})), "eerste")
    with pytest.raises(ReportError, match="unique"):
        out.publish(to_html(pd.DataFrame({"n": [2]})), "eerste")
    # docs= documents a report's own columns (the comparison's columns per wave)
    out.publish(
        to_html(pd.DataFrame({"2008-nulmeting": [6.8]})),
        "per_meting",
        docs={"2008_nulmeting": "rapportcijfer in 2008"},
    )


def test_nothing_is_written_without_a_folder(tmp_path: Path) -> None:
    out = Tables("", min_n=MIN_N)
    out.publish(to_html(pd.DataFrame({"n": [1]})), "n_alleen")
    assert out.entries and out.folder is None
    assert write_workbook(tmp_path, "x", "X") is None


def test_headings_become_identifiers() -> None:
    assert slug("dekking 95%-interval") == "dekking_95_interval"
    assert slug("werkelijk ≥ doel") == "werkelijk_ge_doel"
    assert slug("samen\xadwerking") == "samenwerking"
    assert slug("coëfficiënt") == "coefficient"
    assert column_doc("goed_ondergrens") == "ondergrens van het 95%-interval van goed"
    assert column_doc("onbekend") is None
    assert all(slug(k) == k for k in COLUMN_DOCS)


def test_th_headers_are_marked_as_column_headers() -> None:
    parser = _Cells()
    parser.feed(str(to_html(pd.DataFrame({"a": [1], "b": ["x"]}))))
    assert parser.scopes == ["col", "col"]


# --- the section tables of the reports, on a synthetic wave --------------------------------------

WAVE = "2010-vervolgmeting"


@pytest.fixture(scope="module")
def wave_design():
    from meting.registry import load_registry
    from meting.synthetic import generate_wave
    from meting.wave_weighting import design_for_wave

    registry = load_registry()
    wave = generate_wave(registry, WAVE, n_respondents=3000)
    return registry, wave, design_for_wave(wave.respondents, registry, WAVE)[0]


def _check_against_print(table: object, checks: dict[str, tuple[str, object]], tmp: Path) -> None:
    """Publish ``table``, read its CSV back and compare each export column with the printed
    column it belongs to (formatted the report's way); suppressed rows are empty in the file and
    a dash in the report."""
    folder = tmp / "tabellen"
    Tables(folder, min_n=MIN_N).publish(table, "t")
    data = read_table(folder, "t")
    printed = _printed(table)
    assert len(data) == len(printed)
    for col, (shown, fmt) in checks.items():
        for value, text in zip(data[col], printed[shown], strict=True):
            assert fmt(value) == text, (col, value, text)
    if "onderdrukt_reden" in data:
        hidden = data["onderdrukt_reden"].notna()
        for col, (shown, _) in checks.items():
            if col != "n" and pd.api.types.is_numeric_dtype(data[col]):
                assert data.loc[hidden, col].isna().all(), col
                assert (printed.loc[hidden.to_numpy(), shown] == EMPTY).all(), col


def test_section_tables_export_what_they_print(wave_design, tmp_path: Path) -> None:
    from meting import columns as C
    from meting.report import sections as KT
    from meting.report.formatting import fmt_pct

    registry, wave, design = wave_design
    names = {k: v.name for k, v in registry.life_events.items()}
    text = str
    channels = KT.channel_table(design, min_n=MIN_N)
    _check_against_print(
        KT.channel_table_html(channels),
        {"kanaal": ("kanaal", text), "gebruik": ("gebruikt door", fmt_pct),
         "rapportcijfer": ("ketencijfer gebruikers", fmt_score), "n": ("n", fmt_int)},
        tmp_path / "kanalen",
    )  # fmt: skip
    norms = KT.select(KT.norms_table(design, min_n=MIN_N, by=C.MUNICIPALITY), C.MUNICIPALITY,
                      "GM0505")  # fmt: skip
    _check_against_print(
        KT.norms_html(norms, reference=KT.norms_table(design, min_n=MIN_N)),
        {"norm": ("norm", text), "goed": ("goed", fmt_pct), "niet_goed": ("niet goed", fmt_pct),
         "goed_landelijk": ("goed landelijk", fmt_pct), "n": ("n", fmt_int)},
        tmp_path / "normen",
    )  # fmt: skip
    trim = KT.trim_table(design, min_n=MIN_N, names={k: v.name for k, v in
                                                     registry.municipalities.items()})  # fmt: skip
    _check_against_print(
        KT.trim_html(trim),
        {"gemeente": ("gemeente", text), "trim_index": ("TRI*M-index", fmt_score),
         "n": ("n", fmt_int)},
        tmp_path / "trim",
    )  # fmt: skip
    chain = KT.municipality_chain(design, wave.organisations, "GM0505", min_n=MIN_N, names=names)
    assert chain is not None and chain[SUPPRESSED].any()  # some life events too small here
    _check_against_print(
        KT.chain_html(chain),
        {"levensgebeurtenis": ("levensgebeurtenis", text), "keten": ("keten", fmt_score),
         "samenwerking": ("samen\xadwerking", fmt_score), "n": ("n", fmt_int)},
        tmp_path / "keten",
    )  # fmt: skip
    weak = KT.weakest_table(design, min_n=MIN_N, names=names)
    _check_against_print(
        KT.weakest_html(KT.weakest_summary(weak)),
        {"levensgebeurtenis": ("levensgebeurtenis", text), "goed": ("aandeel goed", fmt_pct),
         "normen_beoordeeld": ("normen beoordeeld", fmt_int)},
        tmp_path / "zwakste",
    )  # fmt: skip
    drivers = KT.drivers_table(design, min_n=MIN_N)
    _check_against_print(
        KT.drivers_html(drivers),
        {"norm": ("norm", text), "belang": ("belang (aandeel R²)", fmt_pct)},
        tmp_path / "sleutelfactoren",
    )
