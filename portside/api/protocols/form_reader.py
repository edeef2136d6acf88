"""Reading a form tree (form.py) into canonical params, with a reader compiled once per shape
and cached, so a request costs one pass over its fields."""

from __future__ import annotations

import base64
import math
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

from botocore.model import ListShape, MapShape, Shape, StructureShape

from portside.api.protocols.compiled import Built, Compiled
from portside.api.protocols.form import FormFault, FormNames, Node

Reader = Callable[[Node], Any]

_INTEGER = re.compile(r"[+-]?[0-9]+")
_FLOAT = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|NaN|[+-]?Infinity")
_BOOLEANS = {"true": True, "false": False}
# Java's ranges: the services read integers and longs into Java ints and longs.
_RANGES = {"integer": 2**31, "long": 2**63}
_TYPE_NAMES = {
    "integer": "Integer",
    "long": "Long",
    "boolean": "Boolean",
    "float": "Float",
    "double": "Double",
    "timestamp": "Timestamp",
    "blob": "Blob",
}


class FormReader:
    """Readers from form trees to canonical params, compiled once per shape."""

    def __init__(self, names: FormNames) -> None:
        self._names = names
        self._compiled: Compiled[Reader] = Compiled()

    def reader(self, shape: Shape) -> Reader:
        if isinstance(shape, StructureShape | ListShape | MapShape):
            key = (shape.name, bool(shape.serialization.get("flattened")))
            return self._compiled.get(key, lambda: self._compile(shape))
        return _scalar(shape)

    def _compile(self, shape: StructureShape | ListShape | MapShape) -> Built[Reader]:
        names = self._names
        if isinstance(shape, StructureShape):
            members: dict[str, tuple[str, Reader]] = {}

            def structure() -> None:
                for name, member in shape.members.items():
                    members[names.member(name, member)] = (name, self.reader(member))

            return _structure(members), structure
        parts: list[Reader] = []
        if isinstance(shape, ListShape):
            return _list(names.list_items(shape), parts), lambda: parts.append(
                self.reader(shape.member)
            )
        entry = None if shape.serialization.get("flattened") else "entry"
        keys = (names.map_entry(shape.key, "key"), names.map_entry(shape.value, "value"))
        return _map(entry, keys, parts), lambda: parts.extend(
            [self.reader(shape.key), self.reader(shape.value)]
        )


def _structure(members: dict[str, tuple[str, Reader]]) -> Reader:
    def read(node: Node) -> dict[str, Any]:
        if isinstance(node, str):
            if node:
                raise FormFault("nesting", "A structure was expected", node)
            return {}
        params: dict[str, Any] = {}
        for field, child in node.items():
            found = members.get(field)
            if found is not None:
                try:
                    params[found[0]] = found[1](child)
                except FormFault as fault:
                    raise fault.within(field) from None
        return params

    return read


def _list(level: str | None, item: list[Reader]) -> Reader:
    def read(node: Node) -> list[Any]:
        children = _children(node, level, "list")
        if children is None:
            return []
        read_item = item[0]
        values = []
        for index, child in _indexed(children):
            try:
                values.append(read_item(child))
            except FormFault as fault:
                raise _at(fault, index, level) from None
        return values

    return read


def _map(entry: str | None, names: tuple[str, str], parts: list[Reader]) -> Reader:
    key_name, value_name = names

    def read(node: Node) -> dict[Any, Any]:
        children = _children(node, entry, "map")
        if children is None:
            return {}
        read_key, read_value = parts
        values: dict[Any, Any] = {}
        for index, child in _indexed(children):
            if isinstance(child, str):
                raise FormFault("nesting", "A map entry was expected", child).within(index)
            key, value = child.get(key_name), child.get(value_name)
            if key is None or value is None:
                continue  # half an entry: nothing to keep, as for unknown fields
            try:
                values[read_key(key)] = read_value(value)
            except FormFault as fault:
                raise _at(fault, index, entry) from None
        return values

    return read


def _children(node: Node, level: str | None, what: str) -> dict[str, Node] | None:
    """A list's or map's indexed children, found under `level` (`member`, `entry`) when it
    has one; None when it is empty (the query protocol sends an empty list as `Name=`)."""
    if isinstance(node, str):
        if node:
            raise FormFault("nesting", f"A {what} was expected", node)
        return None
    if level is None:
        return node
    found = node.get(level)
    if found is None:
        return None
    if isinstance(found, str):
        raise FormFault("nesting", f"A {what} was expected", found).within(level)
    return found


def _at(fault: FormFault, index: str, level: str | None) -> FormFault:
    """`fault` placed at a list's or map's child `index` (under `level`, when it has one)."""
    fault.within(index)
    return fault.within(level) if level else fault


def _indexed(node: dict[str, Node]) -> Iterator[tuple[str, Node]]:
    """A list's or map's children in index order; indexes count from 1 (SQS answered
    `MalformedInput: 0 is not a valid index` to `AttributeNameList.0`, rusoto/rusoto#324)."""
    numbered = []
    for index, child in node.items():
        if not (index.isascii() and index.isdigit()) or int(index) < 1:
            raise FormFault("index", f"{index} is not a valid index", index)
        numbered.append((int(index), index, child))
    numbered.sort(key=lambda found: found[0])
    for _, index, child in numbered:
        yield index, child


def _scalar(shape: Shape) -> Reader:
    kind = shape.type_name
    if kind in ("string", "character"):
        return _read_string
    convert = _CONVERTERS[kind]
    type_name = _TYPE_NAMES[kind]

    def read(node: Node) -> Any:
        if isinstance(node, dict):
            raise FormFault("nesting", "Start of structure or map found where not expected")
        try:
            return convert(node, kind)
        except ValueError:
            raise FormFault("value", f"Expected {type_name}", node, type_name) from None

    return read


def _read_string(node: Node) -> str:
    if isinstance(node, dict):
        raise FormFault("nesting", "Start of structure or map found where not expected")
    return node


def _integer(text: str, kind: str) -> int:
    if not _INTEGER.fullmatch(text):
        raise ValueError(text)
    value = int(text)
    bound = _RANGES[kind]
    if not -bound <= value < bound:
        raise ValueError(text)
    return value


def _float(text: str, kind: str) -> float:
    if not _FLOAT.fullmatch(text):
        raise ValueError(text)
    return float(text)


def _boolean(text: str, kind: str) -> bool:
    found = _BOOLEANS.get(text.lower())
    if found is None:
        raise ValueError(text)
    return found


def _timestamp(text: str, kind: str) -> int | float:
    """ISO 8601, as botocore writes timestamps into a form; epoch seconds accepted too."""
    if _FLOAT.fullmatch(text):
        seconds = float(text)
        if not math.isfinite(seconds):
            raise ValueError(text)
        return int(seconds) if seconds.is_integer() else seconds
    when = datetime.fromisoformat(text)
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    if when.microsecond:
        return when.timestamp()
    return int(when.timestamp())


def _blob(text: str, kind: str) -> bytes:
    return base64.b64decode(text, validate=True)  # binascii.Error is a ValueError


_CONVERTERS: dict[str, Callable[[str, str], Any]] = {
    "integer": _integer,
    "long": _integer,
    "float": _float,
    "double": _float,
    "boolean": _boolean,
    "timestamp": _timestamp,
    "blob": _blob,
}
