"""Per-shape converters between a protocol's decoded document and the canonical form.

A `Reader` turns a wire document (CBOR or JSON already parsed into Python values) into
canonical params; a `Writer` turns a canonical result into a document the protocol's encoder
can dump. Both compile a shape once, on first use, into a closure and cache it, so a request
costs one call per value. Subclasses supply what differs between protocols: the scalars,
the key a member travels under, and how a fault is worded.

Faults unwind as `WireFault`, which collects the path to the bad value on the way out: a
clean request pays nothing for it (exceptions are free in Python 3.11 until raised).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any

from botocore.model import ListShape, MapShape, Shape, StructureShape

Convert = Callable[[Any], Any]


class WireFault(Exception):
    """A value that is not of its shape's type (or not readable at all)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
        self.path: list[str | int] = []  # innermost first

    def where(self) -> str:
        out = ""
        for part in reversed(self.path):
            out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
        return out

    def text(self) -> str:
        return f"{self.message} (at '{self.where()}')" if self.path else self.message


def _key(shape: Shape) -> tuple[str, str | None]:
    # A member may carry its own timestampFormat; everything else about a shape is its own.
    return shape.name, shape.serialization.get("timestampFormat")


class _Compiler:
    def __init__(self) -> None:
        self._cache: dict[tuple[str, str | None], Convert] = {}
        # Compiling takes a lock and publishes a shape's converters only once they are all
        # whole: a recursive structure's closure exists before its members are filled in,
        # and no other thread may pick it up then. Compiled lookups take no lock.
        self._lock = threading.RLock()
        self._building: dict[tuple[str, str | None], Convert] = {}
        self._depth = 0

    def compile(self, shape: Shape) -> Convert:
        key = _key(shape)
        found = self._cache.get(key)
        if found is not None:
            return found
        with self._lock:
            self._depth += 1
            try:
                convert = self._compile(shape, key)
                if self._depth == 1:
                    self._cache.update(self._building)
            finally:
                self._depth -= 1
                if not self._depth:
                    self._building = {}
        return convert

    def _compile(self, shape: Shape, key: tuple[str, str | None]) -> Convert:
        found = self._cache.get(key) or self._building.get(key)
        if found is not None:
            return found
        if isinstance(shape, StructureShape):
            if shape.is_document_type:
                convert = self.document(shape)
            else:
                return self._structure(shape)  # registers itself first: shapes may recurse
        elif isinstance(shape, ListShape):
            convert = self._list(shape)
        elif isinstance(shape, MapShape):
            convert = self._map(shape)
        else:
            convert = self.scalar(shape)
        self._building[key] = convert
        return convert

    def _remember(self, shape: Shape, convert: Convert) -> None:
        self._building[_key(shape)] = convert

    def wire_name(self, name: str, member: Shape) -> str:
        """The key a structure member travels under."""
        return name

    def scalar(self, shape: Shape) -> Convert:
        raise NotImplementedError

    def document(self, shape: Shape) -> Convert:
        raise NotImplementedError

    def _structure(self, shape: StructureShape) -> Convert:
        raise NotImplementedError

    def _list(self, shape: ListShape) -> Convert:
        raise NotImplementedError

    def _map(self, shape: MapShape) -> Convert:
        raise NotImplementedError


class Reader(_Compiler):
    """Wire document -> canonical params. Unknown and null structure members are dropped (as
    if absent); nulls inside lists and maps stay, for the validator to report."""

    null: object = None  # another value a protocol reads as null (CBOR's `undefined`)

    def expected(self, what: str, value: Any) -> WireFault:
        """The fault for `value` where a `what` (a Smithy type name) belongs."""
        return WireFault(f"Expected {what}, found {type(value).__name__}")

    def is_map(self, value: Any) -> bool:
        return isinstance(value, dict)

    def _structure(self, shape: StructureShape) -> Convert:
        members: dict[str, tuple[str, Convert]] = {}
        is_map = self.is_map
        expected = self.expected
        null = self.null

        def read(value: Any) -> dict[str, Any]:
            if not is_map(value):
                raise expected("structure", value)
            out: dict[str, Any] = {}
            for key, item in value.items():
                member = members.get(key)
                if member is None or item is None or item is null:
                    continue
                try:
                    out[member[0]] = member[1](item)
                except WireFault as fault:
                    fault.path.append(member[0])
                    raise
            return out

        self._remember(shape, read)
        for name, member_shape in shape.members.items():
            members[self.wire_name(name, member_shape)] = (name, self.compile(member_shape))
        return read

    def _list(self, shape: ListShape) -> Convert:
        item = self.compile(shape.member)
        expected = self.expected
        null = self.null

        def read(value: Any) -> list[Any]:
            if type(value) is not list:
                raise expected("list", value)
            out = []
            for index, element in enumerate(value):
                try:
                    out.append(None if element is None or element is null else item(element))
                except WireFault as fault:
                    fault.path.append(index)
                    raise
            return out

        return read

    def _map(self, shape: MapShape) -> Convert:
        key_of, item = self.compile(shape.key), self.compile(shape.value)
        is_map = self.is_map
        expected = self.expected
        null = self.null

        def read(value: Any) -> dict[str, Any]:
            if not is_map(value):
                raise expected("map", value)
            out = {}
            for key, element in value.items():
                try:
                    nothing = element is None or element is null
                    out[key_of(key)] = None if nothing else item(element)
                except WireFault as fault:
                    fault.path.append(str(key))
                    raise
            return out

        return read


class Writer(_Compiler):
    """Canonical result -> wire document. Members the shape does not declare, and None
    values, are left out."""

    def _structure(self, shape: StructureShape) -> Convert:
        members: dict[str, tuple[str, Convert]] = {}

        def write(value: Mapping[str, Any]) -> dict[str, Any]:
            out: dict[str, Any] = {}
            for name, item in value.items():
                member = members.get(name)
                if member is not None and item is not None:
                    out[member[0]] = member[1](item)
            return out

        self._remember(shape, write)
        for name, member_shape in shape.members.items():
            members[name] = (self.wire_name(name, member_shape), self.compile(member_shape))
        return write

    def _list(self, shape: ListShape) -> Convert:
        item = self.compile(shape.member)
        return lambda value: [None if v is None else item(v) for v in value]

    def _map(self, shape: MapShape) -> Convert:
        item = self.compile(shape.value)
        return lambda value: {k: item(v) for k, v in value.items() if v is not None}
