"""The national parameter set (params/nationaal/): the real division of 2008-2010, the real
mergers of 2009 and 2010 in the dated code mapping, synthetic waves on that division, and the
plan of the national reports.

References are independent of the code under test: the divisions come from the shipped
boundary files (meting.geo.division reads only their properties), the mergers are checked
against the CBS list of herindelingen of 1 January 2009 and 2010 (written out below), the
populations against conservation across divisions.
"""

from __future__ import annotations

import datetime as dt
import shutil

import numpy as np
import pandas as pd
import pytest
from stub_project import NOTEBOOKS, PROJECT_PARAMS

from meting import columns as C
from meting import geo
from meting.errors import ParameterError
from meting.pipeline import wave_data_files
from meting.registry import load_registry, parameter_files
from meting.report.build import plan_reports, report_command
from meting.synthetic import generate_wave
from meting.synthetic.national import derived_code_changes, national_params_dir

NATIONAL = PROJECT_PARAMS / "nationaal"
WAVES = ("2008-nulmeting", "2009-vervolgmeting", "2010-vervolgmeting")

#: CBS, "Gemeentelijke indeling op 1 januari" 2009 and 2010 (herindelingen): old code -> the
#: new code(s) its territory went to. Written from the CBS overview, not from the boundaries.
CBS_MERGERS = {
    "2009-01-01": {
        "GM0065": {"GM1891"},  # Dantumadeel -> Dantumadiel (new name, new code)
        "GM0372": {"GM0377"},  # Bennebroek -> Bloemendaal
        "GM0483": {"GM1884"},  # Alkemade -> Kaag en Braassem
        "GM0645": {"GM1884"},  # Jacobswoude -> Kaag en Braassem
    },
    "2010-01-01": {
        "GM0039": {"GM1895"},  # Scheemda -> Oldambt
        "GM0052": {"GM1895"},  # Winschoten -> Oldambt
        "GM1661": {"GM1895"},  # Reiderland -> Oldambt
        "GM0563": {"GM1892"},  # Moordrecht -> Zuidplas
        "GM1666": {"GM1892"},  # Zevenhuizen-Moerkapelle -> Zuidplas
        "GM0885": {"GM0983"},  # Arcen en Velden -> Venlo
        "GM0918": {"GM1894"},  # Helden -> Peel en Maas
        "GM0934": {"GM1894"},  # Maasbree -> Peel en Maas
        "GM0941": {"GM1894"},  # Meijel -> Peel en Maas
        "GM0964": {"GM1507"},  # Sevenum -> Horst aan de Maas
        "GM0993": {"GM1507", "GM0984"},  # Meerlo-Wanssum split: Horst aan de Maas, Venray
    },
}
#: Codes whose main successor is known but where the boundaries show a smaller part elsewhere:
#: Kessel (Kessel-Eik went to Leudal) and Nieuwerkerk aan den IJssel (7 % of its area lies in
#: Ouderkerk in the 2010 boundaries); only the main successor is checked.
MAIN_SUCCESSOR = {"GM0929": "GM1894", "GM0567": "GM1892"}


@pytest.fixture(scope="module")
def national():
    return load_registry(NATIONAL)


@pytest.fixture(scope="module")
def base():
    return load_registry(PROJECT_PARAMS)


def test_mergers_cover_every_disappeared_code(base) -> None:
    for year in (2009, 2010):
        before, after = geo.division(year - 1), geo.division(year)
        gone = set(before["municipality"]) - set(after["municipality"])
        day = f"{year}-01-01"
        rows = [c for c in base.code_changes if c.valid_from.isoformat() == day]
        assert {c.old_code for c in rows} == gone
        later = set(after["municipality"])
        names = dict(zip(after["municipality"], after["name"], strict=True))
        for c in rows:
            assert c.new_code in later and c.new_name == names[c.new_code]
            assert "afgeleid uit de CBS-gemeentegrenzen" in c.note
        totals = pd.Series([c.population_share for c in rows], [c.old_code for c in rows])
        np.testing.assert_allclose(totals.groupby(level=0).sum(), 1.0, atol=1e-9)
        # the CBS list of herindelingen
        successors: dict[str, set[str]] = {}
        for c in rows:
            successors.setdefault(c.old_code, set()).add(c.new_code)
        for old, expected in CBS_MERGERS[day].items():
            assert successors[old] == expected, old
        for old, main in MAIN_SUCCESSOR.items():
            if old in successors:
                assert base.map_code(old, dt.date(year, 6, 1)) == main


def test_the_committed_rows_are_what_the_boundaries_give(base) -> None:
    derived = derived_code_changes()
    derived_rows = {
        (r.old_code, r.new_code, r.valid_from, round(r.population_share, 4))
        for r in derived.itertuples()
    }
    committed = {
        (c.old_code, c.new_code, c.valid_from.isoformat(), round(c.population_share, 4))
        for c in base.code_changes
        if c.valid_from.year in (2009, 2010)
    }
    assert committed == derived_rows


def test_registry_loads_the_national_division(national, base) -> None:
    assert national.project_root == PROJECT_PARAMS.parent
    assert national.synthetic_dir == PROJECT_PARAMS.parent / "data" / "synthetic" / "nationaal"
    assert national.reports_dir == PROJECT_PARAMS.parent / "reports" / "nationaal"
    assert set(national.life_events) == set(base.life_events)  # from the base folder
    assert national.code_changes == base.code_changes
    for label in WAVES:  # the set's margins replace the waves' municipality x age x sex
        assert national.waves[label].weighting == (
            (C.MUNICIPALITY,),
            (C.AGE_BAND, C.SEX),
            (C.EDUCATION,),
        )
        assert base.waves[label].weighting[0] == (C.MUNICIPALITY, C.AGE_BAND, C.SEX)
    totals = []
    for label in WAVES:
        wave = national.waves[label]
        div = geo.division(geo.year_of_division(wave.reference_date))
        codes = national.municipalities_on(wave.reference_date)
        assert codes == div["municipality"].tolist()
        assert len(codes) == {2008: 443, 2009: 441, 2010: 431}[wave.year]
        names = {c: national.municipality_on(c, wave.reference_date).name for c in codes}
        assert names == dict(zip(div["municipality"], div["name"], strict=True))
        totals.append(national.population(on=wave.reference_date)["count"].sum())
    # a merger hands its population on: the country keeps its adults (rounding to tens aside)
    np.testing.assert_allclose(totals, totals[0], rtol=1e-4)
    # the 14 shipped municipalities keep their figures, the rest are labelled as assumed
    for code, mun in base.municipalities.items():
        assert national.municipality_on(code, dt.date(2008, 3, 1)).counts == mun.counts
    sources = {m.population_source for m in national.municipalities.values()}
    assert all(s.startswith("Aanname") for s in sources - {m.population_source for m in
                                                              base.municipalities.values()})  # fmt: skip


def test_codes_exist_from_the_day_the_division_says(national) -> None:
    assert national.introduced_on("GM1884") == dt.date(2009, 1, 1)  # Kaag en Braassem
    assert national.introduced_on("GM0377") is None  # Bloemendaal existed before it grew
    on_2008, on_2010 = dt.date(2008, 3, 1), dt.date(2010, 5, 1)
    assert "GM0377" in national.municipalities_on(on_2008)
    assert "GM1895" not in national.municipalities_on(on_2008)
    bloemendaal_2008 = national.municipality_on("GM0377", on_2008).adults
    bennebroek = national.municipality_on("GM0372", on_2008).adults
    grown = national.municipality_on("GM0377", dt.date(2009, 9, 1)).adults
    assert abs(grown - (bloemendaal_2008 + bennebroek)) <= 10
    assert national.municipality_on("GM1895", on_2010).adults > 0


def test_national_waves_follow_the_division_and_keep_the_truth(national) -> None:
    for label in (WAVES[0], WAVES[2]):  # 2009 is written by the command test below
        wave = national.waves[label]
        div = geo.division(geo.year_of_division(wave.reference_date))
        w = generate_wave(national, label, n_respondents=2000)
        assert len(w.respondents) == 2000
        cells = w.truth_cells
        assert sorted(cells[C.MUNICIPALITY].unique()) == div["municipality"].tolist()
        assert len(cells) == len(div) * len(national.life_events)
        assert set(w.respondents[C.MUNICIPALITY].astype(str)) <= set(div["municipality"])
        # the exact population means reach the wave's targets (truth kept as for the 14)
        for level in ("chain", "government", "cooperation"):
            assert w.truth_overall[level] == pytest.approx(wave.targets[level], abs=1e-9)
        expected_pop = national.population(on=wave.reference_date)["count"].sum() * sum(
            e.incidence for e in national.life_events.values()
        )
        assert cells["population"].sum() == pytest.approx(expected_pop, rel=1e-9)


def test_national_plan_lists_one_report_per_sampled_municipality(national, tmp_path) -> None:
    plan = plan_reports(national, tmp_path, limit=3)
    kinds = [p.kind for p in plan]
    assert kinds.count("wave") == 3 and kinds.count("comparison") == 1
    assert kinds.count("validation") == 1
    munis = [p for p in plan if p.kind == "municipality"]
    division_2010 = geo.division(2010)["municipality"].tolist()
    assert [p.job.name for p in munis] == [division_2010[0], division_2010[215], division_2010[-1]]
    for p in munis:
        assert p.job.out_dir == tmp_path / "2010-vervolgmeting" / "gemeenten"
        assert p.job.parameters["params_dir"] == str(NATIONAL)
    full = plan_reports(national, tmp_path)
    assert [p.kind for p in full].count("municipality") == 431
    with pytest.raises(ParameterError, match="--limit"):
        plan_reports(national, tmp_path, limit=0)


def test_the_municipality_reports_of_an_earlier_wave_follow_its_division(national, tmp_path):
    plan = plan_reports(national, tmp_path, municipalities_of="2008-nulmeting")
    munis = [p for p in plan if p.kind == "municipality"]
    division_2008 = geo.division(2008)["municipality"].tolist()
    assert [p.job.name for p in munis] == division_2008  # 443, not the 431 of 2010
    assert len(munis) == 443
    for p in munis:
        assert p.job.out_dir == tmp_path / "2008-nulmeting" / "gemeenten"
        assert p.job.parameters["wave"] == "2008-nulmeting"
        assert p.after == ("2008-nulmeting",)
    with pytest.raises(ParameterError, match=r"--municipalities-of .*'2007'.*2008-nulmeting"):
        plan_reports(national, tmp_path, municipalities_of="2007")


def test_parameter_files_of_each_set(national) -> None:
    default = parameter_files(PROJECT_PARAMS)
    assert not any("nationaal" in p.parts for p in default)
    files = parameter_files(NATIONAL)
    assert NATIONAL / "municipalities.csv" in files and NATIONAL / "set.yaml" in files
    assert PROJECT_PARAMS / "life_events.yaml" in files
    assert not any(p.parent.name == "municipalities" for p in files)


STUB = """# %% tags=["parameters"]
params_dir = ""
wave = ""
municipality = ""

# %%
print("gemeente", municipality, "meting", wave)
"""


@pytest.mark.integration  # renders real notebooks
def test_report_national_renders_into_its_own_folder(tmp_path) -> None:
    """`meting report --national --limit 2 gemeenten` on a copy of params/ with stand-in
    notebooks: the reports land in the set's folder, not in reports/."""
    shutil.copytree(PROJECT_PARAMS, tmp_path / "params")
    registry = load_registry(national_params_dir(tmp_path / "params"))
    for label in registry.waves:
        for path in wave_data_files(registry, label).values():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("")
    assert registry.synthetic_dir == tmp_path / "data" / "synthetic" / "nationaal"
    (tmp_path / "notebooks").mkdir()
    for name in NOTEBOOKS:
        (tmp_path / "notebooks" / f"{name}_report.py").write_text(STUB)
    lines: list[str] = []
    report_command(
        ["gemeenten"],
        params_dir=tmp_path / "params",
        national=True,
        limit=2,
        notebooks_dir=tmp_path / "notebooks",
        pdf=False,
        jobs=1,
        emit=lines.append,
    )
    out = tmp_path / "reports" / "nationaal"
    first, last = geo.division(2010)["municipality"].iloc[[0, -1]]
    for code in (first, last):
        assert (out / "2010-vervolgmeting" / "gemeenten" / f"{code}.html").is_file()
    assert not (tmp_path / "reports" / "2010-vervolgmeting").exists()
    assert any(line.startswith("2 rapporten") for line in lines)
    index = (out / "index.html").read_text(encoding="utf-8")
    assert f"{first}.html" in index


def test_generate_national_command_writes_the_set_folder(tmp_path, capsys) -> None:
    from meting.cli import main

    out = tmp_path / "nat"
    assert main(["generate", "--national", "--respondents", "300", "--out", str(out),
                 "2009-vervolgmeting"]) == 0  # fmt: skip
    written = pd.read_csv(out / "2009-vervolgmeting" / "respondents.csv", dtype=str)
    assert len(written) == 300
    truth = pd.read_csv(out / "2009-vervolgmeting" / "truth_cells.csv", dtype=str)
    assert sorted(truth[C.MUNICIPALITY].unique()) == geo.division(2009)["municipality"].tolist()
    for name in ("organisations.csv", "truth_cells.csv", "truth_strata.csv"):
        assert (out / "2009-vervolgmeting" / name).stat().st_size > 0
    assert "2009-vervolgmeting: 300 respondenten" in capsys.readouterr().out
    assert main(["generate", "--national", "--respondents", "0"]) == 1
    assert main(["generate", "--benchmark", "2008-nulmeting"]) == 1
    assert "--benchmark" in capsys.readouterr().err


def test_wave_codes_are_checked_against_the_division_of_their_date(national) -> None:
    from meting.lookups import _code_on

    on_2008, on_2010 = dt.date(2008, 3, 1), dt.date(2010, 5, 1)
    assert _code_on(national, "GM0377", on_2008) is None  # Bloemendaal before Bennebroek joined
    assert _code_on(national, "GM0372", on_2008) is None
    gone = _code_on(national, "GM0372", on_2010)
    assert gone is not None and "GM0377" in gone[1]
    early = _code_on(national, "GM1895", on_2008)
    assert early is not None and "2010-01-01" in early[1]


def test_assumed_population_is_labelled(national, base) -> None:
    from meting.report.summary import population_notice

    on = national.waves["2010-vervolgmeting"].reference_date
    text = population_notice(national, on)._repr_html_()
    assert "aanname" in text and "van 417 van de 431 gemeenten" in text
    assert "van deze gemeente" in population_notice(national, on, ["GM1895"])._repr_html_()
    assert population_notice(national, on, ["GM0505"])._repr_html_() == ""  # shipped figures
    assert population_notice(base, on)._repr_html_() == ""
