"""The sentences of the comparison over time, generated from the change tables: the Samenvatting
lines of the comparison report per family (:func:`family_sentence`), a municipality's trend line
(:func:`trend_sentence`) and the *Verantwoording* of the comparison (:func:`comparison_methods`).

The verdicts are those of :func:`meting.comparison.compare_waves` (read with
:func:`meting.report.summary.direction`), so no sentence can disagree with its table.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from meting.report import Note

if TYPE_CHECKING:
    from meting.comparison_analysis import Comparison

from meting.report.formatting import fmt_ci, fmt_diff, fmt_int, fmt_number, fmt_score
from meting.report.summary import (
    ABOVE,
    ADJUSTMENT_NAMES,
    BELOW,
    NEUTRAL,
    NONE,
    count_noun,
    direction,
    join_names,
)

__all__ = [
    "comparison_methods",
    "family_sentence",
    "fmt_change",
    "linked_sentence",
    "trend_sentence",
]


def fmt_change(x: float, kind: str = "score") -> str:
    """A change as the over-time tables print it: ``+0,21`` (marks, two decimals, computed before
    rounding) or ``+2,6 procentpunt`` (shares, one decimal more than the whole percents)."""
    if kind == "share":
        return f"{fmt_diff(100.0 * x, 1)} procentpunt"
    return fmt_diff(x, 2)


def family_sentence(
    changes: Mapping[tuple[str, str], pd.DataFrame],
    *,
    name: str,
    subject: str,
    singular: str,
    plural: str,
    kind: str = "score",
    short: Mapping[str, str] | None = None,
) -> str:
    """One sentence on a family over the waves (``changes``: ``(earlier, later)`` -> the table of
    :func:`meting.pipeline.wave_changes`, the whole period last): over the whole period how many
    rows improved, worsened or show no demonstrable difference, naming those that changed, then
    the counts between consecutive waves. Rows without a test are counted apart."""
    short = dict(short or {})
    if not changes:
        return f"{subject}: geen twee metingen om te vergelijken."
    pairs = list(changes)
    whole = pairs[-1]
    w = lambda p: f"{short.get(p[0], p[0])} naar {short.get(p[1], p[1])}"  # noqa: E731

    def counts(table: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, int, int]:
        d = table["verdict"].map(direction)
        return (
            table[d == ABOVE],
            table[d == BELOW],
            int((d == NEUTRAL).sum()),
            int((d == NONE).sum()),
        )

    up, down, same, none = counts(changes[whole])
    tested = len(up) + len(down) + same
    text = (
        f"{subject}: van {w(whole)} {fmt_int(len(up))} verbeterd, {fmt_int(len(down))} "
        f"verslechterd en {fmt_int(same)} zonder aantoonbaar verschil (van de "
        f"{count_noun(tested, singular, plural)} met een toets)."
    )
    for label, rows in (("Verbeterd", up), ("Verslechterd", down)):
        if len(rows):
            named = [f"{r[name]} ({fmt_change(r['estimate'], kind)})" for _, r in rows.iterrows()]
            text += f" {label}: {join_names(named)}."
    if none:
        text += (
            f" {count_noun(none, singular, plural).capitalize()} zonder toets (te weinig "
            "respondenten of niet in beide metingen)."
        )
    steps = []
    for p in pairs[:-1] if len(pairs) > 1 else []:
        u, d_, _, _ = counts(changes[p])
        steps.append(f"van {w(p)} {fmt_int(len(u))} verbeterd en {fmt_int(len(d_))} verslechterd")
    if steps:
        text += " Tussen opeenvolgende metingen: " + "; ".join(steps) + "."
    return text


def linked_sentence(
    tables: Sequence[tuple[pd.DataFrame, str, str]],
    *,
    short: Mapping[str, str] | None = None,
) -> str:
    """The Samenvatting line of the model over the waves: per ``(table, singular, plural)`` (from
    :func:`meting.linked_trends.linked_changes`) how many rows improved, worsened or show no
    demonstrable difference, naming those that changed; model predictions are counted apart."""
    from meting.linked_trends import REASON_BENCHMARKED

    short = dict(short or {})
    if not tables or tables[0][0].empty:
        return "Model over de metingen: geen veranderingen."
    first = tables[0][0]
    a, b = str(first["wave_earlier"].iloc[0]), str(first["wave_later"].iloc[0])
    parts: list[str] = []
    skipped = ""
    for table, singular, plural in tables:
        d = table["verdict"].map(direction)
        up, down = table[d == ABOVE], table[d == BELOW]
        benchmarked = (
            table["reason"].eq(REASON_BENCHMARKED).to_numpy(dtype=bool)
            if "reason" in table.columns
            else np.zeros(len(table), dtype=bool)
        )
        if len(table) and benchmarked.all():
            skipped = plural  # benchmarked life events: their verdict is the direct test's
            continue
        same, none = int((d == NEUTRAL).sum()), int(((d == NONE) & ~benchmarked).sum())
        text = (
            f"van de {count_noun(len(up) + len(down) + same, singular, plural)} "
            f"{fmt_int(len(up))} verbeterd, {fmt_int(len(down))} verslechterd en "
            f"{fmt_int(same)} zonder aantoonbaar verschil"
        )
        named = [
            f"{label} "
            + join_names(
                [
                    f"{n} ({fmt_change(float(e))})"
                    for n, e in zip(rows["naam"], rows["estimate"], strict=True)
                ]
            )
            for label, rows in (("verbeterd:", up), ("verslechterd:", down))
            if 0 < len(rows) <= 5
        ]
        if named:
            text += " (" + "; ".join(named) + ")"
        if none:
            text += f", {count_noun(none, singular, plural)} alleen als modelvoorspelling"
        parts.append(text)
    if skipped:
        parts.append(
            f"de {skipped} zijn gebenchmarkt: hun verandering en oordeel zijn die van de directe "
            "schattingen"
        )
    return (
        f"Model over de metingen, van {short.get(a, a)} naar {short.get(b, b)}: "
        + "; ".join(parts)
        + "."
    )


def trend_sentence(
    name: str,
    estimates: pd.DataFrame,
    changes: Mapping[tuple[str, str], pd.DataFrame],
    *,
    min_n: int,
    short: Mapping[str, str] | None = None,
) -> str:
    """A municipality's trend in one sentence (:func:`meting.trends.municipality_trend`): the
    chain mark per wave with its interval, then the verdict over the whole period."""
    short = dict(short or {})
    if estimates.empty:
        return f"{name} komt in geen van de metingen voor."
    chain = estimates.loc[estimates["variable"] == "score_chain"]
    marks = [
        f"{fmt_score(r['estimate'])} in {short.get(r['meting'], r['meting'])}"
        if r["n"] >= min_n
        else f"niet getoond in {short.get(r['meting'], r['meting'])} (te weinig respondenten)"
        for _, r in chain.iterrows()
    ]
    text = f"Door de metingen heen (directe schatting): keten {', '.join(marks)}"
    if not changes:
        return text + "."
    a, b = list(changes)[-1]
    row = changes[(a, b)]
    row = row.loc[row["variable"] == "score_chain"]
    period = f"van {short.get(a, a)} naar {short.get(b, b)}"
    if row.empty or direction(row["verdict"].iloc[0]) == NONE:
        return text + f"; {period} is het verschil niet getoetst (te weinig respondenten)."
    r = row.iloc[0]
    verdict = {ABOVE: "verbeterd", BELOW: "verslechterd"}.get(
        direction(r["verdict"]), "geen aantoonbaar verschil"
    )
    return (
        text + f"; {period}: {verdict} ({fmt_change(r['estimate'])}, 95%-interval "
        f"{fmt_ci(r['lower'], r['upper'], 2)})."
    )


def comparison_methods(
    *,
    confidence: float,
    adjustment: str,
    min_n: int,
    waves: Sequence[str],
    synthetic: bool,
) -> Note:
    """The *Verantwoording* of the comparison report, written from the settings."""
    alpha = fmt_number(1 - confidence, 2)
    level = f"{confidence:.0%}"
    items = [
        (
            "Gegevens",
            f"{count_noun(len(waves), 'meting', 'metingen')} ({join_names(list(waves))}), elk een "
            "eigen, onafhankelijke steekproef, gewogen zoals in het rapport van die meting"
            + (" (synthetische steekproeven, zie het kader bovenaan)" if synthetic else "")
            + ". 'Landelijk' is het gewogen gemiddelde over de gemeenten in de steekproef.",
        ),
        (
            "Verschil en toets",
            "Het verschil is later min eerder. De standaardfout is de wortel uit de som van de "
            "twee gekwadrateerde standaardfouten (onafhankelijke steekproeven), de "
            "vrijheidsgraden volgen uit Welch-Satterthwaite. Tweezijdige t-toets tegen 0; de "
            f"p-waarden zijn per tabel en paar metingen gecorrigeerd ({ADJUSTMENT_NAMES.get(adjustment, adjustment)}). "
            f"Oordeel 'verbeterd' of 'verslechterd' als de gecorrigeerde p-waarde hoogstens {alpha} "
            f"is, anders 'geen aantoonbaar verschil'. De {level}-intervallen zijn niet gecorrigeerd.",
        ),
        (
            "Afronding",
            "Verschillen zijn berekend vóór afronding en staan met één decimaal meer dan de "
            "cijfers per meting (rapportcijfers en TRI*M: twee decimalen; aandelen: procentpunten "
            "met één decimaal).",
        ),
        (
            "Gemeenten",
            "Gemeentecodes van een eerdere meting zijn via de gedateerde codewijzigingen in "
            "params/ omgezet naar de indeling van de latere meting vóór het schatten, zodat een "
            "samengevoegde gemeente één domein is. In tabel 5 per gemeente de directe "
            "(ontwerpgebaseerde) schatting van het ketencijfer; paragraaf 6b geeft de "
            "modelschatting.",
        ),
        (
            "Volgorde",
            "Rijen staan in de volgorde van het register (params/): niveaus, levensgebeurtenissen "
            "en organisaties zoals daar opgesomd, normen 1 tot en met 10, gemeenten op CBS-code; "
            "nooit op grootte van het cijfer of van het verschil.",
        ),
        (
            "Publicatieregel",
            f"Een cijfer op minder dan {fmt_int(min_n)} respondenten wordt niet getoond (–) en "
            "het verschil wordt dan niet getoetst.",
        ),
    ]
    body = "".join(
        f"<li><strong>{html.escape(k)}.</strong> {html.escape(v)}</li>" for k, v in items
    )
    return Note(f'<section class="meting-methods"><ul>{body}</ul></section>')


#: Per family of the comparison: the label column, the subject of its sentence, the noun
#: (singular, plural) and the kind of figure.
FAMILY_SENTENCES: tuple[tuple[str, str, str, str, str, str], ...] = (
    ("events", "levensgebeurtenis", "Keten per levensgebeurtenis", "levensgebeurtenis",
     "levensgebeurtenissen", "score"),
    ("organisations", "organisatie", "Organisaties", "organisatie", "organisaties", "score"),
    ("norms", "norm", "Aandeel 'goed' per norm", "norm", "normen", "share"),
    ("municipalities", "gemeente", "Keten per gemeente", "gemeente", "gemeenten", "score"),
    ("trim", "gemeente", "TRI*M-index", "rij", "rijen", "score"),
)  # fmt: skip


def comparison_summary(comparison: Comparison, *, prob_above: float, prob_below: float) -> Note:
    """The comparison report's *Samenvatting*: per pair the levels, per family its changes, the
    linked model's changes, and the caveats (the test rule, rounding, independent samples and
    mergers, the model's rule with ``prob_above`` / ``prob_below``)."""
    from meting.report.formatting import fmt_pct
    from meting.report.summary import change_sentence, summary_box

    c = comparison
    sentences = [
        change_sentence(c.changes["levels"][p], name="niveau", earlier=p[0], later=p[1])
        for p in c.pairs
    ]
    sentences += [
        family_sentence(
            c.changes[f], name=name, subject=subject, singular=one, plural=many, kind=kind,
            short=c.short,
        )
        for f, name, subject, one, many, kind in FAMILY_SENTENCES
        if any(len(t) for t in c.changes[f].values())
    ]  # fmt: skip
    caveats = [
        "Een verschil heet 'verbeterd' of 'verslechterd' als de toets (met correctie voor "
        "meervoudig toetsen) significant is; anders 'geen aantoonbaar verschil'.",
        "Verschillen zijn berekend vóór afronding en staan daarom met één decimaal meer dan de "
        "cijfers per meting.",
        "De metingen zijn onafhankelijke steekproeven; gemeenten die fuseerden zijn op de "
        "indeling van de latere meting vergeleken.",
    ]
    if c.linked:
        sentences.append(
            linked_sentence(
                [
                    (c.linked["municipality"], "gemeente", "gemeenten"),
                    (c.linked["life_event"], "levensgebeurtenis", "levensgebeurtenissen"),
                ],
                short=c.short,
            )
        )
        caveats.append(
            "Het model over de metingen oordeelt op de kans op verbetering: verbeterd bij ten "
            f"minste {fmt_pct(prob_above)}, verslechterd bij ten hoogste {fmt_pct(prob_below)} "
            "(zie paragraaf 6b)."
        )
    return summary_box(sentences, caveats)
