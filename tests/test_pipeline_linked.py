"""pipeline.fit_linked_small_areas: the linked small-area fit over generated waves, with the
registry's code mapping applied (mocked NUTS: plumbing; the model itself is tested in
tests/test_sae_linked.py)."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import numpy as np
import pytest

from meting import columns as C
from meting import pipeline as A
from meting.errors import ParameterError
from meting.registry import Registry, load_registry
from meting.synthetic import generate_command

PROJECT_PARAMS = Path(__file__).resolve().parents[1] / "params"
WAVES = ["2008-nulmeting", "2010-vervolgmeting"]
MERGED, INTO = "GM0505", "GM0014"


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Registry:
    root = tmp_path_factory.mktemp("project")
    shutil.copytree(PROJECT_PARAMS, root / "params")
    generate_command(WAVES, out_dir=root / "data" / "synthetic", params_dir=root / "params")
    return load_registry(root / "params")


@pytest.fixture(scope="module")
def analyses(registry: Registry) -> dict[str, A.WaveAnalysis]:
    return {w: A.analyse_wave(registry, w) for w in WAVES}


@pytest.fixture(autouse=True)
def _loaded_once(analyses, monkeypatch: pytest.MonkeyPatch) -> None:
    """The waves are loaded and weighted once (and before a test patches the code mapping)."""
    monkeypatch.setattr(A, "analyse_wave", lambda registry, label: analyses[label])


def test_linked_fit_maps_a_merged_municipality_onto_the_new_code(
    registry: Registry, analyses, mock_sampling, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = Registry.map_code

    def merged(self: Registry, code: str, on: dt.date) -> str:
        # a stand-in merger on 2010-01-01: GM0505 joins GM0014
        if code == MERGED and on >= dt.date(2010, 1, 1):
            return INTO
        return real(self, code, on)

    monkeypatch.setattr(Registry, "map_code", merged)
    result = A.fit_linked_small_areas(registry, WAVES)
    cells = result.cells
    assert result.wave == "wave" and result.waves == sorted(WAVES)
    assert MERGED not in set(cells[C.MUNICIPALITY])
    n_munis = len(registry.municipalities) - 1
    assert len(cells) == len(registry.life_events) * n_munis * 2
    # the earlier wave's cell of the new code holds both municipalities' respondents
    raw = analyses[WAVES[0]].data.respondents
    has = raw[C.SCORE_CHAIN].notna()
    for event in sorted(registry.life_events)[:3]:
        mine = has & (raw[C.LIFE_EVENT].astype(str) == event)
        expected = int((mine & raw[C.MUNICIPALITY].astype(str).isin([MERGED, INTO])).sum())
        row = cells[
            (cells["wave"] == WAVES[0])
            & (cells[C.LIFE_EVENT] == event)
            & (cells[C.MUNICIPALITY] == INTO)
        ]
        assert int(row["n"].iloc[0]) == expected
    change = result.change(*WAVES)
    assert len(change) == len(registry.life_events) * n_munis
    assert change["prob_improved"].between(0, 1).all()


def test_linked_fit_benchmarks_to_the_life_event_estimates(
    registry: Registry, mock_sampling
) -> None:
    result = A.fit_linked_small_areas(registry, WAVES, benchmark=True)
    assert result.cells["benchmarked"].all()
    weights = A.cell_population(registry)
    agg = result.aggregate([C.LIFE_EVENT, "wave"], weights=weights)
    an = A.analyse_wave(registry, WAVES[1])
    direct = A.life_event_estimates(an).set_index(C.LIFE_EVENT)
    later = agg[agg["wave"] == WAVES[1]].set_index(C.LIFE_EVENT)
    np.testing.assert_allclose(later["estimate"], direct.loc[later.index, "estimate"], atol=1e-9)


def test_linked_fit_needs_two_known_waves(registry: Registry) -> None:
    with pytest.raises(ParameterError, match="at least two"):
        A.fit_linked_small_areas(registry, WAVES[:1])
    with pytest.raises(ParameterError, match="registry"):
        A.fit_linked_small_areas(registry, [WAVES[0], "2099-x"])
