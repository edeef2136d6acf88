"""AWS JSON 1.0 and 1.1: `POST /`, the operation in `X-Amz-Target: <prefix>.<Operation>`,
a JSON body of the input's members, and errors as `{"__type": code, "message": text}`.

JSON is the hot path (every ECS call), so decoding is `orjson.loads` and nothing else unless
the operation's input holds a blob (base64 text on the wire, bytes in the canonical form).
The body's members already carry the model's member names: for every JSON service Portside
serves, no member has a different wire name (checked over botocore's models when this codec
was written). Results go out as they are, bytes as base64 and datetimes as epoch seconds.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import orjson
from botocore.model import ListShape, MapShape, ServiceModel, Shape, StructureShape

from portside.api.protocols import query_compatible
from portside.api.protocols.base import WireReply, WireRequest
from portside.errors import PortsideError, SerializationException, UnknownOperationException

CONTENT_TYPES = frozenset(
    {"application/x-amz-json-1.1", "application/x-amz-json-1.0", "application/json"}
)
_Convert = Callable[[Any], Any]


def _default(value: Any) -> Any:
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode()
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()
    raise TypeError(f"cannot serialise {type(value).__name__}")


def dumps(value: Any) -> bytes:
    """A result as AWS JSON: orjson, with blobs as base64 and datetimes as epoch seconds."""
    return orjson.dumps(value, default=_default, option=orjson.OPT_PASSTHROUGH_DATETIME)


def error_body(exc: PortsideError) -> bytes:
    return orjson.dumps({"__type": exc.code, "message": exc.message})


class JsonCodec:
    protocol = "json"

    def __init__(self, model: ServiceModel) -> None:
        self.model = model
        self.prefix = model.metadata["targetPrefix"]
        self.content_type = f"application/x-amz-json-{model.metadata.get('jsonVersion', '1.1')}"
        self._known = frozenset(model.operation_names)
        self._blobs: dict[str, _Convert | None] = {}
        self._query_errors = query_compatible.for_model(model)  # CloudWatch's error codes

    def operation(self, request: WireRequest) -> str:
        target = request.headers.get("x-amz-target") or ""
        prefix, _, name = target.rpartition(".")
        if prefix != self.prefix or name not in self._known:
            raise UnknownOperationException(f"Unknown operation {target or '(none)'}.")
        return name

    def decode(self, request: WireRequest, operation: str) -> dict[str, Any]:
        """The body as JSON. Its shape is the validator's to check; blobs, where the input
        has any, become bytes once it has (see `blobs`)."""
        try:
            body: dict[str, Any] = orjson.loads(request.body)
            return body
        except orjson.JSONDecodeError:
            # Coral answers an unparseable body with a message-less fault.
            raise SerializationException() from None

    def blobs(self, operation: str) -> _Convert | None:
        """A function turning a validated body's base64 blobs into bytes, or None when the
        operation's input has no blob."""
        if operation not in self._blobs:
            shape = self.model.operation_model(operation).input_shape
            self._blobs[operation] = _blob_converter(shape, set()) if shape else None
        return self._blobs[operation]

    def encode(self, operation: str, result: Mapping[str, Any], request_id: str) -> WireReply:
        return WireReply(200, dumps(result), self.content_type)

    def error(self, exc: PortsideError, request_id: str) -> WireReply:
        if self._query_errors is not None:
            return self._query_errors.reply(exc, self.content_type)
        return WireReply(exc.status, error_body(exc), self.content_type)


def _b64(value: Any) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise SerializationException("Base64 encoded binary value is not valid base64.") from None


def _blob_converter(shape: Shape, visiting: set[str]) -> _Convert | None:
    """Walk a shape once; None where no blob can be below it."""
    if shape.type_name == "blob":
        return _b64
    if shape.name in visiting:
        return None  # a recursive shape: blobs inside recursions are not converted
    visiting = visiting | {shape.name}
    if isinstance(shape, StructureShape):
        members = {
            name: conv
            for name, member in shape.members.items()
            if (conv := _blob_converter(member, visiting)) is not None
        }
        if not members:
            return None

        def structure(value: Any) -> Any:
            for name, conv in members.items():
                if name in value:
                    value[name] = conv(value[name])
            return value

        return structure
    if isinstance(shape, ListShape | MapShape):
        item = _blob_converter(
            shape.member if isinstance(shape, ListShape) else shape.value, visiting
        )
        if item is None:
            return None
        convert: _Convert = item
        if isinstance(shape, ListShape):
            return lambda value: [convert(v) for v in value]
        return lambda value: {k: convert(v) for k, v in value.items()}
    return None
