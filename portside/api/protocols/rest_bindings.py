"""Scalars in a REST request's URI labels, query string and headers, and in a response's
headers: text on the wire, canonical values inside.

Timestamps follow smithy.io's restJson1 / HTTP binding rules: `date-time` (ISO 8601) in
labels and query strings, `http-date` (RFC 7231 IMF-fixdate) in headers, unless the member's
`timestampFormat` says otherwise. Reading is lenient about which of the three forms a
timestamp takes (any client's choice parses); writing follows the rules. Booleans are
`true`/`false`; non-finite doubles `NaN`, `Infinity`, `-Infinity` (Smithy's spelling).
Header lists are comma-separated, a string holding a comma or a quote being quoted (RFC 7230
quoted-string; botocore's RestJSONSerializer writes them so). A `jsonvalue` header string is
base64 of JSON text (AWS's `mediaType: application/json` header trait), read back as JSON.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import formatdate, parsedate_to_datetime
from typing import Any

import orjson
from botocore.model import ListShape, Shape

from portside.api.protocols.base import NON_FINITE, blob, double_text, epoch, iso8601
from portside.api.protocols.shape_walk import FLOATS, INTEGERS, WireFault

Parse = Callable[[str], Any]
Format = Callable[[Any], str]

_INTEGER = re.compile(r"[+-]?[0-9]+")
_NUMBER = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


def _fault(text: str, kind: str) -> WireFault:
    shown = text if len(text) <= 64 else text[:61] + "..."
    return WireFault(f"'{shown}' is not a valid {kind}")


def parse_integer(text: str) -> int:
    if not _INTEGER.fullmatch(text):
        raise _fault(text, "integer")
    return int(text)


def parse_double(text: str) -> float:
    special = NON_FINITE.get(text)
    if special is not None:
        return special
    if not _NUMBER.fullmatch(text):
        raise _fault(text, "number")
    return float(text)


def parse_boolean(text: str) -> bool:
    lowered = text.lower()
    if lowered not in ("true", "false"):
        raise _fault(text, "boolean")
    return lowered == "true"


def parse_timestamp(text: str) -> int | float:
    """Epoch seconds from `date-time`, `http-date` or `epoch-seconds` text."""
    text = text.strip()
    if _NUMBER.fullmatch(text):
        number = float(text)
        return int(number) if number.is_integer() and abs(number) < 2**53 else number
    try:
        when = datetime.fromisoformat(text) if text[:1].isdigit() else parsedate_to_datetime(text)
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)  # AWS's timestamps are UTC unless they say so
        return when.timestamp()
    except (ValueError, TypeError, IndexError, OverflowError):
        raise _fault(text, "timestamp") from None


def parse_blob(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise _fault(text, "base64 blob") from None


def _json_header(text: str) -> Any:
    try:
        return orjson.loads(base64.b64decode(text, validate=True))
    except (binascii.Error, ValueError):
        raise _fault(text, "base64-encoded JSON value") from None


def _same(text: str) -> str:
    return text


def scalar_parser(shape: Shape, in_header: bool = False) -> Parse:
    kind = shape.type_name
    if kind in INTEGERS:
        return parse_integer
    if kind in FLOATS:
        return parse_double
    if kind == "boolean":
        return parse_boolean
    if kind == "timestamp":
        return parse_timestamp
    if kind == "blob":
        return parse_blob
    if in_header and shape.serialization.get("jsonvalue"):
        return _json_header
    return _same


def split_header_list(text: str) -> list[str]:
    """A header's comma-separated items, quoted strings unquoted (`"a,b", c` -> a,b and c)."""
    items: list[str] = []
    at, size = 0, len(text)
    while at <= size:
        while at < size and text[at] in " \t":
            at += 1
        if at < size and text[at] == '"':
            at += 1
            item = []
            while at < size and text[at] != '"':
                if text[at] == "\\" and at + 1 < size:
                    at += 1
                item.append(text[at])
                at += 1
            items.append("".join(item))
            comma = text.find(",", at)
            at = size + 1 if comma < 0 else comma + 1
        else:
            comma = text.find(",", at)
            end = size if comma < 0 else comma
            items.append(text[at:end].strip())
            at = end + 1
    return items


def header_parser(shape: Shape) -> Parse:
    """A header member's reader; a list's items split out first."""
    if not isinstance(shape, ListShape):
        return scalar_parser(shape, in_header=True)
    item = scalar_parser(shape.member, in_header=True)
    # An http-date holds a comma of its own ("Wed, 01 Jan 2020 ..."): two pieces make one.
    pairs = shape.member.type_name == "timestamp" and _header_format(shape.member) == "rfc822"

    def parse_list(text: str) -> list[Any]:
        parts = split_header_list(text)
        if pairs:
            parts = [",".join(parts[i : i + 2]) for i in range(0, len(parts), 2)]
        return [item(part) for part in parts]

    return parse_list


def _header_format(shape: Shape) -> str:
    return str(shape.serialization.get("timestampFormat", "rfc822")).lower()


def format_timestamp(value: Any, timestamp_format: str) -> str:
    if timestamp_format == "iso8601":
        return iso8601(value)
    if timestamp_format == "unixtimestamp":
        seconds = epoch(value)
        return str(int(seconds)) if seconds.is_integer() else repr(seconds)
    return formatdate(epoch(value), usegmt=True)


def _quote(text: str) -> str:
    if '"' in text or "," in text:
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return text


def header_formatter(shape: Shape) -> Format:
    """A header member's writer (response headers)."""
    kind = shape.type_name
    if isinstance(shape, ListShape):
        item = header_formatter(shape.member)
        quote = shape.member.type_name == "string"
        return lambda values: ",".join(
            _quote(item(v)) if quote else item(v) for v in values if v is not None
        )
    if kind == "timestamp":
        timestamp_format = _header_format(shape)
        return lambda value: format_timestamp(value, timestamp_format)
    if kind == "boolean":
        return lambda value: "true" if value else "false"
    if kind in FLOATS:
        return double_text
    if kind in INTEGERS:
        return lambda value: str(int(value))
    if kind == "blob":
        return lambda value: base64.b64encode(blob(value)).decode()
    if shape.serialization.get("jsonvalue"):
        return lambda value: base64.b64encode(orjson.dumps(value)).decode()
    return str
