"""Smithy RPC v2 CBOR (`smithy-rpc-v2-cbor`): what current botocore sends CloudWatch and Cloud
Map. The spec is smithy.io's "Smithy RPC v2 CBOR protocol" (additional-specs/protocols/
smithy-rpc-v2); its clauses are quoted below where they decide something.

Requests are `POST {prefix?}/service/{ServiceName}/operation/{Operation}` with
`Smithy-Protocol: rpc-v2-cbor`. `{ServiceName}` is the service shape's name, which is what
botocore's model calls `targetPrefix` (botocore's RpcV2CBORSerializer puts exactly that in
the path: `GraniteServiceVersion20100801` for CloudWatch); "service implementations SHOULD
accept an absolute shape ID ... with the `#` character replaced with a `.`", so
`com.amazonaws.cloudwatch.GraniteServiceVersion20100801` routes the same. Only the last four
path segments route.

What a request the codec cannot serve gets:

* No `Smithy-Protocol: rpc-v2-cbor`, a method other than POST, a path of another form, or an
  operation the model lacks: `UnknownOperationException`, 404. It is what smithy-rs's server
  answers when its rpcv2 router finds no route (rust-runtime/aws-smithy-http-server/src/
  protocol/rpc_v2/router.rs: `Error::NotFound` -> 404, `UnknownOperationException`), and
  what Amazon's service framework answers when no protocol claims a request
  (smithy-lang/smithy#1368). The edge picks this codec by the header, so a request without
  it only arrives here through a fallback.
* `X-Amz-Target` or `X-Amzn-Target` present: the spec calls the request malformed and says
  servers "MUST reject such requests": `SerializationException`, 400.
* A body with a Content-Type other than `application/cbor`: `UnsupportedMediaTypeException`,
  415, as smithy-rs's rpcv2 server (`RuntimeError::UnsupportedMediaType`). A body with no
  Content-Type is read as CBOR (the header is only required "with request bodies", and
  nothing else could be meant on this path).
* A body that is not one CBOR map of the input's shape (truncated, garbage, trailing bytes, a
  top-level array, a text string where an integer belongs): `SerializationException`, 400,
  smithy-rs's `RuntimeError::Serialization`. An empty body is the empty input (the spec's
  protocol test `empty_input_no_body`).

Errors are a CBOR map of `__type` (the error's absolute shape ID, "This value of this
component MUST contain the error's absolute shape-id") and the message, under the member
name the error shape declares (`message` for most CloudWatch errors, `Message` for Cloud
Map's); botocore's RpcV2CBORParser reads either and drops the namespace. A service with
`awsQueryCompatible` (CloudWatch) also gets `x-amzn-query-error: Code;Sender|Receiver`
(smithy.io, aws-query-protocol: "This trait adds the x-amzn-query-error header in the form of
Code;Fault"), Code being the shape's `awsQueryError` code: botocore then reports that code,
the one CloudWatch's query API used.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from botocore.model import ServiceModel

from portside.api.protocols.base import WireReply, WireRequest
from portside.api.protocols.cbor_shapes import CborReader, CborWriter, dumps, loads
from portside.api.protocols.compiled import PerOperation
from portside.api.protocols.error_shapes import ErrorShapes, unknown_operation
from portside.api.protocols.shape_walk import WireFault
from portside.errors import NamedError, PortsideError, SerializationException

CONTENT_TYPE = "application/cbor"
PROTOCOL_HEADER = ("Smithy-Protocol", "rpc-v2-cbor")
_EMPTY: dict[str, Any] = {}


def default_namespace(model: ServiceModel) -> str:
    """The Smithy namespace AWS gives a service's shapes: `com.amazonaws.` and the service
    id, lower-cased, without spaces (`com.amazonaws.cloudwatch`,
    `com.amazonaws.servicediscovery`); botocore's JSON models do not carry it."""
    service_id = model.metadata.get("serviceId") or model.service_name
    return "com.amazonaws." + "".join(c for c in service_id.lower() if c.isalnum())


class CborCodec:
    protocol = "smithy-rpc-v2-cbor"

    def __init__(self, model: ServiceModel, namespace: str | None = None) -> None:
        self.model = model
        self.namespace = namespace or default_namespace(model)
        service = model.metadata["targetPrefix"]
        self._services = frozenset({service, f"{self.namespace}.{service}"})
        self._known = frozenset(model.operation_names)
        self._errors = ErrorShapes(model)
        self._query_compatible = "awsQueryCompatible" in model.metadata
        self._reader = CborReader()
        self._writer = CborWriter()
        operations = model.operation_model
        self._inputs = PerOperation(
            self._known, lambda name: self._reader.compile_or_none(operations(name).input_shape)
        )
        self._outputs = PerOperation(
            self._known, lambda name: self._writer.compile_or_none(operations(name).output_shape)
        )

    def operation(self, request: WireRequest) -> str:
        if request.headers.get("smithy-protocol") != PROTOCOL_HEADER[1]:
            raise unknown_operation("Not an rpc-v2-cbor request (no Smithy-Protocol header).")
        if request.method != "POST":
            raise unknown_operation(f"{request.method} is not an rpc-v2-cbor method.")
        segments = request.path.split("/")
        if (
            len(segments) < 5
            or segments[-4] != "service"
            or segments[-2] != "operation"
            or segments[-3] not in self._services
        ):
            raise unknown_operation(f"No service at {request.path}.")
        name = segments[-1]
        if name not in self._known:
            raise unknown_operation(f"Unknown operation {name}.")
        if "x-amz-target" in request.headers or "x-amzn-target" in request.headers:
            raise SerializationException("An rpc-v2-cbor request must not carry X-Amz-Target.")
        return name

    def decode(self, request: WireRequest, operation: str) -> dict[str, Any]:
        if not request.body:
            return {}
        content_type = request.content_type
        if content_type and content_type != CONTENT_TYPE:
            raise NamedError(
                "UnsupportedMediaTypeException",
                f"Content-Type {content_type} is not {CONTENT_TYPE}.",
                415,
            )
        read = self._inputs.get(operation)
        try:
            value = loads(request.body)
            if read is None:
                # An operation without input: any map will do (the spec's
                # NoInputServerAllowsEmptyCbor), nothing of it is kept.
                if not self._reader.is_map(value):
                    raise self._reader.expected("structure", value)
                return {}
            params: dict[str, Any] = read(value)
        except WireFault as fault:
            raise SerializationException(fault.text()) from None
        return params

    def encode(self, operation: str, result: Mapping[str, Any], request_id: str) -> WireReply:
        write = self._outputs.get(operation)
        if write is None:
            # "Responses for operations with no defined output type ... MUST NOT contain
            # bodies"; the protocol test `no_output` forbids a Content-Type: none is given.
            return WireReply(200, b"", "", (PROTOCOL_HEADER,))
        return WireReply(200, dumps(write(result or _EMPTY)), CONTENT_TYPE, (PROTOCOL_HEADER,))

    def error(self, exc: PortsideError, request_id: str) -> WireReply:
        shape, status = self._errors.answer(exc)
        # An error the model lacks (a framework error: serialization, auth, unknown
        # operation) has no shape ID to give: its bare code.
        kind = f"{self.namespace}#{shape.name}" if shape.modeled else shape.name
        body = {"__type": kind, shape.message_key or "message": exc.message}
        headers: tuple[tuple[str, str], ...] = (PROTOCOL_HEADER,)
        if self._query_compatible:
            fault = "Sender" if shape.sender else "Receiver"
            headers += (("x-amzn-query-error", f"{shape.query_code};{fault}"),)
        return WireReply(status, dumps(body), CONTENT_TYPE, headers)
