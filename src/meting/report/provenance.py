"""Provenance of a report: what went in (files and their hashes), with what (packages, commit), how
(seeds, parameters) and when; printed as a Dutch block at the end of every report.

Paths are shown relative to the project root (no home folders in a published report). The date is
taken from ``SOURCE_DATE_EPOCH`` when that is set, so a rebuild can be made byte-identical.
"""

from __future__ import annotations

import datetime
import functools
import hashlib
import html
import os
import platform
import subprocess
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

from meting.errors import ReportError
from meting.registry import project_root  # re-exported: the one project root
from meting.report.formatting import fmt_datetime, fmt_int
from meting.settings.analysis import Settings
from meting.settings.waves import Wave

__all__ = [
    "DEFAULT_PACKAGES",
    "FileRecord",
    "Provenance",
    "collect_provenance",
    "git_state",
    "notebook_file",
    "package_versions",
    "list_parameter_files",
    "project_root",
    "report_date",
    "sha256_file",
    "wave_seeds",
]

#: Distributions whose versions every report lists.
DEFAULT_PACKAGES: tuple[str, ...] = (
    "meting",
    "numpy",
    "scipy",
    "pandas",
    "statsmodels",
    "pymc",
    "pytensor",
    "arviz",
    "nutpie",
    "matplotlib",
    "seaborn",
    "pyarrow",
    "PyYAML",
    "papermill",
    "nbconvert",
    "nbclient",
    "ipykernel",
    "jupytext",
    "weasyprint",
)


#: Dutch labels of the report parameters (papermill) shown in the appendix.
PARAMETER_LABELS: dict[str, str] = {
    "wave": "meting",
    "waves": "metingen",
    "municipality": "gemeente",
    "params_dir": "parametermap",
    "only_this_wave": "alleen deze meting",
}
#: Dutch labels of the named seeds.
SEED_LABELS: dict[str, str] = {
    "MCMC": "modelschatting (MCMC-trekkingen)",
    "synthetische data": "synthetische gegevens",
}


def seed_label(name: str) -> str:
    """The Dutch label of a named seed (``"MCMC (2008-nulmeting)"`` ->
    ``"modelschatting (MCMC-trekkingen) (2008-nulmeting)"``)."""
    for key, label in SEED_LABELS.items():
        if name == key or name.startswith(key + " "):
            return label + name[len(key) :]
    return name


def notebook_file(name: str) -> Path:
    """The source of a report notebook, ``<project root>/notebooks/<name>``."""
    return project_root() / "notebooks" / name


def sha256_file(path: str | os.PathLike[str]) -> str:
    """SHA-256 of a file's bytes (hex), read in 1 MiB blocks.

    Remembered per process by the file's identity, size and modification time (what ``make``
    and git's index trust): a national run asked for the same 50 files, 35 MB of data among
    them, three times per report (up-to-date check, artefact key, provenance block). As git
    does for "racy" files, a file changed in the last :data:`RACY_NS` is hashed every time: a
    rewrite within the file system's clock tick keeps the modification time.

    Raises
    ------
    ReportError
        If the file does not exist.
    """
    path = Path(path)
    try:
        st = path.stat()
    except OSError:
        st = None
    if st is None or not path.is_file():
        raise ReportError(f"a file to hash must exist; got {str(path)!r}. Check the path.")
    key = (str(path.resolve()), st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
    known = _HASHES.get(key)
    if known is not None:
        return known
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    if time.time_ns() - st.st_mtime_ns > RACY_NS:
        _HASHES[key] = digest.hexdigest()
    return digest.hexdigest()


#: Files changed more recently than this (ns) are not remembered by sha256_file.
RACY_NS = 2_000_000_000
#: sha256_file's memory: (path, device, inode, size, mtime in ns) -> hex digest.
_HASHES: dict[tuple[str, int, int, int, int], str] = {}


@dataclass(frozen=True)
class FileRecord:
    """One input file: its path (relative to the project root when inside it), size and hash."""

    path: str
    size: int
    sha256: str

    @classmethod
    def of(cls, path: str | os.PathLike[str], root: Path | None = None) -> FileRecord:
        """Hash ``path`` and record it relative to ``root``."""
        p = Path(path).resolve()
        shown = str(p)
        if root is not None:
            try:
                shown = p.relative_to(root.resolve()).as_posix()
            except ValueError:
                shown = p.name
        return cls(path=shown, size=p.stat().st_size, sha256=sha256_file(p))


def git_state(root: Path | None = None) -> tuple[str | None, bool | None]:
    """The commit checked out in ``root`` and whether tracked files differ from it.

    Returns ``(None, None)`` outside a git work tree or without git.
    """
    root = root or project_root()
    if not (root / ".git").exists():
        return None, None
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=20
        )
        status = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=20,
        )
    except (OSError, subprocess.SubprocessError):
        return None, None
    if commit.returncode != 0:
        return None, None
    dirty = bool(status.stdout.strip()) if status.returncode == 0 else None
    return commit.stdout.strip(), dirty


def package_versions(names: Iterable[str] = DEFAULT_PACKAGES) -> tuple[tuple[str, str], ...]:
    """``(name, version)`` for Python and each distribution (``'niet geïnstalleerd'`` if absent);
    looked up once per process (the versions of the code this process runs)."""
    return _versions(tuple(names))


@functools.cache
def _versions(names: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    out = [("python", platform.python_version())]
    for name in names:
        try:
            out.append((name, metadata.version(name)))
        except metadata.PackageNotFoundError:
            out.append((name, "niet geïnstalleerd"))
    return tuple(out)


def report_date(now: datetime.datetime | None = None) -> datetime.datetime:
    """The report's date: ``now``, else ``SOURCE_DATE_EPOCH``, else the clock (Dutch time)."""
    if now is not None:
        return now
    try:
        from zoneinfo import ZoneInfo

        tz: datetime.tzinfo = ZoneInfo("Europe/Amsterdam")
    except Exception:  # no tz database on the machine
        tz = datetime.UTC
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch:
        try:
            return datetime.datetime.fromtimestamp(int(epoch), tz=tz)
        except ValueError as exc:
            raise ReportError(
                f"SOURCE_DATE_EPOCH must be an integer number of seconds; got {epoch!r}. "
                "Unset it or set it to e.g. $(git log -1 --format=%ct)."
            ) from exc
    return datetime.datetime.now(tz=tz)


@dataclass(frozen=True)
class Provenance:
    """Everything needed to reproduce a report; displays as the Dutch provenance block."""

    created: datetime.datetime
    data_files: tuple[FileRecord, ...]
    parameter_files: tuple[FileRecord, ...]
    packages: tuple[tuple[str, str], ...]
    git_commit: str | None
    git_dirty: bool | None
    seeds: tuple[tuple[str, int], ...] = ()
    parameters: tuple[tuple[str, str], ...] = ()
    notebook: FileRecord | None = None
    extra: tuple[tuple[str, str], ...] = field(default=())

    def as_dict(self) -> dict[str, object]:
        """A JSON-ready dictionary (for a manifest beside the report)."""
        return {
            "created": self.created.isoformat(),
            "data_files": [vars(f) for f in self.data_files],
            "parameter_files": [vars(f) for f in self.parameter_files],
            "packages": dict(self.packages),
            "git_commit": self.git_commit,
            "git_dirty": self.git_dirty,
            "seeds": dict(self.seeds),
            "parameters": dict(self.parameters),
            "notebook": vars(self.notebook) if self.notebook else None,
            "extra": dict(self.extra),
        }

    def _commit_text(self) -> str:
        if self.git_commit is None:
            return "onbekend (geen git-werkmap)"
        state = {
            True: "met niet-vastgelegde wijzigingen",
            False: "zonder wijzigingen",
            None: "status onbekend",
        }[self.git_dirty]
        return f"{self.git_commit} ({state})"

    def params_digest(self) -> str:
        """One checksum over all parameter files: the SHA-256 of their ``sha256sum`` lines
        (``<hash>  <path>``, sorted by path), so a reviewer can recompute it with
        ``find params -type f | LC_ALL=C sort | xargs sha256sum | sha256sum`` (over the
        ``.yaml``/``.yml``/``.csv``/``.json`` files)."""
        lines = "".join(
            f"{f.sha256}  {f.path}\n" for f in sorted(self.parameter_files, key=lambda f: f.path)
        )
        return hashlib.sha256(lines.encode("utf-8")).hexdigest()

    def _rows(self) -> list[tuple[str, list[tuple[str, ...]]]]:
        general: list[tuple[str, ...]] = [
            ("datum van aanmaak", fmt_datetime(self.created)),
            ("programmaversie (git-commit)", self._commit_text()),
        ]
        if self.notebook:
            general.append(
                (
                    "notebook (bron van dit rapport)",
                    f"{self.notebook.path} (sha256 {self.notebook.sha256})",
                )
            )
        general += [(PARAMETER_LABELS.get(k, k), v) for k, v in self.parameters]
        general += [(k, v) for k, v in self.extra]
        sections: list[tuple[str, list[tuple[str, ...]]]] = [("Algemeen", general)]
        if self.seeds:
            sections.append(
                (
                    "Willekeurig startgetal (seed)",
                    [(seed_label(k), str(v)) for k, v in self.seeds],
                )
            )
        data_rows: list[tuple[str, ...]] = [
            (f.path, f"{fmt_int(f.size)} bytes", f.sha256) for f in self.data_files
        ]
        sections.append(("Gegevensbestanden", data_rows or [("(geen)", "", "")]))
        if self.parameter_files:
            folders = sorted({f.path.split("/")[0] for f in self.parameter_files})
            sections.append(
                (
                    "Parameters",
                    [
                        (
                            f"{', '.join(f + '/' for f in folders)} "
                            f"({fmt_int(len(self.parameter_files))} bestanden)",
                            f"gezamenlijk controlegetal (sha256) {self.params_digest()}",
                        )
                    ],
                )
            )
        else:
            sections.append(("Parameters", [("(geen)", "")]))
        sections.append(("Pakketversies", [(", ".join(f"{k} {v}" for k, v in self.packages),)]))
        return sections

    def to_html(self) -> str:
        """The provenance block as HTML (class ``meting-provenance``): a compact appendix."""
        parts = [
            '<section class="meting-provenance" id="herkomst">',
            "<h2>Bijlage: herkomst en reproduceerbaarheid</h2>",
            "<p>Deze rapportage is automatisch gemaakt. Met dezelfde gegevensbestanden (zie de "
            "sha256-controlegetallen), parameters, willekeurige startgetallen (seeds) en "
            "pakketversies geeft een nieuwe berekening dezelfde uitkomsten. Het gezamenlijke "
            "controlegetal van de parameters is na te rekenen met <code>find params -type f | "
            "LC_ALL=C sort | xargs sha256sum | sha256sum</code> (over de .yaml-, .yml-, .csv- en "
            ".json-bestanden).</p>",
        ]
        for title, rows in self._rows():
            parts.append(f"<h3>{html.escape(title)}</h3><table><tbody>")
            for row in rows:
                cells = "".join(f"<td>{html.escape(str(c))}</td>" for c in row)
                parts.append(f"<tr>{cells}</tr>")
            parts.append("</tbody></table>")
        parts.append("</section>")
        return "\n".join(parts)

    def to_markdown(self) -> str:
        """The provenance block as Markdown."""
        lines = ["## Bijlage: herkomst en reproduceerbaarheid", ""]
        for title, rows in self._rows():
            lines += [f"### {title}", ""]
            width = max(len(r) for r in rows)
            lines.append("| " + " | ".join([""] * width) + " |")
            lines.append("|" + "---|" * width)
            for row in rows:
                cells = [str(c).replace("|", "\\|") for c in row] + [""] * (width - len(row))
                lines.append("| " + " | ".join(cells) + " |")
            lines.append("")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        return self.to_html()


def list_parameter_files(params_dir: Path) -> list[Path]:
    """The parameter files of ``params_dir`` that a report's provenance hashes (sorted)."""
    if not params_dir.is_dir():
        raise ReportError(
            f"the parameter folder must exist; got {str(params_dir)!r}. Pass params_dir."
        )
    from meting.registry import parameter_files

    return parameter_files(params_dir)


def wave_seeds(settings: Settings, wave: Wave, *, synthetic: bool = True) -> dict[str, int]:
    """The seeds of a wave's report, named in Dutch for the provenance block.

    ``MCMC`` is the seed the wave's small-area fits use, from the one place that derives it
    (:meth:`meting.registry.Settings.sampling_for`), so the block cannot disagree with the fit;
    ``synthetische data`` (with ``synthetic``) is the seed of the generated sample (0 for data
    from files).
    """
    seeds = {"synthetische data": int(wave.seed or 0)} if synthetic else {}
    seeds["MCMC"] = settings.sampling_for(wave).random_seed
    return seeds


def _text(value: object) -> str:
    """A parameter value as the appendix prints it (``ja``/``nee`` for a boolean)."""
    if isinstance(value, bool):
        return "ja" if value else "nee"
    return str(value)


def collect_provenance(
    *,
    data_files: Sequence[str | os.PathLike[str]] = (),
    params_dir: str | os.PathLike[str] | None = None,
    parameter_files: Sequence[str | os.PathLike[str]] = (),
    seeds: Mapping[str, int] | None = None,
    parameters: Mapping[str, object] | None = None,
    notebook: str | os.PathLike[str] | None = None,
    extra: Mapping[str, str] | None = None,
    packages: Iterable[str] = DEFAULT_PACKAGES,
    root: Path | None = None,
    now: datetime.datetime | None = None,
) -> Provenance:
    """Collect the provenance of a report.

    Parameters
    ----------
    data_files
        The data files the report read (hashed).
    params_dir
        The parameter folder: every ``.yaml``/``.yml``/``.csv``/``.json`` file the registry
        reads from it is hashed (:func:`meting.registry.parameter_files`: a parameter set inside
        it is left out; a set's base files are included).
    parameter_files
        Further parameter files to hash.
    seeds
        Named seeds used (for example ``{"synthetic 2008-nulmeting": 2008, "sae": 11}``).
    parameters
        The report's papermill parameters (shown as text).
    notebook
        The notebook source the report ran from.
    extra
        Further ``label -> text`` lines (Dutch).
    packages
        Distributions to list with their versions.
    root
        The project root (paths are shown relative to it); default: this package's checkout.
    now
        Fix the date (tests); default :func:`report_date`.
    """
    root = root or project_root()
    files = list(parameter_files)
    if params_dir is not None:
        files = list_parameter_files(Path(params_dir)) + files
    commit, dirty = git_state(root)
    return Provenance(
        created=report_date(now),
        data_files=tuple(FileRecord.of(p, root) for p in data_files),
        parameter_files=tuple(FileRecord.of(p, root) for p in files),
        packages=package_versions(packages),
        git_commit=commit,
        git_dirty=dirty,
        seeds=tuple((str(k), int(v)) for k, v in (seeds or {}).items()),
        parameters=tuple((str(k), _text(v)) for k, v in (parameters or {}).items()),
        notebook=FileRecord.of(notebook, root) if notebook else None,
        extra=tuple((str(k), str(v)) for k, v in (extra or {}).items()),
    )
