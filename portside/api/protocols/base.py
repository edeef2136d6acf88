"""What every protocol codec shares: the request as it arrived, the reply it makes, and the
canonical form of parameters and results that operations see.

The canonical form is botocore's own "params" form (what a boto3 call takes and returns):
structures are dicts keyed by the model's member names (never a protocol's wire names),
lists are lists, maps are dicts, and scalars are Python values:

    string, enum        str
    integer, long       int
    boolean             bool
    float, double       float (an int is accepted on the way out)
    timestamp           int | float, epoch seconds (a datetime is accepted on the way out)
    blob                bytes (a str is accepted on the way out, as its UTF-8 bytes)

A codec turns one protocol's request into that form (`decode`) and that form into one
protocol's response (`encode`), and writes every error in its protocol's envelope (`error`).
Constraints (required, length, range, pattern, enum) are not a codec's business: the edge
checks the decoded params against the model afterwards (api/validation.py). A codec raises
only for input it cannot read as the shape (a value of the wrong type, a malformed body):
`SerializationException` unless its protocol words it otherwise.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from botocore.model import ServiceModel

from portside.errors import PortsideError


class HeaderMap:
    """Request headers, looked up by lower-case name; built once per request."""

    __slots__ = ("_all",)

    def __init__(self, raw: list[tuple[bytes, bytes]]) -> None:
        found: dict[str, list[str]] = {}
        for name, value in raw:
            found.setdefault(name.decode("latin-1").lower(), []).append(value.decode("latin-1"))
        self._all = found

    @classmethod
    def of(cls, headers: Mapping[str, str]) -> HeaderMap:
        return cls([(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()])

    def get(self, name: str, /) -> str | None:
        values = self._all.get(name)
        return values[0] if values else None

    def getlist(self, name: str) -> list[str]:
        return self._all.get(name, [])

    def items(self) -> list[tuple[str, list[str]]]:
        """Every header: (lower-case name, its values in order)."""
        return list(self._all.items())

    def __contains__(self, name: str) -> bool:
        return name in self._all


# Not frozen: a frozen dataclass costs ~1.5 µs more to build, and one of these is built on
# every API call (bench/api_throughput.py); nothing changes one after it is made.
@dataclass(slots=True)
class WireRequest:
    """One HTTP request as it arrived: `path` and `query` are raw (still percent-encoded)."""

    method: str
    path: str
    query: str
    headers: HeaderMap
    body: bytes
    source_ip: str | None = None  # the peer's address (IAM's aws:SourceIp)

    @property
    def content_type(self) -> str:
        """The media type alone, lower-cased, without parameters (`; charset=...`)."""
        return (self.headers.get("content-type") or "").split(";")[0].strip().lower()


# Not frozen: built on every API call.
@dataclass(slots=True)
class WireReply:
    """One HTTP response: status, headers (besides content-length and the request id, which
    the edge writes) and the whole body. An empty content type sends no Content-Type header
    (Smithy RPC v2 forbids one on an empty output)."""

    status: int
    body: bytes
    content_type: str
    headers: tuple[tuple[str, str], ...] = field(default=())


def request_head(scope: Mapping[str, Any]) -> WireRequest:
    """An ASGI request's head as a WireRequest (its body still to be read)."""
    raw = scope.get("raw_path")
    path = raw.decode("latin-1") if raw else scope.get("path", "/")
    return WireRequest(
        scope["method"],
        path.split("?", 1)[0] or "/",
        scope.get("query_string", b"").decode("latin-1"),
        HeaderMap(scope["headers"]),
        b"",
        (scope.get("client") or (None,))[0],
    )


class Codec(Protocol):
    """One AWS protocol for one service model.

    A codec is built once per (service, protocol) and compiles what it needs from the model
    lazily; every method is safe to call from several threads.
    """

    protocol: str  # botocore's name: json, rest-json, query, ec2, smithy-rpc-v2-cbor
    model: ServiceModel

    def operation(self, request: WireRequest) -> str:
        """The operation the request names (X-Amz-Target, Action, the CBOR path, the REST
        route). Raise the protocol's unknown-operation error when it names none of the
        model's operations."""
        ...

    def decode(self, request: WireRequest, operation: str) -> dict[str, Any]:
        """The request's parameters in the canonical form (see the module docstring)."""
        ...

    def encode(self, operation: str, result: Mapping[str, Any], request_id: str) -> WireReply:
        """The operation's successful response for a canonical result (members the output
        shape does not declare are left out; None values count as absent)."""
        ...

    def error(self, exc: PortsideError, request_id: str) -> WireReply:
        """The protocol's error response for `exc` (code `exc.code`, text `exc.message`,
        status `exc.status` unless the model's error shape says otherwise)."""
        ...


def epoch(value: Any) -> float:
    """A canonical timestamp (epoch seconds, or a datetime) as epoch seconds."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.timestamp()
    return float(value)


def iso8601(value: Any) -> str:
    """A canonical timestamp as AWS's ISO 8601 text (UTC, milliseconds when not whole)."""
    when = datetime.fromtimestamp(epoch(value), UTC)
    if when.microsecond:
        return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def blob(value: Any) -> bytes:
    """A canonical blob as bytes."""
    return value.encode() if isinstance(value, str) else bytes(value)


# Non-finite doubles as text: Java's spelling, and Smithy's (botocore writes them so too).
NON_FINITE = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


def double_text(value: Any) -> str:
    """A canonical double as text (`repr`; `NaN`, `Infinity`, `-Infinity` when not finite)."""
    number = float(value)
    if math.isfinite(number):
        return repr(number)
    return "NaN" if math.isnan(number) else ("Infinity" if number > 0 else "-Infinity")
