"""Load and validate the parameter registries in ``params/``.

The registry holds everything the package knows that is not survey data: the life events and the
organisations in their chains, the municipalities with their population margins, the waves, the
dated municipality code changes and the analysis settings. Every file is checked when it is
loaded; a problem raises :class:`meting.errors.ParameterError` with a message of the form
``"<file>: field '<name>' must <rule>; got <value>. <fix>"``.

Layout of the parameter folder::

    params/
      analysis.yaml                    Settings
      life_events.yaml                 LifeEvent (one list)
      organisations.yaml               Organisation (one list)
      municipalities/<GMxxxx>.yaml     Municipality (one file each)
      municipality_code_changes.csv    CodeChange (dated, '#' comment lines allowed)
      waves/<label>.yaml               Wave (one file each)
      synthetic.yaml                   assumptions of the generator (read by meting.synthetic)
"""

from __future__ import annotations

import datetime as dt
import math
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from dataclasses import field as dc_field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pandas as pd
import yaml

from meting import columns as C
from meting.errors import ParameterError

__all__ = [
    "CodeChange",
    "LifeEvent",
    "Municipality",
    "Organisation",
    "Registry",
    "Settings",
    "Wave",
    "default_params_dir",
    "load_registry",
    "load_yaml",
    "project_root",
]

MUNICIPALITY_CODE = re.compile(r"GM\d{4}")
SLUG = re.compile(r"[a-z][a-z0-9_]*")
WAVE_LABEL = re.compile(r"\d{4}-[a-z0-9][a-z0-9-]*")
SIZE_CLASSES = ("<20.000", "20.000-50.000", "50.000-100.000", "100.000+")
WAVE_KINDS = ("nulmeting", "vervolgmeting")
SOURCES = ("synthetic", "file")
MULTIPLE_TESTING = ("holm", "bh")
SAMPLERS = ("nutpie", "pymc")
WEIGHTING_COLUMNS = (C.MUNICIPALITY, C.AGE_BAND, C.SEX, C.EDUCATION, C.SIZE_CLASS, C.LIFE_EVENT)
SCORE_LEVELS = ("organisations", "chain", "cooperation", "government")
POPULATION_COLUMNS = (C.MUNICIPALITY, C.AGE_BAND, C.SEX, "count")


# --------------------------------------------------------------------------------------------
# records
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class LifeEvent:
    """A life event (levensgebeurtenis) and the chain of organisations around it.

    Attributes
    ----------
    code, name
        ASCII slug used in the data, and the Dutch name.
    organisations
        Organisation codes in the chain, central organisation first.
    incidence
        Assumed share of adults experiencing the event in a year (0-1).
    chain_effect
        Assumed shift of the latent chain score (used by the synthetic generator only).
    """

    code: str
    name: str
    organisations: tuple[str, ...]
    incidence: float
    chain_effect: float = 0.0


@dataclass(frozen=True)
class Organisation:
    """An organisation that can be part of a chain."""

    code: str
    name: str


@dataclass(frozen=True, eq=False)
class Municipality:
    """A municipality with its adult population by age band and sex.

    ``population`` has the columns ``age_band``, ``sex``, ``count`` (one row per age band x sex, in
    the order of :data:`meting.columns.AGE_BANDS` x :data:`meting.columns.SEXES`).
    """

    code: str
    name: str
    province: str
    size_class: str
    population: pd.DataFrame
    reference_date: dt.date | None = None
    population_source: str = ""

    @property
    def adults(self) -> int:
        """Total adult population."""
        return int(self.population["count"].sum())


@dataclass(frozen=True)
class CodeChange:
    """One dated municipality code change (old code -> new code from ``valid_from`` on)."""

    old_code: str
    new_code: str
    new_name: str
    valid_from: dt.date
    population_share: float
    note: str


@dataclass(frozen=True)
class Wave:
    """One wave of the measurement.

    Attributes
    ----------
    label, year, kind, reference_date, previous
        Identification; ``previous`` is the label of the wave it is compared with, or None.
    source
        ``"synthetic"`` (generated with ``seed``) or ``"file"`` (``respondents`` and
        ``organisations`` are absolute paths, resolved against the project root).
    weighting
        Weighting margins; each margin is a tuple of columns crossed with each other, e.g.
        ``(("municipality", "age_band", "sex"), ("education",))``.
    require_education
        Whether the respondent file must hold ``education``.
    published
        Published headline figures by level (``organisations``, ``chain``, ``cooperation``,
        ``government``); only what the sources print.
    published_sources
        Source of each published figure.
    published_note
        Free text (Dutch) about what was and was not published.
    targets
        Population-level truth the synthetic generator is calibrated to (all four levels).
    file
        The parameter file the wave came from.
    """

    label: str
    year: int
    kind: str
    reference_date: dt.date
    previous: str | None
    source: str
    seed: int | None
    respondents: Path | None
    organisations: Path | None
    weighting: tuple[tuple[str, ...], ...]
    require_education: bool
    published: Mapping[str, float]
    file: Path
    published_sources: Mapping[str, str] = dc_field(default_factory=dict)
    published_note: str = ""
    targets: Mapping[str, float] = dc_field(default_factory=dict)


@dataclass(frozen=True)
class Settings:
    """Analysis settings from ``params/analysis.yaml`` (see that file for each field)."""

    target: float
    confidence: float
    min_cell_size: int
    multiple_testing: str
    reference_division: dt.date
    prob_above: float
    prob_below: float
    sampler: str
    chains: int
    draws: int
    tune: int
    random_seed: int
    target_accept: float
    sae_priors: Mapping[str, float]


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
    organisations = _load_organisations(root / "organisations.yaml")
    life_events = _load_life_events(root / "life_events.yaml", organisations)
    municipalities = _load_municipalities(root / "municipalities")
    code_changes = _load_code_changes(root / "municipality_code_changes.csv")
    waves = _load_waves(root / "waves", root.parent)
    settings = _load_settings(root / "analysis.yaml")
    return Registry(
        params_dir=root,
        life_events=MappingProxyType(life_events),
        organisations=MappingProxyType(organisations),
        municipalities=MappingProxyType(municipalities),
        waves=MappingProxyType(waves),
        code_changes=code_changes,
        settings=settings,
    )


def load_yaml(path: Path) -> dict[str, Any]:
    """Read a YAML mapping, raising ParameterError for a missing file or bad YAML."""
    if not path.is_file():
        raise ParameterError(f"{path}: file must exist; got nothing there. Restore the file.")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ParameterError(f"{path}: file must be valid UTF-8 YAML; got {exc}") from exc
    if not isinstance(data, dict):
        raise ParameterError(
            f"{path}: file must hold a YAML mapping (key: value); got {type(data).__name__}."
        )
    return data


# --- field helpers (public within the package: meting.synthetic uses them too) ---------------
def fail(path: Path, field: str, rule: str, got: Any, fix: str = "") -> ParameterError:
    """Build the standard ParameterError for ``field`` of ``path``."""
    msg = f"{path}: field '{field}' must {rule}; got {got!r}."
    return ParameterError(f"{msg} {fix}".rstrip())


def get(data: Mapping[str, Any], key: str, path: Path, field: str | None = None) -> Any:
    """Return ``data[key]`` or raise a ParameterError naming the missing field."""
    field = field or key
    if not isinstance(data, Mapping):
        raise fail(path, field.rsplit(".", 1)[0], "be a mapping", data)
    if key not in data:
        raise fail(path, field, "be present", "nothing", f"Add '{key}:' to the file.")
    return data[key]


def as_str(value: Any, path: Path, field: str, pattern: re.Pattern[str] | None = None) -> str:
    """A non-empty string (optionally fully matching ``pattern``)."""
    if not isinstance(value, str) or not value.strip():
        raise fail(path, field, "be non-empty text (quote it in YAML)", value)
    if pattern is not None and not pattern.fullmatch(value):
        raise fail(path, field, f"match {pattern.pattern}", value)
    return value


def as_float(
    value: Any, path: Path, field: str, lo: float | None = None, hi: float | None = None
) -> float:
    """A finite number, optionally within [lo, hi]."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise fail(path, field, "be a number", value)
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise fail(path, field, f"lie between {lo} and {hi}", value)
    return float(value)


def as_int(value: Any, path: Path, field: str, lo: int | None = None) -> int:
    """An integer, optionally at least ``lo``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise fail(path, field, "be a whole number", value)
    if lo is not None and value < lo:
        raise fail(path, field, f"be at least {lo}", value)
    return int(value)


def as_choice(value: Any, path: Path, field: str, choices: Iterable[str]) -> str:
    """One of ``choices``."""
    choices = tuple(choices)
    if value not in choices:
        raise fail(path, field, f"be one of {', '.join(map(str, choices))}", value)
    return str(value)


def _as_date(value: Any, path: Path | None = None, field: str = "date") -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError:
            pass
    if path is None:
        raise ParameterError(f"date must be a date (YYYY-MM-DD); got {value!r}.")
    raise fail(path, field, "be a date written YYYY-MM-DD", value)


def _as_list(value: Any, path: Path, field: str) -> list[Any]:
    if not isinstance(value, list) or not value:
        raise fail(path, field, "be a non-empty list", value)
    return value


def _load_organisations(path: Path) -> dict[str, Organisation]:
    data = load_yaml(path)
    out: dict[str, Organisation] = {}
    for i, item in enumerate(_as_list(get(data, "organisations", path), path, "organisations")):
        f = f"organisations[{i}]"
        code = as_str(get(item, "code", path, f"{f}.code"), path, f"{f}.code", SLUG)
        if code in out:
            raise fail(path, f"{f}.code", "be unique", code, "Remove the duplicate entry.")
        name = as_str(get(item, "name", path, f"{f}.name"), path, f"{f}.name")
        out[code] = Organisation(code=code, name=name)
    return out


def _load_life_events(
    path: Path, organisations: Mapping[str, Organisation]
) -> dict[str, LifeEvent]:
    data = load_yaml(path)
    out: dict[str, LifeEvent] = {}
    for i, item in enumerate(_as_list(get(data, "life_events", path), path, "life_events")):
        f = f"life_events[{i}]"
        code = as_str(get(item, "code", path, f"{f}.code"), path, f"{f}.code", SLUG)
        if code in out:
            raise fail(path, f"{f}.code", "be unique", code, "Remove the duplicate entry.")
        name = as_str(get(item, "name", path, f"{f}.name"), path, f"{f}.name")
        orgs = _as_list(
            get(item, "organisations", path, f"{f}.organisations"), path, f"{f}.organisations"
        )
        for org in orgs:
            if org not in organisations:
                raise fail(
                    path,
                    f"{f}.organisations",
                    "list codes from organisations.yaml",
                    org,
                    f"Known codes: {', '.join(sorted(organisations))}.",
                )
        if len(set(orgs)) != len(orgs):
            raise fail(path, f"{f}.organisations", "not repeat an organisation", orgs)
        incidence = as_float(
            get(item, "incidence", path, f"{f}.incidence"), path, f"{f}.incidence", 0.0, 1.0
        )
        if incidence <= 0:
            raise fail(path, f"{f}.incidence", "be above 0", incidence)
        effect = as_float(item.get("chain_effect", 0.0), path, f"{f}.chain_effect", -5.0, 5.0)
        out[code] = LifeEvent(code, name, tuple(orgs), incidence, effect)
    return out


def _load_municipalities(folder: Path) -> dict[str, Municipality]:
    if not folder.is_dir():
        raise ParameterError(
            f"{folder}: folder must exist with one <GMxxxx>.yaml per municipality."
        )
    files = sorted(folder.glob("*.yaml"))
    if not files:
        raise ParameterError(f"{folder}: folder must hold at least one <GMxxxx>.yaml; got none.")
    out: dict[str, Municipality] = {}
    for path in files:
        m = _load_municipality(path)
        out[m.code] = m
    return dict(sorted(out.items()))


def _load_municipality(path: Path) -> Municipality:
    data = load_yaml(path)
    code = get(data, "code", path)
    if not isinstance(code, str):
        raise fail(
            path,
            "code",
            'be text "GM" + 4 digits',
            code,
            'Quote it in YAML (code: "GM0014") so leading zeros are kept.',
        )
    as_str(code, path, "code", MUNICIPALITY_CODE)
    if path.stem != code:
        raise fail(path, "code", f"equal the file name ({path.stem})", code, "Rename the file.")
    name = as_str(get(data, "name", path), path, "name")
    province = as_str(get(data, "province", path), path, "province")
    size_class = as_choice(get(data, "size_class", path), path, "size_class", SIZE_CLASSES)
    ref = data.get("reference_date")
    ref_date = _as_date(ref, path, "reference_date") if ref is not None else None
    pop = get(data, "population", path)
    if not isinstance(pop, Mapping):
        raise fail(path, "population", "map age band -> {man: n, vrouw: n}", pop)
    if set(map(str, pop)) != set(C.AGE_BANDS):
        raise fail(
            path,
            "population",
            f"have exactly the age bands {list(C.AGE_BANDS)}",
            sorted(map(str, pop)),
        )
    rows = []
    for band in C.AGE_BANDS:
        by_sex = pop[band]
        f = f"population.{band}"
        if not isinstance(by_sex, Mapping) or set(by_sex) != set(C.SEXES):
            raise fail(path, f, f"map each of {list(C.SEXES)} to a count", by_sex)
        for sex in C.SEXES:
            n = as_int(by_sex[sex], path, f"{f}.{sex}", lo=0)
            rows.append((band, sex, n))
    frame = pd.DataFrame(rows, columns=[C.AGE_BAND, C.SEX, "count"])
    if frame["count"].sum() <= 0:
        raise fail(path, "population", "hold a positive total", 0)
    frame[C.AGE_BAND] = frame[C.AGE_BAND].astype("string")
    frame[C.SEX] = frame[C.SEX].astype("string")
    frame["count"] = frame["count"].astype("int64")
    source = data.get("population_source", "")
    return Municipality(code, name, province, size_class, frame, ref_date, str(source or ""))


def _load_code_changes(path: Path) -> tuple[CodeChange, ...]:
    if not path.is_file():
        raise ParameterError(f"{path}: file must exist (it may hold only the header); got nothing.")
    try:
        frame = pd.read_csv(path, comment="#", dtype=str, keep_default_na=False, encoding="utf-8")
    except (ValueError, UnicodeDecodeError) as exc:
        raise ParameterError(f"{path}: file must be a UTF-8 CSV; got {exc}") from exc
    cols = ["old_code", "new_code", "new_name", "valid_from", "population_share", "note"]
    missing = [c for c in cols if c not in frame.columns]
    if missing:
        raise fail(
            path, missing[0], "be a column", list(frame.columns), f"Header: {','.join(cols)}"
        )
    changes = []
    for i, row in enumerate(frame.itertuples(index=False), start=1):  # a handful of rows
        f = "{} (data row " + str(i) + ")"
        old = as_str(row.old_code, path, f.format("old_code"), MUNICIPALITY_CODE)
        new = as_str(row.new_code, path, f.format("new_code"), MUNICIPALITY_CODE)
        if old == new:
            raise fail(path, f.format("new_code"), "differ from old_code", new)
        try:
            share = float(row.population_share)
        except ValueError:
            raise fail(
                path, f.format("population_share"), "be a number in (0, 1]", row.population_share
            ) from None
        if not 0 < share <= 1:
            raise fail(path, f.format("population_share"), "be a number in (0, 1]", share)
        changes.append(
            CodeChange(
                old,
                new,
                as_str(row.new_name, path, f.format("new_name")),
                _as_date(row.valid_from, path, f.format("valid_from")),
                share,
                str(row.note),
            )
        )
    by_old: dict[tuple[str, dt.date], float] = {}
    for c in changes:
        by_old[(c.old_code, c.valid_from)] = (
            by_old.get((c.old_code, c.valid_from), 0.0) + c.population_share
        )
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
        reach, frontier = set(), {c.new_code}
        while frontier:
            code = frontier.pop()
            if code == c.old_code:
                raise fail(path, "new_code", "not lead back to an old code", c.old_code)
            if code not in reach:
                reach.add(code)
                frontier |= {d.new_code for d in changes if d.old_code == code}
    return tuple(changes)


def _load_waves(folder: Path, root: Path) -> dict[str, Wave]:
    if not folder.is_dir():
        raise ParameterError(f"{folder}: folder must exist with one <label>.yaml per wave.")
    files = sorted(folder.glob("*.yaml"))
    if not files:
        raise ParameterError(f"{folder}: folder must hold at least one <label>.yaml; got none.")
    waves = {w.label: w for w in (_load_wave(p, root) for p in files)}
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


def _load_wave(path: Path, root: Path) -> Wave:
    data = load_yaml(path)
    label = as_str(get(data, "label", path), path, "label", WAVE_LABEL)
    if label != path.stem:
        raise fail(path, "label", f"equal the file name ({path.stem})", label, "Rename the file.")
    year = as_int(get(data, "year", path), path, "year", lo=1900)
    kind = as_choice(get(data, "kind", path), path, "kind", WAVE_KINDS)
    ref = _as_date(get(data, "reference_date", path), path, "reference_date")
    if ref.year != year:
        raise fail(path, "reference_date", f"lie in the wave's year {year}", ref.isoformat())
    previous = get(data, "previous", path)
    if previous is not None:
        previous = as_str(previous, path, "previous", WAVE_LABEL)
    src = get(data, "source", path)
    if not isinstance(src, Mapping):
        raise fail(path, "source", "be a mapping with 'type'", src)
    stype = as_choice(get(src, "type", path, "source.type"), path, "source.type", SOURCES)
    seed = respondents = organisations = None
    if stype == "synthetic":
        seed = as_int(get(src, "seed", path, "source.seed"), path, "source.seed", lo=0)
    else:
        rel = as_str(
            get(src, "respondents", path, "source.respondents"), path, "source.respondents"
        )
        respondents = (root / rel).resolve()
        if src.get("organisations") is not None:
            organisations = (
                root / as_str(src["organisations"], path, "source.organisations")
            ).resolve()
        if "seed" in src and src["seed"] is not None:
            seed = as_int(src["seed"], path, "source.seed", lo=0)
    weighting = get(data, "weighting", path)
    if not isinstance(weighting, Mapping):
        raise fail(
            path, "weighting", "be a mapping with 'margins' and 'require_education'", weighting
        )
    margins: list[tuple[str, ...]] = []
    for i, margin in enumerate(
        _as_list(get(weighting, "margins", path, "weighting.margins"), path, "weighting.margins")
    ):
        f = f"weighting.margins[{i}]"
        items = margin if isinstance(margin, list) else [margin]
        for col in items:
            as_choice(col, path, f, WEIGHTING_COLUMNS)
        if len(set(items)) != len(items):
            raise fail(path, f, "not repeat a column", items)
        margins.append(tuple(items))
    req = get(weighting, "require_education", path, "weighting.require_education")
    if not isinstance(req, bool):
        raise fail(path, "weighting.require_education", "be true or false", req)
    if any(C.EDUCATION in m for m in margins) and not req:
        raise fail(path, "weighting.require_education", "be true when a margin uses education", req)
    pub = get(data, "published", path)
    if not isinstance(pub, Mapping):
        raise fail(path, "published", "be a mapping with 'figures'", pub)
    figures = pub.get("figures") or {}
    if not isinstance(figures, Mapping):
        raise fail(path, "published.figures", "map level -> rapportcijfer", figures)
    published = {}
    for level, value in figures.items():
        as_choice(level, path, "published.figures", SCORE_LEVELS)
        published[level] = as_float(value, path, f"published.figures.{level}", 1.0, 10.0)
    sources = pub.get("sources") or {}
    if not isinstance(sources, Mapping):
        raise fail(path, "published.sources", "map level -> source text", sources)
    for level in published:
        if level not in sources:
            raise fail(path, f"published.sources.{level}", "name the source of each figure", None)
    targets: dict[str, float] = {}
    raw_targets = data.get("synthetic_targets")
    if stype == "synthetic" or raw_targets is not None:
        if not isinstance(raw_targets, Mapping):
            raise fail(
                path,
                "synthetic_targets",
                f"map each of {list(SCORE_LEVELS)} to a target",
                raw_targets,
            )
        for level in SCORE_LEVELS:
            value = get(raw_targets, level, path, f"synthetic_targets.{level}")
            targets[level] = as_float(value, path, f"synthetic_targets.{level}", 1.5, 9.5)
    return Wave(
        label=label,
        year=year,
        kind=kind,
        reference_date=ref,
        previous=previous,
        source=stype,
        seed=seed,
        respondents=respondents,
        organisations=organisations,
        weighting=tuple(margins),
        require_education=req,
        published=MappingProxyType(published),
        file=path,
        published_sources=MappingProxyType({k: str(v) for k, v in sources.items()}),
        published_note=str(pub.get("note") or ""),
        targets=MappingProxyType(targets),
    )


def _load_settings(path: Path) -> Settings:
    data = load_yaml(path)
    bayes = get(data, "bayes", path)
    if not isinstance(bayes, Mapping):
        raise fail(path, "bayes", "be a mapping with prob_above and prob_below", bayes)
    above = as_float(
        get(bayes, "prob_above", path, "bayes.prob_above"), path, "bayes.prob_above", 0.5, 1.0
    )
    below = as_float(
        get(bayes, "prob_below", path, "bayes.prob_below"), path, "bayes.prob_below", 0.0, 0.5
    )
    priors = get(data, "sae_priors", path)
    if not isinstance(priors, Mapping) or not priors:
        raise fail(path, "sae_priors", "map prior name -> number", priors)
    sae = {}
    for k, v in priors.items():
        sae[str(k)] = as_float(v, path, f"sae_priors.{k}")
        if k != "intercept_mu" and sae[str(k)] <= 0:
            raise fail(path, f"sae_priors.{k}", "be above 0 (a scale)", v)
    confidence = as_float(get(data, "confidence", path), path, "confidence", 0.5, 0.999)
    return Settings(
        target=as_float(get(data, "target", path), path, "target", 1.0, 10.0),
        confidence=confidence,
        min_cell_size=as_int(get(data, "min_cell_size", path), path, "min_cell_size", lo=1),
        multiple_testing=as_choice(
            get(data, "multiple_testing", path), path, "multiple_testing", MULTIPLE_TESTING
        ),
        reference_division=_as_date(
            get(data, "reference_division", path), path, "reference_division"
        ),
        prob_above=above,
        prob_below=below,
        sampler=as_choice(get(data, "sampler", path), path, "sampler", SAMPLERS),
        chains=as_int(get(data, "chains", path), path, "chains", lo=1),
        draws=as_int(get(data, "draws", path), path, "draws", lo=1),
        tune=as_int(get(data, "tune", path), path, "tune", lo=0),
        random_seed=as_int(get(data, "random_seed", path), path, "random_seed", lo=0),
        target_accept=as_float(get(data, "target_accept", path), path, "target_accept", 0.5, 0.999),
        sae_priors=MappingProxyType(sae),
    )


def _empty_population() -> pd.DataFrame:
    return pd.DataFrame(
        {
            C.MUNICIPALITY: pd.Series([], dtype="string"),
            C.AGE_BAND: pd.Series([], dtype="string"),
            C.SEX: pd.Series([], dtype="string"),
            "count": pd.Series([], dtype="int64"),
        }
    )
