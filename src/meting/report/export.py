"""Tables to reuse: every published report table as CSV and, all together, as one XLSX workbook.

A report notebook shows a table through :meth:`Tables.publish`, which returns the table for
display and writes its numbers to the report's staging folder ``tables_dir`` (a papermill
parameter that :func:`meting.report.render.render` sets; empty when a notebook runs by hand, then
nothing is written). The renderer then calls :func:`write_workbook` and moves the folder into
place beside the report (``tabellen/``), whole or not at all.

The files:

* ``<name>.csv`` per table: UTF-8, ``,`` between fields, ``.`` as decimal sign, a header of
  stable identifiers (:data:`COLUMN_DOCS`), numbers unrounded, a suppressed value empty with the
  reason in ``onderdrukt_reden`` -- exactly the cells the report leaves out;
* ``toelichting.csv``: every table and every column with its meaning (``tabel, kolom,
  betekenis``);
* ``tabellen-<report>.xlsx``: a first sheet ``toelichting`` (what every table and column means),
  then a sheet per table with numbers as numbers in Dutch display formats (format codes such as
  ``0.0`` that Excel shows with the reader's decimal comma).

Only report tables reach a file (aggregates with suppression applied, never a respondent-level
value: :func:`meting.report.privacy.assert_no_identifiers` guards every table).
"""

from __future__ import annotations

import csv
import datetime
import json
import math
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from meting.errors import ReportError
from meting.report.privacy import assert_no_identifiers

__all__ = [
    "COLUMN_DOCS",
    "KINDS",
    "MANIFEST",
    "ExportTable",
    "Tables",
    "export_table",
    "plain_export",
    "read_table",
    "slug",
    "write_workbook",
]

#: The staging manifest the notebook writes and :func:`write_workbook` consumes.
MANIFEST = ".tabellen.json"
EXPLANATION = "toelichting"
#: Value kinds of an exported column: (Excel number format or None for text, meaning of the unit).
KINDS: dict[str, tuple[str | None, str]] = {
    "tekst": (None, "tekst"),
    "janee": (None, "ja of nee"),
    "cijfer": ("0.0", "rapportcijfer 1-10"),
    "cijfer2": ("0.00", "getal met twee decimalen"),
    "verschil": ("+0.0;-0.0;0.0", "verschil in punten"),
    "verschil2": ("+0.00;-0.00;0.00", "verschil in punten"),
    "aandeel": ("0%", "aandeel tussen 0 en 1 (in Excel als percentage)"),
    "aandeel1": ("0.0%", "aandeel tussen 0 en 1 (in Excel als percentage)"),
    "p": ("0.000", "p-waarde"),
    "aantal": ("#,##0", "aantal"),
    "getal0": ("0", "getal"),
    "getal1": ("0.0", "getal"),
    "getal2": ("0.00", "getal"),
    "getal3": ("0.000", "getal"),
    "getal": ("General", "getal"),
}
_NUMBER_KINDS = {k for k, (fmt, _) in KINDS.items() if fmt is not None}

#: Every column name a published table may have, with its meaning (the toelichting). Interval
#: bounds are ``<column>_ondergrens`` and ``<column>_bovengrens`` of a documented column.
COLUMN_DOCS: dict[str, str] = {
    # what a row is about
    "niveau": "het niveau van het oordeel (overheid, keten, organisaties, samenwerking)",
    "levensgebeurtenis": "de levensgebeurtenis (naam)",
    "organisatie": "de organisatie (naam)",
    "kanaal": "het contactkanaal",
    "norm": "de norm van de BurgerServiceCode",
    "gemeente": "de gemeente (naam)",
    "gemeentecode": "de CBS-code van de gemeente (GM + vier cijfers); leeg voor heel Nederland",
    "meting": "de meting (label uit params/waves/)",
    "maat": "wat de rij meet: 'gebruik' (aandeel, 0-1) of 'ketencijfer' (rapportcijfer 1-10)",
    "vergelijking": "wat met wat vergeleken wordt",
    "leeftijd": "leeftijdsklasse",
    "opleiding": "opleidingsniveau",
    "schatter": "de schatter: directe (ontwerpgebaseerde) schatting of modelschatting",
    "respondenten_per_cel": "klasse van het aantal respondenten per cel",
    "rang": "rangnummer (1 = hoogste prioriteit)",
    # estimates
    "rapportcijfer": "gewogen gemiddeld rapportcijfer (1-10), directe schatting",
    "se": "standaardfout van de schatting",
    "modelschatting": "kleine-domeinschatting (posterior gemiddelde, 1-10)",
    "aandeel_model": "deel van de modelschatting dat uit het model komt in plaats van uit de eigen respondenten (0-1; 1 - gamma, 1 bij een cel zonder respondenten)",
    "direct": "directe schatting uit alleen de respondenten van de cel (1-10)",
    "kans_ge_doel": "posterior kans dat het werkelijke gemiddelde ten minste het doel (7) is",
    "landelijk": "het landelijke gewogen gemiddelde (1-10)",
    "kans_hoger": "posterior kans dat de gemeente hoger scoort dan het land",
    "eerder": "de waarde in de eerdere meting",
    "meting_eerder": "de eerdere meting van het paar (label uit params/waves/)",
    "meting_later": "de latere meting van het paar (label uit params/waves/)",
    "n_eerder": "aantal respondenten in de eerdere meting",
    "n_later": "aantal respondenten in de latere meting",
    "later": "de waarde in de latere meting",
    "verschil": "verschil (later min eerder, of gemeente min vergelijking), vóór afronding",
    "verschil_90": "verschil volgens het model over de metingen, met 90%-interval",
    "kans_verbeterd": "posterior kans dat het cijfer in de latere meting hoger is (model)",
    "gebruik": "aandeel respondenten dat het kanaal gebruikte (0-1)",
    "goed": "aandeel dat de norm 'goed' of 'zeer goed' (4-5) vond (0-1)",
    "niet_goed": "aandeel dat de norm 'niet goed' of 'slecht' (1-2) vond (0-1)",
    "goed_landelijk": "landelijk aandeel 'goed' van de norm (0-1)",
    "zwakste_norm": "de norm met het laagste aandeel 'goed'",
    "ook_zwak": "nummers van de normen die niet te onderscheiden zijn van de zwakste",
    "normen_beoordeeld": "aantal normen met genoeg respondenten om te rangschikken",
    "belang": "belang van de norm: aandeel in de verklaarde variantie (R², LMG), 0-1",
    "coefficient": "regressiecoëfficiënt van de norm op het ketencijfer",
    "keten": "rapportcijfer voor de keten (1-10)",
    "samenwerking": "rapportcijfer voor de samenwerking tussen de organisaties (1-10)",
    "organisaties_samen": "gemiddeld rapportcijfer van de organisaties samen (1-10)",
    "beste_organisatie": "de organisatie met het hoogste rapportcijfer",
    "beste_organisatie_cijfer": "rapportcijfer van de beste organisatie (1-10)",
    "beste_min_keten": "rapportcijfer van de beste organisatie min dat van de keten",
    "trim_index": "TRI*M-index (klantbinding, gewogen)",
    "komt_voor_bij": "aandeel respondenten met deze levensgebeurtenis (0-1)",
    "afstand_tot_doel": "het doel (7) min het rapportcijfer",
    "prioriteit": "prioriteit = afstand tot het doel x hoe vaak de levensgebeurtenis voorkomt",
    "steekproef": "aandeel in de steekproef (ongewogen, 0-1)",
    "gewogen": "aandeel na weging (0-1)",
    "populatie": "aandeel in de bevolking (0-1)",
    # tests and verdicts
    "n": "aantal respondenten achter de waarde",
    "n_gemeente": "aantal respondenten uit de gemeente",
    "p": "p-waarde (tweezijdig, niet gecorrigeerd)",
    "p_gecorrigeerd": "p-waarde gecorrigeerd voor meervoudig toetsen (methode in de verantwoording)",
    "oordeel": "het oordeel tegen het doel of over de verandering; leeg als er geen oordeel is",
    "oordeel_reden": "waarom er geen oordeel is (leeg als er een oordeel is)",
    "publicatie": "publicatievlag van een modelschatting (params/analysis.yaml, sae_publication): 'publiceren', 'publiceren met voorbehoud' of 'niet publiceren' (geen oordeel); bij een verandering de slechtste van beide metingen",
    "onderdrukt_reden": (
        "waarom waarden in deze rij leeg zijn (te weinig respondenten, of af te leiden uit de "
        "andere cellen); leeg als niets is weggelaten"
    ),
    # weighting and model checks
    "methode": "de wegingsmethode",
    "geconvergeerd": "of de weging convergeerde",
    "iteraties": "aantal iteraties van de weging",
    "grootste_afwijking": "grootste afwijking van een populatietotaal na weging",
    "kleinste_gewicht": "kleinste gewicht",
    "grootste_gewicht": "grootste gewicht",
    "kish_deff": "design-effect door de weging (Kish)",
    "effectieve_n": "effectieve steekproefomvang",
    "respondenten": "aantal respondenten",
    "grootste_rhat": "grootste R-hat van het model (moet onder 1,01 liggen)",
    "kleinste_ess_bulk": "kleinste effectieve steekproefomvang (bulk) van het model (min. 400)",
    "kleinste_ess_staart": "kleinste effectieve steekproefomvang (staart) van het model (min. 400)",
    "divergenties": "aantal divergente overgangen van de sampler",
    "sampler": "de gebruikte sampler",
    "ketens": "aantal ketens",
    "trekkingen": "aantal trekkingen per keten",
    "uit_cache": "of de fit uit de cache kwam",
    "betrouwbaar": "of het model aan alle convergentie-eisen voldoet",
    # validation
    "cellen": "aantal cellen",
    "gemiddelde_afwijking": "gemiddelde afwijking van de werkelijke waarde (schatting min werkelijk)",
    "rmse": "wortel van de gemiddelde kwadratische afwijking van de werkelijke waarde",
    "rmse_model": "RMSE van de modelschatting",
    "rmse_direct": "RMSE van de directe schatting",
    "dekking_90": "aandeel cellen waarvan het 90%-interval de werkelijke waarde bevat",
    "dekking_95": "aandeel cellen waarvan het 95%-interval de werkelijke waarde bevat",
    "dekking_95_interval": "aandeel cellen waarvan het 95%-interval de werkelijke waarde bevat",
    "juist": "aandeel cellen waarin het oordeel juist is",
    "werkelijk_ge_doel": "aandeel cellen waarvan de werkelijke waarde ten minste het doel is",
}
_BOUNDS = {"_ondergrens": "ondergrens", "_bovengrens": "bovengrens"}
_IDENTIFIER = re.compile(r"^[a-z0-9][a-z0-9_]{0,59}$")
_NAME = re.compile(r"^[a-z0-9][a-z0-9_]{0,30}$")


def slug(text: str) -> str:
    """A printed heading as an identifier: ``'dekking 95%-interval'`` -> ``'dekking_95_interval'``."""
    text = str(text).replace("\xad", "").replace("≥", " ge ").replace("²", "2")
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


def column_doc(name: str, extra: Mapping[str, str] | None = None) -> str | None:
    """The meaning of an exported column, or None when it is not documented."""
    docs = {**COLUMN_DOCS, **(extra or {})}
    if name in docs:
        return docs[name]
    for suffix, word in _BOUNDS.items():
        base = name.removesuffix(suffix)
        if base != name and base in docs:
            return f"{word} van het 95%-interval van {base}"
    return None


@dataclass(frozen=True)
class ExportTable:
    """A table as published for reuse: stable column names, one value kind per column."""

    frame: pd.DataFrame
    kinds: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        cols = [str(c) for c in self.frame.columns]
        unknown = sorted(set(self.kinds) - set(cols))
        bad = sorted(k for k in self.kinds.values() if k not in KINDS)
        if unknown or bad or len(set(cols)) != len(cols):
            raise ReportError(
                f"an export table needs unique columns and a known kind per column; got columns "
                f"{cols}, kinds for absent columns {unknown}, unknown kinds {bad} "
                f"(kinds are {sorted(KINDS)})."
            )

    def kind(self, column: str) -> str:
        return self.kinds.get(column, "tekst")


def export_table(columns: Mapping[str, tuple[Any, str]]) -> ExportTable:
    """Build an :class:`ExportTable` from ``{name: (values, kind)}`` (values of equal length)."""
    frame = pd.DataFrame({k: _values(v) for k, (v, _) in columns.items()})
    return ExportTable(frame.reset_index(drop=True), {k: kind for k, (_, kind) in columns.items()})


def _values(v: Any) -> Any:
    return v.to_numpy() if isinstance(v, pd.Series) else v


_SPEC_KINDS = {
    "score": "cijfer",
    "int": "aantal",
    "pct": "aandeel",
    "pct1": "aandeel1",
    "p": "p",
    "diff": "verschil",
    "diff2": "verschil2",
    "text": "tekst",
}
_NAME_KINDS = {"estimate": "cijfer", "lower": "cijfer", "upper": "cijfer", "n": "aantal"}


def plain_export(
    df: pd.DataFrame,
    formats: Mapping[str, Any] | None = None,
    *,
    rename: Mapping[str, str] | None = None,
    index: bool = False,
) -> ExportTable:
    """The default export of a :func:`~meting.report.formatting.to_html` table: ``df`` with its
    printed headings as identifiers (:func:`slug`) and each column's kind from its format."""
    frame = df.reset_index() if index else df
    kinds: dict[str, str] = {}
    out: dict[str, Any] = {}
    for col in frame.columns:
        name = slug((rename or {}).get(str(col), str(col)))
        spec = (formats or {}).get(str(col))
        series = frame[col]
        if isinstance(spec, str):
            kind = _SPEC_KINDS.get(spec, "getal")
        elif isinstance(spec, int) and not isinstance(spec, bool):
            kind = f"getal{min(max(spec, 0), 3)}"
        elif spec is not None:
            kind = "getal"
        elif str(col) in _NAME_KINDS:
            kind = _NAME_KINDS[str(col)]
        elif pd.api.types.is_bool_dtype(series):
            kind = "janee"
        elif pd.api.types.is_integer_dtype(series):
            kind = "aantal"
        elif pd.api.types.is_float_dtype(series):
            kind = "cijfer"
        else:
            kind = "tekst"
        if kind in _NUMBER_KINDS and not pd.api.types.is_numeric_dtype(series):
            kind = "tekst"
        out[name] = series.to_numpy()
        kinds[name] = kind
    return ExportTable(pd.DataFrame(out), kinds) if len(out) == len(frame.columns) else _dup(out)


def _dup(out: Mapping[str, Any]) -> ExportTable:
    raise ReportError(
        f"printed headings must give distinct column names; got {sorted(out)} after slug()."
    )


def _csv_frame(table: ExportTable) -> pd.DataFrame:
    """The frame as written: booleans as ja/nee, integers without '.0', text as text."""
    out = {}
    for col in table.frame.columns:
        s = table.frame[col]
        kind = table.kind(str(col))
        if kind == "janee":
            out[col] = s.map(lambda v: "" if _missing(v) else ("ja" if bool(v) else "nee"))
        elif kind in _NUMBER_KINDS:
            num = pd.to_numeric(s, errors="raise").astype("float64")
            if kind in ("aantal", "getal0") and np.allclose(num.dropna() % 1, 0):
                out[col] = num.round().astype("Int64")
            else:
                out[col] = num
        else:
            out[col] = s.map(lambda v: "" if _missing(v) else str(v)).astype(object)
    return pd.DataFrame(out)


def _missing(v: Any) -> bool:
    if v is None or v is pd.NA:
        return True
    try:
        return bool(math.isnan(v))
    except TypeError:
        return False


class Tables:
    """The published tables of one report (in the notebook kernel).

    Parameters
    ----------
    folder
        The staging folder (the ``tables_dir`` parameter that the renderer passes); empty or None:
        tables are only displayed.
    min_n
        The minimum cell size of the report (named in the toelichting).
    """

    def __init__(self, folder: str | Path | None, *, min_n: int | None = None) -> None:
        self.folder = Path(folder) if folder else None
        self.min_n = min_n
        self.entries: list[dict[str, Any]] = []

    def publish(
        self,
        table: Any,
        name: str,
        title: str | None = None,
        *,
        docs: Mapping[str, str] | None = None,
    ) -> Any:
        """Register ``table`` (a :class:`~meting.report.formatting.DutchTable`) for export as
        ``name`` and return it for display.

        Raises
        ------
        ReportError
            When the name is not a short identifier or used twice, the table has no export
            data, a column is undocumented (:data:`COLUMN_DOCS` or ``docs``), or it carries
            respondent identifiers.
        """
        data = getattr(table, "data", None)
        if not isinstance(data, ExportTable):
            raise ReportError(
                f"a published table must carry its export data (a DutchTable from to_html or a "
                f"report table function); got {type(table).__name__} for {name!r}."
            )
        if not _NAME.match(name) or name == EXPLANATION:
            raise ReportError(
                f"a table name must be a lower-case identifier of at most 31 characters, not "
                f"{EXPLANATION!r}; got {name!r}."
            )
        if any(e["name"] == name for e in self.entries):
            raise ReportError(f"table names must be unique in a report; got {name!r} twice.")
        assert_no_identifiers(data.frame, where=f"published table {name!r}")
        columns = []
        for col in map(str, data.frame.columns):
            doc = column_doc(col, docs)
            if doc is None or not _IDENTIFIER.match(col):
                raise ReportError(
                    f"columns of published table {name!r} must be documented identifiers "
                    f"(meting.report.export.COLUMN_DOCS, or docs=); got {col!r}."
                )
            columns.append({"name": col, "kind": data.kind(col), "doc": doc})
        entry = {
            "name": name,
            "title": title or getattr(table, "caption", None) or name,
            "columns": columns,
        }
        self.entries.append(entry)
        if self.folder is not None:
            self.folder.mkdir(parents=True, exist_ok=True)
            _csv_frame(data).to_csv(
                self.folder / f"{name}.csv", index=False, encoding="utf-8", lineterminator="\n"
            )
            manifest = {"min_n": self.min_n, "tables": self.entries}
            (self.folder / MANIFEST).write_text(
                json.dumps(manifest, ensure_ascii=False, indent=1), encoding="utf-8"
            )
        return table


def read_table(folder: Path, name: str) -> pd.DataFrame:
    """Read a published CSV back (text columns as text, empty cells missing)."""
    return pd.read_csv(folder / f"{name}.csv", encoding="utf-8", keep_default_na=False,
                       na_values=[""])  # fmt: skip


def write_workbook(folder: Path, stem: str, title: str) -> Path | None:
    """Turn a staged tables folder into its final form: ``toelichting.csv`` and the workbook
    ``tabellen-<stem>.xlsx`` (built from the CSV files themselves); the staging manifest is
    removed. Returns the workbook, or None when nothing was published."""
    manifest_path = folder / MANIFEST
    if not manifest_path.is_file():
        return None
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    entries = manifest["tables"]
    with open(folder / f"{EXPLANATION}.csv", "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["tabel", "kolom", "betekenis", "soort"])
        writer.writerow(["", "", f"Tabellen bij: {title}", ""])
        for e in entries:
            writer.writerow([e["name"], "", e["title"], ""])
            for c in e["columns"]:
                writer.writerow([e["name"], c["name"], c["doc"], KINDS[c["kind"]][1]])
    target = folder / f"tabellen-{stem}.xlsx"
    _workbook(folder, entries, title, manifest.get("min_n")).save(target)
    _fix_zip_times(target)
    manifest_path.unlink()
    return target


def _workbook(folder: Path, entries: list[dict[str, Any]], title: str, min_n: int | None) -> Any:
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font

    wb = Workbook()
    fixed = datetime.datetime(2000, 1, 1)
    wb.properties.creator = "meting"
    wb.properties.created = fixed
    wb.properties.modified = fixed
    wb.properties.title = f"Tabellen bij: {title}"
    wb.properties.language = "nl-NL"
    info = wb.active
    info.title = EXPLANATION
    bold = Font(bold=True)
    rows: list[list[Any]] = [
        [f"Tabellen bij: {title}"],
        [],
        ["Elk blad is een tabel uit het rapport, met dezelfde cijfers, niet afgerond."],
        [
            "Lege cellen: waarden die het rapport niet toont"
            + (f" (minder dan {min_n} respondenten" if min_n else " (te weinig respondenten")
            + ", of af te leiden uit de andere cellen); de reden staat in onderdrukt_reden."
        ],
        [
            "Dezelfde tabellen staan als CSV (UTF-8, komma als scheidingsteken, punt als "
            "decimaalteken) in deze map; toelichting.csv bevat deze toelichting."
        ],  # fmt: skip
        [],
        ["blad", "titel"],
    ]
    header_rows = [1, 7]
    rows += [[e["name"], e["title"]] for e in entries]
    rows.append([])
    header_rows.append(len(rows) + 1)
    rows.append(["blad", "kolom", "betekenis", "soort"])
    for e in entries:
        rows += [[e["name"], c["name"], c["doc"], KINDS[c["kind"]][1]] for c in e["columns"]]
    for row in rows:
        info.append(row)
    for r in header_rows:
        for cell in info[r]:
            cell.font = bold
    for letter, width in zip("ABCD", (24, 28, 90, 30), strict=True):
        info.column_dimensions[letter].width = width
    for e in entries:
        frame = read_table(folder, e["name"])
        ws = wb.create_sheet(e["name"])
        ws.append([c["name"] for c in e["columns"]])
        for cell in ws[1]:
            cell.font = bold
            cell.alignment = Alignment(wrap_text=True)
        kinds = [c["kind"] for c in e["columns"]]
        for values in frame.itertuples(index=False):
            ws.append([_cell(v, k) for v, k in zip(values, kinds, strict=True)])
        for j, kind in enumerate(kinds, start=1):
            fmt = KINDS[kind][0]
            letter = ws.cell(row=1, column=j).column_letter
            if fmt is not None:
                for (cell,) in ws.iter_rows(min_row=2, min_col=j, max_col=j):
                    cell.number_format = fmt
            width = max([len(str(e["columns"][j - 1]["name"]))] + [
                len(str(v)) for v in frame.iloc[:, j - 1].head(200) if not _missing(v)
            ])  # fmt: skip
            ws.column_dimensions[letter].width = min(max(10, width + 2), 60)
        ws.freeze_panes = "A2"
    return wb


def _cell(value: Any, kind: str) -> Any:
    if _missing(value):
        return None
    if kind in _NUMBER_KINDS:
        number = float(value)
        return int(number) if kind in ("aantal", "getal0") and number.is_integer() else number
    return str(value)


def _fix_zip_times(path: Path) -> None:
    """Rewrite the workbook's zip with fixed member times and a fixed modification date, so the
    same tables give the same bytes (openpyxl stamps the current time on save)."""
    import zipfile

    with zipfile.ZipFile(path) as src:
        members = [(info.filename, src.read(info)) for info in src.infolist()]
    stamp = rb"\g<1>2000-01-01T00:00:00Z\g<2>"
    members = [
        (name, re.sub(rb"(<dcterms:modified[^>]*>)[^<]*(</dcterms:modified>)", stamp, data))
        if name == "docProps/core.xml"
        else (name, data)
        for name, data in members
    ]
    staging = path.with_name(f".{path.name}.tmp")
    with zipfile.ZipFile(staging, "w", compression=zipfile.ZIP_DEFLATED) as dst:
        for name, data in members:
            info = zipfile.ZipInfo(name, date_time=(2000, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            dst.writestr(info, data)
    staging.replace(path)
