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
params_dir = ""  # empty: the project's params/
tables_dir = ""  # where the published tables go (set by `meting report`); empty: not written

# %% tags=["remove-cell"]
from IPython.display import HTML, display

from meting import pipeline
from meting.registry import load_registry
from meting.report import (
    collect_provenance,
    html_text,
    plots,
    setup_notebook,
    summary,
    tables,
    to_html,
)
from meting.report import sections as KT
from meting.report.export import Tables, slug
from meting.report.provenance import notebook_file

setup_notebook()
registry = load_registry(params_dir or None)
s = registry.settings
published = Tables(tables_dir, min_n=s.min_cell_size)
order = sorted(registry.waves, key=lambda w: (registry.waves[w].year, w))
waves = {label: pipeline.analyse_wave(registry, label) for label in order}

# %% tags=["remove-cell"]
import pandas as pd

levels = pd.concat(
    [pipeline.level_estimates(an).assign(meting=label) for label, an in waves.items()]
)
pairs = [(registry.waves[w].previous, w) for w in order if registry.waves[w].previous in waves]
if len(order) > 2 and (order[0], order[-1]) not in pairs:
    pairs.append((order[0], order[-1]))  # the whole period: nulmeting -> latest wave
level_changes = {p: pipeline.wave_changes(waves[p[0]], waves[p[1]], "levels") for p in pairs}
event_changes = {p: pipeline.wave_changes(waves[p[0]], waves[p[1]], "events") for p in pairs}

# %%
HTML(
    "<h1>Vergelijking van de metingen</h1>"
    f"<p>Metingen: {html_text(', '.join(order))}. Veranderingen worden getoetst tussen elke meting en de "
    "vorige en over de hele periode (onafhankelijke steekproeven).</p>"
)

# %%
summary.synthetic_notice(registry.waves[order[-1]].source)

# %%
summary.summary_box(
    [
        summary.change_sentence(level_changes[p], name="niveau", earlier=p[0], later=p[1])
        for p in pairs
    ]
    + [
        summary.change_sentence(
            event_changes[p],
            name="levensgebeurtenis",
            earlier=p[0],
            later=p[1],
            subject="Keten per levensgebeurtenis",
        )
        for p in pairs[-1:]
    ],
    [
        "Een verschil heet 'verbeterd' of 'verslechterd' als de toets (met correctie voor "
        "meervoudig toetsen) significant is; anders 'geen aantoonbare verandering'.",
        "De metingen zijn onafhankelijke steekproeven; gemeenten die fuseerden zijn op de "
        "indeling van de latere meting vergeleken.",
    ],
)

# %% [markdown]
# ## 1. De niveaus door de tijd

# %%
plots.trend_plot(
    levels,
    "meting",
    "niveau",
    order=order,
    target=s.target,
    min_n=s.min_cell_size,
    title="Rapportcijfer per niveau en meting, met 95%-interval",
)

# %%
wide = levels.pivot_table(index="niveau", columns="meting", values="estimate", sort=False)[
    order
].reset_index()
published.publish(
    to_html(
        wide, {w: "score" for w in order}, caption="Tabel 1. Rapportcijfer per niveau en meting"
    ),
    "niveaus",
    docs={slug(w): f"rapportcijfer (1-10) in de meting {w}" for w in order},
)

# %% [markdown]
# ## 2. Veranderingen en hun oordeel
#
# Per paar opeenvolgende metingen: het verschil (later min eerder) met 95%-interval, de voor
# meervoudig toetsen gecorrigeerde p-waarde en het oordeel.

# %%
for a, b in pairs:
    display(
        published.publish(
            tables.change_table(level_changes[(a, b)], "niveau", caption=f"Niveaus: {a} → {b}"),
            f"niveaus_{registry.waves[a].year}_{registry.waves[b].year}",
        )
    )

# %% [markdown]
# ## 3. Levensgebeurtenissen

# %%
for a, b in pairs:
    display(
        published.publish(
            tables.change_table(
                event_changes[(a, b)].sort_values("estimate_later", ascending=False),
                "levensgebeurtenis",
                caption=f"Keten per levensgebeurtenis: {a} → {b}",
            ),
            f"gebeurtenissen_{registry.waves[a].year}_{registry.waves[b].year}",
        )
    )

# %% [markdown]
# ## 4. Contactkanalen: de verschuiving

# %%
display(KT.explanation("channels"))
designs = {label: an.design for label, an in waves.items()}
KT.channel_use_plot(
    designs, min_n=s.min_cell_size, title="Gebruik van de contactkanalen per meting"
)

# %%
for a, b in pairs:
    shift = KT.channel_shift_table(waves[a].design, waves[b].design, min_n=s.min_cell_size)
    display(
        published.publish(
            KT.channel_shift_html(shift, caption=f"Contactkanalen: {a} → {b}"),
            f"kanalen_{registry.waves[a].year}_{registry.waves[b].year}",
        )
    )

# %%
collect_provenance(
    data_files=[p for an in waves.values() for p in an.data.paths.values()],
    params_dir=registry.params_dir,
    seeds={w: registry.waves[w].seed or 0 for w in order},
    notebook=notebook_file("20_comparison_report.py"),
)
