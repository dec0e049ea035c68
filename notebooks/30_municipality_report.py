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
wave = "2010-vervolgmeting"  # a label from params/waves/
municipality = "GM0505"  # a code from params/municipalities/
params_dir = ""  # empty: the project's params/
tables_dir = ""  # where the published tables go (set by `meting report`); empty: not written

# %% tags=["remove-cell"]
from IPython.display import HTML, display

from meting.artefacts import wave_artefacts
from meting.knelpunten import EXPLANATIONS
from meting.registry import load_registry
from meting.report import (
    collect_provenance,
    fmt_date,
    fmt_int,
    html_text,
    maps,
    plots,
    setup_notebook,
    summary,
    suppression_note,
    tables,
    trend_tables,
    warning_box,
)
from meting.report import sections as KT
from meting.report.export import Tables
from meting.report.provenance import notebook_file, wave_seeds

# %% tags=["remove-cell"]
setup_notebook()
registry = load_registry(params_dir or None)
s = registry.settings
published = Tables(tables_dir, min_n=s.min_cell_size)
# the whole-wave work (weighting, model fit, tests, tables of every municipality) is done once
# per wave and stored (meting.artefacts); this report reads its municipality's rows
art = wave_artefacts(registry, wave)
wave_info = registry.waves[wave]
mun = registry.municipalities[municipality]
tabs = art.municipality(municipality)
cells = tabs.cells
overall = tabs.overall.iloc[0]

# %% tags=["remove-cell"]
# the municipality over the waves up to this one (direct estimates, codes mapped to this division),
# computed once per wave with the other whole-wave tables (meting.artefacts)
from meting.report import comparison_text as CT
from meting.report import linked_text as LT

upto = sorted(
    (w for w in registry.waves if registry.waves[w].year <= wave_info.year),
    key=lambda w: (registry.waves[w].year, w),
)
trend_est, trend_changes = tabs.trend, tabs.trend_changes
short = {w: str(registry.waves[w].year) for w in upto}
trend_line = CT.trend_sentence(
    mun.name, trend_est, trend_changes, min_n=s.min_cell_size, short=short
)

# %%
HTML(
    f"<h1>Gemeente {html_text(mun.name)}: dienstverlening rond levensgebeurtenissen</h1>"
    f"<p>Gemeente {html_text(mun.name)} "
    f"({html_text(', '.join(x for x in (municipality, mun.province) if x))}), "
    f"meting <b>{html_text(wave)}</b>, peildatum {fmt_date(wave_info.reference_date)}; "
    f"{fmt_int(cells['n'].sum())} respondenten uit deze gemeente.</p>"
)

# %%
maps.locator_map(municipality, registry=registry, wave=wave, name=mun.name)

# %%
summary.synthetic_notice(wave_info.source)

# %%
summary.population_notice(registry, wave_info.reference_date, [municipality])

# %%
warning_box([art.warning_nl] if art.warning_nl else [], "Let op: modelcontrole")

# %%
summary.municipality_summary(
    mun.name, overall, cells, target=s.target, min_n=s.min_cell_size, trend=[trend_line]
)

# %% [markdown]
# ## 1. Levensgebeurtenissen tegen de 7
#
# Per levensgebeurtenis de modelschatting (kleine-domeinschatting, die kracht leent van andere
# gemeenten en levensgebeurtenissen) met 95%-interval en de kans dat het werkelijke gemiddelde ten
# minste 7 is, naast de directe schatting uit alleen de respondenten van deze gemeente.

# %%
published.publish(
    tables.sae_table(
        cells,
        "levensgebeurtenis",
        "levensgebeurtenis",
        min_n=s.min_cell_size,
        caption="Tabel 1. Keten per levensgebeurtenis",
    ),
    "levensgebeurtenissen",
)

# %%
plots.forest_plot(
    cells,
    "levensgebeurtenis",
    n=None,
    target=s.target,
    what="levensgebeurtenissen",
    title=f"{mun.name}: keten per levensgebeurtenis (modelschatting, {LT.benchmark_label(cells)})",
)

# %% [markdown]
# ## 2. Vergeleken met het landelijke cijfer
#
# Het verschil tussen de modelschatting voor deze gemeente en het landelijke gewogen gemiddelde van
# dezelfde levensgebeurtenis, en de kans dat de gemeente hoger scoort.

# %%
published.publish(
    tables.versus_national_table(cells, caption="Tabel 2. Gemeente en land"), "gemeente_en_land"
)

# %% [markdown]
# Dezelfde vraag zonder model: het gewogen gemiddelde van de keten in deze gemeente min dat van de
# rest van de steekproef (ontwerpgebaseerd contrast van de twee domeingemiddelden, met de
# standaardfout uit hun covariantie).

# %%
published.publish(
    tables.contrast_table(
        tabs.vs_rest,
        f"{mun.name} min de rest van de steekproef",
        caption="Tabel 2b. Keten: gemeente tegen de rest (directe schatting)",
    ),
    "gemeente_en_rest",
)

# %% [markdown]
# ## 2b. De gemeente door de metingen heen
#
# Het rapportcijfer voor de overheid als geheel en voor de keten, per meting: de directe schatting
# uit de respondenten van deze gemeente (alle levensgebeurtenissen samen), met 95%-interval, op
# de gemeentelijke indeling van deze meting. Het oordeel over het verschil volgt uit dezelfde
# toets als in de vergelijking van de metingen.

# %%
if trend_est.empty:
    display(HTML("<p>Deze gemeente komt in geen van de metingen voor.</p>"))
else:
    display(
        plots.trend_plot(
            trend_est, "meting", "niveau", order=[w for w in upto if w in set(trend_est["meting"])],
            target=s.target, min_n=s.min_cell_size,
            title=f"{mun.name}: rapportcijfer per meting, met 95%-interval",
        )
    )  # fmt: skip
if trend_changes:
    display(
        tables.trend_table(
            trend_changes, "niveau", waves=upto, min_n=s.min_cell_size, short=short,
            adjustment=s.multiple_testing, caption="Tabel 2c. De gemeente per meting",
            rounding_note=False,  # said once, under table 2
        )
    )  # fmt: skip

# %% [markdown]
# Daarnaast de verandering volgens het small-area-model over de metingen (zoals in de vergelijking
# van de metingen, paragraaf 6b): het schat alle gemeenten en metingen samen en geeft ook bij
# weinig respondenten een verandering met interval. Eerst de gemeente als geheel (naar bevolking
# gewogen over de levensgebeurtenissen), dan per levensgebeurtenis.

# %%
(
    published.publish(
        trend_tables.linked_change_table(
            tabs.linked.assign(naam=tabs.linked["naam"].where(
                tabs.linked["life_event"] != "", "Alle levensgebeurtenissen")),
            "levensgebeurtenis", upper=s.prob_above, lower=s.prob_below,
            short=short, caption="Tabel 2d. Verandering volgens het model over de metingen",
        ),
        "model_verandering",
    )
    if tabs.linked is not None and len(tabs.linked)
    else HTML("<p>Geen eerdere meting (of de gemeente bestaat niet in het model over de "
              "metingen): geen verandering volgens het model.</p>")
)  # fmt: skip

# %% [markdown]
# ## 3. De gemeente als geheel

# %%
published.publish(
    tables.sae_table(
        tabs.overall,
        "naam",
        "gemeente",
        min_n=s.min_cell_size,
        caption="Tabel 3. Alle levensgebeurtenissen samen (modelschatting)",
    ),
    "gemeente_geheel",
)

# %% [markdown]
# ## 4. De normen van de BurgerServiceCode
#
# Per norm het aandeel inwoners van deze gemeente dat de norm 'goed' en 'niet goed' vindt, met
# het landelijke aandeel 'goed' ernaast.

# %%
norms, national_norms = tabs.norms, tabs.national_norms
display(KT.explanation("norms"))
published.publish(
    KT.norms_html(norms, reference=national_norms, caption="Tabel 4. Normen in de gemeente"),
    "normen",
)

# %%
plots.bar_plot(
    norms, "norm_label", "goed", lower="goed_lower", upper="goed_upper", min_n=s.min_cell_size,
    title=f"{mun.name}: aandeel 'goed' per norm", what="normen",
)  # fmt: skip

# %% [markdown]
# ## 5. TRI*M-index naast de andere gemeenten

# %%
trim = tabs.trim
if trim is not None:
    provinces = {k: v.province for k, v in registry.municipalities.items()}
    trim, trim_place = KT.trim_peers(trim, municipality, provinces)
    display(KT.explanation("trim"), HTML(trim_place), KT.trim_plot(trim, highlight=municipality))
    display(
        published.publish(
            KT.trim_html(trim, highlight=municipality, caption="Tabel 5. TRI*M-index"), "trim"
        )
    )
else:
    display(HTML("<p>Deze meting bevat de vier TRI*M-vragen niet.</p>"))

# %% [markdown]
# ## 6. Het ketenbeeld in de gemeente
#
# Alleen levensgebeurtenissen met genoeg respondenten in deze gemeente; organisaties met te weinig
# beoordelingen tellen niet mee voor 'beste organisatie'.

# %%
chain = tabs.chain
if chain is None or (~chain["onderdrukt"]).sum() == 0:
    display(HTML("<p>Te weinig respondenten per levensgebeurtenis voor een ketenbeeld.</p>"))
else:
    display(KT.explanation("chain"), KT.chain_plot(chain, target=s.target))
    display(
        published.publish(
            KT.chain_html(chain, caption="Tabel 6. Ketenbeeld per levensgebeurtenis"), "ketenbeeld"
        )
    )

# %% [markdown]
# ## 7. Verbeteragenda
#
# De levensgebeurtenissen waar verbetering het meeste oplevert: prioriteit = afstand tot de 7 x hoe
# vaak de levensgebeurtenis voorkomt (directe schattingen; kleine cellen niet getoond).

# %%
agenda = tabs.agenda
if agenda.empty or ("onderdrukt" in agenda and agenda["onderdrukt"].astype(bool).all()):
    display(
        HTML(
            f"<p>Geen levensgebeurtenis in deze gemeente heeft ten minste "
            f"{fmt_int(s.min_cell_size)} respondenten, dus er is geen verbeteragenda uit directe "
            "schattingen. Tabel 1 geeft per levensgebeurtenis de modelschatting en het oordeel.</p>"
        )
    )
else:
    display(HTML(f"<p>{html_text(EXPLANATIONS['agenda'])}</p>"))
    display(
        published.publish(
            tables.agenda_table(agenda, min_n=s.min_cell_size, caption="Tabel 7. Verbeteragenda"),
            "verbeteragenda",
        )
    )

# %% [markdown]
# ## 8. Wat niet getoond wordt
#
# Directe schattingen op minder dan de minimumcelgrootte worden niet getoond; de modelschatting
# wel, omdat die op alle gemeenten steunt en niets over individuele respondenten prijsgeeft.

# %%
small = cells.loc[cells["n"] < s.min_cell_size, ["levensgebeurtenis", "n"]]
HTML(
    f"<p>{html_text(suppression_note(len(small), s.min_cell_size) or 'Geen cellen onderdrukt.')} "
    f"Het gaat om: {html_text(', '.join(small['levensgebeurtenis']) or 'geen')}.</p>"
)

# %% [markdown]
# ## 9. Verantwoording van het model over de metingen

# %%
(
    LT.linked_methods(
        tabs.linked_parameters, priors=s.priors(), publication=s.publication_rule(),
        benchmarked=LT.benchmark_status(art.tables["linked"]), prob_above=s.prob_above,
        prob_below=s.prob_below, converged=tabs.linked_converged,
    )
    if tabs.linked_parameters is not None and tabs.linked is not None
    else HTML("<p>Geen eerdere meting: geen model over de metingen.</p>")
)  # fmt: skip

# %%
collect_provenance(
    data_files=art.data_files,
    params_dir=registry.params_dir,
    seeds=wave_seeds(s, wave_info, synthetic=False),
    parameters={"wave": wave, "municipality": municipality},
    notebook=notebook_file("30_municipality_report.py"),
)
