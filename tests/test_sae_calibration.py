"""Simulation-based calibration of the small-area models (slow: 20 fits per model).

Truth from the simulator (meting.sae.simulate, the model's own structure): over 20 data sets the
90 % intervals of the cell means must cover the truth 85-95 % of the time, and the posterior means
must beat the direct estimates (cell sample means) in mean squared error.
"""

from __future__ import annotations

import warnings

import pytest

warnings.filterwarnings("ignore", category=FutureWarning)

from meting.sae.calibration import run_calibration  # noqa: E402


@pytest.mark.slow
@pytest.mark.parametrize("model", ["area", "mrp"])
def test_calibration_coverage_and_mse(model, tmp_path):
    result = run_calibration(20, seed=2008, model=model)
    assert len(result.per_dataset) == 20
    assert 0.85 <= result.coverage90 <= 0.95, result.summary().T
    assert 0.90 <= result.coverage95 <= 0.99, result.summary().T
    assert result.mse_model < result.mse_direct, result.summary().T
    paths = result.plot(tmp_path)
    assert all(p.stat().st_size > 0 for p in paths)


@pytest.mark.parametrize("model", ["area", "unit", "mrp"])
def test_calibration_smoke(mock_sampling, model):
    """Two tiny data sets, mocked NUTS: the machinery runs and the figures are sane numbers."""
    result = run_calibration(
        2,
        seed=1,
        model=model,
        n_municipalities=5,
        n_events=3,
        respondents=150,
        sampler="pymc",
        chains=1,
        draws=100,
        tune=100,
    )
    summary = result.summary()
    assert summary["datasets"].iloc[0] == 2 and summary["cells"].iloc[0] == 2 * 15
    assert len(result.per_dataset) == 2
    # data set i is simulated and sampled with seed + i
    assert [c["random_seed"] for c in mock_sampling.calls] == [1, 2]
    assert mock_sampling.samplers == ["pymc", "pymc"]
    assert 0.0 <= result.coverage90 <= 1.0
    assert result.mse_direct > 0
