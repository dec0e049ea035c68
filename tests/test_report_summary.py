"""The Samenvatting: sentences generated from tested tables, agreeing with their verdicts."""

from __future__ import annotations

import pandas as pd

from meting.report import summary as S


def verdict_table(
    names: list[str], estimates: list[float], verdicts: list[str | None]
) -> pd.DataFrame:
    return pd.DataFrame({"naam": names, "estimate": estimates, "verdict": verdicts})


def test_dutch_number_agreement_and_lists() -> None:
    assert S.count_noun(1, "levensgebeurtenis", "levensgebeurtenissen") == "1 levensgebeurtenis"
    assert S.count_noun(3, "levensgebeurtenis", "levensgebeurtenissen") == "3 levensgebeurtenissen"
    assert S.count_noun(1200, "respondent", "respondenten") == "1.200 respondenten"
    assert S.join_names(["a"]) == "a"
    assert S.join_names(["a", "b", "c"]) == "a, b en c"


def test_direction_reads_every_verdict_vocabulary() -> None:
    cases = {
        "significant boven 7": "boven",
        "significant onder 7": "onder",
        "niet te onderscheiden van 7": "gelijk",  # contains 'onder', is not below
        "waarschijnlijk ≥ 7": "boven",
        "waarschijnlijk < 7": "onder",
        "onzeker": "gelijk",
        "verbeterd": "boven",
        "verslechterd": "onder",
        "geen aantoonbaar verschil": "gelijk",
    }
    for text, expected in cases.items():
        assert S.direction(text) == expected, text
    assert S.direction(None) == "geen" and S.direction(float("nan")) == "geen"


def test_levels_name_what_falls_short_as_the_table_says() -> None:
    levels = verdict_table(
        ["de overheid als geheel", "de keten", "de afzonderlijke organisaties"],
        [6.4, 6.7, 7.0],
        ["significant onder 7", "significant onder 7", "niet te onderscheiden van 7"],
    )
    text = " ".join(S.level_sentences(levels, target=7.0, name="naam"))
    assert text.startswith("Het doel van een 7 wordt niet op alle niveaus gehaald.")
    assert "Significant onder de 7: de overheid als geheel (6,4) en de keten (6,7)." in text
    assert "Niet te onderscheiden van een 7: de afzonderlijke organisaties (7,0);" in text
    all_below = verdict_table(["a", "b"], [6.0, 6.1], ["significant onder 7"] * 2)
    assert S.level_sentences(all_below, target=7.0, name="naam")[0].startswith(
        "Op geen van de niveaus wordt de 7 gehaald"
    )


def test_group_sentence_counts_and_never_judges_cells_without_a_verdict() -> None:
    events = verdict_table(
        ["Verhuizen", "Werkloos worden", "Kortdurend ziek", "Immigratie"],
        [6.9, 6.0, 7.3, 6.1],
        ["niet te onderscheiden van 7", "significant onder 7", "significant boven 7", None],
    )
    text = S.group_sentence(
        events, name="naam", singular="levensgebeurtenis", plural="levensgebeurtenissen", target=7
    )
    assert text.startswith("Van de 3 levensgebeurtenissen met een oordeel ligt er 1 significant")
    assert "is er 1 niet van te onderscheiden en ligt er 1 significant onder de 7." in text
    assert "Onder de 7: Werkloos worden (6,0)." in text
    assert "Het best: Kortdurend ziek (7,3)." in text
    assert "1 levensgebeurtenis krijgt geen oordeel" in text
    assert "Immigratie" not in text  # no verdict: not named as falling short


def test_group_sentence_counts_the_verdicts_given_with_caution() -> None:
    events = verdict_table(
        ["Verhuizen", "Werkloos worden", "Immigratie"],
        [6.9, 6.0, 6.1],
        ["onzeker", "waarschijnlijk < 7", None],
    )
    events["publication"] = ["publiceren", "publiceren met voorbehoud", "niet publiceren"]
    text = S.group_sentence(
        events,
        name="naam",
        singular="levensgebeurtenis",
        plural="levensgebeurtenissen",
        target=7,
        model=True,
    )
    assert "Van de 2 levensgebeurtenissen met een oordeel" in text
    assert "Eén oordeel is gegeven met voorbehoud" in text
    assert (
        "1 levensgebeurtenis krijgt geen oordeel (te weinig of geen respondenten, of een " in text
    )
    assert text.index("met voorbehoud") < text.index("Onder de 7")


def test_change_sentence_uses_the_change_verdicts() -> None:
    changes = verdict_table(["keten", "overheid", "samenwerking"], [0.04, 0.21, -0.3], [
        "geen aantoonbaar verschil", "verbeterd", "verslechterd"
    ])  # fmt: skip
    text = S.change_sentence(changes, name="naam", earlier="2008", later="2010")
    assert text.startswith("Van 2008 naar 2010: 1 verbeterd, 1 verslechterd, 1 zonder")
    assert "Verbeterd: overheid (+0,21)." in text and "Verslechterd: samenwerking (-0,30)." in text


def test_summary_and_synthetic_notice_escape_their_text() -> None:
    box = S.summary_box(["<script>x</script>"], ["n < 30"]).html
    assert "<script>" not in box and "&lt;script&gt;" in box and "n &lt; 30" in box
    assert box.startswith('<section class="meting-summary"><h2>Samenvatting</h2>')
    assert S.synthetic_notice("file").html == ""
    notice = S.synthetic_notice("synthetic", ["gepubliceerd (TNS NIPO 2008): keten 6,7"]).html
    assert "Synthetische gegevens" in notice and "TNS NIPO" in notice


def test_municipality_summary_answers_first_and_never_judges_predictions() -> None:
    overall = pd.Series(
        {"estimate": 6.62, "lower": 6.41, "upper": 6.83, "verdict": "waarschijnlijk < 7"}
    )
    cells = pd.DataFrame(
        {
            "levensgebeurtenis": ["Verhuizen", "Werkloos worden", "Immigratie"],
            "estimate": [6.9, 6.1, 6.4],
            "verdict": ["onzeker", "waarschijnlijk < 7", None],
            "n": [40, 12, 0],
            "observed": [True, True, False],
            "landelijk": [6.9, 6.0, 6.1],
            "kans_hoger": [0.5, 0.97, float("nan")],
        }
    )
    box = S.municipality_summary("Dordrecht", overall, cells, target=7.0, min_n=30).html
    first = box.index("<li>")
    assert box[first:].startswith(
        "<li>Dordrecht haalt de 7 waarschijnlijk niet: over alle levensgebeurtenissen samen een "
        "6,6 (95%-interval 6,4 – 6,8; modelschatting).</li>"
    )
    assert "Van de 2 levensgebeurtenissen met een oordeel" in box
    assert "waarschijnlijk hoger dan landelijk: Werkloos worden" in box
    assert "1 levensgebeurtenis krijgt geen oordeel" in box
    assert "52 respondenten" in box and "2 levensgebeurtenissen hebben er minder dan 30" in box


def test_methods_note_states_the_rules_from_the_settings() -> None:
    note = S.methods_note(
        target=7.0,
        confidence=0.95,
        adjustment="holm",
        min_n=30,
        prob_above=0.95,
        prob_below=0.05,
        margins=[("municipality", "age_band", "sex"), ("education",)],
        respondents=6000,
        municipalities=14,
        synthetic=True,
    ).html
    for text in (
        "6.000 respondenten in 14 gemeenten (synthetische steekproef",
        "niet over heel Nederland",
        "gemeente x leeftijd x geslacht; opleiding",
        "(Holm)",
        "hoogstens 0,05 is",
        "minstens 95% is",
        "R-hat hoogstens 1,01",
        "minder dan 30 respondenten",
    ):
        assert text in note, text
    bh = S.methods_note(
        target=7.0, confidence=0.9, adjustment="bh", min_n=50, prob_above=0.9, prob_below=0.1,
        margins=[("sex",)], respondents=1, municipalities=1, synthetic=False,
    ).html  # fmt: skip
    assert (
        "(Benjamini-Hochberg)" in bh
        and "hoogstens 0,10 is" in bh
        and "1 respondent in 1 gemeente." in bh
    )


def test_validation_box_reads_which_estimator_is_closer_off_the_numbers() -> None:
    def per_wave(model_rmse: list[float], direct_rmse: list[float]) -> pd.DataFrame:
        rows = []
        for i, (m, d) in enumerate(zip(model_rmse, direct_rmse, strict=True)):
            rows += [
                {
                    "meting": f"w{i}",
                    "schatter": "direct",
                    "cellen": 10,
                    "RMSE": d,
                    "dekking 95%-interval": 0.9,
                },
                {
                    "meting": f"w{i}",
                    "schatter": "model",
                    "cellen": 10,
                    "RMSE": m,
                    "dekking 95%-interval": 0.95,
                },
            ]
        return pd.DataFrame(rows)

    verdicts = pd.DataFrame(
        {
            "oordeel": ["waarschijnlijk < 7", "onzeker"],
            "cellen": [20, 5],
            "juist": [1.0, float("nan")],
        }
    )
    better = S.validation_box(per_wave([0.2, 0.3], [0.5, 0.6]), verdicts).html
    assert "Over 20 cellen met respondenten ligt de modelschatting in elke meting dichter" in better
    assert "RMSE 0,20 / 0,30 tegen 0,50 / 0,60 (w0 / w1)" in better
    assert "juist in 100% van de 20 cellen met &#x27;waarschijnlijk &lt; 7&#x27;" in better
    worse = S.validation_box(per_wave([0.7, 0.3], [0.5, 0.6]), verdicts).html
    assert "niet in elke meting dichter" in worse
    never = S.validation_box(per_wave([0.7], [0.5]), verdicts).html
    assert "in geen enkele meting dichter" in never


def test_report_texts_have_no_english_labels() -> None:
    """The texts a reader sees (synthetic notice, Verantwoording, comparison method text, model
    diagnostics) explain their terms in Dutch: no bare 'wave', 'seed', 'draws', 'chains',
    'divergences', 'sampler', 'bulk' or 'cache'."""
    import re

    from meting.report import comparison_text as CT
    from meting.report.tables import diagnostics_table
    from meting.sae.diagnostics import Diagnostics

    texts = [
        S.synthetic_notice("synthetic").html,
        S.methods_note(
            target=7.0, confidence=0.95, adjustment="holm", min_n=30, prob_above=0.95,
            prob_below=0.05, margins=[("sex",)], respondents=10, municipalities=2, synthetic=True,
        ).html,
        CT.comparison_methods(
            confidence=0.95, adjustment="holm", min_n=30, waves=["2008-nulmeting"], synthetic=True
        ).html,
    ]  # fmt: skip
    fields: dict[str, object] = {f: 0 for f in Diagnostics.__dataclass_fields__}
    fields.update(sampler="nutpie", chains=4, draws=1000, max_rhat=1.0, trustworthy=True)
    fields.update(worst_rhat="mu", worst_ess_bulk="mu", worst_ess_tail="mu", from_cache=False)
    texts.append(diagnostics_table(Diagnostics(**fields)).html)  # type: ignore[arg-type]
    for text in texts:
        plain = re.sub(r"<[^>]+>", " ", text)
        plain = re.sub(r"\([^)]*\)", "", plain)  # an English term explained in brackets is fine
        for word in ("wave", "seed", "draws", "chains", "divergences", "sampler", "bulk", "cache"):
            assert re.search(rf"\b{word}\b", plain, flags=re.I) is None, (word, plain[:200])
