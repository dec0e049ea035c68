"""The *Samenvatting* that opens every report: the answers in plain Dutch, generated from the numbers.

Every sentence is built from the tested result tables (:mod:`meting.results` with the verdicts of
:mod:`meting.significance`), so the summary cannot disagree with the tables below it: a level or
life event is named as falling short exactly when its table row says "significant onder 7" (or
"waarschijnlijk < 7" for a model estimate), and rows without a verdict (too few respondents, no
respondents) are counted apart, never given one.

:func:`synthetic_notice` gives the line that says, on the first screen, that a wave's data are
synthetic.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from meting.report import Note
from meting.report.formatting import count_noun, fmt_diff, fmt_int, fmt_number, fmt_score
from meting.report.publication import caution_rows

__all__ = [
    "count_noun",
    "direction",
    "join_names",
    "level_sentences",
    "group_sentence",
    "methods_note",
    "municipality_summary",
    "change_sentence",
    "published_lines",
    "summary_box",
    "validation_box",
    "synthetic_notice",
    "wave_summary",
]

ABOVE, NEUTRAL, BELOW, NONE = "boven", "gelijk", "onder", "geen"


def join_names(names: Sequence[str]) -> str:
    """``a``, ``a en b``, ``a, b en c``."""
    names = [str(n) for n in names]
    if len(names) <= 1:
        return "".join(names)
    return ", ".join(names[:-1]) + " en " + names[-1]


def direction(verdict: object) -> str:
    """The direction of a verdict text: ``boven``, ``gelijk``, ``onder`` or ``geen`` (no verdict).

    Reads the verdicts of a test against the target ("significant boven/onder 7", "niet te
    onderscheiden van 7"), of a model ("waarschijnlijk ≥ 7", "waarschijnlijk < 7", "onzeker") and
    of a change ("verbeterd", "verslechterd", "geen aantoonbaar verschil").
    """
    if verdict is None or (isinstance(verdict, float) and verdict != verdict) or verdict is pd.NA:
        return NONE
    text = str(verdict)
    if text.startswith(
        ("significant boven", "waarschijnlijk ≥", "verbeterd", "waarschijnlijk verb")
    ):
        return ABOVE
    if text.startswith(
        ("significant onder", "waarschijnlijk <", "verslechterd", "waarschijnlijk versl")
    ):
        return BELOW
    return NEUTRAL


def _named(table: pd.DataFrame, name: str) -> list[str]:
    """``Verhuizen (6,9)`` per row: the name and the mark as the tables print it."""
    return [f"{row[name]} ({fmt_score(row['estimate'])})" for _, row in table.iterrows()]


def level_sentences(levels: pd.DataFrame, *, target: float, name: str = "niveau") -> list[str]:
    """Sentences on the levels rated (government, chain, cooperation, organisations).

    ``levels`` is a tested result table with a ``verdict`` column and the Dutch level name in
    ``name``. One sentence names the levels that reach the target, one those that fall short, and
    one those that cannot be told apart from it.
    """
    t = fmt_score(target).removesuffix(",0")
    d = levels["verdict"].map(direction)
    out = []
    above, below, same = levels[d == ABOVE], levels[d == BELOW], levels[d == NEUTRAL]
    if len(below) == len(levels):
        out.append(
            f"Op geen van de niveaus wordt de {t} gehaald: "
            f"{join_names(_named(below, name))} liggen alle significant onder de {t}."
        )
        return out
    if len(below):
        out.append(
            f"Het doel van een {t} wordt niet op alle niveaus gehaald. Significant onder de {t}: "
            f"{join_names(_named(below, name))}."
        )
    if len(same):
        out.append(
            f"Niet te onderscheiden van een {t}: {join_names(_named(same, name))}; binnen de "
            "meetonzekerheid wordt het doel daar gehaald."
        )
    if len(above):
        out.append(f"Significant boven de {t}: {join_names(_named(above, name))}.")
    return out


def group_sentence(
    table: pd.DataFrame,
    *,
    name: str,
    singular: str,
    plural: str,
    target: float,
    model: bool = False,
) -> str:
    """One sentence counting the groups (life events, organisations, municipalities) by verdict,
    naming those that fall short (lowest first) and the best, and counting those without one."""
    t = fmt_score(target).removesuffix(",0")
    d = table["verdict"].map(direction)
    judged = table[d != NONE]
    below = judged[d[d != NONE] == BELOW].sort_values("estimate")
    above = judged[d[d != NONE] == ABOVE].sort_values("estimate", ascending=False)
    n_same = int((d == NEUTRAL).sum())
    word_above = "waarschijnlijk boven" if model else "significant boven"
    word_below = "waarschijnlijk onder" if model else "significant onder"
    parts = [
        f"Van de {count_noun(len(judged), singular, plural)} met een oordeel "
        f"{'ligt' if len(above) == 1 else 'liggen'} er {fmt_int(len(above))} {word_above} "
        f"de {t}, {'is' if n_same == 1 else 'zijn'} er {fmt_int(n_same)} niet van te "
        f"onderscheiden en {'ligt' if len(below) == 1 else 'liggen'} er {fmt_int(len(below))} "
        f"{word_below} de {t}."
    ]
    if len(below):
        lowest = _named(below.head(5), name)
        more = f" (en {fmt_int(len(below) - 5)} andere)" if len(below) > 5 else ""
        parts.append(f"Onder de {t}: {join_names(lowest)}{more}.")
    if len(above):
        parts.append(f"Het best: {join_names(_named(above.head(3), name))}.")
    caution = int(caution_rows(table).sum())
    if caution:
        parts.insert(
            1,
            f"{'Eén oordeel is' if caution == 1 else f'{fmt_int(caution)} oordelen zijn'} "
            "gegeven met voorbehoud (weinig respondenten of een ruime onzekerheid).",
        )
    none = int((d == NONE).sum())
    if none:
        why = "te weinig of geen respondenten" + (", of een te onzekere schatting" if model else "")
        parts.append(
            f"{count_noun(none, singular, plural).capitalize()} "
            f"{'krijgt' if none == 1 else 'krijgen'} geen oordeel ({why})."
        )
    return " ".join(parts)


def change_sentence(
    changes: pd.DataFrame, *, name: str, earlier: str, later: str, subject: str = ""
) -> str:
    """One sentence on the changes between two waves: how many improved, worsened, or show no
    demonstrable difference, naming those that changed."""
    d = changes["verdict"].map(direction)
    up = changes[d == ABOVE]
    down = changes[d == BELOW]
    same = int((d == NEUTRAL).sum())
    lead = f"{subject}, van {earlier} naar {later}" if subject else f"Van {earlier} naar {later}"
    text = (
        f"{lead}: {fmt_int(len(up))} verbeterd, {fmt_int(len(down))} "
        f"verslechterd, {fmt_int(same)} zonder aantoonbaar verschil."
    )
    for label, rows in (("Verbeterd", up), ("Verslechterd", down)):
        if len(rows):
            named = [f"{r[name]} ({fmt_diff(r['estimate'], 2)})" for _, r in rows.iterrows()]
            text += f" {label}: {join_names(named)}."
    return text


def summary_box(sentences: Sequence[str], caveats: Sequence[str] = ()) -> Note:
    """The *Samenvatting* block: the sentences as a list, the caveats below in a smaller note."""
    body = "".join(f"<li>{html.escape(s)}</li>" for s in sentences)
    notes = "".join(f"<li>{html.escape(c)}</li>" for c in caveats)
    caveat_html = (
        f'<p class="meting-caveats-title">Kanttekeningen</p><ul class="meting-caveats">{notes}</ul>'
        if notes
        else ""
    )
    return Note(
        '<section class="meting-summary"><h2>Samenvatting</h2>'
        f"<ul>{body}</ul>{caveat_html}</section>"
    )


def synthetic_notice(source: str, published: Sequence[str] = ()) -> Note:
    """The first-screen notice for a synthetic wave (empty for real data).

    ``published`` lists the published figures shown for comparison (with their source), so a
    reader can tell them apart from the synthetic results.
    """
    if source != "synthetic":
        return Note("")
    text = (
        "Synthetische gegevens. Deze rapportage is gemaakt op een gesimuleerde steekproef, "
        "gegenereerd met een vast willekeurig startgetal (seed) en afgestemd op de gepubliceerde cijfers van de meting; "
        "de aantallen respondenten en alle uitkomsten zijn dus niet die van een echte enquête. "
        "Het rapport toont hoe de echte microdata worden verwerkt zodra die via hetzelfde schema "
        "worden aangeleverd."
    )
    extra = "".join(f"<li>{html.escape(p)}</li>" for p in published)
    extra_html = f"<ul>{extra}</ul>" if extra else ""
    return Note(
        f'<div class="meting-synthetic" role="note"><strong>Let op:</strong> '
        f"{html.escape(text)}{extra_html}</div>"
    )


#: ``population_source`` of an assumed (not published) population starts with this word.
ASSUMED_POPULATION = "Aanname"


def population_notice(registry: Any, on: object, codes: Sequence[str] | None = None) -> Note:
    """A notice when the population figures the weighting uses are an assumption (the national
    parameter set): for ``codes``, or every municipality existing on ``on``. Empty otherwise."""
    codes = list(codes) if codes is not None else registry.municipalities_on(on)
    assumed = [c for c in codes
               if registry.municipality_on(c, on).population_source.startswith(ASSUMED_POPULATION)]  # fmt: skip
    if not assumed:
        return Note("")
    which = (
        "van deze gemeente zijn"
        if len(codes) == 1
        else f"van {len(assumed)} van de {len(codes)} gemeenten zijn"
    )
    text = (
        f"Bevolkingsaantallen: aanname. De aantallen volwassenen per leeftijd en geslacht "
        f"{which} een aanname (afgeleid van de oppervlakte van de gemeente), geen CBS-cijfer; "
        "de weging en de synthetische waarheid gebruiken dezelfde aanname."
    )
    return Note(f'<div class="meting-synthetic" role="note">{html.escape(text)}</div>')


#: Dutch names of the published headline levels (``Wave.published`` keys).
PUBLISHED_LEVELS = {
    "organisations": "afzonderlijke organisaties",
    "chain": "keten",
    "cooperation": "samenwerking",
    "government": "overheid als geheel",
}
#: How the multiple-testing settings are named for a reader.
ADJUSTMENT_NAMES = {"holm": "Holm", "bh": "Benjamini-Hochberg", "none": "geen correctie"}


def published_lines(published: Mapping[str, float], sources: Mapping[str, str]) -> list[str]:
    """``Gepubliceerd: keten 6,7 (bron)`` per published headline figure, labelled as published."""
    return [
        f"Gepubliceerd cijfer, ter vergelijking: {PUBLISHED_LEVELS.get(k, k)} {fmt_score(v)}"
        + (f" (bron: {sources[k]})" if sources.get(k) else "")
        for k, v in published.items()
    ]


def wave_summary(
    levels: pd.DataFrame,
    events: pd.DataFrame,
    organisations: pd.DataFrame | None,
    *,
    target: float,
    min_n: int,
    adjustment: str,
) -> Note:
    """The *Samenvatting* of a wave report, from its tested tables (levels in ``niveau``, life
    events in ``levensgebeurtenis``, organisations in ``organisatie``)."""
    sentences = level_sentences(levels, target=target, name="niveau")
    sentences.append(
        group_sentence(
            events,
            name="levensgebeurtenis",
            singular="levensgebeurtenis",
            plural="levensgebeurtenissen",
            target=target,
        )
    )
    if organisations is not None and len(organisations):
        sentences.append(
            group_sentence(
                organisations,
                name="organisatie",
                singular="organisatie",
                plural="organisaties",
                target=target,
            )
        )
    caveats = [
        f"Een oordeel ('significant boven/onder de {fmt_score(target).removesuffix(',0')}') "
        f"volgt uit een toets met correctie voor meervoudig toetsen "
        f"({ADJUSTMENT_NAMES.get(adjustment, adjustment)}) binnen elke tabel; de intervallen in "
        "tabellen en figuren zijn de gewone 95%-intervallen, zonder die correctie.",
        f"Schattingen op minder dan {fmt_int(min_n)} respondenten worden niet getoond en krijgen "
        "geen oordeel.",
    ]
    return summary_box(sentences, caveats)


def municipality_summary(
    name: str,
    overall: pd.Series,
    cells: pd.DataFrame,
    *,
    target: float,
    min_n: int,
    trend: Sequence[str] = (),
) -> Note:
    """The *Samenvatting* of a municipality report: its overall answer first (the model estimate
    over all life events, with its verdict), then its life events against the target, then
    against the national figure, then ``trend`` (the sentences on its trend over the waves,
    :func:`meting.report.comparison_text.trend_sentence`).

    ``overall`` is the municipality's row of the aggregate (``estimate, lower, upper, verdict``);
    ``cells`` its life events (``levensgebeurtenis, estimate, verdict, n, observed, landelijk,
    kans_hoger``).
    """
    t = fmt_score(target).removesuffix(",0")
    verdict = overall.get("verdict")
    d = direction(verdict)
    answer = {
        ABOVE: f"haalt de {t} waarschijnlijk",
        BELOW: f"haalt de {t} waarschijnlijk niet",
        NEUTRAL: f"ligt dicht bij de {t}; of het doel gehaald wordt is onzeker",
        NONE: "krijgt geen oordeel",
    }[d]
    sentences = [
        f"{name} {answer}: over alle levensgebeurtenissen samen een {fmt_score(overall['estimate'])}"
        f" (95%-interval {fmt_score(overall['lower'])} – {fmt_score(overall['upper'])}; "
        "modelschatting)."
    ]
    sentences.append(
        group_sentence(
            cells,
            name="levensgebeurtenis",
            singular="levensgebeurtenis",
            plural="levensgebeurtenissen",
            target=target,
            model=True,
        )
    )
    compared = cells.loc[cells["kans_hoger"].notna()]
    higher = compared.loc[compared["kans_hoger"] >= 0.95, "levensgebeurtenis"].tolist()
    lower = compared.loc[compared["kans_hoger"] <= 0.05, "levensgebeurtenis"].tolist()
    if higher or lower:
        parts = []
        if higher:
            parts.append(f"waarschijnlijk hoger dan landelijk: {join_names(higher)}")
        if lower:
            parts.append(f"waarschijnlijk lager dan landelijk: {join_names(lower)}")
        sentences.append("Vergeleken met het landelijke cijfer: " + "; ".join(parts) + ".")
    else:
        sentences.append(
            "Geen levensgebeurtenis wijkt duidelijk af van het landelijke cijfer (kans hoger of "
            "lager dan 95%)."
        )
    sentences += list(trend)
    n = int(pd.to_numeric(cells["n"], errors="coerce").fillna(0).sum())
    small = int((pd.to_numeric(cells["n"], errors="coerce").fillna(0) < min_n).sum())
    caveats = [
        f"De schattingen per levensgebeurtenis steunen op {count_noun(n, 'respondent', 'respondenten')}"
        f" uit deze gemeente; {count_noun(small, 'levensgebeurtenis heeft', 'levensgebeurtenissen hebben')}"
        f" er minder dan {fmt_int(min_n)}. Het model leent daar kracht van andere gemeenten en "
        "levensgebeurtenissen; de directe schatting wordt dan niet getoond.",
        "Een levensgebeurtenis zonder respondenten in deze gemeente is een modelvoorspelling en "
        "krijgt geen oordeel, evenals een levensgebeurtenis die de publicatieregel niet laat "
        "publiceren (te weinig respondenten of een te onzekere schatting); een oordeel 'met "
        "voorbehoud' steunt op weinig respondenten of een ruime onzekerheid.",
        "'Waarschijnlijk' betekent een kans van minstens 95% volgens het model.",
    ]
    return summary_box(sentences, caveats)


#: Dutch names of the weighting columns, for the method text.
_MARGIN_WORDS = {
    "municipality": "gemeente",
    "age_band": "leeftijd",
    "sex": "geslacht",
    "education": "opleiding",
    "size_class": "gemeentegrootte",
    "life_event": "levensgebeurtenis",
}


def methods_note(
    *,
    target: float,
    confidence: float,
    adjustment: str,
    min_n: int,
    prob_above: float,
    prob_below: float,
    margins: Sequence[Sequence[str]],
    respondents: int,
    municipalities: int,
    synthetic: bool,
    benchmark: str = "",
) -> Note:
    """The *Verantwoording* of a wave report, written from the settings it was made with, so a
    reviewer can check every number against the rule that produced it; ``benchmark`` is the
    sentence on the benchmarking of the model estimates
    (:func:`meting.report.linked_text.benchmark_note` of the fit's cells)."""
    t = fmt_score(target).removesuffix(",0")
    level = f"{confidence:.0%}".replace(".", ",")
    alpha = fmt_number(1 - confidence, 2)
    weights = "; ".join(" x ".join(_MARGIN_WORDS.get(c, c) for c in m) for m in margins)
    pct = lambda p: f"{p:.0%}".replace(".", ",")  # noqa: E731
    items = [
        (
            "Gegevens",
            f"{count_noun(respondents, 'respondent', 'respondenten')} in "
            f"{count_noun(municipalities, 'gemeente', 'gemeenten')}"
            + (" (synthetische steekproef, zie het kader bovenaan)" if synthetic else "")
            + ". 'Landelijk' is het gewogen gemiddelde over de gemeenten in de steekproef, "
            "niet over heel Nederland.",
        ),
        (
            "Weging",
            f"Raking naar de bevolkingsverdeling op {weights}; de standaardfouten houden rekening "
            "met de weging (Taylor-linearisatie, zoals het R-pakket survey).",
        ),
        (
            "Intervallen",
            f"{level}-betrouwbaarheidsintervallen: schatting plus of min de t-waarde met de "
            "vrijheidsgraden van het steekproefontwerp (per domein die van het domein) maal de "
            "standaardfout.",
        ),
        (
            f"Toets tegen de {t}",
            f"Tweezijdige t-toets van elk gemiddelde tegen {t}; de p-waarden zijn per tabel "
            f"gecorrigeerd voor meervoudig toetsen ({ADJUSTMENT_NAMES.get(adjustment, adjustment)}). "
            f"Oordeel 'significant boven/onder {t}' als de gecorrigeerde p-waarde hoogstens "
            f"{alpha} is, anders 'niet te onderscheiden van {t}'. De intervallen in tabellen en "
            "figuren zijn niet gecorrigeerd; figuren kleuren naar het oordeel van de tabel.",
        ),
        (
            "Kleine domeinen",
            "Per levensgebeurtenis x gemeente een Fay-Herriot-model (hiërarchisch Bayesiaans) op "
            "de directe schattingen, dat kracht leent van andere gemeenten en "
            f"levensgebeurtenissen. Oordeel 'waarschijnlijk ≥ {t}' als de kans op ten minste {t} "
            f"minstens {pct(prob_above)} is, 'waarschijnlijk < {t}' als die kans hoogstens "
            f"{pct(prob_below)} is, anders 'onzeker'. Een cel zonder respondenten is een "
            "modelvoorspelling en krijgt geen oordeel. Het model heet betrouwbaar als voor elke "
            "parameter R-hat hoogstens 1,01 is, de effectieve steekproefomvang (midden en staarten van de verdeling) "
            "minstens 400, en er geen divergenties zijn; anders staat er bovenaan een waarschuwing."
            + (f" {benchmark}" if benchmark else ""),
        ),
        (
            "Publicatieregel",
            f"Een directe schatting op minder dan {fmt_int(min_n)} respondenten wordt niet "
            "getoond (–) en krijgt geen oordeel. Het rapport bevat geen gegevens van individuele "
            "respondenten.",
        ),
    ]
    body = "".join(
        f"<li><strong>{html.escape(k)}.</strong> {html.escape(v)}</li>" for k, v in items
    )
    return Note(f'<section class="meting-methods"><ul>{body}</ul></section>')


def _list_numbers(values: pd.Series, fmt: str) -> str:
    return " / ".join(format(float(v), fmt).replace(".", ",") for v in values)


def validation_box(per_wave: pd.DataFrame, verdicts: pd.DataFrame) -> Note:
    """The *Samenvatting* of the validation report, from its tables: per wave the RMSE of the
    model against the direct estimate (which is closer is read off the numbers), the model's 95%
    coverage, and how often the two directional verdicts are right."""
    model = per_wave.loc[per_wave["schatter"] == "model"].reset_index(drop=True)
    direct = per_wave.loc[per_wave["schatter"] == "direct"].reset_index(drop=True)
    waves = " / ".join(model["meting"].astype(str))
    closer = (model["RMSE"] < direct["RMSE"]).to_numpy()
    verdict = (
        "ligt de modelschatting in elke meting dichter bij de werkelijkheid dan de directe schatting"
        if closer.all()
        else "ligt de modelschatting in geen enkele meting dichter bij de werkelijkheid dan de "
        "directe schatting"
        if not closer.any()
        else "ligt de modelschatting niet in elke meting dichter bij de werkelijkheid"
    )
    right = verdicts.loc[verdicts["juist"].notna()]
    sentences = [
        f"Over {count_noun(int(model['cellen'].sum()), 'cel', 'cellen')} met respondenten "
        f"{verdict}: RMSE {_list_numbers(model['RMSE'], '.2f')} tegen "
        f"{_list_numbers(direct['RMSE'], '.2f')} ({waves}).",
        "Het 95%-interval van het model bevat de werkelijke waarde in "
        f"{_list_numbers(model['dekking 95%-interval'], '.0%')} van de cellen met respondenten "
        "(goed gekalibreerd: ongeveer 95%).",
    ]
    if len(right):
        sentences.append(
            "De oordelen zijn juist in "
            + " en ".join(
                f"{format(float(r['juist']), '.0%')} van de "
                f"{count_noun(int(r['cellen']), 'cel', 'cellen')} met '{r['oordeel']}'"
                for _, r in right.iterrows()
            )
            + "; cellen zonder respondenten krijgen geen oordeel."
        )
    caveats = [
        "RMSE: de wortel van de gemiddelde gekwadrateerde afwijking van de werkelijke waarde.",
        "Alleen synthetische metingen kunnen zo worden gecontroleerd; bij echte gegevens is de "
        "werkelijke waarde onbekend.",
    ]
    return summary_box(sentences, caveats)
