"""The fit cache trusts the key a file records, not its file name."""

from __future__ import annotations

import shutil
from pathlib import Path

import arviz as az
import numpy as np
import pytest

from meting.sae import cache


def fake_fit(value: float) -> az.InferenceData:
    return az.from_dict(
        posterior={"mu": np.full((2, 5), value)},
        sample_stats={"diverging": np.zeros((2, 5), dtype=bool)},
    )


def test_file_records_its_key_and_loads_under_it(tmp_path: Path) -> None:
    parts = {"data": "abc", "spec": {"model": "area"}, "settings": {"draws": 5}}
    key = cache.cache_key("area", parts)
    path = cache.cache_path(tmp_path, "area", key)
    cache.save(fake_fit(1.0), path, key, cache.key_payload("area", parts))
    loaded = cache.load(path, key)
    assert loaded is not None
    assert loaded.posterior.attrs[cache.KEY_ATTR] == key
    assert '"data": "abc"' in loaded.posterior.attrs[cache.PARTS_ATTR]
    assert float(loaded.posterior["mu"].mean()) == 1.0


def test_another_fits_file_under_this_key_means_refit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other = cache.cache_key("area", {"data": "other wave"})
    mine = cache.cache_key("area", {"data": "this wave"})
    other_path = cache.cache_path(tmp_path, "area", other)
    cache.save(fake_fit(2.0), other_path, other, "{}")
    my_path = cache.cache_path(tmp_path, "area", mine)
    shutil.copyfile(other_path, my_path)  # a copied (or renamed) file of another fit
    assert cache.load(my_path, mine) is None
    err = capsys.readouterr().err
    assert f"model cache {my_path.name} records another fit's key" in err
    assert "fitting again" in err


def test_file_without_a_key_means_refit(tmp_path: Path, capsys) -> None:
    key = cache.cache_key("area", {"data": "x"})
    path = cache.cache_path(tmp_path, "area", key)
    cache.save(fake_fit(3.0), path)  # an old-format file: no key recorded
    assert cache.load(path, key) is None
    assert "records no key" in capsys.readouterr().err
