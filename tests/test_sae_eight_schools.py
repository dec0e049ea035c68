"""Eight schools through fit_area_level, against the exact posterior moments (quadrature).

Reference: tests/reference/bayes/eight_schools.json (exact moments by 1-D adaptive quadrature over
tau, cross-checked with brms/Stan). The model is y_j ~ N(theta_j, sigma_j), theta_j ~ N(mu, tau),
mu ~ N(0, 5), tau ~ HalfCauchy(5), written non-centred. A posterior mean or sd passes when it is
within 4 Monte Carlo standard errors (ArviZ) of the exact value, plus 0.02 for the error of the MCSE.
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest

warnings.filterwarnings("ignore", category=FutureWarning)

import arviz as az  # noqa: E402

from meting.sae import HalfCauchy, Priors, SampleSettings, fit_area_level  # noqa: E402

EIGHT_SCHOOLS = Priors(mu_loc=0.0, mu_scale=5.0, group_sd=HalfCauchy(5.0), centred=())


@pytest.fixture(scope="module")
def reference(reference_dir):
    return json.loads((reference_dir / "bayes" / "eight_schools.json").read_text())


def _mcse_sd(dataset) -> float:
    """MCSE of the sd as ArviZ defines it (its own az.mcse(method="sd") fails under numba here)."""
    c2 = (dataset - dataset["x"].mean()) ** 2
    ess = float(az.ess(c2, method="mean")["x"])
    evar = float(c2["x"].mean())
    varvar = (float((c2["x"] ** 2).mean()) - evar**2) / ess
    return float(np.sqrt(varvar / evar / 4))


def _check(result, reference) -> None:
    exact = reference["exact"]
    post = result.idata.posterior
    checks = [("mu", post["mu"], exact["mu"]["mean"], exact["mu"]["sd"])]
    checks.append(("tau", post["sd_school"], exact["tau"]["mean"], exact["tau"]["sd"]))
    for j, school in enumerate(exact["theta"]["school"]):
        draws = post["theta"].sel(cell=school)
        checks.append(
            (f"theta[{school}]", draws, exact["theta"]["mean"][j], exact["theta"]["sd"][j])
        )
    failures = []
    for name, draws, mean, sd in checks:
        values = draws.to_numpy()
        dataset = draws.reset_coords(drop=True).to_dataset(name="x")
        mcse_mean = float(az.mcse(dataset, method="mean")["x"])
        mcse_sd = _mcse_sd(dataset)
        got_mean, got_sd = values.mean(), values.std(ddof=1)
        if abs(got_mean - mean) > 4 * mcse_mean + 0.02:
            failures.append(f"{name} mean {got_mean:.3f} vs {mean:.3f} (mcse {mcse_mean:.3f})")
        if abs(got_sd - sd) > 4 * mcse_sd + 0.02:
            failures.append(f"{name} sd {got_sd:.3f} vs {sd:.3f} (mcse {mcse_sd:.3f})")
    assert not failures, failures
    # the per-cell table reports the same draws
    cells = result.cells.set_index("school")
    np.testing.assert_allclose(
        cells.loc[exact["theta"]["school"], "estimate"],
        post["theta"].mean(("chain", "draw")).sel(cell=exact["theta"]["school"]),
        rtol=1e-12,
    )


def _data(reference) -> pd.DataFrame:
    d = reference["data"]
    return pd.DataFrame({"school": d["school"], "y": d["y"], "sigma": d["sigma"]})


def test_eight_schools_nutpie_plumbing(reference, mock_sampling):
    """The default sampler's path (mocked NUTS): one group, so the cell is the school and there is
    no separate cell effect; the settings reach nutpie; theta is labelled by school."""
    result = fit_area_level(
        _data(reference),
        "y",
        "sigma",
        ["school"],
        priors=EIGHT_SCHOOLS,
        n=None,
        sampling=SampleSettings(chains=2, draws=200, tune=100, target_accept=0.95, random_seed=8),
    )
    (call,) = mock_sampling.calls
    assert call["sampler"] == "nutpie" and result.diagnostics.sampler == "nutpie"
    assert (call["chains"], call["draws"], call["tune"], call["seed"]) == (2, 200, 100, 8)
    assert call["target_accept"] == 0.95
    post = result.idata.posterior
    assert "sd_cell" not in post and "z_cell" not in post  # one group: the cell is the school
    assert {"mu", "sd_school", "z_school", "theta"} <= set(post.data_vars)
    assert not [v for v in post.data_vars if str(v).endswith("__")]  # sd_school_log__ dropped
    schools = reference["data"]["school"]
    assert sorted(post["theta"].sizes.items()) == [("cell", 8), ("chain", 2), ("draw", 200)]
    assert sorted(post["cell"].to_numpy().astype(str)) == sorted(schools)
    cells = result.cells.set_index("school")
    np.testing.assert_allclose(
        cells.loc[schools, "estimate"], post["theta"].mean(("chain", "draw")).sel(cell=schools)
    )
    assert cells["n"].isna().all() and cells["observed"].all()
    np.testing.assert_array_equal(cells.loc[schools, "direct"], reference["data"]["y"])


@pytest.mark.slow
def test_eight_schools_nutpie_fast(reference):
    result = fit_area_level(
        _data(reference),
        "y",
        "sigma",
        ["school"],
        priors=EIGHT_SCHOOLS,
        n=None,
        sampling=SampleSettings(chains=2, draws=2000, tune=1000, target_accept=0.95, random_seed=8),
    )
    assert result.diagnostics.sampler == "nutpie"
    assert "sd_cell" not in result.idata.posterior  # one group: the cell is the school
    _check(result, reference)


@pytest.mark.slow
@pytest.mark.parametrize("sampler", ["nutpie", "pymc"])
def test_eight_schools_many_draws(reference, sampler):
    result = fit_area_level(
        _data(reference),
        "y",
        "sigma",
        ["school"],
        priors=EIGHT_SCHOOLS,
        n=None,
        sampling=SampleSettings(
            sampler=sampler, chains=4, draws=25_000, tune=2000, target_accept=0.95, random_seed=81
        ),
    )
    assert result.diagnostics.min_ess_bulk > 10_000
    _check(result, reference)
