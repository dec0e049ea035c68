"""Importance x performance matrix: the quadrant rule (property test), the table, the figure."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_knelpunten_drivers import synthetic_wave_design

from meting.errors import ParameterError
from meting.knelpunten.matrix import QUADRANT_LABELS, assign_quadrants, importance_performance
from meting.report.sections.matrix import plot_importance_performance

finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)


@settings(max_examples=200, deadline=None)
@given(
    pairs=st.lists(st.tuples(finite, finite), min_size=1, max_size=15),
    split=st.one_of(st.sampled_from(["mean", "median"]), st.tuples(finite, finite)),
)
def test_quadrants_follow_the_definition(pairs, split):
    imp = np.array([p[0] for p in pairs])
    perf = np.array([p[1] for p in pairs])
    quadrant, s_imp, s_perf = assign_quadrants(imp, perf, split)
    if split == "mean":
        assert (s_imp, s_perf) == (float(np.mean(imp)), float(np.mean(perf)))
    elif split == "median":
        assert (s_imp, s_perf) == (float(np.median(imp)), float(np.median(perf)))
    else:
        assert (s_imp, s_perf) == split
    for i, p, q in zip(imp, perf, quadrant, strict=True):
        expected = {
            (True, True): "motivator",
            (True, False): "hidden",
            (False, False): "potential",
            (False, True): "hygiene",
        }[(bool(i >= s_imp), bool(p >= s_perf))]
        assert q == expected


def test_quadrant_examples_and_ties():
    q, s_imp, s_perf = assign_quadrants([1, 3, 1, 3], [1, 1, 3, 3])
    assert (s_imp, s_perf) == (2, 2)
    assert list(q) == ["potential", "hidden", "hygiene", "motivator"]
    q, *_ = assign_quadrants([2.0], [5.0], split=(2.0, 5.0))  # on the split counts as high
    assert list(q) == ["motivator"]
    with pytest.raises(ParameterError, match="same non-zero length"):
        assign_quadrants([1, 2], [1])
    with pytest.raises(ParameterError, match="finite"):
        assign_quadrants([1, np.nan], [1, 2])
    with pytest.raises(ParameterError, match="split"):
        assign_quadrants([1, 2], [1, 2], split="mode")


@pytest.fixture(scope="module")
def matrix():
    return importance_performance(synthetic_wave_design())


def test_matrix_on_synthetic_wave(matrix):
    assert len(matrix) == 10
    by_aspect = matrix.set_index("aspect")
    # planted strong drivers are important; norm 6 (kept informed) is also weak -> hidden
    assert by_aspect.loc["bsc_04", "importance"] > by_aspect["split_importance"].iloc[0]
    assert by_aspect.loc["bsc_06", "quadrant"] == "hidden"
    assert by_aspect.loc["bsc_06", "quadrant_label"] == QUADRANT_LABELS["hidden"]
    # lmg shares sum to 1, so the mean split is 1/p
    assert matrix["importance"].sum() == pytest.approx(1.0)
    assert matrix["split_importance"].iloc[0] == pytest.approx(0.1)
    q, *_ = assign_quadrants(matrix["importance"], matrix["performance"])
    assert list(q) == list(matrix["quadrant"])


def test_matrix_figure(matrix):
    fig = plot_importance_performance(matrix)
    assert fig.png()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "gemiddelde" in fig.note
    with pytest.raises(ParameterError, match="importance_performance"):
        plot_importance_performance(matrix.drop(columns="quadrant"))
