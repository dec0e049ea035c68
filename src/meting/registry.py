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
      nationaal/                       a parameter set on top of params/ (below)

A **parameter set** is a folder with a ``set.yaml`` (:class:`meting.settings.parameter_set.
ParameterSetFile`): it holds only the files that differ from its ``base`` folder and takes every
other file from there. Its municipalities may be one table, ``municipalities.csv`` (one row per
municipality and division, :class:`~meting.settings.parameter_set.MunicipalityRow`), instead of
one file each: the national set ``params/nationaal/`` lists the real division of 2008-2010 that
way (about 460 rows load in milliseconds; 460 YAML files would not). A code can have several
rows (its territory changed); :meth:`Registry.municipality_on` picks the one of a date.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType

import numpy as np
import pandas as pd

from meting import columns as C
from meting.errors import ParameterError
from meting.param_sets import load_municipality_table, load_set, parameter_files
from meting.settings.analysis import SaePriors, Settings
from meting.settings.base import parse
from meting.settings.parameter_set import MUNICIPALITY_TABLE, ParameterSetFile
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
    "parameter_files",
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
    #: Every row of a municipality per code (sorted by reference date); empty: one per code.
    municipality_versions: Mapping[str, tuple[Municipality, ...]] = field(
        default_factory=lambda: MappingProxyType({})
    )
    #: The parameter set's ``set.yaml`` (None for a plain parameter folder).
    parameter_set: ParameterSetFile | None = None
    root: Path | None = None
    data_dir: Path | None = None
    reports_dir: Path | None = None

    @property
    def project_root(self) -> Path:
        """The folder holding ``params/`` (data paths in wave files are relative to it); for a
        parameter set, the folder above its base."""
        return self.root if self.root is not None else self.params_dir.parent

    @property
    def synthetic_dir(self) -> Path:
        """Where the synthetic waves live: ``<project>/data/synthetic`` or the set's
        ``data_dir``."""
        return (
            self.data_dir if self.data_dir is not None else self.project_root / "data" / "synthetic"
        )

    def municipality_on(self, code: str, on: dt.date | None = None) -> Municipality:
        """The municipality ``code`` as it is on ``on``: its row with the latest reference date
        on or before ``on`` (the earliest row when all are later; the only row of a file)."""
        versions = self.municipality_versions.get(code) or (self.municipalities[code],)
        if on is None:
            return versions[-1]
        on = _as_date(on)
        valid = [v for v in versions if v.reference_date is None or v.reference_date <= on]
        return valid[-1] if valid else versions[0]

    def introduced_on(self, code: str) -> dt.date | None:
        """The day a code change introduced ``code``, or None when it is no new code or existed
        before every change that names it (a merger into an existing municipality keeps its
        code: it has a registry row dated before the change)."""
        days = [c.valid_from for c in self.code_changes if c.new_code == code]
        if not days:
            return None
        first = min(days)
        versions = self.municipality_versions.get(code) or (
            (self.municipalities[code],) if code in self.municipalities else ()
        )
        if any(v.reference_date is not None and v.reference_date < first for v in versions):
            return None
        return first

    def municipalities_on(self, on: dt.date | None) -> list[str]:
        """Codes of the registry's municipalities that exist on ``on`` (sorted): not yet replaced
        by a code change valid on or before ``on``, and not created by a later one. ``None``:
        every code."""
        codes = sorted(self.municipalities)
        if on is None:
            return codes
        on = _as_date(on)
        gone = {c.old_code for c in self.code_changes if c.valid_from <= on}
        later = {c for c in codes if (day := self.introduced_on(c)) is not None and day > on}
        return [c for c in codes if c not in gone and c not in later]

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

    def population(
        self, municipalities: Iterable[str] | None = None, on: dt.date | None = None
    ) -> pd.DataFrame:
        """Adult population by municipality x age band x sex (columns municipality, age_band,
        sex, count), for all municipalities (those that exist on ``on`` when given) or the given
        codes, each as it is on ``on`` (:meth:`municipality_on`)."""
        codes = self.municipalities_on(on) if municipalities is None else list(municipalities)
        unknown = [c for c in codes if c not in self.municipalities]
        if unknown:
            raise ParameterError(
                f"municipalities must be codes in {self.params_dir / 'municipalities'}; "
                f"got unknown {unknown}. Add a file per municipality or fix the code."
            )
        if not codes:
            return _empty_population()
        counts = np.array([self.municipality_on(c, on).counts for c in codes], dtype="int64")
        cells = len(C.AGE_BANDS) * len(C.SEXES)
        return pd.DataFrame(
            {
                C.MUNICIPALITY: pd.array(np.repeat(codes, cells), dtype="string"),
                C.AGE_BAND: pd.array(
                    np.tile(np.repeat(C.AGE_BANDS, len(C.SEXES)), len(codes)), dtype="string"
                ),
                C.SEX: pd.array(np.tile(C.SEXES, len(C.AGE_BANDS) * len(codes)), dtype="string"),
                "count": counts.ravel(),
            }
        )[list(POPULATION_COLUMNS)]

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
    pset = load_set(root)
    base = (root / pset.base).resolve() if pset else root
    project = base.parent

    def find(name: str) -> Path:
        """A registry file of the set, else of its base."""
        return root / name if (root / name).exists() or pset is None else base / name

    for folder in {root, base, find("municipalities"), find("waves")}:
        if folder.is_dir():
            reject_yml_files(folder)
    organisations = _load_organisations(find("organisations.yaml"))
    life_events = _load_life_events(find("life_events.yaml"), organisations)
    versions: dict[str, tuple[Municipality, ...]] = {}
    if pset is not None and (root / MUNICIPALITY_TABLE).is_file():
        versions = load_municipality_table(root / MUNICIPALITY_TABLE)
        municipalities = {code: rows[-1] for code, rows in versions.items()}
    else:
        municipalities = _load_municipalities(find("municipalities"))
    code_changes = _load_code_changes(find("municipality_code_changes.csv"))
    waves = _load_waves(find("waves"), project)
    if pset is not None and pset.weighting is not None:
        margins, edu = pset.weighting.margins, pset.weighting.require_education
        waves = {k: replace(w, weighting=margins, require_education=edu) for k, w in waves.items()}
    path = find("analysis.yaml")
    settings = parse(Settings, load_yaml(path), path)
    return Registry(
        params_dir=root,
        life_events=MappingProxyType(life_events),
        organisations=MappingProxyType(organisations),
        municipalities=MappingProxyType(municipalities),
        waves=MappingProxyType(waves),
        code_changes=code_changes,
        settings=settings,
        education_shares=load_education_shares(find("population_education.yaml").parent),
        municipality_versions=MappingProxyType(versions),
        parameter_set=pset,
        root=project if pset else None,
        data_dir=(project / pset.data_dir).resolve() if pset else None,
        reports_dir=(project / pset.reports_dir).resolve() if pset else None,
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
