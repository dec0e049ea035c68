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
