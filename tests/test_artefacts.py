"""The per-wave artefacts (meting.artefacts): computed once, stored as aggregates, read back.

The reference is the per-report computation the municipality report did before (the pipeline and
knelpunten functions on the weighted design, for one municipality): the stored tables must give
the same rows. The model fit runs with mocked NUTS (plumbing).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from meting import artefacts as AR
from meting import columns as C
from meting import pipeline as P
from meting.knelpunten import improvement_agenda
from meting.registry import load_registry
from meting.report import sections as KT
from meting.synthetic import generate_command

PROJECT_PARAMS = Path(__file__).resolve().parents[1] / "params"
WAVE = "2010-vervolgmeting"
CODE = "GM0505"


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("project")
    shutil.copytree(PROJECT_PARAMS, root / "params")
    generate_command([WAVE], out_dir=root / "data" / "synthetic", params_dir=root / "params")
    return root


@pytest.fixture(scope="module")
def stored(project: Path, sampling_mock) -> AR.WaveArtefacts:
    with sampling_mock():
        return AR.wave_artefacts(load_registry(project / "params"), WAVE)


def test_stored_once_atomically_and_read_back(
    project: Path, stored: AR.WaveArtefacts, monkeypatch: pytest.MonkeyPatch
) -> None:
    registry = load_registry(project / "params")
    assert stored.folder.parent == AR.artefacts_dir(registry)
    assert stored.folder.name.startswith(f"{WAVE}-{stored.key[:24]}")
    assert sorted(p.name for p in stored.folder.iterdir()) == sorted(
        [f"{t}.parquet" for t in AR.TABLES] + [AR.META]
    )
    assert not [p for p in stored.folder.parent.iterdir() if p.name.startswith(".tmp-")]

    def refuse(*args: object) -> None:
        raise AssertionError("the artefacts must be read, not computed again")

    monkeypatch.setattr(AR, "_compute", refuse)
    again = AR.wave_artefacts(registry, WAVE)
    assert again.key == stored.key
    for name in AR.TABLES:
        pd.testing.assert_frame_equal(again.tables[name], stored.tables[name])
        assert again.tables[name].attrs == stored.tables[name].attrs


def test_key_follows_data_and_parameters(project: Path, stored: AR.WaveArtefacts) -> None:
    registry = load_registry(project / "params")
    assert AR.artefact_key(registry, WAVE) == stored.key
    analysis = project / "params" / "analysis.yaml"
    text = analysis.read_text()
    try:
        analysis.write_text(text + "\n# a comment changes the file's hash\n")
        assert AR.artefact_key(load_registry(project / "params"), WAVE) != stored.key
    finally:
        analysis.write_text(text)
    assert AR.artefact_key(load_registry(project / "params"), WAVE) == stored.key


def test_only_aggregates_are_stored(project: Path, stored: AR.WaveArtefacts) -> None:
    registry = load_registry(project / "params")
    respondents = pd.read_csv(project / "data" / "synthetic" / WAVE / "respondents.csv", dtype=str)
    ids = set(respondents[C.RESPONDENT_ID])
    n_mun, n_ev = len(registry.municipalities), len(registry.life_events)
    for name, table in stored.tables.items():
        assert C.RESPONDENT_ID not in table.columns, name
        assert len(table) <= n_mun * n_ev, name  # at most one row per cell, never per respondent
        for column in table.columns:
            if table[column].dtype == object or pd.api.types.is_string_dtype(table[column]):
                assert not ids & set(table[column].dropna().astype(str)), (name, column)
    cells = stored.tables["cells"]
    assert len(cells) == n_mun * n_ev and (cells["n"] >= 0).all()
    assert cells["n"].sum() == respondents[C.SCORE_CHAIN].replace("", pd.NA).notna().sum()


def test_municipality_tables_equal_the_per_report_computation(
    project: Path, stored: AR.WaveArtefacts, sampling_mock
) -> None:
    registry = load_registry(project / "params")
    s = registry.settings
    an = P.analyse_wave(registry, WAVE)
    with sampling_mock():
        # the cached fit the artefacts were made from, benchmarked as the reports publish it
        sae = P.fit_small_areas(an, benchmark=True)
    mine = stored.municipality(CODE)

    def same(a: pd.DataFrame, b: pd.DataFrame) -> None:
        pd.testing.assert_frame_equal(
            a.reset_index(drop=True),
            b.reset_index(drop=True),
            check_dtype=False,
            check_column_type=False,
            check_index_type=False,
            check_categorical=False,
        )

    same(mine.cells, P.municipality_cells(an, sae, CODE))
    assert mine.cells["benchmarked"].all() and mine.overall["benchmarked"].all()
    by_mun = P.sae_by(an, sae, C.MUNICIPALITY)
    same(mine.overall, by_mun.loc[by_mun[C.MUNICIPALITY].astype(str) == CODE])
    same(mine.vs_rest, P.municipality_vs_rest(an, CODE))
    norms = KT.norms_table(an.design, min_n=s.min_cell_size, by=C.MUNICIPALITY, level=s.confidence)
    same(mine.norms, KT.select(norms, C.MUNICIPALITY, CODE))
    assert (
        mine.norms.attrs["suppressed"] == KT.select(norms, C.MUNICIPALITY, CODE).attrs["suppressed"]
    )
    same(mine.national_norms, KT.norms_table(an.design, min_n=s.min_cell_size, level=s.confidence))
    names = {k: v.name for k, v in registry.municipalities.items()}
    trim = KT.trim_table(an.design, min_n=s.min_cell_size, names=names, level=s.confidence)
    assert mine.trim is not None
    same(mine.trim, trim)
    assert mine.trim.attrs["national"] == pytest.approx(trim.attrs["national"])
    chain = KT.municipality_chain(
        an.design, an.data.organisations, CODE, min_n=s.min_cell_size,
        names={k: v.name for k, v in registry.life_events.items()},
        organisation_names={k: v.name for k, v in registry.organisations.items()},
    )  # fmt: skip
    assert mine.chain is not None and chain is not None
    same(mine.chain, chain)
    agenda = improvement_agenda(an.design, target=s.target, min_cell_size=s.min_cell_size)
    same(mine.agenda, P.agenda_for(an, agenda, CODE)[mine.agenda.columns])


def test_unknown_wave_or_municipality_is_refused(project: Path, stored: AR.WaveArtefacts) -> None:
    from meting.errors import ParameterError

    with pytest.raises(ParameterError, match="wave must be a label"):
        AR.wave_artefacts(load_registry(project / "params"), "1999-nergens")
    with pytest.raises(ParameterError, match="GM9999"):
        stored.municipality("GM9999")


def test_trend_is_stored_as_the_per_report_computation(
    tmp_path: Path, project: Path, stored: AR.WaveArtefacts
) -> None:
    """The municipality's trend comes from the artefacts (no re-weighting per report): stored and
    read back through Parquet, it equals :func:`meting.trends.municipality_trend` on the waves
    analysed afresh, for one wave (no changes) and for two waves (a tested change)."""
    from meting.trends import municipality_trend

    registry = load_registry(project / "params")
    an = P.analyse_wave(registry, WAVE)
    mine = stored.municipality(CODE)
    est, changes = municipality_trend({WAVE: an}, CODE, order=[WAVE])
    assert not est.empty and changes == {} and mine.trend_changes == {}
    assert mine.trend is not None
    pd.testing.assert_frame_equal(mine.trend, est, check_dtype=False)

    earlier = "2009-vervolgmeting"
    generate_command(
        [earlier], out_dir=project / "data" / "synthetic", params_dir=project / "params"
    )
    try:
        registry = load_registry(project / "params")
        waves = [earlier, WAVE]
        analyses = {w: P.analyse_wave(registry, w) for w in waves}
        codes = sorted(registry.municipalities)
        trend, trend_changes = AR._trend_tables(registry, WAVE, analyses[WAVE], waves, codes)
        trend.to_parquet(tmp_path / "t.parquet", index=False)
        trend_changes.to_parquet(tmp_path / "c.parquet", index=False)
        trend, trend_changes = (pd.read_parquet(tmp_path / f) for f in ("t.parquet", "c.parquet"))
        for code in (CODE, codes[-1]):
            est, changes = municipality_trend(analyses, code, order=waves)
            pd.testing.assert_frame_equal(AR._trend(trend, code), est, check_dtype=False)
            got = AR._trend_changes(trend_changes, code)
            assert list(got) == list(changes) == [(earlier, WAVE)]
            for pair, table in changes.items():
                pd.testing.assert_frame_equal(got[pair], table, check_dtype=False)
        assert AR._trend(trend, "GM9999").empty and AR._trend_changes(trend_changes, "GM9999") == {}
    finally:
        shutil.rmtree(project / "data" / "synthetic" / earlier)
