"""Dataclass <-> stored document, with camelCase member names (the store keeps documents in
the same vocabulary ECS uses, so a document read by hand or by SQL reads like ECS).

Converters are built once per class from its type hints: reading a document is then plain
function calls, with no typing introspection per field (it was most of the placer's cost
of reading a fleet)."""

from __future__ import annotations

import dataclasses
import enum
import types
import typing
from collections.abc import Callable
from functools import cache
from typing import Any, TypeVar

T = TypeVar("T")
Convert = Callable[[Any], Any]


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p[:1].upper() + p[1:] for p in rest)


@cache
def _fields(cls: type) -> tuple[tuple[str, str, Any], ...]:
    hints = typing.get_type_hints(cls)
    return tuple((f.name, camel(f.name), hints[f.name]) for f in dataclasses.fields(cls))


def _plain(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return to_doc(value)
    return value


def to_doc(obj: Any) -> Any:
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {key: _plain(getattr(obj, name)) for name, key, _ in _fields(type(obj))}
    return _plain(obj)


def _identity(value: Any) -> Any:
    return value


def _converter(hint: Any) -> Convert:
    """A function turning a stored value into `hint`'s type (None stays None)."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in typing.get_args(hint) if a is not type(None)]
        return _converter(inner[0]) if len(inner) == 1 else _identity
    if origin is list:
        (item,) = typing.get_args(hint)
        each = _converter(item)
        if each is _identity:
            return _identity
        return lambda v: None if v is None else [each(x) for x in v]
    if origin is dict:
        _, item = typing.get_args(hint)
        each = _converter(item)
        if each is _identity:
            return _identity
        return lambda v: None if v is None else {k: each(x) for k, x in v.items()}
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        build = _builder(hint)
        return lambda v: None if v is None else build(v)
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        # States are StrEnums (model/states.py): the document holds the member's value.
        members = {m.value: m for m in hint}
        return lambda v: None if v is None else members[v]
    return _identity


@cache
def _builder(cls: type) -> Callable[[dict[str, Any]], Any]:
    plan = [(name, key, _converter(hint)) for name, key, hint in _fields(cls)]

    def build(doc: dict[str, Any]) -> Any:
        kwargs = {}
        for name, key, convert in plan:
            if key in doc:
                value = doc[key]
                kwargs[name] = value if convert is _identity else convert(value)
        return cls(**kwargs)

    return build


def from_doc(cls: type[T], doc: dict[str, Any]) -> T:
    klass: Any = cls
    return _builder(klass)(doc)
