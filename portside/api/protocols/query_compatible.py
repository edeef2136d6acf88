"""JSON errors of a service that left the query protocol (`awsQueryCompatible`: CloudWatch).

Such a service answers JSON errors with the error's absolute shape id in `__type`
(`com.amazonaws.cloudwatch#InvalidParameterValueException`) and its query code in the
`x-amzn-query-error: Code;Sender|Receiver` header (smithy.io, aws-query-compatible trait);
botocore, which sends `x-amzn-query-mode: true` to such a service, reports that code (the one
its query API always used: `InvalidParameterValue`), so `client.exceptions` and error codes
match across query, JSON and CBOR. The status is the shape's. `cbor.py` does the same for
CBOR.
"""

from __future__ import annotations

import orjson
from botocore.model import ServiceModel

from portside.api.protocols.base import WireReply
from portside.api.protocols.cbor import default_namespace
from portside.api.protocols.error_shapes import ErrorShapes
from portside.errors import PortsideError


class QueryCompatibleErrors:
    def __init__(self, model: ServiceModel) -> None:
        self._shapes = ErrorShapes(model)
        self._namespace = default_namespace(model)

    def reply(self, exc: PortsideError, content_type: str) -> WireReply:
        shape, status = self._shapes.answer(exc)
        kind = f"{self._namespace}#{shape.name}" if shape.modeled else shape.name
        body = orjson.dumps({"__type": kind, shape.message_key or "message": exc.message})
        fault = "Sender" if shape.sender else "Receiver"
        header = ("x-amzn-query-error", f"{shape.query_code};{fault}")
        return WireReply(status, body, content_type, (header,))


def for_model(model: ServiceModel) -> QueryCompatibleErrors | None:
    return QueryCompatibleErrors(model) if "awsQueryCompatible" in model.metadata else None
