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
import pandas as pd
from IPython.display import HTML, display

from meting.comparison_analysis import analyse_comparison
from meting.registry import load_registry
from meting.report import (
    collect_provenance,
    html_text,
    plots,
    selection,
    setup_notebook,
    summary,
    tables,
    to_html,
    trend_tables,
)
from meting.report import sections as KT
from meting.report.export import Tables
from meting.report.provenance import notebook_file

# %%
setup_notebook()
registry = load_registry(params_dir or None)
s = registry.settings
published = Tables(tables_dir, min_n=s.min_cell_size)
# every wave analysed and compared once (meting.comparison_analysis)
comparison = analyse_comparison(registry)
order, waves, pairs, short = comparison.order, comparison.waves, comparison.pairs, comparison.short

# %% tags=["remove-cell"]
from meting.report import comparison_text as CT

levels, changes, linked = comparison.levels, comparison.changes, comparison.linked
level_changes, event_changes = changes["levels"], changes["events"]
# the Samenvatting and the Verantwoording say once that differences are computed before rounding
trend = dict(
    waves=order, min_n=s.min_cell_size, short=short, adjustment=s.multiple_testing,
    rounding_note=False,
)  # fmt: skip

# %%
HTML(
    "<h1>Vergelijking van de metingen</h1>"
    f"<p>Metingen: {html_text(', '.join(order))}. Is de dienstverlening verbeterd? Veranderingen "
    "worden getoetst tussen elke meting en de vorige en over de hele periode (onafhankelijke "
    "steekproeven), per niveau, levensgebeurtenis, organisatie, norm, gemeente en TRI*M-index.</p>"
)

# %%
summary.synthetic_notice(registry.waves[order[-1]].source)

# %%
CT.comparison_summary(comparison, prob_above=s.prob_above, prob_below=s.prob_below)

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
published.publish(
    tables.trend_table(
        level_changes,
        "niveau",
        caption="Tabel 1. Rapportcijfer per niveau: metingen en verschillen",
        **trend,
    ),
    "niveaus",
)

# %% [markdown]
# ## 2. Veranderingen van de niveaus en hun oordeel
#
# Per paar metingen: het verschil (later min eerder) met 95%-interval, de voor meervoudig toetsen
# gecorrigeerde p-waarde en het oordeel.

# %%
for a, b in pairs:
    display(
        published.publish(
            tables.change_table(
                level_changes[(a, b)],
                "niveau",
                caption=f"Niveaus: {a} → {b}",
                rounding_note=False,
            ),
            f"niveaus_{registry.waves[a].year}_{registry.waves[b].year}",
        )
    )

# %% [markdown]
# ## 3. Levensgebeurtenissen

# %%
published.publish(
    tables.trend_table(
        event_changes, "levensgebeurtenis", caption="Tabel 2. Keten per levensgebeurtenis", **trend
    ),
    "levensgebeurtenissen",
)

# %%
whole = pairs[-1]
published.publish(
    tables.change_table(
        event_changes[whole],
        "levensgebeurtenis",
        caption=f"Keten per levensgebeurtenis: {whole[0]} → {whole[1]}, met interval en p-waarde",
        rounding_note=False,
    ),
    f"gebeurtenissen_{registry.waves[whole[0]].year}_{registry.waves[whole[1]].year}",
)

# %% [markdown]
# ## 4. Organisaties

# %%
(
    published.publish(
        tables.trend_table(
            changes["organisations"],
            "organisatie",
            caption="Tabel 3. Rapportcijfer per organisatie",
            **trend,
        ),
        "organisaties",
    )
    if all(len(t) for t in changes["organisations"].values())
    else HTML("<p>Niet elke meting bevat oordelen per organisatie.</p>")
)  # fmt: skip

# %% [markdown]
# ## 5. De normen van de BurgerServiceCode
#
# Per norm het aandeel dat de overheid 'goed' of 'zeer goed' (4-5) vond; de verschillen in
# procentpunten.

# %%
published.publish(
    tables.trend_table(
        changes["norms"], "norm", kind="share", caption="Tabel 4. Aandeel 'goed' per norm", **trend
    ),
    "normen",
)

# %% [markdown]
# ## 6. Gemeenten
#
# Per gemeente het ketencijfer (directe schatting uit de respondenten van die gemeente), op de
# gemeentelijke indeling van de latere meting.

# %%
# a long table (the national waves) is printed as a selection, chosen on the whole period (the
# last pair), short enough to stand on one page with its heading; tabellen/ holds every one
population = selection.populations(registry, registry.waves[order[-1]].reference_date)
by_change = dict(
    pair=pairs[-1], population=population, min_n=s.min_cell_size, per_side=12, largest=8
)


def mun_trend(family, caption):
    return tables.trend_table(family, "gemeente", caption=caption, **trend)


published.publish(
    selection.selected_changes_table(
        changes["municipalities"], mun_trend, caption="Tabel 5. Keten per gemeente",
        name="gemeenten", **by_change,
    ),
    "gemeenten",
)  # fmt: skip

# %% [markdown]
# ## 6b. Verandering per gemeente en levensgebeurtenis (model over de metingen)
#
# De directe schattingen hierboven gebruiken per gemeente alleen haar eigen respondenten. Het
# small-area-model over de metingen schat alle cellen (levensgebeurtenis x gemeente) van alle
# metingen samen: een cel houdt over de metingen een blijvend eigen effect, zodat ook een gemeente
# met weinig respondenten een verandering met een eerlijk interval krijgt. Een gemeente of
# levensgebeurtenis is het naar bevolking gewogen gemiddelde van haar cellen. De schattingen zijn
# gebenchmarkt: per levensgebeurtenis en meting is het gewogen gemiddelde van de cellen gelijk aan
# de directe schatting. De verandering van een levensgebeurtenis in tabel 5a is daardoor die van
# de directe schattingen (paragraaf 3), met hun oordeel; het model voegt vooral iets toe per
# gemeente (tabel 5b). Het oordeel van het model volgt uit de kans op verbetering; zonder
# respondenten in een van beide metingen is de verandering een modelvoorspelling, zonder oordeel.

# %%
first_last = f"{registry.waves[order[0]].year}_{registry.waves[order[-1]].year}"
rule = dict(upper=s.prob_above, lower=s.prob_below, short=short)
display(
    published.publish(
        trend_tables.linked_change_table(
            linked["life_event"], "levensgebeurtenis",
            caption=f"Tabel 5a. Verandering per levensgebeurtenis, {order[0]} → {order[-1]} "
            "(model over de metingen)",
            **rule,
        ),
        f"model_gebeurtenissen_{first_last}",
    )
)  # fmt: skip

# %%
# its rows take two lines (the verdict in words): fewer of them, so the table fits one page
linked_pick = selection.select_changes(
    linked["municipality"], population=population, certainty="prob_improved", per_side=8,
    largest=8, name=f"model_gemeenten_{first_last}",
)  # fmt: skip
linked_caption = (
    f"Tabel 5b. Verandering per gemeente, {order[0]} → {order[-1]} "
    "(model over de metingen, gewogen over de levensgebeurtenissen)"
)


def linked_mun_table(rows, caption=linked_caption):
    return trend_tables.linked_change_table(rows, "gemeente", caption=caption, **rule)


published.publish(
    selection.selected_table(
        linked_mun_table(linked["municipality"]), linked_pick,
        lambda rows: linked_mun_table(rows, linked_caption + ", een selectie"),
    ),
    f"model_gemeenten_{first_last}",
)  # fmt: skip

# %% [markdown]
# ## 7. TRI*M-index

# %%
display(KT.explanation("trim"))
if all(len(t) for t in changes["trim"].values()):
    display(
        published.publish(
            selection.selected_changes_table(
                changes["trim"], mun_trend, caption="Tabel 6. TRI*M-index (0-100) per gemeente",
                name="trim", **by_change,
            ),
            "trim",
        )
    )  # fmt: skip
else:
    display(HTML("<p>Niet elke meting bevat de vier TRI*M-vragen.</p>"))

# %% [markdown]
# ## 8. Contactkanalen: de verschuiving
#
# De verschuiving is het aandeel of cijfer van de latere meting min dat van de eerdere, met
# 95%-interval.

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

# %% [markdown]
# ## Verantwoording

# %%
CT.comparison_methods(
    confidence=s.confidence,
    adjustment=s.multiple_testing,
    min_n=s.min_cell_size,
    waves=order,
    synthetic=registry.waves[order[-1]].source == "synthetic",
)

# %% [markdown]
# ### Het model over de metingen (paragraaf 6b)

# %%
from meting.report import linked_text as LT

(
    LT.linked_methods(
        comparison.linked_parameters, priors=s.priors(), publication=s.publication_rule(),
        benchmarked=LT.benchmark_status(pd.concat(list(linked.values()))),
        prob_above=s.prob_above, prob_below=s.prob_below,
        converged=comparison.linked_converged, life_event_totals=True,
    )
    if comparison.linked_parameters is not None
    else HTML("<p>Geen model over de metingen (minder dan twee metingen).</p>")
)  # fmt: skip

# %%
collect_provenance(
    data_files=[p for an in waves.values() for p in an.data.paths.values()],
    params_dir=registry.params_dir,
    seeds={w: registry.waves[w].seed or 0 for w in order},
    notebook=notebook_file("20_comparison_report.py"),
)
