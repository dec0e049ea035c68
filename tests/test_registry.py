"""Tests of meting.registry: the shipped params load, and every kind of broken file is named."""

from __future__ import annotations

import datetime as dt
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from meting import columns as C
from meting.errors import ParameterError
from meting.registry import default_params_dir, load_registry

PARAMS = Path(__file__).resolve().parents[1] / "params"


@pytest.fixture(scope="module")
def registry():
    return load_registry(PARAMS)


def test_shipped_params_load(registry) -> None:
    assert len(registry.municipalities) == 14
    assert {"GM0014", "GM0505", "GM0794", "GM1684", "GM0848"} <= set(registry.municipalities)
    assert 12 <= len(registry.life_events) <= 15
    for code in ("kortdurend_ziek", "burgerlijke_staat", "werkloos", "slachtoffer_misdrijf"):
        assert code in registry.life_events
    assert registry.life_events["werkloos"].organisations[0] == "uwv"
    assert registry.life_events["starten_ondernemer"].organisations[0] == "kvk"
    assert list(registry.waves) == ["2008-nulmeting", "2009-vervolgmeting", "2010-vervolgmeting"]
    w08, w10 = registry.waves["2008-nulmeting"], registry.waves["2010-vervolgmeting"]
    assert dict(w08.published) == {"organisations": 7.0, "chain": 6.7, "cooperation": 6.2}
    assert dict(w10.published) == {"organisations": 6.9, "chain": 6.7}
    assert dict(registry.waves["2009-vervolgmeting"].published) == {}
    assert w10.previous == "2009-vervolgmeting" and w08.previous is None
    assert w08.weighting == ((C.MUNICIPALITY, C.AGE_BAND, C.SEX), (C.EDUCATION,))
    s = registry.settings
    assert (s.target, s.confidence, s.min_cell_size, s.multiple_testing) == (7.0, 0.95, 30, "holm")


def test_municipality_codes_are_strings_with_leading_zeros(registry) -> None:
    for code, m in registry.municipalities.items():
        assert isinstance(code, str) and re.fullmatch(r"GM\d{4}", code)
        assert m.code == code
        assert list(m.population.columns) == [C.AGE_BAND, C.SEX, "count"]
        assert len(m.population) == len(C.AGE_BANDS) * len(C.SEXES)
    # orders of magnitude from CBS 2008 (adults): Groningen ~150k, Son en Breugel ~12k
    assert 120_000 < registry.municipalities["GM0014"].adults < 180_000
    assert 9_000 < registry.municipalities["GM0848"].adults < 15_000


def test_population_table(registry) -> None:
    pop = registry.population(["GM0505", "GM0794"])
    assert list(pop.columns) == [C.MUNICIPALITY, C.AGE_BAND, C.SEX, "count"]
    assert len(pop) == 16
    assert pop["count"].sum() == (
        registry.municipalities["GM0505"].adults + registry.municipalities["GM0794"].adults
    )
    assert len(registry.population()) == 14 * 8
    with pytest.raises(ParameterError, match="GM9999"):
        registry.population(["GM9999"])


def test_map_code_cuijk(registry) -> None:
    assert registry.map_code("GM1684", dt.date(2021, 12, 31)) == "GM1684"
    assert registry.map_code("GM1684", dt.date(2022, 1, 1)) == "GM1982"
    assert registry.map_code("GM1684", dt.date(2008, 3, 1)) == "GM1684"
    assert registry.map_code("GM0505", dt.date(2030, 1, 1)) == "GM0505"
    assert registry.is_known_municipality("GM1684")
    assert registry.is_known_municipality("GM1982")
    assert not registry.is_known_municipality("GM9999")


def test_map_code_follows_a_chain(tmp_path: Path) -> None:
    params = _copy(tmp_path)
    path = params / "municipality_code_changes.csv"
    path.write_text(
        path.read_text(encoding="utf-8") + "GM1982,GM1999,Verzonnen,2030-01-01,1.0,test\n",
        encoding="utf-8",
    )
    reg = load_registry(params)
    assert reg.map_code("GM1684", dt.date(2029, 12, 31)) == "GM1982"
    assert reg.map_code("GM1684", dt.date(2030, 1, 1)) == "GM1999"


def test_default_params_dir_env(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.delenv("METING_PARAMS", raising=False)
    assert default_params_dir() == PARAMS
    monkeypatch.setenv("METING_PARAMS", str(tmp_path))
    assert default_params_dir() == tmp_path.resolve()


# --------------------------------------------------------------------------------------------
# broken files: copy params/, break one field, expect a message naming file and field
# --------------------------------------------------------------------------------------------
def _copy(tmp_path: Path) -> Path:
    dst = tmp_path / "params"
    shutil.copytree(PARAMS, dst)
    return dst


def _sub(old: str, new: str, count: int = 1) -> Callable[[str], str]:
    def edit(text: str) -> str:
        assert old in text, old
        return text.replace(old, new, count)

    return edit


BROKEN = [
    # (file, edit, field named in the message)
    ("municipalities/GM0014.yaml", _sub('code: "GM0014"', "code: 14"), "code"),
    ("municipalities/GM0014.yaml", _sub('code: "GM0014"', 'code: "G0014"'), "code"),
    ("municipalities/GM0014.yaml", _sub('code: "GM0014"', 'code: "GM0015"'), "code"),
    ("municipalities/GM0014.yaml", _sub('name: "Groningen"\n', ""), "name"),
    (
        "municipalities/GM0014.yaml",
        _sub('size_class: "100.000+"', 'size_class: "groot"'),
        "size_class",
    ),
    ("municipalities/GM0014.yaml", _sub('"65+"', '"65-79"'), "population"),
    ("municipalities/GM0014.yaml", _sub("{man: ", "{man: -"), "population.18-34.man"),
    ("municipalities/GM0014.yaml", _sub("vrouw: ", "vrouw: x"), "population.18-34.vrouw"),
    (
        "life_events.yaml",
        _sub("[uwv, gemeente, belastingdienst]", "[uwv, gemeente, fiscus]"),
        "life_events[10].organisations",
    ),
    ("life_events.yaml", _sub("incidence: 0.080", "incidence: 1.5"), "life_events[0].incidence"),
    ("life_events.yaml", _sub("code: verhuizen", "code: Verhuizen!"), "life_events[2].code"),
    ("life_events.yaml", _sub("code: verhuizen", "code: kortdurend_ziek"), "life_events[2].code"),
    (
        "organisations.yaml",
        _sub('{code: rdw, name: "RDW"}', "{code: rdw}"),
        "organisations[14].name",
    ),
    (
        "waves/2010-vervolgmeting.yaml",
        _sub("previous: 2009-vervolgmeting", "previous: 2009-meting"),
        "previous",
    ),
    (
        "waves/2009-vervolgmeting.yaml",
        _sub("previous: 2008-nulmeting", "previous: 2010-vervolgmeting"),
        "previous",
    ),
    ("waves/2008-nulmeting.yaml", _sub("label: 2008-nulmeting", "label: 2008-baseline"), "label"),
    ("waves/2008-nulmeting.yaml", _sub("kind: nulmeting", "kind: basis"), "kind"),
    (
        "waves/2008-nulmeting.yaml",
        _sub("reference_date: 2008-03-01", "reference_date: 1 maart"),
        "reference_date",
    ),
    ("waves/2008-nulmeting.yaml", _sub("  seed: 2008\n", ""), "source.seed"),
    ("waves/2008-nulmeting.yaml", _sub("  type: synthetic\n", "  type: database\n"), "source.type"),
    ("waves/2008-nulmeting.yaml", _sub("- [education]", "- [opleiding]"), "weighting.margins[1]"),
    (
        "waves/2008-nulmeting.yaml",
        _sub("require_education: true", "require_education: false"),
        "weighting.require_education",
    ),
    (
        "waves/2008-nulmeting.yaml",
        _sub("    chain: 6.7\n", "    chain: 67\n"),
        "published.figures.chain",
    ),
    (
        "waves/2008-nulmeting.yaml",
        _sub("  government: 6.4", "  regering: 6.4"),
        "synthetic_targets.government",
    ),
    (
        "analysis.yaml",
        _sub("multiple_testing: holm", "multiple_testing: bonferroni"),
        "multiple_testing",
    ),
    ("analysis.yaml", _sub("confidence: 0.95", "confidence: 95"), "confidence"),
    ("analysis.yaml", _sub("min_cell_size: 30", "min_cell_size: dertig"), "min_cell_size"),
    ("analysis.yaml", _sub("  prob_above: 0.95", "  prob_above: 0.3"), "bayes.prob_above"),
    ("analysis.yaml", _sub("  sigma_area: 0.5", "  sigma_area: -0.5"), "sae_priors.sigma_area"),
    ("analysis.yaml", _sub("sampler: nutpie", "sampler: emcee"), "sampler"),
    ("municipality_code_changes.csv", _sub("GM1684,GM1982", "GM1684,LVC1982"), "new_code"),
    ("municipality_code_changes.csv", _sub(",1.0,", ",0.6,"), "population_share"),
    ("municipality_code_changes.csv", _sub("2022-01-01", "01-01-2022"), "valid_from"),
]


@pytest.mark.parametrize(("rel", "edit", "field"), BROKEN, ids=[f"{b[0]}:{b[2]}" for b in BROKEN])
def test_broken_parameter_file_names_file_and_field(tmp_path, rel, edit, field) -> None:
    params = _copy(tmp_path)
    path = params / rel
    path.write_text(edit(path.read_text(encoding="utf-8")), encoding="utf-8")
    with pytest.raises(ParameterError) as info:
        load_registry(params)
    msg = str(info.value)
    assert str(path) in msg, msg
    assert f"field '{field}'" in msg or f"field '{field}" in msg, msg
    assert " must " in msg and "; got " in msg, msg


def test_missing_file_and_bad_yaml(tmp_path) -> None:
    params = _copy(tmp_path)
    (params / "organisations.yaml").unlink()
    with pytest.raises(ParameterError, match="organisations.yaml: file must exist"):
        load_registry(params)
    params2 = _copy(tmp_path / "b")
    (params2 / "analysis.yaml").write_text("target: [7\n", encoding="utf-8")
    with pytest.raises(ParameterError, match="analysis.yaml: file must be valid UTF-8 YAML"):
        load_registry(params2)
    with pytest.raises(ParameterError, match="parameter folder must exist"):
        load_registry(tmp_path / "nowhere")


def test_new_municipality_is_one_new_file(tmp_path) -> None:
    params = _copy(tmp_path)
    text = (params / "municipalities" / "GM0848.yaml").read_text(encoding="utf-8")
    text = text.replace('"GM0848"', '"GM0363"').replace('"Son en Breugel"', '"Amsterdam"')
    (params / "municipalities" / "GM0363.yaml").write_text(text, encoding="utf-8")
    reg = load_registry(params)
    assert "GM0363" in reg.municipalities and len(reg.municipalities) == 15


def test_wave_with_real_data_files(tmp_path) -> None:
    params = _copy(tmp_path)
    path = params / "waves" / "2010-vervolgmeting.yaml"
    text = path.read_text(encoding="utf-8").replace(
        "  type: synthetic\n  seed: 2010\n",
        "  type: file\n  respondents: data/real/2010/respondents.csv\n"
        "  organisations: data/real/2010/organisations.csv\n",
    )
    path.write_text(text, encoding="utf-8")
    wave = load_registry(params).waves["2010-vervolgmeting"]
    assert wave.source == "file" and wave.seed is None
    assert wave.respondents == (tmp_path / "data/real/2010/respondents.csv").resolve()
    assert wave.organisations == (tmp_path / "data/real/2010/organisations.csv").resolve()
    assert load_registry(params).synthetic_waves() == ["2008-nulmeting", "2009-vervolgmeting"]
    path.write_text(text.replace("  respondents: data/real/2010/respondents.csv\n", ""), "utf-8")
    with pytest.raises(ParameterError, match="field 'source.respondents' must be present"):
        load_registry(params)
