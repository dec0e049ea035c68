"""Safe reading of the parameter files: one YAML loader for every file in ``params/``.

The loader is PyYAML's safe loader with four refusals, each a :class:`ParameterError` naming the
file (and the key and line where there is one):

* anchors and aliases (``&a`` / ``*a``): a parameter file never needs them, and an alias bomb
  ("billion laughs") is refused while the document is composed, before anything is expanded;
* duplicate keys in one mapping (PyYAML would silently keep the last one);
* files named ``*.yml`` in a parameter folder (they would be ignored; rename them to ``.yaml``);
* syntax errors and files that are not UTF-8.

A date that YAML recognises but that does not exist (``2008-13-45``; PyYAML raises ValueError)
is kept as :class:`InvalidDate` text, so the settings model reports it at its field.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import ConstructorError
from yaml.nodes import MappingNode, Node

from meting.errors import ParameterError

__all__ = ["InvalidDate", "fail", "load_yaml", "reject_yml_files", "short_repr"]

MAX_REPR = 80


def short_repr(value: object, limit: int = MAX_REPR) -> str:
    """``repr(value)``, cut to ``limit`` characters (error messages never print a huge value)."""
    if isinstance(value, list | tuple | dict | set) and len(value) > 50:
        return f"<{type(value).__name__} of {len(value)} items>"
    text = repr(value)
    return text if len(text) <= limit else f"{text[: limit - 4]} ..."


def fail(path: Path | str, field: str, rule: str, got: object, fix: str = "") -> ParameterError:
    """The standard ParameterError: ``<file>: field '<field>' must <rule>; got <value>. <fix>``."""
    shown = got if isinstance(got, _Nothing) else short_repr(got)
    msg = f"{path}: field '{field}' must {rule}; got {shown}."
    return ParameterError(f"{msg} {fix}".rstrip())


class _Nothing(str):
    """Marks a missing value in :func:`fail` (printed as ``nothing``, without quotes)."""


NOTHING = _Nothing("nothing")


class InvalidDate(str):
    """Text YAML took for a date that does not exist (e.g. ``2008-13-45``)."""


class _AliasRefused(yaml.YAMLError):
    pass


class _ParamsLoader(yaml.SafeLoader):
    """SafeLoader without anchors/aliases and without duplicate keys."""

    def compose_node(self, parent: Node | None, index: int) -> Node | None:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
            raise _AliasRefused(
                f"line {event.start_mark.line + 1}: anchors and aliases (& and *) are not allowed"
            )
        return super().compose_node(parent, index)

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            try:
                first = seen.setdefault(key, line)
            except TypeError:  # unhashable key: let PyYAML report it
                break
            if first != line:
                raise ConstructorError(
                    None,
                    None,
                    f"duplicate key {short_repr(key)} on line {line} (first on line {first})",
                    key_node.start_mark,
                )
        return super().construct_mapping(node, deep=deep)

    def construct_yaml_timestamp(self, node: Node) -> Any:
        try:
            return super().construct_yaml_timestamp(node)  # type: ignore[arg-type]
        except ValueError:
            return InvalidDate(str(node.value))


_ParamsLoader.add_constructor("tag:yaml.org,2002:timestamp", _ParamsLoader.construct_yaml_timestamp)
_ParamsLoader.add_constructor(  # type: ignore[type-var]
    "tag:yaml.org,2002:map", _ParamsLoader.construct_yaml_map
)


def load_yaml(path: Path) -> dict[str, Any]:
    """Read a YAML mapping from a parameter file, or raise ParameterError naming the file."""
    path = Path(path)
    if not path.is_file():
        raise ParameterError(f"{path}: file must exist; got nothing there. Restore the file.")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ParameterError(f"{path}: file must be valid UTF-8 YAML; got {exc}") from exc
    try:
        data = yaml.load(text, Loader=_ParamsLoader)
    except _AliasRefused as exc:
        raise ParameterError(
            f"{path}: file must not use YAML anchors or aliases; got them at {exc}. "
            "Write every value out."
        ) from None
    except ConstructorError as exc:
        if exc.problem and exc.problem.startswith("duplicate key"):
            raise ParameterError(
                f"{path}: key must appear once per mapping; got {exc.problem}. Remove one of them."
            ) from None
        raise ParameterError(f"{path}: file must be valid UTF-8 YAML; got {exc}") from None
    except yaml.YAMLError as exc:
        raise ParameterError(f"{path}: file must be valid UTF-8 YAML; got {exc}") from None
    if not isinstance(data, dict):
        raise ParameterError(
            f"{path}: file must hold a YAML mapping (key: value); got {type(data).__name__}."
        )
    return data


def reject_yml_files(folder: Path) -> None:
    """Refuse ``*.yml`` files in a parameter folder: they would be ignored silently."""
    stray = sorted(folder.glob("*.yml"))
    if stray:
        raise ParameterError(
            f"{stray[0]}: file name must end in .yaml; got .yml. "
            f"Rename it to {stray[0].with_suffix('.yaml').name}."
        )
