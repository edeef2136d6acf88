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

from botocore.model import Shape

from portside.api.protocols.base import NON_FINITE, blob, double_text, epoch
from portside.api.protocols.rest_bindings import format_timestamp, parse_timestamp
from portside.api.protocols.shape_walk import Convert, Reader, Walker, WireFault, Writer
from portside.api.validation import CoralDialect

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
_CORAL = CoralDialect()


class _JsonNames(Walker):
    def wire_name(self, name: str, member: Shape) -> str:
        return str(member.serialization.get("name", name))


class JsonReader(_JsonNames, Reader):
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
        return WireFault(_CORAL.convert(value, _JAVA.get(what, what)))

    def integer(self, kind: str) -> Convert:
        expected = self.expected

        def read_integer(value: Any) -> int:
            if type(value) is int:
                return value
            if type(value) is float and value.is_integer():
                return int(value)
            raise expected(kind, value)

        return read_integer

    def double(self, kind: str) -> Convert:
        expected = self.expected

        def read_double(value: Any) -> float:
            if type(value) is float or type(value) is int:
                return float(value)
            if type(value) is str and value in NON_FINITE:
                return NON_FINITE[value]
            raise expected(kind, value)

        return read_double

    def blob(self) -> Convert:
        expected = self.expected

        def read_blob(value: Any) -> bytes:
            if type(value) is not str:
                raise expected("blob", value)
            try:
                return base64.b64decode(value, validate=True)
            except (binascii.Error, ValueError):
                raise WireFault("Base64 encoded binary value is not valid base64.") from None

        return read_blob

    def timestamp(self) -> Convert:
        expected = self.expected

        def read_timestamp(value: Any) -> int | float:
            if type(value) is int or (type(value) is float and math.isfinite(value)):
                return value
            if type(value) is str:
                return parse_timestamp(value)
            raise expected("timestamp", value)

        return read_timestamp


def _double(value: Any) -> Any:
    number = float(value)
    return number if math.isfinite(number) else double_text(number)


def _blob64(value: Any) -> str:
    return base64.b64encode(blob(value)).decode()


class JsonWriter(_JsonNames, Writer):
    scalars = {"float": _double, "double": _double, "blob": _blob64}

    def timestamp(self, shape: Shape) -> Convert:
        timestamp_format = str(shape.serialization.get("timestampFormat", "")).lower()
        if timestamp_format in ("iso8601", "rfc822"):
            return lambda value: format_timestamp(value, timestamp_format)
        return epoch
