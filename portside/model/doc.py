"""Dataclass <-> stored document, with camelCase member names (the store keeps documents in
the same vocabulary ECS uses, so a document read by hand or by SQL reads like ECS).

A field whose ECS name is not its camel case names it in its metadata (`{"key": "sizeInGiB"}`).
A value that stands for an ECS request member (`GivenMembers`: overrides, deployment
configuration, load balancers) stores only the members it was given, in the order they came,
so its document is the member as it was sent and as ECS shows it back.

Converters are built once per class from its type hints: reading a document is then plain
function calls, with no typing introspection per field (it was most of the placer's cost
of reading a fleet)."""

from __future__ import annotations

import dataclasses
import enum
import types
import typing
from collections.abc import Callable, Mapping
from functools import cache
from typing import Any, TypeVar

T = TypeVar("T")
Convert = Callable[[Any], Any]


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p[:1].upper() + p[1:] for p in rest)


class Stored:
    """A dataclass kept in the store as its document, with the rules above: `to_doc()` and
    `from_doc()`."""

    __slots__ = ()

    def to_doc(self) -> dict[str, Any]:
        out: dict[str, Any] = to_doc(self)
        return out

    @classmethod
    def from_doc(cls: type[T], doc: dict[str, Any]) -> T:
        return from_doc(cls, doc)


@dataclasses.dataclass(frozen=True, slots=True)
class GivenMembers:
    """A value whose None members were not given: its document leaves them out. Subclasses are
    frozen dataclasses with ECS's members as fields, each defaulting to None."""

    # The order the document it was read from listed its members in: its own document lists
    # them so again, then any other member in field order, so a stored document keeps its
    # bytes and a reply shows a member as it was sent. Equality ignores it.
    member_order: tuple[str, ...] = dataclasses.field(
        default=(), compare=False, repr=False, kw_only=True, metadata={"stored": False}
    )

    def to_doc(self) -> dict[str, Any]:
        """The member as ECS shows it: the members given, nested values likewise."""
        out: dict[str, Any] = to_doc(self)
        return out

    @classmethod
    def from_doc(cls: type[T], doc: Mapping[str, Any]) -> T:
        """From the member's document (a request's, already checked against the model, or a
        stored one)."""
        return from_doc(cls, dict(doc))

    def keys_in_order(self) -> list[str]:
        """Every member's key, in the order this value's document lists them."""
        klass: Any = type(self)
        keys = (key for _, key, _ in _fields(klass))
        return [*self.member_order, *(k for k in keys if k not in self.member_order)]

    def given_keys(self) -> list[str]:
        """The keys of the members given (not None), in the order the document lists them."""
        klass: Any = type(self)
        given = {key for name, key, _ in _fields(klass) if getattr(self, name) is not None}
        return [key for key in self.keys_in_order() if key in given]


@cache
def _fields(cls: type) -> tuple[tuple[str, str, Any], ...]:
    """(field, document member, type hint) of each field a document holds."""
    hints = typing.get_type_hints(cls)
    return tuple(
        (f.name, f.metadata.get("key") or camel(f.name), hints[f.name])
        for f in dataclasses.fields(cls)
        if f.metadata.get("stored", True)
    )


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
        cls = type(obj)
        if isinstance(obj, GivenMembers):
            values = {key: getattr(obj, name) for name, key, _ in _fields(cls)}
            ordered = ((key, values[key]) for key in obj.keys_in_order() if key in values)
            return {key: _plain(value) for key, value in ordered if value is not None}
        return {key: _plain(getattr(obj, name)) for name, key, _ in _fields(cls)}
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
    if origin is tuple:
        args = typing.get_args(hint)
        if len(args) != 2 or args[1] is not Ellipsis:
            return _identity
        each = _converter(args[0])
        if each is _identity:
            return lambda v: None if v is None else tuple(v)
        return lambda v: None if v is None else tuple(each(x) for x in v)
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
    known = frozenset(key for _, key, _ in plan)
    given_only = issubclass(cls, GivenMembers)

    def build(doc: dict[str, Any]) -> Any:
        kwargs = {}
        for name, key, convert in plan:
            if key in doc:
                value = doc[key]
                kwargs[name] = value if convert is _identity else convert(value)
        if given_only:
            kwargs["member_order"] = tuple(key for key in doc if key in known)
        return cls(**kwargs)

    return build


def from_doc(cls: type[T], doc: dict[str, Any]) -> T:
    klass: Any = cls
    return _builder(klass)(doc)
