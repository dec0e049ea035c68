"""The index page of the report folder: every report with its PDF and its tables, and per
municipality the headline figure and verdict in one table (read from the municipality report's
published tables, so the index shows exactly what the reports publish)."""

from __future__ import annotations

import datetime
import os
import uuid
from pathlib import Path
from typing import Any

from meting.report.formatting import EMPTY, fmt_ci, fmt_date, fmt_score, html_text
from meting.report.render import TABLES_DIR

__all__ = [
    "COMPARISON_DIR",
    "MUNICIPALITY_DIR",
    "MUNICIPALITY_HEADLINE",
    "VALIDATION_DIR",
    "wave_title",
    "write_index",
]

COMPARISON_DIR = "vergelijking"
VALIDATION_DIR = "validatie"
MUNICIPALITY_DIR = "gemeenten"
#: The published table of a municipality report whose figure heads the index (the municipality
#: as a whole: model estimate of the chain mark and its verdict; ``30_municipality_report.py``).
MUNICIPALITY_HEADLINE = "gemeente_geheel"


def wave_title(wave: Any) -> str:
    """``Vervolgmeting 2010 (2010-vervolgmeting)``."""
    return f"{str(wave.kind).capitalize()} {wave.year} ({wave.label})"


def _link(path: Path, out_dir: Path, text: str) -> str:
    rel = path.relative_to(out_dir).as_posix()
    return f'<a href="{html_text(rel)}">{html_text(text)}</a>'


def _tables_folder(folder: Path, stem: str) -> Path:
    return folder / TABLES_DIR if stem == "index" else folder / stem / TABLES_DIR


def _table_links(out_dir: Path, folder: Path, stem: str, *, short: bool = False) -> list[str]:
    """Links to a report's tables: the workbook and the folder of CSV files."""
    tables = _tables_folder(folder, stem)
    books = sorted(tables.glob("*.xlsx")) if tables.is_dir() else []
    if not books:
        return []
    rel = tables.relative_to(out_dir).as_posix() + "/"
    xlsx, csv = ("xlsx", "csv") if short else ("tabellen (xlsx)", "tabellen (csv)")
    return [_link(books[0], out_dir, xlsx), f'<a href="{html_text(rel)}">{html_text(csv)}</a>']


def _entry(out_dir: Path, folder: Path, stem: str, title: str) -> str | None:
    page = folder / f"{stem}.html"
    if not page.is_file():
        return None
    links = [_link(page, out_dir, title)]
    extra = []
    pdf = folder / f"{stem}.pdf"
    if pdf.is_file():
        extra.append(_link(pdf, out_dir, "pdf"))
    extra += _table_links(out_dir, folder, stem)
    if extra:
        links.append("(" + ", ".join(extra) + ")")
    return "<li>" + " ".join(links) + "</li>"


def _headline(folder: Path, code: str) -> dict[str, str]:
    """The headline figure of a municipality report, read from its published table."""
    from meting.report.export import read_table

    tables = _tables_folder(folder, code)
    if not (tables / f"{MUNICIPALITY_HEADLINE}.csv").is_file():
        return {"cijfer": EMPTY, "interval": EMPTY, "oordeel": EMPTY}
    row = read_table(tables, MUNICIPALITY_HEADLINE).iloc[0]

    def get(name: str) -> Any:
        value = row.get(name)
        return None if value is None or (isinstance(value, float) and value != value) else value

    verdict = get("oordeel") or get("oordeel_reden")
    return {
        "cijfer": fmt_score(get("modelschatting")),
        "interval": fmt_ci(get("modelschatting_ondergrens"), get("modelschatting_bovengrens")),
        "oordeel": str(verdict) if verdict is not None else EMPTY,
    }


def _municipality_table(registry: Any, out_dir: Path, wave: Any) -> str | None:
    """One table of a wave's municipality reports: name, code, headline figure, verdict, links."""
    folder = out_dir / wave.label / MUNICIPALITY_DIR
    rows = []
    for code, mun in sorted(registry.municipalities.items(), key=lambda kv: kv[1].name):
        page = folder / f"{code}.html"
        if not page.is_file():
            continue
        head = _headline(folder, code)
        links = [_link(page, out_dir, "rapport")]
        if (folder / f"{code}.pdf").is_file():
            links.append(_link(folder / f"{code}.pdf", out_dir, "pdf"))
        links += _table_links(out_dir, folder, code, short=True)
        rows.append(
            f'<tr><th scope="row">{html_text(mun.name)}</th><td>{html_text(code)}</td>'
            f'<td class="num">{html_text(head["cijfer"])}</td>'
            f'<td class="num">{html_text(head["interval"])}</td>'
            f"<td>{html_text(head['oordeel'])}</td><td>{', '.join(links)}</td></tr>"
        )
    if not rows:
        return None
    return (
        f"<h2>Gemeenten, {html_text(wave_title(wave))}</h2>"
        '<table class="municipalities"><caption>Keten, alle levensgebeurtenissen samen '
        "(modelschatting), per gemeente</caption><thead><tr>"
        '<th scope="col">gemeente</th><th scope="col">code</th>'
        '<th scope="col">rapportcijfer</th><th scope="col">95%-interval</th>'
        '<th scope="col">oordeel</th><th scope="col">bestanden</th>'
        "</tr></thead><tbody>" + "".join(rows) + "</tbody></table>"
    )


def write_index(registry: Any, out_dir: Path, now: datetime.date | None = None) -> Path:
    """Write ``<out_dir>/index.html`` linking every report that exists on disk (atomically)."""
    now = now or datetime.date.today()
    sections: list[str] = []
    waves = sorted(registry.waves.values(), key=lambda w: (w.year, w.label))
    items = [_entry(out_dir, out_dir / w.label, "index", wave_title(w)) for w in waves]
    items += [
        _entry(out_dir, out_dir / COMPARISON_DIR, "index", "Vergelijking van de metingen"),
        _entry(out_dir, out_dir / VALIDATION_DIR, "index", "Validatie van de modellen"),
    ]
    sections.append("<h2>Rapportages</h2><ul>" + "".join(i for i in items if i) + "</ul>")
    for wave in waves:
        table = _municipality_table(registry, out_dir, wave)
        if table:
            sections.append(table)
    synthetic = [w.label for w in waves if w.source == "synthetic"]
    notice = (
        '<p class="synthetic"><strong>Let op: synthetische gegevens.</strong> De metingen '
        f"{html_text(', '.join(synthetic))} zijn gesimuleerd (vast willekeurig startgetal of seed, afgestemd op de "
        "gepubliceerde cijfers); aantallen en uitkomsten zijn niet die van een echte enquête.</p>"
        if synthetic
        else ""
    )
    page = f"""<!DOCTYPE html>
<html lang="nl">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Een 7 voor dienstverlening: rapportages</title>
<style>
body {{ font-family: "DejaVu Sans", Arial, sans-serif; max-width: 46em; margin: 2em auto;
       padding: 0 1em; color: #1a1a1a; line-height: 1.45; }}
h1, h2 {{ color: #154273; }}
li {{ margin: 0.2em 0; }}
.note {{ color: #5c5c5c; font-size: 0.9em; }}
.synthetic {{ border: 2px solid #b35900; background: #fff4e5; padding: 0.6em 1em; }}
table.municipalities {{ border-collapse: collapse; font-size: 0.9em; margin: 0.5em 0 1.5em 0; }}
table.municipalities caption {{ text-align: left; font-weight: bold; color: #154273;
       padding-bottom: 0.3em; }}
table.municipalities th, table.municipalities td {{ padding: 0.25em 0.6em; text-align: left;
       vertical-align: top; }}
table.municipalities thead {{ border-bottom: 1.5px solid #154273; }}
table.municipalities tbody th {{ font-weight: normal; }}
table.municipalities .num {{ text-align: right; font-variant-numeric: tabular-nums; }}
</style>
</head>
<body>
<h1>Een 7 voor dienstverlening</h1>
<p>Beoordeling van de overheidsdienstverlening rond levensgebeurtenissen, tegen het doel van het
kabinet: een 7. Elke rapportage is er als webpagina en als pdf, met de tabellen om verder mee te
werken (een Excel-werkmap en een map met CSV-bestanden, met toelichting); de uitgevoerde notebooks
staan ernaast.</p>
{notice}
{"".join(sections)}
<p class="note">Overzicht bijgewerkt op {fmt_date(now)}.</p>
</body>
</html>
"""
    target = out_dir / "index.html"
    staging = out_dir / f".index-{uuid.uuid4().hex}.html"
    staging.write_text(page, encoding="utf-8")
    os.replace(staging, target)
    return target
