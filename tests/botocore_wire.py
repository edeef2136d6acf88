"""botocore at both ends of a codec under test: the request its serializer sends (as the
`WireRequest` the edge would see) and its parser's reading of a codec's reply; and the two
round-trip assertions every codec test makes with them."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import botocore.session
from botocore.awsrequest import (
    AWSPreparedRequest,
    AWSResponse,
    create_request_object,
    prepare_request_dict,
)
from botocore.config import Config
from botocore.model import OperationModel, Shape
from botocore.parsers import create_parser
from botocore.serialize import create_serializer
from botocore_strategies import canonical

from portside.api.protocols.base import Codec, HeaderMap, WireReply, WireRequest
from portside.errors import PortsideError

ENDPOINT = "https://portside.example"


def botocore_request(protocol: str, operation: OperationModel, params: Any) -> WireRequest:
    """What a boto3 client sends for `params`, as it arrives: botocore's serializer, then its
    request preparation (URL and body encoding), as a client does before signing."""
    serialized = create_serializer(protocol, include_validation=False).serialize_to_request(
        params, operation
    )
    prepare_request_dict(serialized, endpoint_url=ENDPOINT)
    prepared = create_request_object(serialized).prepare()
    url = urlsplit(prepared.url)
    body = prepared.body or b""
    return WireRequest(
        method=prepared.method,
        path=url.path or "/",
        query=url.query,
        headers=HeaderMap.of({k: str(v) for k, v in prepared.headers.items()}),
        body=body.encode() if isinstance(body, str) else bytes(body),
    )


class _Raw:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._body


def client_through(codec: Codec, answer: Callable[[str, dict[str, Any]], Any]) -> Any:
    """A botocore client of the codec's service whose requests, signed and all, go to the
    codec instead of the network: decoded, handed to `answer(operation, params)`, and its
    result (or the PortsideError it raises) encoded back. Retries are off."""
    client = botocore.session.get_session().create_client(
        codec.model.service_name,
        region_name="us-east-1",
        endpoint_url=ENDPOINT,
        aws_access_key_id="AKIDEXAMPLE",
        aws_secret_access_key="secret",
        config=Config(retries={"total_max_attempts": 1}),
    )

    def send(request: AWSPreparedRequest, **_: Any) -> AWSResponse:
        url = urlsplit(request.url)
        headers = {k: v.decode() if isinstance(v, bytes) else v for k, v in request.headers.items()}
        body = request.body or b""
        wire = WireRequest(
            request.method,
            url.path or "/",
            url.query,
            HeaderMap.of(headers),
            body.encode() if isinstance(body, str) else bytes(body),
        )
        try:
            operation = codec.operation(wire)
            reply = codec.encode(operation, answer(operation, codec.decode(wire, operation)), "r")
        except PortsideError as exc:
            reply = codec.error(exc, "r")
        headers = {"content-type": reply.content_type, **dict(reply.headers)}
        return AWSResponse(request.url, reply.status, headers, _Raw(reply.body))

    client.meta.events.register("before-send", send)
    return client


def botocore_reads(protocol: str, reply: WireReply, shape: Shape | None) -> dict[str, Any]:
    """botocore's parse of a reply (a modeled output or, for a status >= 301, an error)."""
    headers = {"content-type": reply.content_type, **dict(reply.headers)}
    response = {"status_code": reply.status, "headers": headers, "body": reply.body}
    parsed: dict[str, Any] = create_parser(protocol).parse(response, shape)
    return parsed


def assert_decodes(codec: Codec, operation: OperationModel, params: Any, **lossy: bool) -> None:
    """What botocore sends for `params` names the operation and decodes to `params`. Both
    sides are compared through `canonical(..., **lossy)`, for what the protocol cannot send
    (`empty_structures=False`, `empty_lists=False`)."""
    request = botocore_request(codec.protocol, operation, params)
    assert codec.operation(request) == operation.name
    decoded = codec.decode(request, operation.name)
    shape = operation.input_shape
    if shape is None:
        assert decoded == {}
        return
    assert (canonical(shape, decoded, **lossy) or {}) == (canonical(shape, params, **lossy) or {})


def assert_encodes(codec: Codec, operation: OperationModel, result: Any) -> None:
    """botocore reads `result` back from what the codec encodes it to."""
    reply = codec.encode(operation.name, result, "req-1")
    assert reply.status == 200
    parsed = botocore_reads(codec.protocol, reply, operation.output_shape)
    assert parsed["ResponseMetadata"]["RequestId"] == "req-1"
    shape = operation.output_shape
    if shape is not None:
        found = {key: value for key, value in parsed.items() if key != "ResponseMetadata"}
        assert canonical(shape, found) == canonical(shape, result)
