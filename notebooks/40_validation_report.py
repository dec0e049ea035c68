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
params_dir = ""  # empty: the project's params/

# %% tags=["remove-cell"]
from IPython.display import HTML

from meting import pipeline
from meting.registry import load_registry
from meting.report import (
    collect_provenance,
    html_text,
    plots,
    setup_notebook,
    tables,
    to_html,
    warning_box,
)
from meting.report.provenance import notebook_file, wave_seeds

setup_notebook()
registry = load_registry(params_dir or None)
s = registry.settings
an = pipeline.analyse_wave(registry, wave)
sae = pipeline.fit_small_areas(an)
truth = pipeline.truth_comparison(an, sae)

# %%
HTML(
    "<h1>Validatie van de schattingen</h1>"
    f"<p>Op de synthetische meting <b>{html_text(wave)}</b> is de werkelijke waarde van elke cel bekend. "
    "Hier staat hoe dicht de directe en de modelschattingen daarbij liggen.</p>"
)

# %%
warning_box(
    [sae.diagnostics.warning_nl] if sae.diagnostics.warning_nl else [], "Let op: modelcontrole"
)

# %% [markdown]
# ## 1. Afwijking en dekking
#
# Over de cellen levensgebeurtenis x gemeente met respondenten: de gemiddelde afwijking van de
# werkelijke waarde, de wortel van de gemiddelde gekwadrateerde afwijking (RMSE) en hoe vaak het
# 95%-interval de werkelijke waarde bevat (goed gekalibreerd: ongeveer 95%).

# %%
summary = pipeline.validation_summary(truth)
to_html(
    summary,
    {"gemiddelde afwijking": "diff", "RMSE": 2, "dekking 95%-interval": "pct1"},
    caption="Tabel 1. Directe schatting en modelschatting tegen de werkelijkheid",
)

# %%
plots.scatter_truth_plot(
    truth.loc[truth["observed"]],
    "true_chain",
    {"direct": "direct", "model": "estimate"},
    title="Schatting tegen werkelijke waarde per cel",
)

# %% [markdown]
# ## 2. Modeldiagnostiek

# %%
tables.diagnostics_table(sae.diagnostics, caption="Tabel 2. Convergentie van het model")

# %%
collect_provenance(
    data_files=list(an.data.paths.values()),
    params_dir=registry.params_dir,
    seeds=wave_seeds(s, an.wave),
    parameters={"wave": wave},
    notebook=notebook_file("40_validation_report.py"),
)
