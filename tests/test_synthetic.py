"""Tests of meting.synthetic: determinism, the data contract, the exact truth, and that weighting
removes the bias the panel's over-representation causes.

Reference values come from outside the generator: the published figures (headline_scores.csv as
copied into the wave files), closed-form/numerical integrals of the normal, the population margins
of params/, and large simulated samples compared with the stated truth.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from scipy import integrate, stats

from meting import columns as C
from meting.errors import ParameterError
from meting.registry import load_registry
from meting.synthetic import (
    expected_rounded_score,
    generate_command,
    generate_national,
    generate_wave,
    write_wave,
)

PARAMS = Path(__file__).resolve().parents[1] / "params"
PUBLISHED = {  # ../shared/published/headline_scores.csv
    "2008-nulmeting": {"organisations": 7.0, "chain": 6.7, "cooperation": 6.2},
    "2010-vervolgmeting": {"organisations": 6.9, "chain": 6.7},
}
CONTRACT_COLUMNS = [  # ARCHITECTURE.md, respondent table, in order
    "respondent_id", "wave", "municipality", "life_event",
    "score_government", "score_chain", "score_cooperation",
    *[f"bsc_{i:02d}" for i in range(1, 11)],
    "channel_balie", "channel_telefoon", "channel_internet", "channel_brief",
    "age_band", "sex", "education", "size_class",
    "trim_overall", "trim_role", "trim_trust", "trim_compare",
]  # fmt: skip


@pytest.fixture(scope="module")
def registry():
    return load_registry(PARAMS)


@pytest.fixture(scope="module")
def wave08(registry):
    return generate_wave(registry, "2008-nulmeting")


@pytest.fixture(scope="module")
def big08(registry):
    """A large sample of the 2008 wave, to compare sample statistics with the stated truth."""
    return generate_wave(registry, "2008-nulmeting", seed=99, n_respondents=150_000)


@pytest.fixture(scope="module")
def synth_yaml():
    """synthetic.yaml with the population education shares it simulates with (which live in
    population_education.yaml, beside the weighting targets)."""
    data = yaml.safe_load((PARAMS / "synthetic.yaml").read_text(encoding="utf-8"))
    edu = yaml.safe_load((PARAMS / "population_education.yaml").read_text(encoding="utf-8"))
    return {**data, "education_shares": edu["education_shares"]}


def _poststrat_weights(resp: pd.DataFrame, registry, synth_yaml) -> pd.Series:
    """Post-stratification weights to municipality x age x sex x education, built from the
    population in params/ (municipality files x population_education.yaml)."""
    pop = registry.population()
    edu = pd.DataFrame(
        [
            (a, e, share)
            for a, row in synth_yaml["education_shares"].items()
            for e, share in row.items()
        ],
        columns=[C.AGE_BAND, C.EDUCATION, "share"],
    )
    pop = pop.merge(edu, on=C.AGE_BAND)
    pop["N"] = pop["count"] * pop["share"]
    keys = [C.MUNICIPALITY, C.AGE_BAND, C.SEX, C.EDUCATION]
    r = resp[keys].astype(str)
    n_h = r.groupby(keys).size().rename("n").reset_index()
    w = n_h.merge(pop[keys + ["N"]].astype({k: str for k in keys}), on=keys, how="left")
    w["w"] = w["N"] / w["n"]
    return r.merge(w[keys + ["w"]], on=keys, how="left")["w"].set_axis(resp.index)


# --------------------------------------------------------------------------------------------
# the exact expectation
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("mu", "sd"), [(6.7, 1.4), (9.6, 0.8), (0.5, 2.0), (5.5, 0.3)])
def test_expected_rounded_score_matches_numerical_integral(mu, sd) -> None:
    def observed(x: float) -> float:
        return float(np.clip(np.floor(x + 0.5), 1, 10))

    # integrate piecewise over the rounding intervals (the integrand jumps at k + 0.5)
    edges = [-np.inf, *np.arange(1.5, 10.0, 1.0), np.inf]
    ref = sum(
        integrate.quad(lambda x: observed(x) * stats.norm.pdf(x, mu, sd), lo + 1e-12, hi - 1e-12)[0]
        if np.isfinite(lo) and np.isfinite(hi)
        else observed(hi - 0.5 if np.isfinite(hi) else lo + 0.5)
        * (stats.norm.cdf(hi, mu, sd) - stats.norm.cdf(lo, mu, sd))
        for lo, hi in zip(edges[:-1], edges[1:], strict=True)
    )
    assert expected_rounded_score(mu, sd) == pytest.approx(ref, abs=1e-8)
    assert expected_rounded_score(np.array([mu]), np.array([sd]))[0] == pytest.approx(ref, abs=1e-8)


# --------------------------------------------------------------------------------------------
# determinism and files
# --------------------------------------------------------------------------------------------
def test_same_seed_gives_identical_bytes(registry, tmp_path) -> None:
    a = write_wave(
        generate_wave(registry, "2009-vervolgmeting", n_respondents=1500), tmp_path / "a"
    )
    b = write_wave(
        generate_wave(registry, "2009-vervolgmeting", n_respondents=1500), tmp_path / "b"
    )
    assert [p.name for p in a] == [
        "respondents.csv", "organisations.csv", "truth_cells.csv", "truth_strata.csv",
    ]  # fmt: skip
    for pa, pb in zip(a, b, strict=True):
        assert pa.read_bytes() == pb.read_bytes(), pa.name
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == sorted(p.name for p in a)


def test_different_seed_differs_but_truth_does_not(registry, tmp_path) -> None:
    a = write_wave(
        generate_wave(registry, "2008-nulmeting", seed=1, n_respondents=800), tmp_path / "a"
    )
    b = write_wave(
        generate_wave(registry, "2008-nulmeting", seed=2, n_respondents=800), tmp_path / "b"
    )
    assert a[0].read_bytes() != b[0].read_bytes()
    assert a[1].read_bytes() != b[1].read_bytes()
    # the population truth depends on the parameters and the wave, not on the sample seed
    assert a[2].read_bytes() == b[2].read_bytes()
    assert a[3].read_bytes() == b[3].read_bytes()


def test_written_files_read_back(registry, wave08, tmp_path) -> None:
    paths = write_wave(wave08, tmp_path)
    resp = pd.read_csv(paths[0], dtype={C.MUNICIPALITY: str})
    assert list(resp.columns) == CONTRACT_COLUMNS
    assert resp[C.MUNICIPALITY].str.fullmatch(r"GM\d{4}").all()
    cells = pd.read_csv(paths[2])
    assert list(cells.columns) == [
        "wave", "municipality", "life_event", "population",
        "true_chain", "true_government", "true_cooperation",
    ]  # fmt: skip
    np.testing.assert_allclose(cells["true_chain"], wave08.truth_cells["true_chain"], atol=1e-9)
    strata = pd.read_csv(paths[3])
    assert list(strata.columns[:6]) == [
        "wave", "municipality", "life_event", "age_band", "sex", "education",
    ]  # fmt: skip


# --------------------------------------------------------------------------------------------
# the data contract
# --------------------------------------------------------------------------------------------
def test_respondent_table_follows_the_contract(registry, wave08) -> None:
    r = wave08.respondents
    assert list(r.columns) == CONTRACT_COLUMNS
    assert len(r) == 6000
    assert r[C.RESPONDENT_ID].is_unique
    assert r[C.RESPONDENT_ID].str.fullmatch(r"R2008-\d{6}").all()
    assert (r[C.WAVE] == "2008-nulmeting").all()
    assert set(r[C.MUNICIPALITY]) <= set(registry.municipalities)
    assert set(r[C.LIFE_EVENT]) <= set(registry.life_events)
    for col in (C.RESPONDENT_ID, C.WAVE, C.MUNICIPALITY, C.LIFE_EVENT, C.SIZE_CLASS):
        assert pd.api.types.is_string_dtype(r[col]), col
    for cols, lo, hi in ((C.SCORES, 1, 10), (C.BSC_NORMS, 1, 5), (C.TRIM_QUESTIONS, 1, 5)):
        for col in cols:
            assert r[col].dtype == "Int8", col
            vals = r[col].dropna()
            assert vals.between(lo, hi).all(), col
            assert vals.nunique() >= min(hi - lo + 1, 7), col  # spread, not a constant
            assert 0 < r[col].isna().mean() < 0.5, col
    ch = r[list(C.CHANNEL_COLUMNS)]
    assert ch.isin([0, 1]).all().all() and (ch.sum(axis=1) >= 1).all()
    assert all(r[c].dtype == "Int8" and r[c].notna().all() for c in C.CHANNEL_COLUMNS)
    for col, levels in (
        (C.AGE_BAND, C.AGE_BANDS),
        (C.SEX, C.SEXES),
        (C.EDUCATION, C.EDUCATION_LEVELS),
    ):
        assert isinstance(r[col].dtype, pd.CategoricalDtype), col
        assert tuple(r[col].cat.categories) == levels
        assert r[col].notna().all()
    sizes = {k: m.size_class for k, m in registry.municipalities.items()}
    assert (r[C.SIZE_CLASS] == r[C.MUNICIPALITY].map(sizes)).all()


def test_files_pass_the_loader_and_read_back_equal(registry, wave08, tmp_path) -> None:
    """The written files pass meting.loaders (the validator) and read back to the same frames."""
    loaders = pytest.importorskip("meting.loaders")
    paths = write_wave(wave08, tmp_path)
    data = loaders.load_wave(paths[0], paths[1], registry=registry, wave="2008-nulmeting")
    pd.testing.assert_frame_equal(data.respondents, wave08.respondents)
    pd.testing.assert_frame_equal(data.organisations, wave08.organisations)


def test_organisation_table_follows_the_contract(registry, wave08) -> None:
    o, r = wave08.organisations, wave08.respondents
    assert list(o.columns) == [C.RESPONDENT_ID, C.ORGANISATION, C.ORGANISATION_SCORE]
    assert o[C.RESPONDENT_ID].isin(r[C.RESPONDENT_ID]).all()
    assert not o.duplicated([C.RESPONDENT_ID, C.ORGANISATION]).any()
    assert o[C.ORGANISATION_SCORE].dtype == "Int8" and o[C.ORGANISATION_SCORE].between(1, 10).all()
    # every organisation rated belongs to the chain of the respondent's life event
    ev = o.merge(r[[C.RESPONDENT_ID, C.LIFE_EVENT]], on=C.RESPONDENT_ID)
    in_chain = [
        org in registry.life_events[e].organisations
        for org, e in zip(ev[C.ORGANISATION], ev[C.LIFE_EVENT], strict=True)
    ]
    assert all(in_chain)
    per_resp = o.groupby(C.RESPONDENT_ID).size()
    assert 1.5 < per_resp.mean() < 3.5  # a subset of the chain, not all of it


def test_cell_sizes_are_uneven(registry) -> None:
    for label in registry.waves:
        r = generate_wave(registry, label).respondents
        n = r.groupby([C.MUNICIPALITY, C.LIFE_EVENT]).size()
        n_cells = len(registry.municipalities) * len(registry.life_events)
        assert (n >= 100).sum() >= 5, label  # a few large cells
        assert (n < 10).sum() >= n_cells // 5, label  # many small ones
        assert len(n) < n_cells, label  # and some empty


# --------------------------------------------------------------------------------------------
# the truth
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("label", ["2008-nulmeting", "2009-vervolgmeting", "2010-vervolgmeting"])
def test_population_truth_hits_the_targets(registry, label) -> None:
    w = generate_wave(registry, label, n_respondents=200)
    s = w.truth_strata
    for level in ("chain", "government", "cooperation"):
        truth = float((s["population"] * s[f"true_{level}"]).sum() / s["population"].sum())
        assert truth == pytest.approx(registry.waves[label].targets[level], abs=1e-9)
    for level, value in PUBLISHED.get(label, {}).items():
        assert w.truth_overall[level] == pytest.approx(value, abs=1e-9)
    if label == "2009-vervolgmeting":  # between 2008 and 2010
        assert 6.9 <= w.truth_overall["organisations"] <= 7.0
        assert w.truth_overall["chain"] == pytest.approx(6.7)
    # cells are the population-weighted averages of their strata
    g = (
        s.assign(wc=s["population"] * s["true_chain"])
        .groupby([C.MUNICIPALITY, C.LIFE_EVENT], as_index=False, observed=True)[
            ["population", "wc"]
        ]
        .sum()
    )
    cells = w.truth_cells.merge(g, on=[C.MUNICIPALITY, C.LIFE_EVENT], suffixes=("", "_s"))
    assert len(cells) == len(w.truth_cells) == 14 * 14
    np.testing.assert_allclose(cells["population"], cells["population_s"], rtol=1e-12)
    np.testing.assert_allclose(cells["true_chain"], cells["wc"] / cells["population_s"], rtol=1e-12)
    # the truth spreads over cells (not one number everywhere) and stays on the scale
    assert w.truth_cells["true_chain"].std() > 0.2
    assert (
        w.truth_cells[["true_chain", "true_government", "true_cooperation"]]
        .stack()
        .between(1, 10)
        .all()
    )


def test_truth_population_is_the_registry_population(registry, wave08, synth_yaml) -> None:
    s = wave08.truth_strata
    inc = {code: ev.incidence for code, ev in registry.life_events.items()}
    adults = (
        s.groupby([C.MUNICIPALITY, C.LIFE_EVENT], observed=True)["population"].sum().reset_index()
    )
    adults["adults"] = adults["population"] / adults[C.LIFE_EVENT].map(inc)
    expected = {k: m.adults for k, m in registry.municipalities.items()}
    np.testing.assert_allclose(adults["adults"], adults[C.MUNICIPALITY].map(expected), rtol=1e-9)


def test_large_sample_agrees_with_stated_truth(registry, big08, synth_yaml) -> None:
    """Sample means in large strata and cells match the stated (exact) truth, and the weighted
    population means match the targets, including the organisation level."""
    r = big08.respondents
    keys = [C.MUNICIPALITY, C.LIFE_EVENT, C.AGE_BAND, C.SEX, C.EDUCATION]
    stat = (
        r.astype({k: str for k in keys})
        .groupby(keys)["score_chain"]
        .agg(["mean", "std", "count"])
        .reset_index()
    )
    stat = stat[stat["count"] >= 150].merge(
        big08.truth_strata.astype({k: str for k in keys}), on=keys
    )
    assert len(stat) >= 20
    z = (stat["mean"] - stat["true_chain"]) / (stat["std"] / np.sqrt(stat["count"]))
    assert np.abs(z).max() < 4.5, z.abs().max()
    assert abs(z.mean()) < 4 / np.sqrt(len(z))  # no systematic offset (e.g. a wrong sd)

    w = _poststrat_weights(r, registry, synth_yaml)
    for level, col in (("chain", "score_chain"), ("government", "score_government")):
        ok = r[col].notna()
        est = float(np.average(r.loc[ok, col].astype(float), weights=w[ok]))
        assert est == pytest.approx(big08.truth_overall[level], abs=0.02), level
    o = big08.organisations.merge(
        pd.DataFrame({C.RESPONDENT_ID: r[C.RESPONDENT_ID], "w": w}), on=C.RESPONDENT_ID
    )
    est = float(np.average(o[C.ORGANISATION_SCORE].astype(float), weights=o["w"]))
    assert est == pytest.approx(7.0, abs=0.02)


def test_weighting_removes_the_panel_bias(registry, synth_yaml) -> None:
    target = registry.waves["2008-nulmeting"].targets["chain"]
    for seed in (11, 12, 13):
        r = generate_wave(registry, "2008-nulmeting", seed=seed).respondents
        ok = r["score_chain"].notna()
        y = r.loc[ok, "score_chain"].astype(float)
        w = _poststrat_weights(r, registry, synth_yaml)[ok]
        assert w.notna().all()
        unweighted, weighted = float(y.mean()), float(np.average(y, weights=w))
        assert abs(weighted - target) < abs(unweighted - target), seed
        assert unweighted - target > 0.08, seed  # the over-represented groups score higher
        assert abs(weighted - target) < 0.07, seed
    # the sample is older and higher educated than the population
    pop_old = (
        registry.population().query("age_band == '65+'")["count"].sum()
        / registry.population()["count"].sum()
    )
    assert (r[C.AGE_BAND] == "65+").mean() > pop_old + 0.03


def test_planted_drivers_and_weak_norms(big08) -> None:
    r = big08.respondents
    norms = list(C.BSC_NORMS)
    d = r[["score_chain", *norms]].dropna().astype(float)
    x = np.column_stack([np.ones(len(d)), d[norms].to_numpy()])
    coef = np.linalg.lstsq(x, d["score_chain"].to_numpy(), rcond=None)[0][1:]
    top_two = {norms[i] for i in np.argsort(coef)[-2:]}
    assert top_two == {"bsc_04", "bsc_06"}, dict(zip(norms, coef.round(3), strict=True))
    assert max(abs(coef[7:])) < 0.08  # norms 8-10 do not drive the chain score
    # share "niet goed" (1-2) on norm 6, published: slachtoffer 56%, immigratie 54%, werkloos 50%
    for event, share in (("slachtoffer_misdrijf", 0.56), ("immigratie", 0.54), ("werkloos", 0.50)):
        v = r.loc[r[C.LIFE_EVENT] == event, "bsc_06"].dropna()
        assert float(v.isin(C.BSC_NEGATIVE).mean()) == pytest.approx(share, abs=0.04), event
    other = r.loc[
        ~r[C.LIFE_EVENT].isin(["slachtoffer_misdrijf", "immigratie", "werkloos"]), "bsc_06"
    ]
    assert float(other.dropna().isin(C.BSC_NEGATIVE).mean()) < 0.35


def test_channels_depend_on_age(big08) -> None:
    r = big08.respondents
    internet = r.groupby(C.AGE_BAND, observed=True)["channel_internet"].mean()
    assert internet["18-34"] > internet["65+"] + 0.3


# --------------------------------------------------------------------------------------------
# national scale, command line, bad input
# --------------------------------------------------------------------------------------------
def test_generate_national() -> None:
    w = generate_national()
    r = w.respondents
    assert len(r) >= 100_000 and r[C.RESPONDENT_ID].is_unique
    assert r[C.MUNICIPALITY].nunique() == 340 and r[C.LIFE_EVENT].nunique() == 15
    assert r[C.MUNICIPALITY].str.fullmatch(r"GM\d{4}").all()
    assert len(w.truth_cells) == 340 * 15
    assert list(r.columns) == CONTRACT_COLUMNS
    n = r.groupby([C.MUNICIPALITY, C.LIFE_EVENT]).size()
    assert n.max() > 20 * n.median()  # a few large cells, many small
    assert w.truth_overall["chain"] == pytest.approx(6.7, abs=1e-9)
    assert w.truth_overall["organisations"] == pytest.approx(7.0, abs=1e-9)
    small = generate_national(seed=3, n_municipalities=20, n_life_events=4, n_respondents=500)
    assert len(small.truth_cells) == 80 and len(small.respondents) == 500


def test_generate_command_writes_and_reports(tmp_path, capsys) -> None:
    assert (
        generate_command(
            ["2010-vervolgmeting"], out_dir=tmp_path, params_dir=PARAMS, national=False
        )
        == 0
    )
    out = capsys.readouterr().out
    folder = tmp_path / "2010-vervolgmeting"
    for name in ("respondents.csv", "organisations.csv", "truth_cells.csv", "truth_strata.csv"):
        assert (folder / name).is_file()
        assert str(folder / name) in out
    assert re.search(r"2010-vervolgmeting: 6000 respondenten", out)
    assert not list(folder.glob("*.tmp"))
    with pytest.raises(ParameterError, match="wave must be one of"):
        generate_command(
            ["2011-vervolgmeting"], out_dir=tmp_path, params_dir=PARAMS, national=False
        )


def test_broken_synthetic_params_name_the_field(tmp_path, registry) -> None:
    params = tmp_path / "params"
    shutil.copytree(PARAMS, params)
    path = params / "synthetic.yaml"
    text = path.read_text(encoding="utf-8")
    cases = [
        ("  sd_cell: 0.20", "  sd_cell: -1", "effects.sd_cell"),
        (
            "    slachtoffer_misdrijf: {bsc_06: -0.835}",
            "    slachtoffer_misdrijf: {bsc_11: -0.835}",
            "bsc.weak.slachtoffer_misdrijf",
        ),
        ("    rdw: 0.25\n", "", "organisations.effects"),
        ("structure_seed: 1955", "structure_seed: 1955\nstructure_sead: 1", "structure_sead"),
        ("  slope: 0.60", "  slope: 0.60\n  slop: 0.6", "trim.slop"),
    ]
    for old, new, field in cases:
        assert old in text, old
        path.write_text(text.replace(old, new), encoding="utf-8")
        reg = load_registry(params)
        with pytest.raises(ParameterError) as info:
            generate_wave(reg, "2008-nulmeting", n_respondents=10)
        assert str(path) in str(info.value) and f"field '{field}" in str(info.value), str(
            info.value
        )
