"""AWS restJson1 (`rest-json`): EventBridge Scheduler today, any REST+JSON model tomorrow.

The operation is the method and path, matched against every operation's `requestUri`
(rest_routes.py); its input comes from URI labels, the query string, headers and the JSON
body (rest_plans.py says which member travels where). Results leave the same way: header
members as headers, the rest as a JSON body, the status from the model's `responseCode`
(or a `statusCode` member).

What a request the codec cannot read gets:

* No route for the method and path: `UnknownOperationException`, 404, with the code in
  `x-amzn-ErrorType`, as smithy-rs's restJson1 server answers it
  (aws-smithy-http-server/src/protocol/rest_json_1/router.rs: 404,
  `X-Amzn-Errortype: UnknownOperationException`). An API hosted on API Gateway answers an
  unknown path 403 "Missing Authentication Token" instead (AWS knowledge center,
  repost.aws/knowledge-center/api-gateway-403-custom-domain); an SDK would read that as a
  signing fault, so it is not copied.
* A body that is not JSON, a label, query value or header not of its member's type (`abc`
  for an integer), a JSON value of the wrong type: the codec's type-fault error, 400:
  `SerializationException` by default (what Coral and smithy-rs answer), or the service's
  own (EventBridge Scheduler answers `ValidationException`): `type_error=`. An unparseable
  body gets no message, as Coral sends none (api/validation.py).

Errors: the code in `x-amzn-ErrorType`, `{"Message": text}` in the body (under `message`
instead where the error shape declares that member; botocore reads either), the status
the model gives the error shape (`httpError`) when the code names one, else the exception's
(an authentication fault is 403 whatever the model says).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import parse_qsl, unquote

import orjson
from botocore.model import ServiceModel

from portside.api.protocols.base import WireReply, WireRequest, blob
from portside.api.protocols.compiled import PerOperation
from portside.api.protocols.error_shapes import ErrorShapes, unknown_operation
from portside.api.protocols.rest_json_body import JsonReader, JsonWriter
from portside.api.protocols.rest_plans import (
    Binding,
    RequestPlan,
    ResponsePlan,
    request_plan,
    response_plan,
)
from portside.api.protocols.rest_routes import RouteTable
from portside.api.protocols.shape_walk import WireFault
from portside.errors import PortsideError, SerializationException

CONTENT_TYPE = "application/json"
_NO_BODY = frozenset({204, 304})
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")  # RFC 9110's header field name


def _header_text(text: str) -> str:
    # A result's text may hold a line break; in a header it would end the header (or let
    # the text write headers of its own). RFC 9110 section 5.5 has a recipient replace CR
    # and LF in a field value with SP: done here, before sending.
    return text.replace("\r", " ").replace("\n", " ") if "\r" in text or "\n" in text else text


def _located(binding: Binding, text: str) -> Any:
    try:
        return binding.parse(text)
    except WireFault as fault:
        fault.path.append(binding.member)
        raise


def _json(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        raise WireFault("") from None


class RestJsonCodec:
    protocol = "rest-json"

    def __init__(
        self,
        model: ServiceModel,
        type_error: Callable[[str], PortsideError] | None = None,
    ) -> None:
        self.model = model
        # What a value the codec cannot read is answered with: a PortsideError class, or
        # any callable from the message to one.
        self.type_error: Callable[[str], PortsideError] = type_error or SerializationException
        self.routes = RouteTable(model)
        self._errors = ErrorShapes(model)
        self._reader = JsonReader()
        self._writer = JsonWriter()
        self._requests = PerOperation(self.routes.by_operation, self._request_plan)
        self._responses = PerOperation(self.routes.by_operation, self._response_plan)

    def operation(self, request: WireRequest) -> str:
        found = self.routes.match(request.method, request.path, request.query)
        if found is None:
            raise unknown_operation(f"No operation at {request.method} {request.path}.")
        return found[0].operation

    def decode(self, request: WireRequest, operation: str) -> dict[str, Any]:
        plan = self._requests.get(operation)
        try:
            params = self._body(plan, request.body)
            labels = plan.route.labels_of(request.path)
            if labels is None:
                raise unknown_operation(f"{request.path} is not {operation}'s path.")
            for binding in plan.labels:
                raw = labels.get(binding.key)
                if raw is not None:
                    params[binding.member] = _located(binding, unquote(raw, errors="strict"))
            if request.query and (plan.query or plan.query_map):
                self._query(plan, request.query, params)
            headers = request.headers
            for binding in plan.headers:
                values = headers.getlist(binding.key)
                if values:
                    params[binding.member] = _located(binding, ",".join(values))
            for binding in plan.header_maps:
                prefix, size = binding.key, len(binding.key)
                found = {
                    name[size:]: _located(binding, ",".join(values))
                    for name, values in _header_items(request)
                    if name.startswith(prefix)
                }
                if found:
                    params[binding.member] = found
        except WireFault as fault:
            raise self.type_error(fault.text()) from None
        except UnicodeDecodeError:
            raise self.type_error("The request is not valid UTF-8.") from None
        return params

    def _body(self, plan: RequestPlan, body: bytes) -> dict[str, Any]:
        payload = plan.payload
        if payload is not None:
            if not body and not payload.required:
                return {}
            if payload.kind == "blob":
                return {payload.member: body}
            if payload.kind == "string":
                return {payload.member: body.decode("utf-8")}
            if not body.strip() or payload.convert is None:
                return {}
            return {payload.member: payload.convert(_json(body))}
        if plan.body is None or not body.strip():
            return {}
        params: dict[str, Any] = plan.body(_json(body))
        return params

    def _query(self, plan: RequestPlan, query: str, params: dict[str, Any]) -> None:
        mapped: dict[str, Any] = {}
        pairs = parse_qsl(query, keep_blank_values=True, errors="strict")
        for key, text in pairs:
            binding = plan.query.get(key)
            if binding is not None:
                value = _located(binding, text)
                if binding.many:
                    params.setdefault(binding.member, []).append(value)
                else:
                    params.setdefault(binding.member, value)  # the first one counts
            elif plan.query_map is not None and key not in plan.query_literals:
                value = _located(plan.query_map, text)
                if plan.query_map.many:
                    mapped.setdefault(key, []).append(value)
                else:
                    mapped.setdefault(key, value)
        if mapped and plan.query_map is not None:
            params[plan.query_map.member] = mapped

    def encode(self, operation: str, result: Mapping[str, Any], request_id: str) -> WireReply:
        plan = self._responses.get(operation)
        result = result or {}
        status = plan.status
        content_type = CONTENT_TYPE
        headers: list[tuple[str, str]] = []  # the edge adds x-amzn-RequestId
        for header in plan.headers:
            value = result.get(header.member)
            if value is None:
                continue
            text = _header_text(header.format(value))
            if header.name.lower() == "content-type":
                content_type = text  # one Content-Type: the member's (API Gateway's exports)
            else:
                headers.append((header.name, text))
        for member, prefix in plan.header_maps:
            for key, value in (result.get(member) or {}).items():
                if value is not None and _TOKEN.fullmatch(prefix + key):
                    headers.append((prefix + key, _header_text(str(value))))
        if plan.status_member is not None:
            code = result.get(plan.status_member)
            if type(code) is int and 100 <= code <= 599:
                status = code
        body = b""
        if plan.payload is not None:
            body, content_type = self._payload_body(plan, result, content_type)
        elif plan.body is not None:
            body = orjson.dumps(plan.body(result))
        if status in _NO_BODY:
            body = b""  # RFC 9110: a 204 or 304 carries no content
        return WireReply(status, body, content_type, tuple(headers))

    def _payload_body(
        self, plan: ResponsePlan, result: Mapping[str, Any], content_type: str
    ) -> tuple[bytes, str]:
        payload = plan.payload
        assert payload is not None
        value = result.get(payload.member)
        explicit = content_type != CONTENT_TYPE
        if payload.kind == "blob":
            body = b"" if value is None else blob(value)
            return body, content_type if explicit else "application/octet-stream"
        if payload.kind == "string":
            body = b"" if value is None else str(value).encode()
            return body, content_type if explicit else "text/plain"
        if value is None or payload.convert is None:
            return b"", content_type
        return orjson.dumps(payload.convert(value)), content_type

    def error(self, exc: PortsideError, request_id: str) -> WireReply:
        shape, status = self._errors.answer(exc)
        headers = (("x-amzn-ErrorType", shape.name),)
        body = orjson.dumps({shape.message_key or "Message": exc.message})
        return WireReply(status, body, CONTENT_TYPE, headers)

    def _request_plan(self, operation: str) -> RequestPlan:
        model = self.model.operation_model(operation)
        return request_plan(model, self.routes.by_operation[operation], self._reader)

    def _response_plan(self, operation: str) -> ResponsePlan:
        return response_plan(self.model.operation_model(operation), self._writer)


def _header_items(request: WireRequest) -> list[tuple[str, list[str]]]:
    # Prefix headers (`httpPrefixHeaders`) need every header, not one by name.
    return request.headers.items()
