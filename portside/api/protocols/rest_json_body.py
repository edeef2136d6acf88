"""A rest-json body (and a structure payload) <-> the canonical form, per shape.

Members travel under their wire name (the model's `locationName`, Smithy's `jsonName`),
blobs as base64 text, timestamps as epoch seconds unless the member's `timestampFormat`
says `iso8601` or `rfc822`, non-finite doubles as the strings `NaN`, `Infinity`,
`-Infinity` (smithy.io, aws-restjson1-protocol, "Shape serialization"). Documents pass as
they are.

A value of the wrong JSON type is worded as Amazon's Coral framework words it, which
EventBridge Scheduler and the other Coral-fronted REST services answer with (the phrases
portside/api/validation.py collects, floci-io/floci#2686): `STRING_VALUE can not be
converted to an Integer`, `Start of structure or map found where not expected.`, `Start of
list found where not expected`, `Expected list or null`, `Expected null` (a scalar where a
structure belongs).
"""

from __future__ import annotations

import base64
import binascii
import math
from typing import Any

from botocore.model import Shape, StructureShape

from portside.api.protocols.base import blob, epoch
from portside.api.protocols.rest_bindings import format_timestamp, parse_timestamp
from portside.api.protocols.shape_walk import Convert, Reader, WireFault, Writer

_INTEGERS = frozenset({"integer", "long", "short", "byte"})
_NON_FINITE = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}
_JAVA = {
    "string": "String",
    "integer": "Integer",
    "long": "Long",
    "short": "Short",
    "byte": "Byte",
    "boolean": "Boolean",
    "double": "Double",
    "float": "Float",
    "timestamp": "Date",
    "blob": "ByteBuffer",
}


def _token(value: Any) -> str:
    if value is True:
        return "TRUE_VALUE"
    if value is False:
        return "FALSE_VALUE"
    return "STRING_VALUE" if isinstance(value, str) else "NUMBER_VALUE"


class JsonReader(Reader):
    def wire_name(self, name: str, member: Shape) -> str:
        return str(member.serialization.get("name", name))

    def expected(self, what: str, value: Any) -> WireFault:
        if isinstance(value, dict):
            return WireFault("Start of structure or map found where not expected.")
        if isinstance(value, list):
            return WireFault("Start of list found where not expected")
        if what == "list":
            return WireFault("Expected list or null")
        if what == "map":
            return WireFault("Expected map or null")
        if what == "structure":
            return WireFault("Expected null")
        target = _JAVA.get(what, what)
        article = "an" if target[:1] in "AEIOU" else "a"
        return WireFault(f"{_token(value)} can not be converted to {article} {target}")

    def members(self, shape: StructureShape, names: set[str]) -> Convert:
        """A reader for some of a structure's members only (a request's body members)."""
        members = {
            self.wire_name(name, member): (name, self.compile(member))
            for name, member in shape.members.items()
            if name in names
        }
        expected = self.expected

        def read(value: Any) -> dict[str, Any]:
            if type(value) is not dict:
                raise expected("structure", value)
            out: dict[str, Any] = {}
            for key, item in value.items():
                member = members.get(key)
                if member is not None and item is not None:
                    try:
                        out[member[0]] = member[1](item)
                    except WireFault as fault:
                        fault.path.append(member[0])
                        raise
            return out

        return read

    def document(self, shape: Shape) -> Convert:
        return _same

    def scalar(self, shape: Shape) -> Convert:
        kind = shape.type_name
        expected = self.expected
        if kind == "string":

            def read_string(value: Any) -> str:
                if type(value) is not str:
                    raise expected("string", value)
                return value

            return read_string
        if kind in _INTEGERS:

            def read_integer(value: Any) -> int:
                if type(value) is int:
                    return value
                if type(value) is float and value.is_integer():
                    return int(value)
                raise expected(kind, value)

            return read_integer
        if kind in ("float", "double"):

            def read_double(value: Any) -> float:
                if type(value) is float or type(value) is int:
                    return float(value)
                if type(value) is str and value in _NON_FINITE:
                    return _NON_FINITE[value]
                raise expected(kind, value)

            return read_double
        if kind == "boolean":

            def read_boolean(value: Any) -> bool:
                if type(value) is not bool:
                    raise expected("boolean", value)
                return value

            return read_boolean
        if kind == "blob":

            def read_blob(value: Any) -> bytes:
                if type(value) is not str:
                    raise expected("blob", value)
                try:
                    return base64.b64decode(value, validate=True)
                except (binascii.Error, ValueError):
                    raise WireFault("Base64 encoded binary value is not valid base64.") from None

            return read_blob
        if kind == "timestamp":

            def read_timestamp(value: Any) -> int | float:
                if type(value) is int or (type(value) is float and math.isfinite(value)):
                    return value
                if type(value) is str:
                    return parse_timestamp(value)
                raise expected("timestamp", value)

            return read_timestamp
        return _same


def _double(value: Any) -> Any:
    number = float(value)
    if math.isfinite(number):
        return number
    return "NaN" if math.isnan(number) else ("Infinity" if number > 0 else "-Infinity")


def _blob64(value: Any) -> str:
    return base64.b64encode(blob(value)).decode()


class JsonWriter(Writer):
    def wire_name(self, name: str, member: Shape) -> str:
        return str(member.serialization.get("name", name))

    def members(self, shape: StructureShape, names: set[str]) -> Convert:
        """A writer for some of a structure's members only (a response's body members)."""
        members = {
            name: (self.wire_name(name, member), self.compile(member))
            for name, member in shape.members.items()
            if name in names
        }

        def write(value: Any) -> dict[str, Any]:
            out: dict[str, Any] = {}
            for name, item in value.items():
                member = members.get(name)
                if member is not None and item is not None:
                    out[member[0]] = member[1](item)
            return out

        return write

    def document(self, shape: Shape) -> Convert:
        return _same

    def scalar(self, shape: Shape) -> Convert:
        kind = shape.type_name
        if kind in ("float", "double"):
            return _double
        if kind == "blob":
            return _blob64
        if kind == "timestamp":
            timestamp_format = str(shape.serialization.get("timestampFormat", "")).lower()
            if timestamp_format in ("iso8601", "rfc822"):
                return lambda value: format_timestamp(value, timestamp_format)
            return epoch
        return _same


def _same(value: Any) -> Any:
    return value
