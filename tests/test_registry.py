"""Tests of meting.registry: the shipped params load, and every kind of broken file is named."""

from __future__ import annotations

import datetime as dt
import re
import shutil
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import pytest
from pydantic import ValidationError

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
    ("analysis.yaml", _sub("  sigma_area: 1.0", "  sigma_area: -0.5"), "sae_priors.sigma_area"),
    ("analysis.yaml", _sub("sampler: nutpie", "sampler: emcee"), "sampler"),
    ("analysis.yaml", _sub("target: 7.0", "target: 7.0\ntargte: 7.0"), "targte"),
    (
        "analysis.yaml",
        _sub("  prob_below: 0.05", "  prob_below: 0.05\n  prob_mid: 0.5"),
        "bayes.prob_mid",
    ),
    (
        "population_education.yaml",
        _sub('"65+": {laag: 0.58, midden: 0.27, hoog: 0.15}', '"65+": {laag: 0.58, midden: 0.27}'),
        "education_shares.65+.hoog",
    ),
    (
        "population_education.yaml",
        _sub("hoog: 0.15}", "hoog: 0.25}"),
        "education_shares.65+",
    ),
    (
        "municipalities/GM0014.yaml",
        _sub("reference_date: 2008-01-01", "reference_date: 2008-13-45"),
        "reference_date",
    ),
    ("waves/2008-nulmeting.yaml", _sub("  seed: 2008", "  seed: 2008\n  sead: 1"), "source.sead"),
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


# --------------------------------------------------------------------------------------------
# hostile files: the safe YAML loader
# --------------------------------------------------------------------------------------------
def test_alias_bomb_is_refused_before_it_expands(tmp_path) -> None:
    params = _copy(tmp_path)
    path = params / "analysis.yaml"
    levels = ['a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, 12):  # 9**12 strings once expanded
        prev = chr(ord("a") + i - 1)
        name = chr(ord("a") + i)
        levels.append(f"{name}: &{name} [{', '.join(['*' + prev] * 9)}]")
    path.write_text("\n".join(levels) + "\n", encoding="utf-8")
    # Refused before expansion: the 9**12 strings would need terabytes, the refusal a few MB.
    tracemalloc.start()
    try:
        with pytest.raises(ParameterError) as info:
            load_registry(params)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 50_000_000, peak
    msg = str(info.value)
    assert str(path) in msg and "anchors or aliases" in msg and "line 1" in msg, msg
    assert len(msg) < 400, msg


def test_duplicate_key_names_file_key_and_line(tmp_path) -> None:
    params = _copy(tmp_path)
    path = params / "analysis.yaml"
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines()
    line = lines.index("min_cell_size: 30") + 1
    path.write_text(text + "min_cell_size: 5\n", encoding="utf-8")
    with pytest.raises(ParameterError) as info:
        load_registry(params)
    msg = str(info.value)
    assert str(path) in msg and "duplicate key 'min_cell_size'" in msg, msg
    assert f"on line {len(lines) + 1} (first on line {line})" in msg, msg


def test_invalid_date_names_file_and_field(tmp_path) -> None:
    params = _copy(tmp_path)
    path = params / "waves" / "2009-vervolgmeting.yaml"
    text = path.read_text(encoding="utf-8")
    old = next(x for x in text.splitlines() if x.startswith("reference_date:"))
    path.write_text(text.replace(old, "reference_date: 2009-13-45"), encoding="utf-8")
    with pytest.raises(ParameterError) as info:
        load_registry(params)
    msg = str(info.value)
    assert msg.startswith(f"{path}: field 'reference_date' must be a real date"), msg
    assert "'2009-13-45'" in msg, msg


@pytest.mark.parametrize("folder", ["", "municipalities", "waves"])
def test_yml_files_are_refused(tmp_path, folder) -> None:
    params = _copy(tmp_path)
    stray = params / folder / "extra.yml"
    stray.write_text("a: 1\n", encoding="utf-8")
    with pytest.raises(ParameterError) as info:
        load_registry(params)
    msg = str(info.value)
    assert str(stray) in msg and "rename it to extra.yaml" in msg.lower(), msg


def test_unknown_key_in_analysis_yaml(tmp_path) -> None:
    params = _copy(tmp_path)
    path = params / "analysis.yaml"
    path.write_text(
        path.read_text(encoding="utf-8").replace("tune: 1000", "tune: 1000\ntunes: 500"),
        encoding="utf-8",
    )
    with pytest.raises(ParameterError) as info:
        load_registry(params)
    msg = str(info.value)
    assert msg.startswith(f"{path}: field 'tunes' must not be there (an unknown key"), msg
    assert "got 500." in msg, msg


def test_huge_value_is_not_printed(tmp_path) -> None:
    params = _copy(tmp_path)
    path = params / "analysis.yaml"
    huge = "x" * 100_000
    path.write_text(
        path.read_text(encoding="utf-8").replace("sampler: nutpie", f"sampler: {huge}"),
        encoding="utf-8",
    )
    with pytest.raises(ParameterError) as info:
        load_registry(params)
    msg = str(info.value)
    assert "field 'sampler'" in msg and len(msg) < 400, msg[:500]


def test_settings_are_typed_and_frozen() -> None:
    s = load_registry().settings
    assert (s.prob_above, s.prob_below) == (s.bayes.prob_above, s.bayes.prob_below)
    with pytest.raises(ValidationError):
        s.target = 6.0  # type: ignore[misc]
    fields = {**type(s).model_fields, **type(s.sae_priors).model_fields}
    assert all(f.description for f in fields.values())


def test_one_place_derives_the_mcmc_seed_of_a_wave() -> None:
    reg = load_registry()
    s = reg.settings
    for wave in reg.waves.values():
        sampling = s.sampling_for(wave)
        assert sampling.random_seed == s.random_seed + wave.year == s.seed_for(wave)
        assert (sampling.sampler, sampling.chains, sampling.draws, sampling.tune) == (
            s.sampler,
            s.chains,
            s.draws,
            s.tune,
        )
        assert sampling.target_accept == s.target_accept


def test_sae_priors_reach_the_model_and_keep_todays_defaults() -> None:
    from meting.sae.spec import Priors

    priors = load_registry().settings.priors()
    default = Priors()
    groups = ["life_event", "municipality"]
    assert (priors.mu_loc, priors.mu_scale) == (default.mu_loc, default.mu_scale)
    assert [priors.sd_prior(g) for g in groups] == [default.sd_prior(g) for g in groups]
    assert (priors.cell_sd, priors.sigma) == (default.cell_sd, default.sigma)
    assert (priors.beta_scale, priors.strata_scale) == (default.beta_scale, default.strata_scale)


def test_changing_a_prior_in_the_settings_changes_the_fit_fingerprint(tmp_path) -> None:
    from meting.sae.spec import ModelSpec, spec_fingerprint

    params = _copy(tmp_path)
    path = params / "analysis.yaml"
    base = load_registry(params).settings.priors()
    path.write_text(
        path.read_text(encoding="utf-8").replace("  sigma_area: 1.0", "  sigma_area: 0.7"),
        encoding="utf-8",
    )
    changed = load_registry(params).settings.priors()
    assert changed.sd_prior("municipality").scale == 0.7
    groups = ("life_event", "municipality")
    a = spec_fingerprint(ModelSpec("area", groups, priors=base))
    b = spec_fingerprint(ModelSpec("area", groups, priors=changed))
    assert a != b
