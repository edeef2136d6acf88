"""Dataclass <-> stored document, with camelCase member names (the store keeps documents in
the same vocabulary ECS uses, so a document read by hand or by SQL reads like ECS)."""

from __future__ import annotations

import dataclasses
import types
import typing
from functools import cache
from typing import Any, TypeVar

T = TypeVar("T")


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p[:1].upper() + p[1:] for p in rest)


@cache
def _fields(cls: type) -> tuple[tuple[str, str, Any], ...]:
    hints = typing.get_type_hints(cls)
    return tuple((f.name, camel(f.name), hints[f.name]) for f in dataclasses.fields(cls))


def to_doc(obj: Any) -> Any:
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {key: to_doc(getattr(obj, name)) for name, key, _ in _fields(type(obj))}
    if isinstance(obj, list | tuple):
        return [to_doc(v) for v in obj]
    if isinstance(obj, dict):
        return {k: to_doc(v) for k, v in obj.items()}
    return obj


def _convert(hint: Any, value: Any) -> Any:
    if value is None:
        return None
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in typing.get_args(hint) if a is not type(None)]
        return _convert(inner[0], value) if len(inner) == 1 else value
    if origin is list:
        (item,) = typing.get_args(hint)
        return [_convert(item, v) for v in value]
    if origin is dict:
        _, item = typing.get_args(hint)
        return {k: _convert(item, v) for k, v in value.items()}
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return from_doc(hint, value)
    return value


def from_doc(cls: type[T], doc: dict[str, Any]) -> T:
    klass: Any = cls
    kwargs = {name: _convert(hint, doc[key]) for name, key, hint in _fields(klass) if key in doc}
    return cls(**kwargs)
