"""Shared pieces of the typed settings: the frozen base model, field types, and the translation of
pydantic's validation errors into :class:`meting.errors.ParameterError`.

Every message has the form ``<file>: field '<dotted.path>' must <rule>; got <value>. <fix>``
(values shortened, see :func:`meting.yaml_io.short_repr`); when a file has several problems, all
of them (up to five) are named.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Strict,
    TypeAdapter,
    ValidationError,
)
from pydantic_core import PydanticCustomError

from meting.errors import ParameterError
from meting.yaml_io import NOTHING, InvalidDate, fail

__all__ = [
    "Day",
    "Frozen",
    "Number",
    "Text",
    "Whole",
    "matching",
    "parse",
    "rule",
]

M = TypeVar("M")
MAX_ERRORS = 5
RULE = "meting_rule"


class Frozen(BaseModel):
    """Base of every settings model: immutable, unknown keys refused, no silent coercion of text
    to numbers (the scalar types below are strict)."""

    model_config = ConfigDict(frozen=True, extra="forbid", validate_default=True)


def rule(text: str, field: str = "", got: object = NOTHING) -> PydanticCustomError:
    """A validation error whose message is the rule ``text`` (``must <text>``).

    ``field`` is a dotted path below the location of the validator (for checks that span several
    fields); ``got`` replaces the value shown.
    """
    return PydanticCustomError(RULE, text, {"field": field, "got": got})


def _finite(value: float) -> float:
    if not math.isfinite(value):
        raise rule("be a finite number", got=value)
    return value


def _non_blank(value: str) -> str:
    if not value.strip():
        raise rule("be non-empty text (quote it in YAML)", got=value)
    return value


def _to_date(value: object) -> object:
    if isinstance(value, InvalidDate):
        raise rule("be a real date written YYYY-MM-DD", got=str(value))
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise rule("be a date written YYYY-MM-DD", got=value)


def matching(pattern: str, hint: str = "") -> AfterValidator:
    """A validator: the text must fully match ``pattern``."""
    compiled = re.compile(pattern)

    def check(value: str) -> str:
        if not compiled.fullmatch(value):
            raise rule(f"match {pattern}{hint}", got=value)
        return value

    return AfterValidator(check)


#: A finite number (an integer is fine; text and true/false are not).
Number = Annotated[float, Strict(), AfterValidator(_finite)]
#: A whole number (true/false and 7.0 are refused).
Whole = Annotated[int, Strict()]
#: Non-empty text.
Text = Annotated[str, Strict(), AfterValidator(_non_blank)]
#: A date: a YAML date or ISO text ``YYYY-MM-DD``.
Day = Annotated[dt.date, BeforeValidator(_to_date)]


def _loc_text(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part == "[key]":
            continue
        else:
            out += f".{part}" if out else str(part)
    return out


def _message(path: Path | str, err: Mapping[str, Any], prefix: str, suffix: str) -> str:
    loc = tuple(err["loc"])
    etype = err["type"]
    ctx = err.get("ctx") or {}
    got: object = err.get("input")
    fix = ""
    if etype == RULE:
        text = str(err["msg"])
        extra = str(ctx.get("field") or "")
        if extra:
            loc = (*loc, *(int(p) if p.isdigit() else p for p in extra.split(".")))
        if "got" in ctx:  # pydantic may copy the NOTHING marker into a plain str
            got = NOTHING if ctx["got"] == NOTHING and isinstance(ctx["got"], str) else ctx["got"]
    elif etype == "missing":
        text, got = "be present", NOTHING
        fix = f"Add '{loc[-1]}:' to the file." if loc else ""
    elif etype == "extra_forbidden":
        text = "not be there (an unknown key; check its spelling against the file's comments)"
    elif str(err["msg"]).startswith("Input should "):
        text = str(err["msg"])[len("Input should ") :]
    elif str(err["msg"]).startswith("Value error, "):
        text = str(err["msg"])[len("Value error, ") :]
    else:
        text = f"be valid ({err['msg']})"
    field = _loc_text(loc) or "(top level)"
    field = f"{prefix}{field}{suffix}"
    return str(fail(path, field, text, got, fix))


def raise_validation(
    path: Path | str, exc: ValidationError, prefix: str = "", suffix: str = ""
) -> ParameterError:
    """Turn a pydantic ValidationError into one ParameterError naming file and fields."""
    errors = exc.errors(include_url=False)
    msgs = [_message(path, e, prefix, suffix) for e in errors[:MAX_ERRORS]]
    more = len(errors) - MAX_ERRORS
    text = msgs[0]
    if len(msgs) > 1:
        text += " Also: " + " ".join(m.split(": ", 1)[1] for m in msgs[1:])
    if more > 0:
        text += f" (and {more} more)"
    return ParameterError(text)


def parse(
    model: type[M],
    data: object,
    path: Path | str,
    *,
    prefix: str = "",
    suffix: str = "",
    context: Mapping[str, object] | None = None,
) -> M:
    """Validate ``data`` (read from ``path``) as ``model``, raising ParameterError on failure."""
    adapter: TypeAdapter[M] = _adapter(model)
    try:
        return adapter.validate_python(data, context=dict(context or {}))
    except ValidationError as exc:
        raise raise_validation(path, exc, prefix, suffix) from None


_ADAPTERS: dict[object, TypeAdapter[Any]] = {}


def _adapter(model: type[M]) -> TypeAdapter[M]:
    if model not in _ADAPTERS:
        _ADAPTERS[model] = TypeAdapter(model)
    return _ADAPTERS[model]
