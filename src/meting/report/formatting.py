"""Dutch number, date and table formatting for reports, independent of the operating system locale.

Numbers are formatted only at render time (the estimate tables stay numeric). Conventions follow the
Dutch Taalunie advice: decimal comma, a full stop between thousands (``1.234,5``), ``%`` right after
the number, and an en dash ``–`` for an empty or suppressed cell.

Examples
--------
>>> fmt_score(7.0)
'7,0'
>>> fmt_number(1234.5, 1)
'1.234,5'
>>> fmt_date(datetime.date(2010, 3, 1))
'1 maart 2010'
"""

from __future__ import annotations

import datetime
import html
import math
from collections.abc import Callable, Mapping
from decimal import ROUND_HALF_UP, Decimal
from numbers import Real
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from meting.errors import ReportError
from meting.report.privacy import assert_no_identifiers

if TYPE_CHECKING:
    from pandas.io.formats.style import Styler

__all__ = [
    "EMPTY",
    "MONTHS_NL",
    "DutchTable",
    "dutch_styler",
    "count_noun",
    "count_plural",
    "fmt_ci",
    "fmt_date",
    "fmt_datetime",
    "fmt_diff",
    "fmt_int",
    "fmt_number",
    "fmt_p",
    "fmt_pct",
    "fmt_score",
    "format_frame",
    "html_text",
    "to_html",
]

EMPTY = "–"  # en dash: the printed value of a missing or suppressed cell
MINUS = "-"  # plain hyphen-minus, so a copied figure still pastes as a number

MONTHS_NL = (
    "januari",
    "februari",
    "maart",
    "april",
    "mei",
    "juni",
    "juli",
    "augustus",
    "september",
    "oktober",
    "november",
    "december",
)
WEEKDAYS_NL = ("maandag", "dinsdag", "woensdag", "donderdag", "vrijdag", "zaterdag", "zondag")


def _is_missing(x: Any) -> bool:
    if x is None or x is pd.NA or x is pd.NaT:
        return True
    try:
        return bool(math.isnan(x))
    except TypeError:
        return False


def html_text(value: Any) -> str:
    """Text from data or parameters, escaped for HTML (``<``, ``>``, ``&`` and both quotes).

    Use it for every name, code or label put into report HTML by hand (``HTML(f"...")``);
    :func:`to_html` and the section tables escape their cells and captions themselves.

    >>> html_text("<script>alert(1)</script>Dordrecht")
    '&lt;script&gt;alert(1)&lt;/script&gt;Dordrecht'
    """
    return html.escape("" if value is None else str(value), quote=True)


def fmt_number(x: float | None, decimals: int = 1, *, thousands: bool = True) -> str:
    """Format a number the Dutch way: decimal comma and ``.`` between thousands.

    Parameters
    ----------
    x
        The number; ``None``/NaN gives :data:`EMPTY`.
    decimals
        Digits after the comma (rounded half away from zero: ``6.95 -> '7,0'``).
    thousands
        Put a full stop between groups of three digits (``1.234``).

    Returns
    -------
    str
        For example ``fmt_number(1234.5) == '1.234,5'`` and ``fmt_number(-0.04) == '0,0'``.
    """
    if _is_missing(x):
        return EMPTY
    if not isinstance(x, Real | np.number):
        raise ReportError(f"a number to format must be numeric; got {x!r} ({type(x).__name__}).")
    if math.isinf(float(x)):
        return MINUS + "∞" if x < 0 else "∞"
    # Round half away from zero on the shortest decimal form of the float (6.95 -> 7,0, as a
    # reader rounds), not half-to-even on the binary value (which gives 6,9).
    value = Decimal(repr(float(x))).quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)
    text = format(value, f"{',' if thousands else ''}.{decimals}f")
    # Python's "," grouping and "." decimal -> swap to Dutch in one pass.
    text = text.translate(str.maketrans({",": ".", ".": ","}))
    if text.startswith("-") and not any(c not in "-0,." for c in text):
        text = text[1:]  # "-0,0" reads as a real negative; print "0,0"
    return text


def fmt_score(x: float | None) -> str:
    """A rapportcijfer with one decimal: ``fmt_score(7.0) == '7,0'``."""
    return fmt_number(x, 1)


def fmt_int(x: float | None) -> str:
    """A count with thousands separator: ``fmt_int(12345) == '12.345'``."""
    if x is None or _is_missing(x):
        return EMPTY
    return fmt_number(round(float(x)), 0)


def fmt_pct(x: float | None, decimals: int = 0, *, ratio: bool = True) -> str:
    """A percentage, ``56%`` or ``12,5%``.

    Parameters
    ----------
    x
        The value; a proportion in [0, 1] when ``ratio`` is true, else already in percent.
    decimals
        Digits after the comma.
    ratio
        Multiply by 100 first.
    """
    if x is None or _is_missing(x):
        return EMPTY
    value = float(x) * 100.0 if ratio else float(x)
    return fmt_number(value, decimals) + "%"


def fmt_p(p: float | None, *, decimals: int = 3) -> str:
    """A p-value: ``0,034``, or ``< 0,001`` below the smallest printable value."""
    if p is None or _is_missing(p):
        return EMPTY
    p = float(p)
    if not 0.0 <= p <= 1.0:
        raise ReportError(f"a p-value must lie in [0, 1]; got {p!r}.")
    floor = 10.0**-decimals
    if p < floor:
        return "< " + fmt_number(floor, decimals)
    return fmt_number(p, decimals)


def fmt_diff(x: float | None, decimals: int = 1) -> str:
    """A signed difference: ``+0,3``, ``-0,2``, ``0,0``."""
    if _is_missing(x):
        return EMPTY
    text = fmt_number(x, decimals)
    if not text.startswith(MINUS) and any(c not in "0,." for c in text):
        text = "+" + text
    return text


def fmt_ci(lower: float | None, upper: float | None, decimals: int = 1) -> str:
    """An interval, ``6,8 – 7,2`` (no comma as separator, since the comma is the decimal sign).

    An interval narrower than the rounding (``6,58 – 6,63``) gets one decimal more, so its two
    ends never print as the same number.
    """
    if _is_missing(lower) or _is_missing(upper):
        return EMPTY
    lo, hi = fmt_number(lower, decimals), fmt_number(upper, decimals)
    if lo == hi and float(upper) > float(lower):  # type: ignore[arg-type]
        return fmt_ci(lower, upper, decimals + 1)
    return f"{lo} – {hi}"


def fmt_date(d: datetime.date | datetime.datetime | str, *, weekday: bool = False) -> str:
    """A date in Dutch: ``1 maart 2010`` (``maandag 1 maart 2010`` with ``weekday``).

    Does not use the OS locale (``strftime('%B')`` would give English on a bare machine).
    """
    if isinstance(d, str):
        d = datetime.date.fromisoformat(d)
    text = f"{d.day} {MONTHS_NL[d.month - 1]} {d.year}"
    return f"{WEEKDAYS_NL[d.weekday()]} {text}" if weekday else text


def fmt_datetime(d: datetime.datetime) -> str:
    """A date and time in Dutch: ``23 november 2026, 14:05``."""
    return f"{fmt_date(d)}, {d.hour:02d}:{d.minute:02d}"


# --- words ------------------------------------------------------------------------------------

#: Singular of the plural nouns the reports count (for :func:`count_plural`).
SINGULARS: dict[str, str] = {
    "levensgebeurtenissen": "levensgebeurtenis",
    "organisaties": "organisatie",
    "gemeenten": "gemeente",
    "niveaus": "niveau",
    "kanalen": "kanaal",
    "normen": "norm",
    "cellen": "cel",
    "rijen": "rij",
    "respondenten": "respondent",
    "metingen": "meting",
    "groepen": "groep",
}


def count_noun(n: int, singular: str, plural: str) -> str:
    """``1 levensgebeurtenis``, ``3 levensgebeurtenissen`` (Dutch number agreement; thousands
    separator): the one plural helper of the reports."""
    return f"{fmt_int(n)} {singular if n == 1 else plural}"


def count_plural(n: int, plural: str) -> str:
    """:func:`count_noun` from the plural alone, the singular of its first word looked up in
    :data:`SINGULARS` (a word not listed stays as it is): ``count_plural(1, "gemeenten") ==
    "1 gemeente"``, ``count_plural(2, "gemeenten") == "2 gemeenten"``."""
    first, _, rest = plural.partition(" ")
    singular = SINGULARS.get(first, first) + (" " + rest if rest else "")
    return count_noun(n, singular, plural)


# --- tables -----------------------------------------------------------------------------------

Formatter = Callable[[Any], str]

#: Default formatters by column name, used when no explicit format is given.
DEFAULT_FORMATS: dict[str, Formatter] = {
    "estimate": fmt_score,
    "se": lambda x: fmt_number(x, 2),
    "df": lambda x: fmt_number(x, 0),
    "lower": fmt_score,
    "upper": fmt_score,
    "deff": lambda x: fmt_number(x, 2),
    "n": fmt_int,
    "p": fmt_p,
    "p_value": fmt_p,
    "p_adjusted": fmt_p,
    "sd": lambda x: fmt_number(x, 2),
    "direct": fmt_score,
    "direct_se": lambda x: fmt_number(x, 2),
    "prob_ge_target": lambda x: fmt_pct(x, 0),
}


def _formatter_for(column: str, series: pd.Series, spec: Formatter | str | int | None) -> Formatter:
    if callable(spec):
        return spec
    if isinstance(spec, int) and not isinstance(spec, bool):
        digits = spec
        return lambda x: fmt_number(x, digits)
    if isinstance(spec, str):
        named: dict[str, Formatter] = {
            "score": fmt_score,
            "int": fmt_int,
            "pct": fmt_pct,
            "pct1": lambda x: fmt_pct(x, 1),
            "p": fmt_p,
            "diff": fmt_diff,
            "diff2": lambda x: fmt_diff(x, 2),
            "text": lambda x: EMPTY if _is_missing(x) else str(x),
        }
        if spec not in named:
            raise ReportError(
                f"a column format must be one of {sorted(named)}, an int or a callable; "
                f"got {spec!r} for column {column!r}."
            )
        return named[spec]
    if column in DEFAULT_FORMATS:
        return DEFAULT_FORMATS[column]
    if pd.api.types.is_bool_dtype(series):
        return lambda x: EMPTY if _is_missing(x) else ("ja" if x else "nee")
    if pd.api.types.is_integer_dtype(series):
        return fmt_int
    if pd.api.types.is_float_dtype(series):
        return fmt_score
    return lambda x: EMPTY if _is_missing(x) else str(x)


def format_frame(
    df: pd.DataFrame,
    formats: Mapping[str, Formatter | str | int] | None = None,
) -> pd.DataFrame:
    """Return a copy of ``df`` with every cell a Dutch-formatted string.

    Parameters
    ----------
    df
        A numeric (estimate) table.
    formats
        Per column: a callable, a number of decimals, or a name (``"score"``, ``"int"``,
        ``"pct"``, ``"pct1"``, ``"p"``, ``"diff"``, ``"text"``). Columns not named use
        :data:`DEFAULT_FORMATS` by name, then the dtype (integers with thousands separator, floats
        with one decimal).

    Raises
    ------
    ReportError
        If the table holds a respondent identifier column.
    """
    assert_no_identifiers(df)
    formats = dict(formats or {})
    unknown = sorted(set(formats) - {str(c) for c in df.columns})
    if unknown:
        raise ReportError(
            f"formats must name columns of the table; got {unknown}, columns are "
            f"{[str(c) for c in df.columns]}."
        )
    out = {}
    for col in df.columns:
        fmt = _formatter_for(str(col), df[col], formats.get(str(col)))
        out[col] = df[col].map(fmt, na_action=None).astype(object)
    return pd.DataFrame(out, index=df.index)


class DutchTable:
    """A formatted table that renders as HTML in a notebook (``_repr_html_``).

    Made by :func:`to_html`; ``str(table)`` gives the HTML too. ``data`` is the table as
    published for reuse (:class:`meting.report.export.ExportTable`: numbers as numbers, stable
    column names, suppressed cells empty), ``caption`` its caption.
    """

    def __init__(self, html: str, data: Any = None, caption: str | None = None) -> None:
        self.html = html
        self.data = data
        self.caption = caption

    def _repr_html_(self) -> str:
        return self.html

    def __str__(self) -> str:
        return self.html


#: Column headings whose values are kept on one line (intervals, changes, probabilities):
#: ``-0,08 –`` / ``+0,18`` split over lines reads as two values. Only a space before ``(`` may
#: still break, so a wide table (``+0,4 (+0,3 tot +0,6)``) fits its page.
NOWRAP_HEADINGS = ("interval", "→", "kans", "verschil")
#: Column headings of verdicts: they may wrap between words, but a threshold stays with its
#: comparison ("significant boven 7" never ends a line with "boven").
VERDICT_HEADINGS = ("oordeel",)
NBSP = "\u00a0"


def _nowrap(heading: str) -> bool:
    return any(word in heading for word in NOWRAP_HEADINGS)


def glue_value(text: str) -> str:
    """Non-breaking spaces in a printed value, except before an opening bracket:
    ``6,7 – 6,8`` never wraps, ``+0,4 (+0,3 tot +0,6)`` only before ``(``."""
    glued = NBSP.join(part for part in text.split(" ")).replace(NBSP + "(", " (")
    # a dash allows a break after it, also before a non-breaking space: join it (U+2060)
    return glued.replace("–" + NBSP, "–\u2060" + NBSP)


def glue_threshold(text: str) -> str:
    """Non-breaking spaces that keep a verdict's threshold with its words: ``significant
    boven 7`` -> ``significant boven\u00a07``, ``waarschijnlijk ≥ 7`` -> ``waarschijnlijk\u00a0≥\u00a07``."""
    import re

    text = re.sub(r"([<>≥≤]) (\d)", "\\1" + NBSP + "\\2", text)
    glued = re.sub(r" (?=[<>≥≤]?" + NBSP + r"?\d+(?:,\d+)?\)?$)", NBSP, text)
    if glued == text and " " in text.strip():  # no threshold: the last word not alone on a line
        head, _, last = text.rpartition(" ")
        glued = head + NBSP + last
    return glued


def to_html(
    df: pd.DataFrame,
    formats: Mapping[str, Formatter | str | int] | None = None,
    *,
    rename: Mapping[str, str] | None = None,
    caption: str | None = None,
    note: str | None = None,
    index: bool = False,
    data: Any = None,
) -> DutchTable:
    """Format a whole table the Dutch way and return it as report HTML.

    Parameters
    ----------
    df
        The numeric table.
    formats
        See :func:`format_frame`.
    rename
        Column headings to print (for example ``{"estimate": "Rapportcijfer"}``).
    caption
        A caption above the table.
    note
        A note under the table (for example the suppression note).
    index
        Print the index as well.
    data
        The table as published for reuse (an :class:`meting.report.export.ExportTable`); by
        default ``df`` itself, its printed headings turned into identifiers
        (:func:`meting.report.export.plain_export`).

    Returns
    -------
    DutchTable
        Displays as a styled HTML table in the report; headings are ``<th scope="col">``.
    """
    text = format_frame(df, formats)
    headings = [str((rename or {}).get(str(c), c)) for c in df.columns]
    numeric = [pd.api.types.is_numeric_dtype(df[c].dtype) for c in df.columns]
    cls = ['class="num"' if num else 'class="txt"' for num in numeric]
    parts = ['<table class="meting-table">']
    if caption:
        parts.append(f"<caption>{html.escape(caption)}</caption>")
    head = "".join(
        f'<th scope="col" {c}>{html.escape(h)}</th>' for c, h in zip(cls, headings, strict=True)
    )
    if index:
        head = f'<th scope="col">{html.escape(str(df.index.name or ""))}</th>' + head
    parts.append(f"<thead><tr>{head}</tr></thead><tbody>")
    text = text.copy()
    for col, h in zip(text.columns, headings, strict=True):
        if h in VERDICT_HEADINGS:
            text[col] = text[col].map(lambda v: glue_threshold(str(v)))
        elif _nowrap(h):
            text[col] = text[col].map(lambda v: glue_value(str(v)))
    for label, row in zip(text.index, text.itertuples(index=False), strict=True):
        cells = "".join(
            f"<td {c}>{html.escape(str(v))}</td>" for c, v in zip(cls, row, strict=True)
        )
        if index:
            cells = f'<th scope="row">{html.escape(str(label))}</th>' + cells
        parts.append(f"<tr>{cells}</tr>")
    parts.append("</tbody></table>")
    if note:
        parts.append(f'<p class="meting-note">{html.escape(note)}</p>')
    if data is None:
        from meting.report.export import plain_export

        data = plain_export(df, formats, rename=rename, index=index)
    return DutchTable("\n".join(parts), data=data, caption=caption)


def dutch_styler(
    df: pd.DataFrame, precision: int = 1, *, formats: Mapping[str, Formatter] | None = None
) -> Styler:
    """A pandas ``Styler`` with Dutch decimals, thousands separators and ``–`` for missing.

    Use it where a styled table (colours, bars) is wanted; :func:`to_html` covers plain tables.
    """
    assert_no_identifiers(df)
    styler = df.style.format(
        precision=precision,
        decimal=",",
        thousands=".",
        na_rep=EMPTY,
        formatter=dict(formats) if formats is not None else None,
    )
    return styler.hide(axis="index")
