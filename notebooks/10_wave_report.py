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
wave = "2008-nulmeting"  # a label from params/waves/
params_dir = ""  # empty: the project's params/
tables_dir = ""  # where the published tables go (set by `meting report`); empty: not written

# %% tags=["remove-cell"]
from IPython.display import HTML, display

from meting import columns as C
from meting import pipeline
from meting.knelpunten import EXPLANATIONS, importance_performance
from meting.registry import load_registry
from meting.report import (
    collect_provenance,
    fmt_date,
    fmt_int,
    html_text,
    maps,
    plots,
    selection,
    setup_notebook,
    summary,
    tables,
    to_html,
    warning_box,
)
from meting.report import linked_text as LT
from meting.report import sections as KT
from meting.report.export import Tables
from meting.report.provenance import notebook_file, wave_seeds

# %% tags=["remove-cell"]
setup_notebook()
registry = load_registry(params_dir or None)
s = registry.settings
an = pipeline.analyse_wave(registry, wave)
sae = pipeline.fit_small_areas(an, benchmark=True)  # benchmarked per life event
T = s.target
published = Tables(tables_dir, min_n=s.min_cell_size)
event_names = {k: v.name for k, v in registry.life_events.items()}
org_names = {k: v.name for k, v in registry.organisations.items()}
mun_names = {k: v.name for k, v in registry.municipalities.items()}

# %% tags=["remove-cell"]
levels = pipeline.tested(an, pipeline.level_estimates(an))
events = pipeline.tested(an, pipeline.life_event_estimates(an))
orgs = pipeline.organisation_estimates(an)
orgs = pipeline.tested(an, orgs) if orgs is not None else None

# %% tags=["remove-cell"]
problems = [] if an.weighting.converged else ["De weging is niet geconvergeerd."]
problems += [sae.diagnostics.warning_nl] if sae.diagnostics.warning_nl else []

# %%
HTML(
    f"<h1>{html_text(an.wave.kind.capitalize())} {an.wave.year}: beoordeling van de "
    "overheidsdienstverlening</h1>"
    f"<p>Meting <b>{html_text(wave)}</b>, peildatum {fmt_date(an.wave.reference_date)}; "
    f"{fmt_int(an.weighting.n)} respondenten. Doel van het kabinet: gemiddeld een {T:.0f}.</p>"
)

# %%
summary.synthetic_notice(
    an.wave.source, summary.published_lines(an.wave.published, an.wave.published_sources)
)

# %%
summary.population_notice(registry, an.wave.reference_date)

# %%
warning_box(problems, "Let op: modelcontrole")

# %%
summary.wave_summary(
    levels, events, orgs, target=T, min_n=s.min_cell_size, adjustment=s.multiple_testing
)

# %% [markdown]
# ## 1. De drie niveaus tegen de 7
#
# Respondenten beoordelen de dienstverlening op drie niveaus met een rapportcijfer (1-10): de
# overheid als geheel, de keten van organisaties rond hun levensgebeurtenis, en elke organisatie
# waarmee ze contact hadden (daarnaast de samenwerking tussen die organisaties). Per niveau: het
# gewogen gemiddelde met 95%-betrouwbaarheidsinterval en een toets tegen de 7.

# %%
published.publish(
    tables.estimate_table(
        levels,
        "niveau",
        "niveau",
        min_n=s.min_cell_size,
        caption="Tabel 1. Rapportcijfer per niveau",
    ),
    "niveaus",
)

# %%
plots.forest_plot(
    levels,
    "niveau",
    target=T,
    min_n=s.min_cell_size,
    what="niveaus",
    title="Rapportcijfer per niveau, met 95%-interval",
)

# %% [markdown]
# ## 2. Levensgebeurtenissen
#
# Het rapportcijfer voor de keten rond elke levensgebeurtenis. De p-waarden zijn gecorrigeerd voor
# het aantal toetsen (de methode staat in de verantwoording).

# %%
published.publish(
    tables.estimate_table(
        events,
        "levensgebeurtenis",
        "levensgebeurtenis",
        min_n=s.min_cell_size,
        caption="Tabel 2. Keten per levensgebeurtenis",
    ),
    "levensgebeurtenissen",
)

# %%
plots.forest_plot(
    events,
    "levensgebeurtenis",
    target=T,
    min_n=s.min_cell_size,
    what="levensgebeurtenissen",
    title="Keten per levensgebeurtenis",
)

# %% [markdown]
# ## 3. Organisaties

# %%
(
    published.publish(
        tables.estimate_table(
            orgs,
            "organisatie",
            "organisatie",
            min_n=s.min_cell_size,
            caption="Tabel 3. Rapportcijfer per organisatie",
        ),
        "organisaties",
    )
    if orgs is not None
    else HTML("<p>Deze meting bevat geen oordelen per organisatie.</p>")
)

# %%
plots.forest_plot(
    orgs,
    "organisatie",
    target=T,
    min_n=s.min_cell_size,
    what="organisaties",
    title="Rapportcijfer per organisatie",
) if orgs is not None else None

# %% [markdown]
# ## 4. Contactkanalen
#
# Het aandeel respondenten dat een kanaal gebruikte; iemand kan meer kanalen gebruiken.

# %%
channels = pipeline.channel_shares(an)
plots.bar_plot(
    channels,
    "kanaal",
    "estimate",
    min_n=s.min_cell_size,
    title="Gebruikte contactkanalen",
    what="kanalen",
)

# %%
channel_table = KT.channel_table(an.design, min_n=s.min_cell_size)
display(KT.explanation("channels"))
published.publish(
    KT.channel_table_html(channel_table, caption="Tabel 4. Gebruik en ketencijfer per kanaal"),
    "kanalen",
)

# %%
plots.forest_plot(
    channel_table, "kanaal", target=T, min_n=s.min_cell_size, what="kanalen",
    title="Ketencijfer van de gebruikers per kanaal",
)  # fmt: skip

# %% [markdown]
# ## 5. De tien normen van de BurgerServiceCode
#
# Per norm het aandeel dat de overheid 'goed' of 'zeer goed' (4-5) vond, onder de respondenten
# voor wie de norm van toepassing was.

# %%
display(KT.explanation("norms"))
norms = KT.norms_table(an.design, min_n=s.min_cell_size, level=s.confidence)
published.publish(
    KT.norms_html(norms, caption="Tabel 5. Aandeel 'goed' en 'niet goed' per norm"), "normen"
)

# %%
bsc = pipeline.bsc_shares(an)

# %%
plots.bar_plot(
    bsc,
    "norm",
    "estimate",
    min_n=s.min_cell_size,
    title="Aandeel 'goed' per norm van de BurgerServiceCode",
    what="normen",
)

# %% [markdown]
# ### De zwakste normen per levensgebeurtenis

# %%
weak = KT.weakest_table(an.design, min_n=s.min_cell_size, names=event_names)
display(KT.explanation("weakest"))
KT.norms_heatmap(weak, title="Aandeel 'goed' per norm en levensgebeurtenis")

# %%
published.publish(
    KT.weakest_html(
        KT.weakest_summary(weak), caption="Tabel 6. Zwakste normen per levensgebeurtenis"
    ),
    "zwakste_normen",
)

# %% [markdown]
# ## 6. Knelpunten: wat verbeteren het meest oplevert
#
# ### Sleutelfactoren van het ketencijfer

# %%
drivers = KT.drivers_table(an.design, min_n=s.min_cell_size, level=s.confidence)
display(KT.explanation("drivers"), KT.drivers_note(drivers))
published.publish(
    KT.drivers_html(drivers, caption="Tabel 7. Sleutelfactoren van het ketencijfer (landelijk)"),
    "sleutelfactoren",
)

# %%
KT.drivers_plot(drivers, title="Belang van de normen voor het ketencijfer")

# %% [markdown]
# ### Belang en prestatie van de normen

# %%
matrix = importance_performance(an.design, aspects=drivers.attrs["predictors"])
HTML(f"<p>{html_text(EXPLANATIONS['matrix'])}</p>")

# %%
KT.plot_importance_performance(matrix)

# %% [markdown]
# ### Het ketenbeeld per levensgebeurtenis

# %%
orgs_long = an.data.organisations
if orgs_long is None:
    display(HTML("<p>Deze meting bevat geen oordelen per organisatie.</p>"))
else:
    chain = KT.chain_table(
        an.design, orgs_long, min_n=s.min_cell_size, names=event_names, organisation_names=org_names
    )
    display(KT.explanation("chain"), KT.chain_headline(an.design, orgs_long))
    display(KT.chain_plot(chain, target=T, title="Organisaties, keten en samenwerking"))
    display(
        published.publish(
            KT.chain_html(chain, caption="Tabel 8. Ketenbeeld per levensgebeurtenis"), "ketenbeeld"
        )
    )

# %% [markdown]
# ### TRI*M-index per gemeente

# %%
has_trim = all(c in an.design.data.columns for c in C.TRIM_QUESTIONS)
if has_trim:
    trim = KT.trim_table(an.design, min_n=s.min_cell_size, names=mun_names)
    # a long table (the national waves) is printed as a selection; tabellen/ holds every one
    trim_pick = selection.select_by_value(
        trim, "estimate", what="TRI*M-index", name="trim",
        population=selection.populations(registry, an.wave.reference_date),
    )  # fmt: skip
    display(
        KT.explanation("trim"),
        KT.trim_plot(
            trim_pick.rows,
            title="TRI*M-index per gemeente" + ("" if trim_pick.complete else ", een selectie"),
        ),
    )
else:
    display(HTML("<p>Deze meting bevat de vier TRI*M-vragen niet.</p>"))

# %%
if has_trim:
    display(
        published.publish(
            selection.selected_table(
                KT.trim_html(trim, caption="Tabel 9. TRI*M-index per gemeente"), trim_pick,
                lambda rows: KT.trim_html(rows, caption="Tabel 9. TRI*M-index per gemeente, "
                                          "een selectie"),
            ),
            "trim",
        )
    )  # fmt: skip

# %% [markdown]
# ## 7. Kleine-domeinschattingen per gemeente
#
# Per gemeente zijn er te weinig respondenten per levensgebeurtenis voor een betrouwbare directe
# schatting. Een hiërarchisch Bayesiaans model (Fay-Herriot) leent kracht van andere gemeenten en
# levensgebeurtenissen. Per gemeente: het naar bevolking gewogen gemiddelde over de
# levensgebeurtenissen, de kans dat het werkelijke gemiddelde ten minste 7 is, en het oordeel.

# %%
by_mun = pipeline.sae_by(an, sae, "municipality")
# a long table (the national waves) is printed as a selection; tabellen/ holds every municipality
pick = selection.select_municipalities(
    by_mun, target=T, population=selection.populations(registry, an.wave.reference_date)
)


def mun_table(rows, caption="Tabel 10. Keten per gemeente (modelschatting)"):
    return tables.sae_table(rows, "naam", "gemeente", min_n=s.min_cell_size, caption=caption)


published.publish(
    selection.selected_table(
        mun_table(by_mun), pick, lambda rows: mun_table(rows, "Tabel 10. Keten per gemeente "
                                                        "(modelschatting), een selectie")
    ),
    "gemeenten",
)  # fmt: skip

# %%
plots.forest_plot(
    pick.rows,
    "naam",
    n=None,
    target=T,
    what="gemeenten",
    title=f"Keten per gemeente (modelschatting, {LT.benchmark_label(by_mun)}, 95%-interval)"
    + ("" if pick.complete else ", de gemeenten van tabel 10"),
)

# %% [markdown]
# De kaart toont dezelfde modelschattingen op de gemeentelijke indeling van de peildatum; de vorm
# van het teken geeft het oordeel.

# %%
maps.municipality_map(
    by_mun, registry=registry, wave=wave, target=T, min_n=s.min_cell_size,
    unreliable=not sae.diagnostics.trustworthy, title=f"Keten per gemeente (modelschatting, {LT.benchmark_label(by_mun)}), kaart",
)  # fmt: skip

# %% [markdown]
# ## 8. Steekproef en weging
#
# De steekproef wijkt af van de bevolking; daarom is gewogen naar de bevolkingsverdeling
# (raking op gemeente x leeftijd x geslacht en op opleiding). Tabel 11 laat de verdeling
# vóór en na weging zien; tabel 12 de kenmerken van de weging.

# %%
comp = pipeline.sample_composition(an, "age_band")
published.publish(
    to_html(
        comp.rename(columns={"age_band": "leeftijd"}),
        {"steekproef": "pct", "gewogen": "pct", "populatie": "pct"},
        caption="Tabel 11. Leeftijd: steekproef, gewogen en bevolking",
    ),
    "leeftijd",
)

# %%
published.publish(
    to_html(
        pipeline.sample_composition(an, "education").rename(columns={"education": "opleiding"}),
        {"steekproef": "pct", "gewogen": "pct", "populatie": "pct"},
        caption="Tabel 11b. Opleiding",
    ),
    "opleiding",
)

# %%
published.publish(
    tables.weighting_html(an.weighting, caption="Tabel 12. Kenmerken van de weging"), "weging"
)

# %% [markdown]
# ## Verantwoording
#
# De regels achter de cijfers, zoals ze in `params/` staan voor deze rapportage.

# %%
summary.methods_note(
    target=T,
    confidence=s.confidence,
    adjustment=s.multiple_testing,
    min_n=s.min_cell_size,
    prob_above=s.prob_above,
    prob_below=s.prob_below,
    margins=an.wave.weighting,
    respondents=an.weighting.n,
    municipalities=an.data.respondents[C.MUNICIPALITY].nunique(),
    synthetic=an.wave.source == "synthetic",
    benchmark=LT.benchmark_note(sae.cells),
)

# %%
collect_provenance(
    data_files=list(an.data.paths.values()),
    params_dir=registry.params_dir,
    seeds=wave_seeds(s, an.wave),
    parameters={"wave": wave},
    notebook=notebook_file("10_wave_report.py"),
)
