"""Per-shape converters between a protocol's decoded document and the canonical form.

The one structure/list/map walk of the JSON-like codecs (CBOR, the rest-json body): a
`Reader` turns a wire document (CBOR or JSON already parsed into Python values) into
canonical params; a `Writer` turns a canonical result into a document the protocol's encoder
can dump. Both compile a shape once, on first use, into a closure and cache it (compiled.py),
so a request costs one call per value. Subclasses supply what differs between protocols: the
scalars, the key a member travels under, and how a fault is worded.

Faults unwind as `WireFault`, which collects the path to the bad value on the way out: a
clean request pays nothing for it (exceptions are free in Python 3.11 until raised).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from typing import Any, ClassVar

from botocore.model import ListShape, MapShape, Shape, StructureShape

from portside.api.protocols.compiled import Built, Compiled, complete

Convert = Callable[[Any], Any]
# A structure's members as a walker looks them up: the key a value arrives under, and the
# key it leaves under with its converter.
Members = dict[str, tuple[str, Convert]]
INTEGERS = frozenset({"integer", "long", "short", "byte"})
FLOATS = frozenset({"float", "double"})


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


def same(value: Any) -> Any:
    return value


class Walker:
    """Converters compiled once per shape. A reader's structures take wire names to member
    names (`reads`), a writer's member names to wire names."""

    reads: ClassVar[bool]

    def __init__(self) -> None:
        self._compiled: Compiled[Convert] = Compiled()

    def compile(self, shape: Shape) -> Convert:
        # A member may carry its own timestampFormat; everything else about a shape is its own.
        key = (shape.name, shape.serialization.get("timestampFormat"))
        return self._compiled.get(key, lambda: self._build(shape))

    def compile_or_none(self, shape: Shape | None) -> Convert | None:
        return None if shape is None else self.compile(shape)

    def members(self, shape: StructureShape, names: Collection[str]) -> Convert:
        """A converter of some of a structure's members only (a rest-json body's)."""
        members: Members = {}
        self._fill(members, shape, names)
        return self._structure(members)

    def _build(self, shape: Shape) -> Built[Convert]:
        if isinstance(shape, StructureShape):
            if shape.is_document_type:
                return self.document(shape), complete
            # Registered before its members compile: shapes may recurse.
            members: Members = {}
            return self._structure(members), lambda: self._fill(members, shape, shape.members)
        if isinstance(shape, ListShape):
            return self._list(shape), complete
        if isinstance(shape, MapShape):
            return self._map(shape), complete
        return self.scalar(shape), complete

    def _fill(self, members: Members, shape: StructureShape, names: Collection[str]) -> None:
        for name, member in shape.members.items():
            if name in names:
                wire, convert = self.wire_name(name, member), self.compile(member)
                if self.reads:
                    members[wire] = (name, convert)
                else:
                    members[name] = (wire, convert)

    def wire_name(self, name: str, member: Shape) -> str:
        """The key a structure member travels under."""
        return name

    def document(self, shape: Shape) -> Convert:
        return same

    def scalar(self, shape: Shape) -> Convert:
        raise NotImplementedError

    def _structure(self, members: Members) -> Convert:
        raise NotImplementedError

    def _list(self, shape: ListShape) -> Convert:
        raise NotImplementedError

    def _map(self, shape: MapShape) -> Convert:
        raise NotImplementedError


class Reader(Walker):
    """Wire document -> canonical params. Unknown and null structure members are dropped (as
    if absent); nulls inside lists and maps stay, for the validator to report. Strings and
    booleans are read as they are; the other scalars are each protocol's."""

    reads = True
    null: object = None  # another value a protocol reads as null (CBOR's `undefined`)

    def expected(self, what: str, value: Any) -> WireFault:
        """The fault for `value` where a `what` (a Smithy type name) belongs."""
        return WireFault(f"Expected {what}, found {type(value).__name__}")

    def is_map(self, value: Any) -> bool:
        return isinstance(value, dict)

    def scalar(self, shape: Shape) -> Convert:
        kind = shape.type_name
        if kind == "string":
            return self.exactly(str, kind)
        if kind == "boolean":
            return self.exactly(bool, kind)
        if kind in INTEGERS:
            return self.integer(kind)
        if kind in FLOATS:
            return self.double(kind)
        if kind == "blob":
            return self.blob()
        if kind == "timestamp":
            return self.timestamp()
        return self.document(shape)  # a type botocore does not name: leave it to the validator

    def exactly(self, cls: type, what: str) -> Convert:
        """A reader of values of type `cls` and nothing else (not even a subclass)."""
        expected = self.expected

        def read(value: Any) -> Any:
            if type(value) is not cls:
                raise expected(what, value)
            return value

        return read

    def integer(self, kind: str) -> Convert:
        raise NotImplementedError

    def double(self, kind: str) -> Convert:
        raise NotImplementedError

    def blob(self) -> Convert:
        raise NotImplementedError

    def timestamp(self) -> Convert:
        raise NotImplementedError

    def _structure(self, members: Members) -> Convert:
        is_map, expected, null = self.is_map, self.expected, self.null

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

        return read

    def _list(self, shape: ListShape) -> Convert:
        item = self.compile(shape.member)
        expected, null = self.expected, self.null

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
        is_map, expected, null = self.is_map, self.expected, self.null

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


class Writer(Walker):
    """Canonical result -> wire document. Members the shape does not declare, and None
    values, are left out. Scalars go out as they are but for the protocol's `scalars` (by
    type name) and `timestamp`."""

    reads = False
    scalars: ClassVar[Mapping[str, Convert]] = {}

    def scalar(self, shape: Shape) -> Convert:
        if shape.type_name == "timestamp":
            return self.timestamp(shape)
        return self.scalars.get(shape.type_name, same)

    def timestamp(self, shape: Shape) -> Convert:
        raise NotImplementedError

    def _structure(self, members: Members) -> Convert:
        def write(value: Mapping[str, Any]) -> dict[str, Any]:
            out: dict[str, Any] = {}
            for name, item in value.items():
                member = members.get(name)
                if member is not None and item is not None:
                    out[member[0]] = member[1](item)
            return out

        return write

    def _list(self, shape: ListShape) -> Convert:
        item = self.compile(shape.member)
        return lambda value: [None if v is None else item(v) for v in value]

    def _map(self, shape: MapShape) -> Convert:
        item = self.compile(shape.value)
        return lambda value: {k: item(v) for k, v in value.items() if v is not None}
