# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% tags=["parameters"]
wave = "2010-vervolgmeting"  # a synthetic wave (its truth is known)
only_this_wave = False  # False: validate every synthetic wave
params_dir = ""  # empty: the project's params/
tables_dir = ""  # where the published tables go (set by `meting report`); empty: not written

# %% tags=["remove-cell"]
import pandas as pd
from IPython.display import HTML, display

from meting import pipeline, validation
from meting.registry import load_registry
from meting.report import (
    collect_provenance,
    html_text,
    plots,
    setup_notebook,
    summary,
    tables,
    to_html,
    warning_box,
)
from meting.report.export import Tables
from meting.report.provenance import notebook_file, wave_seeds

# %% tags=["remove-cell"]
setup_notebook()
registry = load_registry(params_dir or None)
s = registry.settings
published = Tables(tables_dir, min_n=s.min_cell_size)
labels = [w for w in registry.synthetic_waves() if w == wave or not only_this_wave]
analyses = {label: pipeline.analyse_wave(registry, label) for label in labels}
fits = {label: pipeline.fit_small_areas(an) for label, an in analyses.items()}
truth = pd.concat(
    [
        validation.truth_comparison(an, fits[label]).assign(meting=label)
        for label, an in analyses.items()
    ],
    ignore_index=True,
)

# %% tags=["remove-cell"]
per_wave = pd.concat(
    [
        validation.validation_summary(truth.loc[truth["meting"] == label]).assign(meting=label)
        for label in labels
    ],
    ignore_index=True,
)
by_size = validation.coverage_by_size(truth)
verdicts = validation.verdict_accuracy(truth, target=s.target)
problems = [
    f"{label}: {fit.diagnostics.warning_nl}"
    for label, fit in fits.items()
    if fit.diagnostics.warning_nl
]

# %% tags=["remove-cell"]
# the model linked across the waves, as fitted (not benchmarked: the check is of the model itself)
from meting.report import check_plots
from meting.report import linked_text as LT
from meting.sae import checks as SC

linked_fit = pipeline.fit_linked_small_areas(registry, labels) if len(labels) >= 2 else None
if linked_fit is not None:
    ppc = SC.predictive_check(
        linked_fit, level=0.90, random_seed=s.seed_for(registry.waves[labels[-1]])
    )
    ppc_by_wave = SC.predictive_summary(ppc, "wave").rename(columns={"wave": "meting"})
    linking = SC.scale_parameters(linked_fit, level=0.90)
    shrink_by_size = SC.shrinkage_by_size(linked_fit.cells)
    if linked_fit.diagnostics.warning_nl:
        problems.append(f"model over de metingen: {linked_fit.diagnostics.warning_nl}")

# %%
HTML(
    "<h1>Validatie van de schattingen</h1>"
    f"<p>Op de synthetische metingen {html_text(', '.join(labels))} is de werkelijke waarde van "
    "elke cel levensgebeurtenis x gemeente bekend. Hier staat hoe dicht de directe en de "
    "modelschattingen daarbij liggen, hoe vaak hun intervallen die waarde bevatten en hoe vaak de "
    "oordelen juist zijn.</p>"
)

# %%
summary.synthetic_notice("synthetic")

# %%
warning_box(problems, "Let op: modelcontrole")

# %%
summary.validation_box(per_wave, verdicts)

# %% [markdown]
# ## 1. Afwijking en dekking per meting
#
# Over de cellen levensgebeurtenis x gemeente met respondenten: de gemiddelde afwijking van de
# werkelijke waarde, de RMSE en hoe vaak het 95%-interval de werkelijke waarde bevat.

# %%
published.publish(
    to_html(
        per_wave[
            ["meting", "schatter", "cellen", "gemiddelde afwijking", "RMSE", "dekking 95%-interval"]
        ],
        {
            "gemiddelde afwijking": "diff2",
            "RMSE": 2,
            "dekking 95%-interval": "pct1",
            "cellen": "int",
        },
        caption="Tabel 1. Directe schatting en modelschatting tegen de werkelijkheid, per meting",
    ),
    "per_meting",
)

# %% [markdown]
# ## 2. Naar celgrootte
#
# Hoe kleiner de cel, hoe meer de modelschatting op andere gemeenten en levensgebeurtenissen
# steunt. Cellen zonder respondenten zijn voorspellingen van het model; ook daar hoort het
# interval de werkelijke waarde in ongeveer 90% en 95% van de gevallen te bevatten.

# %%
published.publish(
    to_html(
        by_size,
        {
            "cellen": "int",
            "RMSE model": 2,
            "RMSE direct": 2,
            "dekking 90%": "pct1",
            "dekking 95%": "pct1",
        },
        caption="Tabel 2. Nauwkeurigheid en dekking naar aantal respondenten per cel (alle metingen)",
    ),
    "naar_celgrootte",
)

# %% [markdown]
# ## 3. Hoe vaak is het oordeel juist?
#
# Per oordeel van het model: het aantal cellen en hoe vaak de werkelijke waarde aan de kant ligt
# die het oordeel noemt. Bij 'onzeker' staat alleen het aandeel cellen dat werkelijk de 7 haalt.

# %%
published.publish(
    to_html(
        verdicts,
        {"cellen": "int", "juist": "pct1", "werkelijk ≥ doel": "pct1"},
        caption="Tabel 3. Oordelen van het model tegen de werkelijkheid (alle metingen)",
    ),
    "oordelen",
)

# %%
plots.scatter_truth_plot(
    truth.loc[truth["observed"] & (truth["meting"] == labels[-1])],
    "true_chain",
    {"direct": "direct", "model": "estimate"},
    title=f"Schatting tegen werkelijke waarde per cel ({labels[-1]})",
)

# %% [markdown]
# ## 4. Modeldiagnostiek

# %%
for label, fit in fits.items():
    display(
        published.publish(
            tables.diagnostics_table(
                fit.diagnostics, caption=f"Convergentie van het model, {label}"
            ),
            f"convergentie_{registry.waves[label].year}",
        )
    )

# %% [markdown]
# ## 5. Het model over de metingen
#
# Het small-area-model dat de metingen koppelt (een blijvend effect per cel levensgebeurtenis x
# gemeente plus een afwijking per meting) levert de veranderingen in de vergelijking van de
# metingen en in de gemeenterapporten. Hier wordt het model zelf gecontroleerd, zoals het is
# geschat, zonder benchmarking: past het bij de directe schattingen, hoeveel leunt elke cel op
# het model, en zijn de koppelende parameters goed geschat?

# %%
(
    warning_box(
        [linked_fit.diagnostics.warning_nl],
        "Let op: het model over de metingen is niet geconvergeerd",
    )
    if linked_fit is not None and not linked_fit.diagnostics.trustworthy
    else HTML("")
)

# %% [markdown]
# ### 5a. Voorspellende controle van de directe schattingen
#
# Per cel met respondenten trekt het model nieuwe directe schattingen: een trekking van het
# celgemiddelde plus een steekproeffout met de standaardfout van de cel. Bij een passend model
# ligt ongeveer 90% van de werkelijke directe schattingen binnen hun 90%-voorspellingsinterval.
# De PIT-waarde is de kans dat een voorspelde directe schatting hoogstens de werkelijke is; bij een
# passend model zijn die waarden ongeveer gelijkmatig verdeeld over 0 tot 1. Omdat het model op
# dezelfde directe schattingen is geschat, liggen ze er iets dichter bij dan nieuwe gegevens
# zouden doen: iets meer dan 90% ligt binnen het interval, en de PIT-waarden liggen wat vaker in
# het midden dan bij een gelijkmatige verdeling. Veel minder dan 90%, of PIT-waarden opgehoopt bij
# 0 of 1, wijst op een model dat niet past.

# %%
if linked_fit is None:
    display(HTML("<p>Minder dan twee synthetische metingen: geen model over de metingen.</p>"))
else:
    display(
        published.publish(
            to_html(
                ppc_by_wave,
                {"cellen": "int", "binnen": "int", "aandeel binnen": "pct1", "gemiddelde PIT": 2},
                caption="Tabel 4. Directe schattingen binnen hun 90%-voorspellingsinterval, per "
                "meting (model over de metingen, niet gebenchmarkt)",
            ),
            "voorspellende_controle",
            docs=LT.PREDICTIVE_DOCS,
        )
    )
    display(
        check_plots.pit_plot(
            ppc.rename(columns={"wave": "meting"}), "meting",
            title="PIT-waarden van de directe schattingen per meting",
        )
    )  # fmt: skip

# %% [markdown]
# ### 5b. Krimp per cel
#
# De krimp is het deel van de schatting van een cel dat uit het model komt in plaats van uit de
# eigen directe schatting in die meting (1 − γ, met γ het gewicht van die directe schatting). Een
# cel zonder respondenten is een modelvoorspelling (krimp 100%); hoe meer respondenten, hoe kleiner
# de krimp. In het model over de metingen telt ook dezelfde cel in de andere metingen als 'model':
# via haar blijvende effect leunt zelfs een cel met veel respondenten voor een flink deel op haar
# eigen andere metingen, zodat de krimp hier hoger is dan in een model per meting.

# %%
if linked_fit is not None:
    display(
        published.publish(
            to_html(
                shrink_by_size,
                {"cellen": "int", "gemiddelde krimp": "pct1", "laagste": "pct1", "hoogste": "pct1"},
                caption="Tabel 5. Krimp naar aantal respondenten per cel en meting (model over de "
                "metingen)",
            ),
            "krimp_naar_celgrootte",
            docs={
                "gemiddelde_krimp": "gemiddeld aandeel van de schatting dat uit het model komt "
                "(1 - gamma) over de cellen van de klasse",
                "laagste": "laagste krimp in de klasse",
                "hoogste": "hoogste krimp in de klasse",
            },
        )
    )
    display(
        check_plots.shrinkage_plot(
            linked_fit.cells, title="Krimp per cel tegen het aantal respondenten"
        )
    )

# %% [markdown]
# ### 5c. De parameters die de metingen koppelen
#
# De spreiding van de blijvende celeffecten (sd_cell) en van de afwijking per meting (sd_wave)
# bepalen hoeveel een cel in de ene meting zegt over dezelfde cel in een andere; daaronder staan
# de spreiding van de levensgebeurtenissen en die van de gemeenten. Per parameter het gemiddelde en het 90%-interval van
# de posterior, R-hat en de effectieve steekproefgrootte (ESS); de regel is R-hat ten hoogste 1,01
# en ESS ten minste 400.

# %%
if linked_fit is not None:
    display(
        published.publish(
            LT.parameter_table(
                linking,
                caption="Tabel 6. Parameters van het model over de metingen, met 90%-interval "
                "en convergentie",
            ),
            "koppelparameters",
            docs=LT.PARAMETER_DOCS,
        )
    )

# %%
collect_provenance(
    data_files=[p for an in analyses.values() for p in an.data.paths.values()],
    params_dir=registry.params_dir,
    seeds={
        f"{k} ({an.label})": v
        for an in analyses.values()
        for k, v in wave_seeds(s, an.wave).items()
    },
    parameters={"wave": wave, "only_this_wave": only_this_wave},
    notebook=notebook_file("40_validation_report.py"),
)
