"""Short Dutch explanations of how to read each knelpunten table and figure (for the reports)."""

from __future__ import annotations

from typing import Final

__all__ = ["EXPLANATIONS"]

EXPLANATIONS: Final = {
    "norms": (
        "Per norm van de BurgerServiceCode staat het gewogen aandeel burgers dat de norm 'goed' "
        "(4 of 5) en 'niet goed' (1 of 2) vindt, met een 95%-betrouwbaarheidsinterval. Wie "
        "'n.v.t.' antwoordde, telt bij die norm niet mee."
    ),
    "weakest": (
        "De zwakste norm is de norm met het laagste aandeel 'goed'. Ook als zwak gemarkeerd zijn de "
        "normen die daar statistisch niet van te onderscheiden zijn (eenzijdige toets, 5%). Hoe "
        "minder respondenten, hoe meer normen gemarkeerd blijven: de markering overdrijft de "
        "zekerheid niet."
    ),
    "drivers": (
        "Welke normen hangen het sterkst samen met het rapportcijfer voor de keten? De kolom "
        "'belang' verdeelt de verklaarde variantie (R²) eerlijk over de normen (LMG-methode): de "
        "aandelen tellen op tot 100%. Het is samenhang, geen bewezen oorzaak. Alleen respondenten "
        "die alle normen beoordeelden tellen mee."
    ),
    "matrix": (
        "Elk punt is een norm: rechts presteert de norm beter (meer 'goed'), hoger weegt hij "
        "zwaarder in het oordeel over de keten. De stippellijnen (gemiddelden) verdelen de figuur "
        "in vier kwadranten. Linksboven, verborgen mogelijkheden: belangrijk maar zwak, hier levert "
        "verbeteren het meest op. Rechtsboven, motivatoren: belangrijk en sterk, vasthouden en "
        "uitdragen. Rechtsonder, hygiënefactoren: op orde, op peil houden. Linksonder, (potentiële) "
        "kansen: zwak maar weinig invloed. De lijnen om de punten zijn 95%-intervallen: een punt "
        "dicht bij een stippellijn kan ook in het buurkwadrant horen."
    ),
    "trim": (
        "De TRI*M-index vat vier vragen samen (totaaloordeel over de gemeente, rol als publieke "
        "dienstverlener, vertrouwen, vergelijking met andere dienstverleners) tot een getal van 0 "
        "(iedereen het laagste antwoord) tot 100 (iedereen het hoogste). De vier vragen wegen even "
        "zwaar; de index is daarom niet gelijk aan de TRI*M-index van TNS NIPO en niet daarmee te "
        "vergelijken. Vergelijk gemeenten via de intervallen."
    ),
    "chain": (
        "Per levensgebeurtenis staan de organisaties in de keten met hun gemiddelde rapportcijfer, "
        "naast het cijfer voor de keten als geheel en voor de samenwerking. Het verschil tussen de "
        "beste organisatie en de keten laat zien hoeveel er verloren gaat tussen de organisaties: "
        "in 2008 kregen organisaties gemiddeld een 7,0 maar ketens een 6,7."
    ),
    "channels": (
        "Per contactkanaal staat het aandeel burgers dat het kanaal gebruikte en het gemiddelde "
        "ketencijfer van die gebruikers. Wie meer kanalen gebruikte, telt bij elk daarvan mee; de "
        "aandelen tellen dus niet op tot 100%."
    ),
    "agenda": (
        "De verbeteragenda zet per gemeente de levensgebeurtenissen op volgorde van prioriteit: "
        "hoe ver het ketencijfer onder de 7 ligt, maal hoe vaak de gebeurtenis voorkomt. Wat "
        "laag scoort en veel voorkomt staat bovenaan. Een cijfer boven de 7 geeft prioriteit 0. "
        "Cellen met te weinig respondenten zijn niet getoond (–). 'Zeker onder 7' betekent dat "
        "het hele interval onder de 7 ligt."
    ),
}
