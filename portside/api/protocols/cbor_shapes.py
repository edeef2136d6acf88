"""Smithy RPC v2 CBOR values <-> the canonical form, per shape.

What the spec (smithy.io, additional-specs/protocols/smithy-rpc-v2: "Shape serialization")
puts on the wire, and what is read here:

    blob             byte string (major type 2)          bytes
    boolean          simple true/false                   bool
    integer, long    major type 0/1                      int
    float, double    major type 7 (half, single, double; an integer is allowed when no
                     precision is lost)                  float
    string, enum     text string (major type 3)          str
    timestamp        tag 1 around epoch seconds, integer or float   int | float
    list, map        arrays, maps                        list, dict
    structure        a map keyed by member names (no jsonName: the protocol ignores it)

`undefined` reads as null ("Servers ... MUST deserialize this CBOR value to null"). Anything
else is a `WireFault`. Timestamps go out as tag 1 around a double; floats as doubles, never
half precision ("floating-point numeric types SHOULD NOT serialize into a half-precision").
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import cbor2
from botocore.model import Shape

from portside.api.protocols.base import blob, epoch
from portside.api.protocols.shape_walk import Convert, Reader, WireFault, Writer

_FLOAT_LIMIT = 2**1023  # a bignum past this is no double (float() would overflow)


class Epoch:
    """The value of a tag 1 item, kept apart from a bare number until a shape reads it."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value


def _tag1(value: Any, immutable: bool) -> Epoch:
    return Epoch(value)


_DECODERS = {1: _tag1}


def loads(body: bytes) -> Any:
    """One CBOR data item, the whole body: a `WireFault` for anything else (truncated,
    malformed, trailing bytes). cbor2 bounds nesting (400 levels) and raises its own errors,
    or others (ValueError, OverflowError...) from a tag's decoder: all of them are the
    caller's malformed body, so all of them are a fault."""
    stream = io.BytesIO(body)
    try:
        value = cbor2.CBORDecoder(stream, semantic_decoders=_DECODERS).decode()
    except Exception as exc:
        raise WireFault(f"Malformed CBOR body: {exc}") from None
    if stream.tell() != len(body):
        raise WireFault("Malformed CBOR body: data follows the first item")
    return None if value is cbor2.undefined else value


def dumps(value: Any) -> bytes:
    return cbor2.dumps(value)


def _kind(value: Any) -> str:
    """A CBOR value's type, as a fault message names it."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "text string"
    if isinstance(value, bytes | bytearray):
        return "byte string"
    if isinstance(value, list | tuple):
        return "array"
    if isinstance(value, Mapping):
        return "map"
    if isinstance(value, Epoch):
        return "timestamp (tag 1)"
    if isinstance(value, cbor2.CBORTag):
        return f"tag {value.tag}"
    return f"tagged value ({type(value).__name__})"


def _undefined(value: Any) -> Any:
    return None if value is cbor2.undefined else value


class CborReader(Reader):
    null = cbor2.undefined

    def expected(self, what: str, value: Any) -> WireFault:
        return WireFault(f"Expected {what}, found a CBOR {_kind(value)}")

    def is_map(self, value: Any) -> bool:
        return isinstance(value, Mapping)  # cbor2 may hand back its frozendict

    def document(self, shape: Shape) -> Convert:
        # The spec: "Document types are not currently supported in this protocol."
        return _undefined

    def integer(self, kind: str) -> Convert:
        return self.exactly(int, kind)

    def double(self, kind: str) -> Convert:
        expected = self.expected

        def read_float(value: Any) -> float:
            if type(value) is float:
                return value
            if type(value) is int and -_FLOAT_LIMIT < value < _FLOAT_LIMIT:
                return float(value)
            raise expected(kind, value)

        return read_float

    def blob(self) -> Convert:
        expected = self.expected

        def read_blob(value: Any) -> bytes:
            if not isinstance(value, bytes | bytearray):
                raise expected("blob", value)
            return bytes(value)

        return read_blob

    def timestamp(self) -> Convert:
        expected = self.expected

        def read_timestamp(value: Any) -> int | float:
            # Tag 1, as the spec has it; a bare number and an RFC 8949 tag 0 date are read
            # too (other Smithy implementations accept both), never text.
            seconds = value.value if isinstance(value, Epoch) else value
            if isinstance(seconds, datetime):
                return epoch(seconds)
            if type(seconds) is int:
                return seconds
            if type(seconds) is float and math.isfinite(seconds):
                return seconds
            raise expected("timestamp", value)

        return read_timestamp


def _tag_epoch(value: Any) -> cbor2.CBORTag:
    return cbor2.CBORTag(1, epoch(value))


class CborWriter(Writer):
    scalars = {"float": float, "double": float, "blob": blob}

    def timestamp(self, shape: Shape) -> Convert:
        return _tag_epoch
