"""Load and validate the parameter registries in ``params/``.

The registry holds everything the package knows that is not survey data: the life events and the
organisations in their chains, the municipalities with their population margins, the population
education shares, the waves, the dated municipality code changes and the analysis settings.
Every file is read with the one safe YAML loader (:func:`meting.yaml_io.load_yaml`) and validated
by its typed settings model (:mod:`meting.settings`); a problem raises
:class:`meting.errors.ParameterError` with a message of the form
``"<file>: field '<dotted.name>' must <rule>; got <value>. <fix>"``.

Layout of the parameter folder::

    params/
      analysis.yaml                    Settings (incl. the small-area priors)
      life_events.yaml                 LifeEvent (one list)
      organisations.yaml               Organisation (one list)
      population_education.yaml        EducationShares (education margin of the weighting)
      municipalities/<GMxxxx>.yaml     Municipality (one file each)
      municipality_code_changes.csv    CodeChange (dated, '#' comment lines allowed)
      waves/<label>.yaml               Wave (one file each)
      synthetic.yaml                   assumptions of the generator (read by meting.synthetic)
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

import pandas as pd

from meting import columns as C
from meting.errors import ParameterError
from meting.settings.analysis import SaePriors, Settings
from meting.settings.base import parse
from meting.settings.records import (
    SIZE_CLASSES,
    CodeChange,
    EducationShares,
    LifeEvent,
    LifeEventsFile,
    Municipality,
    MunicipalityFile,
    Organisation,
    OrganisationsFile,
)
from meting.settings.waves import Wave, WaveFile
from meting.yaml_io import fail, load_yaml, reject_yml_files

__all__ = [
    "SIZE_CLASSES",
    "CodeChange",
    "EducationShares",
    "LifeEvent",
    "Municipality",
    "Organisation",
    "Registry",
    "SaePriors",
    "Settings",
    "Wave",
    "default_params_dir",
    "load_education_shares",
    "load_registry",
    "load_yaml",
    "project_root",
]

POPULATION_COLUMNS = (C.MUNICIPALITY, C.AGE_BAND, C.SEX, "count")
CODE_CHANGE_COLUMNS = ("old_code", "new_code", "new_name", "valid_from", "population_share", "note")


@dataclass(frozen=True, eq=False)
class Registry:
    """Everything loaded from one parameter folder."""

    params_dir: Path
    life_events: Mapping[str, LifeEvent]
    organisations: Mapping[str, Organisation]
    municipalities: Mapping[str, Municipality]
    waves: Mapping[str, Wave]
    code_changes: tuple[CodeChange, ...]
    settings: Settings
    education_shares: EducationShares

    @property
    def project_root(self) -> Path:
        """The folder holding ``params/`` (data paths in wave files are relative to it)."""
        return self.params_dir.parent

    def map_code(self, code: str, on: dt.date) -> str:
        """Follow the dated chain of code changes from ``code`` up to the date ``on``.

        A change applies when its ``valid_from`` is on or before ``on``. When an old code was
        split over several new codes, the one with the largest population share is followed (use
        :attr:`code_changes` for the shares).
        """
        on = _as_date(on)
        current = code
        seen = {current}
        while True:
            options = [c for c in self.code_changes if c.old_code == current and c.valid_from <= on]
            if not options:
                return current
            best = max(options, key=lambda c: (c.population_share, c.valid_from))
            current = best.new_code
            if current in seen:  # guarded against at load time; keep the loop finite anyway
                return current
            seen.add(current)

    def is_known_municipality(self, code: str) -> bool:
        """True when ``code`` is in ``params/municipalities/`` or in the code changes."""
        if code in self.municipalities:
            return True
        return any(code in (c.old_code, c.new_code) for c in self.code_changes)

    def population(self, municipalities: Iterable[str] | None = None) -> pd.DataFrame:
        """Adult population by municipality x age band x sex (columns municipality, age_band,
        sex, count), for all municipalities or the given codes."""
        codes = list(self.municipalities) if municipalities is None else list(municipalities)
        unknown = [c for c in codes if c not in self.municipalities]
        if unknown:
            raise ParameterError(
                f"municipalities must be codes in {self.params_dir / 'municipalities'}; "
                f"got unknown {unknown}. Add a file per municipality or fix the code."
            )
        if not codes:
            return _empty_population()
        frames = [self.municipalities[c].population.assign(**{C.MUNICIPALITY: c}) for c in codes]
        out = pd.concat(frames, ignore_index=True)[list(POPULATION_COLUMNS)]
        out[C.MUNICIPALITY] = out[C.MUNICIPALITY].astype("string")
        return out

    def synthetic_waves(self) -> list[str]:
        """Labels of the waves whose source is synthetic, in label order."""
        return [label for label, w in self.waves.items() if w.source == "synthetic"]


# --------------------------------------------------------------------------------------------
# loading
# --------------------------------------------------------------------------------------------
def project_root() -> Path:
    """The project root: the folder above ``src/`` (found from this file, not the cwd)."""
    return Path(__file__).resolve().parents[2]


def default_params_dir() -> Path:
    """``$METING_PARAMS`` when set, else ``<project root>/params``."""
    env = os.environ.get("METING_PARAMS")
    if env:
        return Path(env).expanduser().resolve()
    return project_root() / "params"


def load_registry(params_dir: Path | str | None = None) -> Registry:
    """Load and validate every registry file in ``params_dir`` (default: :func:`default_params_dir`).

    Raises
    ------
    ParameterError
        When a file is missing or any field is invalid (the message names file and field).
    """
    root = Path(params_dir).expanduser().resolve() if params_dir else default_params_dir()
    if not root.is_dir():
        raise ParameterError(
            f"parameter folder must exist; got {root}. Pass --params or set METING_PARAMS."
        )
    for folder in (root, root / "municipalities", root / "waves"):
        reject_yml_files(folder)
    organisations = _load_organisations(root / "organisations.yaml")
    life_events = _load_life_events(root / "life_events.yaml", organisations)
    municipalities = _load_municipalities(root / "municipalities")
    code_changes = _load_code_changes(root / "municipality_code_changes.csv")
    waves = _load_waves(root / "waves", root.parent)
    path = root / "analysis.yaml"
    settings = parse(Settings, load_yaml(path), path)
    return Registry(
        params_dir=root,
        life_events=MappingProxyType(life_events),
        organisations=MappingProxyType(organisations),
        municipalities=MappingProxyType(municipalities),
        waves=MappingProxyType(waves),
        code_changes=code_changes,
        settings=settings,
        education_shares=load_education_shares(root),
    )


def load_education_shares(params_dir: Path | str) -> EducationShares:
    """``params/population_education.yaml``: the population education shares by age band."""
    path = Path(params_dir) / "population_education.yaml"
    return parse(EducationShares, load_yaml(path), path)


def _load_organisations(path: Path) -> dict[str, Organisation]:
    parsed = parse(OrganisationsFile, load_yaml(path), path)
    return {o.code: o for o in parsed.organisations}


def _load_life_events(
    path: Path, organisations: Mapping[str, Organisation]
) -> dict[str, LifeEvent]:
    parsed = parse(LifeEventsFile, load_yaml(path), path)
    for i, event in enumerate(parsed.life_events):
        for org in event.organisations:
            if org not in organisations:
                raise fail(
                    path,
                    f"life_events[{i}].organisations",
                    "list codes from organisations.yaml",
                    org,
                    f"Known codes: {', '.join(sorted(organisations))}.",
                )
    return {e.code: e for e in parsed.life_events}


def _yaml_files(folder: Path, what: str) -> list[Path]:
    if not folder.is_dir():
        raise ParameterError(f"{folder}: folder must exist with one {what}.yaml per file.")
    files = sorted(folder.glob("*.yaml"))
    if not files:
        raise ParameterError(f"{folder}: folder must hold at least one {what}.yaml; got none.")
    return files


def _load_municipalities(folder: Path) -> dict[str, Municipality]:
    out: dict[str, Municipality] = {}
    for path in _yaml_files(folder, "<GMxxxx>"):
        parsed = parse(MunicipalityFile, load_yaml(path), path)
        if path.stem != parsed.code:
            raise fail(
                path, "code", f"equal the file name ({path.stem})", parsed.code, "Rename the file."
            )
        out[parsed.code] = parsed.to_municipality()
    return dict(sorted(out.items()))


def _load_code_changes(path: Path) -> tuple[CodeChange, ...]:
    if not path.is_file():
        raise ParameterError(f"{path}: file must exist (it may hold only the header); got nothing.")
    try:
        frame = pd.read_csv(path, comment="#", dtype=str, keep_default_na=False, encoding="utf-8")
    except (ValueError, UnicodeDecodeError) as exc:
        raise ParameterError(f"{path}: file must be a UTF-8 CSV; got {exc}") from exc
    missing = [c for c in CODE_CHANGE_COLUMNS if c not in frame.columns]
    extra = [c for c in frame.columns if c not in CODE_CHANGE_COLUMNS]
    if missing or extra:
        raise fail(
            path,
            (missing or extra)[0],
            "be a column" if missing else "not be a column (unknown)",
            list(frame.columns),
            f"Header: {','.join(CODE_CHANGE_COLUMNS)}",
        )
    changes = [
        parse(CodeChange, row, path, suffix=f" (data row {i})")
        for i, row in enumerate(frame.to_dict(orient="records"), start=1)  # a handful of rows
    ]
    by_old: dict[tuple[str, dt.date], float] = {}
    for c in changes:
        key = (c.old_code, c.valid_from)
        by_old[key] = by_old.get(key, 0.0) + c.population_share
    for (old, day), total in by_old.items():
        if abs(total - 1.0) > 1e-6:
            raise fail(
                path,
                "population_share",
                f"add up to 1 for {old} on {day}",
                round(total, 6),
                "A split needs one row per new code with shares summing to 1.",
            )
    changes.sort(key=lambda c: (c.valid_from, c.old_code, c.new_code))
    # cycles would make map_code loop; codes are only handed out once, so any cycle is a typo
    for c in changes:
        reach: set[str] = set()
        frontier = {c.new_code}
        while frontier:
            code = frontier.pop()
            if code == c.old_code:
                raise fail(path, "new_code", "not lead back to an old code", c.old_code)
            if code not in reach:
                reach.add(code)
                frontier |= {d.new_code for d in changes if d.old_code == code}
    return tuple(changes)


def _load_waves(folder: Path, root: Path) -> dict[str, Wave]:
    waves: dict[str, Wave] = {}
    for path in _yaml_files(folder, "<label>"):
        parsed = parse(WaveFile, load_yaml(path), path)
        if parsed.label != path.stem:
            raise fail(
                path,
                "label",
                f"equal the file name ({path.stem})",
                parsed.label,
                "Rename the file.",
            )
        waves[parsed.label] = parsed.to_wave(path, root)
    for w in waves.values():
        if w.previous is not None:
            if w.previous not in waves:
                raise fail(
                    w.file,
                    "previous",
                    "name another wave in waves/ or be null",
                    w.previous,
                    f"Known waves: {', '.join(sorted(waves))}.",
                )
            if waves[w.previous].reference_date >= w.reference_date:
                raise fail(w.file, "previous", "name an earlier wave", w.previous)
    return dict(sorted(waves.items()))


def _as_date(value: object) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise ParameterError(f"date must be a date (YYYY-MM-DD); got {value!r}.")


def _empty_population() -> pd.DataFrame:
    return pd.DataFrame(
        {
            C.MUNICIPALITY: pd.Series([], dtype="string"),
            C.AGE_BAND: pd.Series([], dtype="string"),
            C.SEX: pd.Series([], dtype="string"),
            "count": pd.Series([], dtype="int64"),
        }
    )
