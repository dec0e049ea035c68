"""The national parameter set ``params/nationaal/``: the real division of 1 January 2008-2010
with ASSUMED populations, and the real code changes of 2009 and 2010 read off the boundaries.

``python -m meting.synthetic.national`` (re)writes two files from the shipped boundaries
(:mod:`meting.geo`) and the assumptions in ``params/nationaal/set.yaml``:

* ``params/nationaal/municipalities.csv``: one row per municipality of 1 January 2008, plus a
  row from 1 January 2009 or 2010 for every code that is new or took over territory then;
* the derived rows of ``params/municipality_code_changes.csv`` (valid from 2009-01-01 and
  2010-01-01; rows of other dates are kept as they are).

Both are committed; a test checks that they equal what this module derives. Every population
figure is an assumption (``set.yaml`` says how it is made) and says so in its
``population_source``.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
import zlib
from collections.abc import Mapping
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd

from meting import columns as C
from meting import geo
from meting.errors import ParameterError
from meting.registry import CODE_CHANGE_COLUMNS, Municipality, default_params_dir, load_registry
from meting.settings.base import parse
from meting.settings.parameter_set import (
    MUNICIPALITY_TABLE,
    POPULATION_TABLE_COLUMNS,
    SET_FILE,
    ParameterSetFile,
)
from meting.synthetic.params import load_synthetic_params
from meting.synthetic.structure import size_class_of
from meting.yaml_io import load_yaml

__all__ = [
    "DERIVED_SOURCE",
    "NATIONAL_SET",
    "derived_code_changes",
    "main",
    "municipality_table",
    "national_params_dir",
]

NATIONAL_SET = "nationaal"
DERIVED_SOURCE = (
    "afgeleid uit de CBS-gemeentegrenzen 2008-2010 via PDOK; controleer tegen CBS "
    "'Gemeentelijke indeling op 1 januari'"
)
ASSUMED_SOURCE = (
    "Aanname (geen CBS-cijfer): afgeleid van de oppervlakte, zie params/nationaal/set.yaml"
)
MERGED_SOURCE = "Aanname (geen CBS-cijfer): som van de overgenomen (aangenomen) bevolking"


def national_params_dir(params_dir: Path | str | None = None) -> Path:
    """``<params>/nationaal`` (default: under the project's ``params/``)."""
    return Path(params_dir or default_params_dir()) / NATIONAL_SET


def _pct(share: float) -> str:
    return f"{100 * share:.1f}".replace(".", ",") + " %"


def derived_code_changes() -> pd.DataFrame:
    """The code changes of 2009-01-01 and 2010-01-01 as rows of the dated mapping
    (:data:`meting.registry.CODE_CHANGE_COLUMNS`), from :func:`meting.geo.code_changes`."""
    return _derived_code_changes().copy()


@cache
def _derived_code_changes() -> pd.DataFrame:
    frames = []
    for year in geo.YEARS[1:]:
        ch = geo.code_changes(year - 1, year)
        notes = [
            f"{old_name} ({old}): {_pct(share)} van de oppervlakte naar "
            f"{new_name}; bevolkingsaandeel benaderd door het oppervlakteaandeel; "
            f"{DERIVED_SOURCE}"
            for old, old_name, new_name, share in zip(
                ch["old_code"],
                ch["old_name"],
                ch["new_name"],
                ch["area_share"].astype(float),
                strict=True,
            )
        ]
        frames.append(
            pd.DataFrame(
                {
                    "old_code": ch["old_code"],
                    "new_code": ch["new_code"],
                    "new_name": ch["new_name"],
                    "valid_from": dt.date(year, 1, 1).isoformat(),
                    "population_share": ch["population_share"].round(4),
                    "note": notes,
                }
            )
        )
    out = pd.concat(frames, ignore_index=True)
    # shares rounded to 4 decimals must still add up to 1 per old code: fix the largest
    for _, idx in out.groupby(["old_code", "valid_from"]).groups.items():
        gap = 1.0 - out.loc[idx, "population_share"].sum()
        out.loc[out.loc[idx, "population_share"].idxmax(), "population_share"] += gap
    out["population_share"] = out["population_share"].round(4)
    return out[list(CODE_CHANGE_COLUMNS)]


def _stable_rng(seed: int, code: str) -> np.random.Generator:
    return np.random.default_rng([seed, zlib.crc32(code.encode())])


def municipality_table(params_dir: Path | str | None = None) -> pd.DataFrame:
    """The rows of ``params/nationaal/municipalities.csv`` (see the module docstring)."""
    base = Path(params_dir or default_params_dir())
    set_path = base / NATIONAL_SET / SET_FILE
    pset = parse(ParameterSetFile, load_yaml(set_path), set_path)
    assumption = pset.population
    nat = load_synthetic_params(base).national
    shipped = load_registry(base).municipalities
    div = geo.boundaries(geo.YEARS[0])
    codes = div["municipality"].tolist()
    names = dict(zip(codes, div["name"], strict=True))
    area_km2 = dict(zip(codes, div.area / 1e6, strict=True))
    ages = np.array([nat.age_shares[a] for a in C.AGE_BANDS], dtype=float)
    ages = ages / ages.sum() * nat.age_dirichlet_concentration
    sexes = np.array([nat.male_share, 1 - nat.male_share])
    # ---- 1 January 2008: shipped figures where there are some, else area^elasticity x noise
    pop: dict[str, np.ndarray] = {}
    raw: dict[str, float] = {}
    mix: dict[str, np.ndarray] = {}
    for code in codes:
        if code in shipped:
            pop[code] = shipped[code].population["count"].to_numpy(float).reshape(4, 2)
            continue
        rng = _stable_rng(assumption.seed, code)
        raw[code] = area_km2[code] ** assumption.area_elasticity * float(
            np.exp(assumption.log_sd * rng.standard_normal())
        )
        mix[code] = rng.dirichlet(ages)[:, None] * sexes[None, :]
    rest = assumption.adults_total - sum(float(p.sum()) for p in pop.values())
    if rest <= 0:
        raise ParameterError(
            f"{set_path}: field 'population.adults_total' must exceed the adults of the shipped "
            f"municipalities; got {assumption.adults_total}."
        )
    scale = rest / sum(raw.values())
    step = assumption.rounding
    for code in raw:
        adults = max(raw[code] * scale, assumption.adults_min)
        pop[code] = np.round(adults * mix[code] / step) * step
    rows = [_row(c, names[c], pop[c], geo.YEARS[0], shipped) for c in codes]
    # ---- later divisions: a code that took over territory gets what it took over
    changes = derived_code_changes()
    for year in geo.YEARS[1:]:
        day = dt.date(year, 1, 1).isoformat()
        now = geo.division(year)
        step_changes = changes[changes["valid_from"] == day]
        for code, name in zip(now["municipality"], now["name"], strict=True):
            incoming = step_changes[step_changes["new_code"] == code]
            if incoming.empty:
                if code not in pop:
                    raise ParameterError(
                        f"{code} ({name}) is new on {day} but no code change leads to it."
                    )
                continue
            total = pop.get(code, np.zeros((4, 2))).copy()
            for r in incoming.itertuples():
                total += float(r.population_share) * pop[str(r.old_code)]
            pop[code] = np.round(total / step) * step
            rows.append(_row(code, name, pop[code], year, shipped, merged=True))
    return pd.DataFrame(rows)


def _row(
    code: str,
    name: str,
    counts: np.ndarray,
    year: int,
    shipped: Mapping[str, Municipality],
    merged: bool = False,
) -> dict[str, object]:
    known = shipped.get(code)
    adults = float(counts.sum())
    source = (
        known.population_source if known is not None and not merged
        else MERGED_SOURCE if merged else ASSUMED_SOURCE
    )  # fmt: skip
    size = (
        known.size_class
        if known is not None and not merged
        else str(size_class_of(np.array(adults)))
    )
    row: dict[str, object] = {
        "code": code,
        "name": name,
        "province": known.province if known is not None else "",
        "size_class": size,
        "reference_date": dt.date(year, 1, 1).isoformat(),
        "population_source": source,
    }
    flat = counts.astype(np.int64).ravel()  # age bands x sexes, the order of the columns
    row.update(dict(zip(POPULATION_TABLE_COLUMNS, (int(v) for v in flat), strict=True)))
    return row


HEADER = """\
# The municipalities of the national parameter set: the division of 1 January 2008, plus a row
# from 1 January 2009 or 2010 for each code that is new or took over territory then (the row of a
# date holds from that date on). Codes and names: meting.geo (CBS/Kadaster via PDOK).
# EVERY POPULATION FIGURE IS AN ASSUMPTION (aanname), except the rounded figures of the 14
# municipalities of params/municipalities/; see set.yaml for how they are made.
# Written by `python -m meting.synthetic.national`; do not edit by hand.
"""
CHANGES_MARK = DERIVED_SOURCE


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8", newline="\n")
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_code_changes(params_dir: Path | str | None = None) -> Path:
    """Replace the derived rows (those whose note names :data:`DERIVED_SOURCE`) of
    ``municipality_code_changes.csv`` by :func:`derived_code_changes`; other lines stay."""
    path = Path(params_dir or default_params_dir()) / "municipality_code_changes.csv"
    kept = [ln for ln in path.read_text(encoding="utf-8").splitlines() if CHANGES_MARK not in ln]
    rows = derived_code_changes().to_csv(index=False, header=False, lineterminator="\n")
    _write_atomic(path, "\n".join(kept) + "\n" + rows)
    return path


def write_municipality_table(params_dir: Path | str | None = None) -> Path:
    """Write ``params/nationaal/municipalities.csv`` from :func:`municipality_table`."""
    path = national_params_dir(params_dir) / MUNICIPALITY_TABLE
    body = municipality_table(params_dir).to_csv(index=False, lineterminator="\n")
    _write_atomic(path, HEADER + body)
    return path


def main(argv: list[str] | None = None) -> int:
    """Rewrite both files (run after changing set.yaml or the boundaries)."""
    params_dir = Path(argv[0]) if argv else None
    for path in (write_code_changes(params_dir), write_municipality_table(params_dir)):
        print(path)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main(sys.argv[1:]))
