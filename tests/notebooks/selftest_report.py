# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% tags=["parameters"]
# ruff: noqa: E402
title = "Zelftest"
fail = False
min_n = 30
params_dir = ""
tables_dir = ""

# %% tags=["remove-cell"]
import pandas as pd

from meting.report import collect_provenance, setup_notebook, suppress_small_cells, tables, to_html
from meting.report.export import Tables
from meting.report.plots import forest_plot

setup_notebook()

# %% [markdown]
# # Zelftest van de rapportage
#
# Een kleine tabel met rapportcijfers tegen de **7**; het doel is 7 (formule in gewone tekst: x̄ ± 1,96 · se).

# %%
table = pd.DataFrame(
    {
        "life_event": ["verhuizen", "kind krijgen", "werkloos worden", "klein"],
        "estimate": [7.04, 6.61, 7.35, 5.0],
        "lower": [6.8, 6.3, 7.1, 4.0],
        "upper": [7.28, 6.92, 7.6, 6.0],
        "n": [1234, 456, 78, 12],
    }
)
shown = suppress_small_cells(table, min_n)
to_html(shown.drop(columns="onderdrukt"), rename={"estimate": "Rapportcijfer"}, caption="Tabel 1")

# %%
published = Tables(tables_dir, min_n=min_n)
published.publish(
    tables.estimate_table(
        table, "life_event", "levensgebeurtenis", min_n=min_n, caption="Tabel 2", with_p=False
    ),
    "levensgebeurtenissen",
)

# %%
print("stdout-regel", 7.5)

# %%
import sys

print("dit hoort niet in het rapport", file=sys.stderr)

# %%
if fail:
    raise ValueError("opzettelijke fout in de zelftest")

# %%
forest_plot(
    table,
    "life_event",
    min_n=min_n,
    title="Rapportcijfer per levensgebeurtenis",
    what="levensgebeurtenissen",
)

# %%
collect_provenance(
    params_dir=params_dir or None,
    seeds={"zelftest": 1},
    parameters={"title": title, "min_n": min_n},
)
