"""The texts of the small-area model linked across the waves: its *Verantwoording*
(:func:`linked_methods`, for the comparison and the municipality report) and the line under every
table of model estimates that says whether they are benchmarked, and to what
(:func:`benchmark_note`).

The numbers come from the fit (:func:`meting.sae.checks.scale_parameters`), the priors and the
publication rule from ``params/analysis.yaml`` (``Settings.priors()``,
``Settings.publication_rule()``); nothing is written in by hand.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Final

import numpy as np
import pandas as pd

from meting.report import Note
from meting.report.formatting import fmt_int, fmt_number, fmt_pct

if TYPE_CHECKING:
    from meting.report.formatting import DutchTable
    from meting.sae.quality import PublicationRule
    from meting.sae.spec import Priors, ScalePrior

__all__ = [
    "BENCHMARKED",
    "NOT_BENCHMARKED",
    "PARAMETER_DOCS",
    "PARAMETER_NAMES",
    "PREDICTIVE_DOCS",
    "benchmark_label",
    "benchmark_note",
    "benchmark_status",
    "linked_methods",
    "parameter_interval",
    "parameter_table",
]

#: The note under a table of benchmarked model estimates.
BENCHMARKED: Final = (
    "Gebenchmarkt: per levensgebeurtenis en meting is het naar bevolking gewogen gemiddelde van "
    "de cellen (levensgebeurtenis x gemeente) gelijk aan de directe schatting van die "
    "levensgebeurtenis; de onzekerheid van die directe schatting zit in de intervallen."
)
#: The note under a table of model estimates that are not benchmarked.
NOT_BENCHMARKED: Final = (
    "Niet gebenchmarkt: de schattingen van het model zelf; hun naar bevolking gewogen "
    "gemiddelde per levensgebeurtenis kan iets afwijken van de directe schatting."
)
_PARTLY: Final = (
    "Deels gebenchmarkt: {benchmarked} gebenchmarkt (het naar bevolking gewogen gemiddelde per "
    "levensgebeurtenis en meting gelijk aan de directe schatting), {other} niet (geen directe "
    "schatting van de levensgebeurtenis)."
)

#: The exported columns of the validation report's posterior predictive check (``tabellen/``).
PREDICTIVE_DOCS: Final = {
    "binnen": "cellen waarvan de directe schatting binnen het 90%-voorspellingsinterval van het "
    "model ligt",
    "aandeel_binnen": "aandeel cellen waarvan de directe schatting binnen het "
    "90%-voorspellingsinterval van het model ligt (bij een passend model ongeveer 90%)",
    "gemiddelde_pit": "gemiddelde PIT-waarde: de kans dat een door het model voorspelde directe "
    "schatting hoogstens de werkelijke is (ongeveer 0,5)",
}

_FAMILIES: Final = {
    "halfnormal": "halfnormaal",
    "halfcauchy": "half-Cauchy",
    "halfstudentt": "half-Student-t",
    "exponential": "exponentieel",
}


def benchmark_status(table: pd.DataFrame) -> bool | None:
    """True when every row of ``table`` is benchmarked (its ``benchmarked`` column), False when
    none is or the column is missing (the estimates of the model itself), None when some are."""
    if "benchmarked" not in table.columns or table.empty:
        return False
    flags = table["benchmarked"].fillna(False).to_numpy(dtype=bool)
    if flags.all():
        return True
    return None if flags.any() else False


def benchmark_note(table: pd.DataFrame, *, rows: tuple[str, str] = ("rij", "rijen")) -> str:
    """The sentence under a table of model estimates: benchmarked (:data:`BENCHMARKED`), not
    (:data:`NOT_BENCHMARKED`), or partly, with the counts (``rows``: the noun, singular and
    plural)."""
    status = benchmark_status(table)
    if status is True:
        return BENCHMARKED
    if status is False:
        return NOT_BENCHMARKED
    flags = table["benchmarked"].fillna(False).to_numpy(dtype=bool)
    one, many = rows

    def count(k: int) -> str:
        return f"{fmt_int(k)} {one if k == 1 else many}"

    return _PARTLY.format(benchmarked=count(int(flags.sum())), other=count(int((~flags).sum())))


def benchmark_label(table: pd.DataFrame) -> str:
    """``gebenchmarkt``, ``niet gebenchmarkt`` or ``deels gebenchmarkt``: for the title of a
    figure of model estimates (its table carries :func:`benchmark_note`)."""
    status = benchmark_status(table)
    return {True: "gebenchmarkt", False: "niet gebenchmarkt", None: "deels gebenchmarkt"}[status]


def _prior(p: ScalePrior) -> str:
    name = _FAMILIES.get(p.family, p.family)
    if p.family == "halfstudentt":
        return (
            f"{name} met schaal {fmt_number(p.scale, 2)} en {fmt_number(p.nu, 0)} vrijheidsgraden"
        )
    return f"{name} met schaal {fmt_number(p.scale, 2)}"


def parameter_interval(parameters: pd.DataFrame, name: str) -> str:
    """``0,31 (90%-interval 0,27 – 0,35)`` for one row of
    :func:`meting.sae.checks.scale_parameters`; ``onbekend`` when the fit lacks it."""
    row = parameters.loc[parameters["parameter"] == name]
    if row.empty or not np.isfinite(float(row["estimate"].iloc[0])):
        return "onbekend"
    r = row.iloc[0]
    return (
        f"{fmt_number(r['estimate'], 2)} (90%-interval {fmt_number(r['lower'], 2)} – "
        f"{fmt_number(r['upper'], 2)})"
    )


def linked_methods(
    parameters: pd.DataFrame,
    *,
    priors: Priors,
    publication: PublicationRule,
    benchmarked: bool | None,
    prob_above: float,
    prob_below: float,
    converged: bool,
    life_event_totals: bool = False,
) -> Note:
    """The *Verantwoording* of the model linked across the waves, as a list of short items.

    ``parameters``: :func:`meting.sae.checks.scale_parameters` of the fit (posterior mean and 90 %
    interval of ``sd_cell`` and ``sd_wave``); ``priors`` and ``publication``: the settings of
    ``params/analysis.yaml``; ``benchmarked``: :func:`benchmark_status` of the estimates shown;
    ``prob_above`` / ``prob_below``: the verdict thresholds; ``converged``: the fit meets the
    strict convergence rule (else the text says its estimates are not reliable);
    ``life_event_totals``: the report shows life-event totals of the model (the comparison
    report's table 5a), which, benchmarked, take the verdict of the direct estimates.
    """
    from meting import columns as C

    p = publication
    bench = {
        True: "De getoonde modelschattingen zijn gebenchmarkt: per levensgebeurtenis en meting "
        "worden de trekkingen van de cellen zo verschoven dat hun naar bevolking gewogen "
        "gemiddelde gelijk is aan een trekking van de directe (ontwerpgebaseerde) schatting van "
        "die levensgebeurtenis (additief; de cellen houden hun onderlinge verschillen). Het "
        "gewogen gemiddelde is dan precies de directe schatting, met haar standaardfout, en de "
        "intervallen van de cellen bevatten ook de onzekerheid van die directe schatting.",
        False: "De getoonde modelschattingen zijn niet gebenchmarkt: het zijn de schattingen van "
        "het model zelf, en hun naar bevolking gewogen gemiddelde per levensgebeurtenis kan iets "
        "afwijken van de directe schatting.",
        None: "De getoonde modelschattingen zijn deels gebenchmarkt (zie de noot onder elke "
        "tabel): waar een levensgebeurtenis een directe schatting heeft, is het naar bevolking "
        "gewogen gemiddelde van haar cellen gelijk aan die directe schatting.",
    }[benchmarked]
    items = [
        (
            "Model",
            "Een Fay-Herriot-model over alle metingen samen, per cel levensgebeurtenis x gemeente. "
            "Het cijfer van een cel in een meting is het niveau van haar levensgebeurtenis in die "
            "meting, plus een effect van de gemeente, plus een blijvend eigen effect van de cel "
            "(hetzelfde in elke meting) en een afwijking van de cel in die meting. Het blijvende "
            "effect koppelt de metingen: wat een cel in de ene meting laat zien, telt mee in de "
            "andere. De directe schatting van een cel weegt mee met haar eigen standaardfout.",
        ),
        (
            "Spreiding",
            "De spreiding van de blijvende celeffecten (sd_cell) is "
            f"{parameter_interval(parameters, 'sd_cell')}, die van de afwijking per meting "
            f"(sd_wave) {parameter_interval(parameters, 'sd_wave')}, in rapportcijferpunten "
            "(posterior gemiddelde met 90%-interval).",
        ),
        (
            "Priors",
            "De priors staan in params/analysis.yaml (sae_priors): voor het gemiddelde per "
            f"meting normaal met gemiddelde {fmt_number(priors.mu_loc, 1)} en standaardafwijking "
            f"{fmt_number(priors.mu_scale, 1)}; voor de spreiding van de levensgebeurtenissen "
            f"{_prior(priors.sd_prior(C.LIFE_EVENT))}, van de gemeenten "
            f"{_prior(priors.sd_prior(C.MUNICIPALITY))}, van de blijvende celeffecten "
            f"{_prior(priors.cell_sd)} en van de afwijking per meting {_prior(priors.wave_sd)}.",
        ),
        (
            "Schatting",
            "De niveaus, de gemeente-effecten en de spreidingen worden met MCMC (NUTS) geschat, "
            "met de celeffecten exact weggeïntegreerd; de celeffecten worden daarna per trekking "
            "uit hun exacte voorwaardelijke (normale) verdeling getrokken. Zo komt elke trekking "
            "van een cel en van een verandering uit de gezamenlijke posterior."
            + (
                ""
                if converged
                else " Let op: het model voldoet niet aan de convergentieregel (R-hat ten "
                "hoogste 1,01, ESS ten minste 400, geen divergente overgangen); de "
                "modelschattingen zijn niet betrouwbaar."
            ),
        ),
        ("Benchmarking", bench),
        (
            "Oordeel",
            "Een verandering heet verbeterd bij een kans op verbetering van ten minste "
            f"{fmt_pct(prob_above)}, verslechterd bij ten hoogste {fmt_pct(prob_below)}, anders "
            "geen aantoonbaar verschil."
            + (
                " Een gebenchmarkte levensgebeurtenis heeft precies de verandering van haar "
                "directe schattingen en krijgt daarom geen eigen oordeel: dat geeft de toets van "
                "de directe schattingen."
                if benchmarked is not False and life_event_totals
                else ""
            ),
        ),
        (
            "Kwaliteit en publicatie",
            "Het model geeft per cel de variatiecoëfficiënt (cv: posterior standaardafwijking "
            "gedeeld door de schatting) en een publicatievlag volgens params/analysis.yaml "
            f"(sae_publication): publiceren bij ten minste {fmt_int(p.min_n_publish)} "
            f"respondenten en een cv van hoogstens {fmt_pct(p.cv_publish)}, publiceren met "
            f"voorbehoud bij ten minste {fmt_int(p.min_n_caution)} respondenten en een cv van "
            f"hoogstens {fmt_pct(p.cv_caution)}, anders niet publiceren. De tabellen van dit "
            "rapport tonen de modelschatting van elke cel met haar interval, ter informatie; "
            "een cel of verandering met de vlag 'niet publiceren' krijgt geen oordeel ('geen "
            "(niet publiceren)'), een oordeel met de vlag 'publiceren met voorbehoud' staat er "
            "met '(met voorbehoud)'. Een verandering krijgt de slechtste vlag van haar twee "
            "metingen; een totaal (een gemeente over haar levensgebeurtenissen, een "
            "levensgebeurtenis over de gemeenten) de vlag van de regel op zijn eigen "
            "respondenten en cv. De samenvatting telt dezelfde oordelen.",
        ),
        (
            "Cellen zonder respondenten",
            "Een cel zonder respondenten in een meting is een voorspelling van het model (uit de "
            "levensgebeurtenis, de gemeente en, als de cel in een andere meting wel respondenten "
            "had, haar blijvende effect). Haar verandering staat in de tabel als "
            "modelvoorspelling, met een breder interval en zonder oordeel.",
        ),
    ]
    body = "".join(
        f"<li><strong>{html.escape(k)}.</strong> {html.escape(v)}</li>" for k, v in items
    )
    return Note(f'<section class="meting-methods meting-linked-methods"><ul>{body}</ul></section>')


#: The Dutch description of every scale parameter of the small-area models.
PARAMETER_NAMES: Final = {
    "sd_cell": "spreiding van de blijvende celeffecten (sd_cell)",
    "sd_wave": "spreiding van de afwijking van een cel per meting (sd_wave)",
    "sd_life_event": "spreiding van de levensgebeurtenissen per meting (sd_life_event)",
    "sd_municipality": "spreiding van de gemeenten (sd_municipality)",
    "sigma": "spreiding van de oordelen binnen een cel (sigma)",
}
#: The columns of :func:`parameter_table` as published (``docs=`` of ``Tables.publish``).
PARAMETER_DOCS: Final = {
    "parameter": "parameter van het model (naam in het model tussen haakjes)",
    "gemiddelde": "posterior gemiddelde van de parameter, in rapportcijferpunten",
    "ondergrens_90": "ondergrens van het 90%-interval van de posterior",
    "bovengrens_90": "bovengrens van het 90%-interval van de posterior",
    "rhat": "R-hat (rank-genormaliseerd, gesplitste ketens): overeenstemming tussen de ketens, "
    "ten hoogste 1,01",
    "ess_bulk": "effectieve steekproefomvang, midden van de verdeling (ten minste 400)",
    "ess_staart": "effectieve steekproefomvang, staarten van de verdeling (ten minste 400)",
    "voldoet": "voldoet aan de convergentieregel (R-hat ten hoogste 1,01, beide ESS ten minste 400)",
}


def parameter_table(parameters: pd.DataFrame, *, caption: str | None = None) -> DutchTable:
    """The scale parameters of a fit (:func:`meting.sae.checks.scale_parameters`) in Dutch: the
    parameter, posterior mean, 90 % interval, R-hat, bulk and tail ESS and whether it meets the
    rule (``ja``/``nee``); a note says which do not."""
    from meting.report.export import export_table
    from meting.report.formatting import fmt_ci, to_html

    names = parameters["parameter"].astype(str)
    label = names.map(lambda n: PARAMETER_NAMES.get(n, n))
    ok = parameters["converged"].astype(bool)
    out = pd.DataFrame(
        {
            "parameter": label,
            "gemiddelde": parameters["estimate"],
            "90%-interval": [
                fmt_ci(lo, hi, 2)
                for lo, hi in zip(parameters["lower"], parameters["upper"], strict=True)
            ],
            "R-hat": parameters["rhat"],
            "ESS midden": parameters["ess_bulk"],
            "ESS staarten": parameters["ess_tail"],
            "voldoet": np.where(ok, "ja", "nee"),
        }
    )
    bad = list(names[~ok.to_numpy()])
    note = (
        "Alle parameters voldoen aan de regel (R-hat ten hoogste 1,01, ESS ten minste 400)."
        if not bad
        else "Voldoet niet aan de regel (R-hat ten hoogste 1,01, ESS ten minste 400): "
        + ", ".join(bad)
        + "; de modelschattingen zijn dan niet betrouwbaar."
    )
    data = export_table(
        {
            "parameter": (label, "tekst"),
            "gemiddelde": (parameters["estimate"], "getal3"),
            "ondergrens_90": (parameters["lower"], "getal3"),
            "bovengrens_90": (parameters["upper"], "getal3"),
            "rhat": (parameters["rhat"], "getal3"),
            "ess_bulk": (parameters["ess_bulk"], "aantal"),
            "ess_staart": (parameters["ess_tail"], "aantal"),
            "voldoet": (ok, "janee"),
        }
    )
    formats: dict[str, str | int] = {
        "gemiddelde": 2,
        "90%-interval": "text",
        "R-hat": 3,
        "ESS midden": "int",
        "ESS staarten": "int",
        "voldoet": "text",
    }
    return to_html(out, formats, caption=caption, note=note, data=data)
