"""The rest-json codec against botocore at both ends, for every operation of EventBridge
Scheduler and of a few REST models chosen for their HTTP bindings: Lambda (query literals in
templates, blob payloads, a status-code member), API Gateway (query maps, `?mode=import`),
MediaStore Data (a greedy `{Path+}` label, header members of every type), Data Exchange
(prefix-header maps, an empty-prefix output map), Lex Runtime (JSON-valued headers).

What botocore's serializer sends decodes to the params it was given; what the codec answers,
botocore's parser reads back as the result it was given; errors carry the code, message and
status botocore expects. Then what a request the codec cannot read gets.

Members bound to the URI, query string and headers are drawn as HTTP carries them: labels
non-empty, header text printable ASCII without surrounding blanks, header timestamps in whole
seconds (http-date has no fractions), prefix-header keys lower-case.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import botocore.session
import orjson
import pytest
from botocore.model import ListShape, MapShape, OperationModel, Shape, StructureShape
from botocore.parsers import create_parser
from botocore_strategies import DEPTH, canonical, params_for, without_metadata
from botocore_wire import botocore_request
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from urllib3 import HTTPHeaderDict

from portside.api.protocols.base import HeaderMap, WireReply, WireRequest
from portside.api.protocols.rest_json import RestJsonCodec
from portside.errors import (
    AccessDeniedException,
    NamedError,
    PortsideError,
    SerializationException,
    UnrecognizedClientException,
    ValidationException,
)

PROTOCOL = "rest-json"
SERVICES = ("scheduler", "lambda", "apigateway", "mediastore-data", "dataexchange", "lex-runtime")
OUR_HEADERS = frozenset({"content-type", "x-amzn-requestid"})

_HEADER_TEXT = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=12).map(
    str.strip
)
_HEADER_KEYS = st.from_regex(r"x-[a-z0-9]{1,6}", fullmatch=True)
_WHOLE_SECONDS = st.integers(0, 4_102_444_800).map(float)
_LABEL = st.text(
    st.characters(codec="utf-8", exclude_categories=("Cc", "Cs", "Cn")), min_size=1, max_size=12
).filter(lambda s: s not in (".", ".."))  # dot segments are a URL's, not a label's


@cache
def codec(service: str) -> RestJsonCodec:
    model = botocore.session.get_session().get_service_model(service)
    return RestJsonCodec(model, ValidationException if service == "scheduler" else None)


def every_operation() -> list[tuple[str, str]]:
    """Every operation but those answering with an event stream (Lambda's
    InvokeWithResponseStream): the codec writes no event streams."""
    return [
        (s, op)
        for s in SERVICES
        for op in codec(s).model.operation_names
        if not codec(s).model.operation_model(op).has_event_stream_output
    ]


def location(member: Shape) -> str | None:
    return member.serialization.get("location")


# -- drawing what HTTP carries ----------------------------------------------------------------


def _header_value(shape: Shape) -> st.SearchStrategy[Any]:
    if shape.type_name == "string" and not shape.enum and not shape.serialization.get("jsonvalue"):
        return _HEADER_TEXT
    if shape.type_name == "timestamp":
        return _WHOLE_SECONDS
    if isinstance(shape, ListShape):
        return st.lists(_header_value(shape.member).filter(bool), max_size=3)
    return params_for(shape, 0)


def _located(member: Shape, operation: OperationModel, is_payload: bool) -> st.SearchStrategy[Any]:
    where = location(member)
    if where == "uri":
        return _LABEL if member.type_name == "string" else params_for(member, 0)
    if where == "header":
        return _header_value(member)
    if where == "headers":
        return st.dictionaries(_HEADER_KEYS, _HEADER_TEXT, max_size=3)
    if where == "statusCode":
        return st.sampled_from([200, 201, 202])
    if where == "querystring" and isinstance(member, MapShape):
        # A query map takes the keys no named member (or the template) claims.
        taken = {
            m.serialization.get("name", n) for n, m in operation.input_shape.members.items()
        } | {k for k, _ in codec_route(operation).query}
        keys = params_for(member.key, 0).filter(lambda k: k and k not in taken)
        return st.dictionaries(keys, params_for(member.value, 1), max_size=3)
    if is_payload and member.type_name == "blob":
        # botocore hands a blob payload back as text (it decodes the body): keep it UTF-8.
        return st.text(max_size=12).map(str.encode)
    return params_for(member, DEPTH - 1)


def codec_route(operation: OperationModel) -> Any:
    return codec(operation.service_model.service_name).routes.by_operation[operation.name]


def draw_members(shape: StructureShape | None, operation: OperationModel) -> Any:
    if shape is None:
        return st.just({})
    payload = shape.serialization.get("payload")
    required, optional = {}, {}
    for name, member in shape.members.items():
        drawn = _located(member, operation, name == payload)
        # botocore cannot render a template without its labels: they are always given.
        must = name in shape.required_members or location(member) == "uri"
        (required if must else optional)[name] = drawn
    return st.fixed_dictionaries(required, optional=optional)


# -- what each side can carry -----------------------------------------------------------------


def expected_input(shape: StructureShape, params: dict[str, Any]) -> dict[str, Any]:
    """The params as HTTP carries them: an empty list or map in the query string or headers
    is not sent; header-map keys arrive lower-case; an absent or empty blob/string payload
    is an empty body (and a required one reads back as empty); an absent structure payload
    is botocore's `{}`."""
    found = dict(canonical(shape, params))
    payload = shape.serialization.get("payload")
    for name, member in shape.members.items():
        value = found.get(name)
        if location(member) in ("querystring", "header", "headers") and value in ([], {}):
            del found[name]
        elif location(member) == "headers" and value:
            found[name] = {key.lower(): item for key, item in value.items()}
        elif name == payload and member.type_name in ("blob", "string"):
            if not value:
                found.pop(name, None)
                if name in shape.required_members:
                    found[name] = b"" if member.type_name == "blob" else ""
        elif name == payload and value is None:
            found[name] = {}
    return found


def expected_output(
    operation: OperationModel, result: dict[str, Any], reply: WireReply
) -> dict[str, Any]:
    """The result as botocore reads it: a 204 carries no body; an absent payload reads as
    empty text or `{}`; empty header lists and maps are not sent; a member bound to
    Content-Type reads the reply's, which every reply has."""
    shape = operation.output_shape
    assert shape is not None
    found = dict(canonical(shape, result))
    payload = shape.serialization.get("payload")
    status_member = next((n for n, m in shape.members.items() if location(m) == "statusCode"), "")
    status = found.get(status_member) or operation.http.get("responseCode", 200)
    if status_member:
        found[status_member] = status  # botocore reads it off the response's status
    no_body = status == 204
    for name, member in shape.members.items():
        where = location(member)
        empty = where in ("header", "headers") and found.get(name) in ([], {})
        is_content_type = str(member.serialization.get("name", "")).lower() == "content-type"
        if where == "header" and is_content_type:
            found[name] = reply.content_type
        elif empty or (where is None and no_body):
            found.pop(name, None)
        elif name == payload and not no_body:
            if member.type_name in ("blob", "string"):
                found[name] = found.get(name) or (b"" if member.type_name == "blob" else "")
            elif name not in found:
                found[name] = {}
    return found


def botocore_reads(reply: WireReply, shape: Shape | None) -> dict[str, Any]:
    """botocore's parse of a reply, its headers case-insensitive as HTTP's are."""
    headers = HTTPHeaderDict([("Content-Type", reply.content_type), *reply.headers])
    response = {"status_code": reply.status, "headers": headers, "body": reply.body}
    parsed: dict[str, Any] = create_parser(PROTOCOL).parse(response, shape)
    return parsed


def read_back(operation: OperationModel, parsed: dict[str, Any]) -> dict[str, Any]:
    shape = operation.output_shape
    assert shape is not None
    found = without_metadata(parsed)
    for name, member in shape.members.items():
        if location(member) == "headers" and name in found:
            prefix = member.serialization.get("name", "").lower()
            kept = {k: v for k, v in found[name].items() if (prefix + k).lower() not in OUR_HEADERS}
            found[name] = kept
            if not kept:
                del found[name]
        elif member.type_name == "blob" and isinstance(found.get(name), str):
            found[name] = found[name].encode()  # botocore decodes a blob payload to text
    return canonical(shape, found)


# -- round trips ------------------------------------------------------------------------------


def examples(service: str) -> settings:
    # Scheduler's dozen operations are the ones served today: they get the most examples.
    count = {"scheduler": 12, "mediastore-data": 12, "lex-runtime": 6}.get(service, 2)
    return settings(max_examples=count, suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.parametrize(("service", "operation"), every_operation())
def test_what_botocore_sends_decodes_to_its_params(service: str, operation: str) -> None:
    model = codec(service).model.operation_model(operation)

    @examples(service)
    @given(params=draw_members(model.input_shape, model))
    def round_trip(params: dict[str, Any]) -> None:
        request = botocore_request(PROTOCOL, model, params)
        assert codec(service).operation(request) == operation
        decoded = codec(service).decode(request, operation)
        if model.input_shape is None:
            assert decoded == {}
            return
        shape = model.input_shape
        assert canonical(shape, decoded) == expected_input(shape, params)

    round_trip()


@pytest.mark.parametrize(("service", "operation"), every_operation())
def test_botocore_reads_back_what_is_encoded(service: str, operation: str) -> None:
    model = codec(service).model.operation_model(operation)

    @examples(service)
    @given(result=draw_members(model.output_shape, model))
    def round_trip(result: dict[str, Any]) -> None:
        reply = codec(service).encode(operation, result, "req-1")
        # The edge writes x-amzn-RequestId on every reply; the codec leaves it out.
        assert all(name.lower() != "x-amzn-requestid" for name, _ in reply.headers)
        parsed = botocore_reads(reply, model.output_shape)
        if model.output_shape is None:
            assert reply.status == model.http.get("responseCode", 200)
            return
        assert read_back(model, parsed) == expected_output(model, result, reply)

    round_trip()


@pytest.mark.parametrize("service", SERVICES)
def test_each_modeled_error_reads_as_botocore_maps_it(service: str) -> None:
    for shape in codec(service).model.error_shapes:
        reply = codec(service).error(NamedError(shape.name, "it went wrong"), "req-1")
        assert dict(reply.headers)["x-amzn-ErrorType"] == shape.name
        parsed = botocore_reads(reply, None)
        status = (shape.metadata.get("error") or {}).get("httpStatusCode", 400)
        assert (parsed["Error"]["Code"], parsed["Error"]["Message"]) == (
            shape.error_code,
            "it went wrong",
        )
        assert parsed["ResponseMetadata"]["HTTPStatusCode"] == status
        fields = botocore_reads(reply, shape)
        declared = [m for m in shape.members if m.lower() == "message"]
        assert [fields.get(m) for m in declared] == ["it went wrong"] * len(declared)


def test_scheduler_errors_as_its_edge_wrote_them() -> None:
    scheduler = codec("scheduler")
    for exc, status in (
        (NamedError("ResourceNotFoundException", "gone"), 404),
        (NamedError("ConflictException", "busy"), 409),
        (NamedError("ServiceQuotaExceededException", "full"), 402),
        (ValidationException("bad"), 400),
        (UnrecognizedClientException("who?"), 403),
        (AccessDeniedException("no"), 400),
    ):
        reply = scheduler.error(exc, "r")
        assert reply.status == status
        assert orjson.loads(reply.body) == {"Message": exc.message}
        assert ("x-amzn-ErrorType", exc.code) in reply.headers


# -- routing ----------------------------------------------------------------------------------


def request(method: str, path: str, query: str = "", body: bytes = b"", **headers: str) -> Any:
    return WireRequest(method, path, query, HeaderMap.of(headers), body)


@pytest.mark.parametrize(
    ("service", "method", "path", "query", "operation"),
    [
        ("lambda", "GET", "/2018-10-31/layers", "find=LayerVersion&Arn=a", "GetLayerVersionByArn"),
        ("lambda", "GET", "/2018-10-31/layers", "", "ListLayers"),
        ("lambda", "GET", "/2015-03-31/functions/", "", "ListFunctions"),
        ("lambda", "GET", "/2015-03-31/functions", "", "ListFunctions"),
        ("lambda", "GET", "/2019-09-30/functions/f/provisioned-concurrency", "List=ALL", None),
        ("apigateway", "POST", "/restapis", "mode=import", "ImportRestApi"),
        ("apigateway", "POST", "/restapis", "mode=other", "CreateRestApi"),
        ("mediastore-data", "GET", "/a/b/c/", "", "GetObject"),
        ("mediastore-data", "GET", "/", "", "ListItems"),
        ("scheduler", "GET", "/schedules/a%2Fb", "", "GetSchedule"),
        ("scheduler", "GET", "/tags/arn%3Ax%2Fy", "", "ListTagsForResource"),
    ],
)
def test_the_most_specific_template_wins(
    service: str, method: str, path: str, query: str, operation: str | None
) -> None:
    expected = operation or "ListProvisionedConcurrencyConfigs"
    assert codec(service).operation(request(method, path, query)) == expected


def test_labels_are_percent_decoded_once_split() -> None:
    scheduler = codec("scheduler")
    decoded = scheduler.decode(request("GET", "/schedules/a%2Fb%20c%25"), "GetSchedule")
    assert decoded == {"Name": "a/b c%"}
    got = codec("mediastore-data").decode(request("GET", "/x/y%20z/"), "GetObject")
    assert got == {"Path": "x/y z/"}


@pytest.mark.parametrize(
    ("service", "method", "path"),
    [
        ("scheduler", "GET", "/nowhere"),
        ("scheduler", "PATCH", "/schedules/a"),
        ("scheduler", "GET", "/schedules/a/b"),  # a raw slash is no label's
        ("scheduler", "BREW", "/schedules"),
        ("lambda", "GET", "/2015-03-31/functions//configuration"),  # an empty label
    ],
)
def test_no_route_is_unknown_operation_404(service: str, method: str, path: str) -> None:
    with pytest.raises(PortsideError) as caught:
        codec(service).operation(request(method, path))
    assert (caught.value.code, caught.value.status) == ("UnknownOperationException", 404)
    reply = codec(service).error(caught.value, "r")
    parsed = botocore_reads(reply, None)
    assert parsed["Error"]["Code"] == "UnknownOperationException"
    assert parsed["ResponseMetadata"]["HTTPStatusCode"] == 404


# -- what cannot be read ----------------------------------------------------------------------


def fault(service: str, wire: WireRequest) -> PortsideError:
    with pytest.raises(PortsideError) as caught:
        found = codec(service)
        found.decode(wire, found.operation(wire))
    return caught.value


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{not json", ""),
        (b'{"ScheduleExpression": "rate(1 minute)"', ""),  # truncated
        (b"[1, 2]", "Start of list found where not expected"),
        (b'"text"', "Expected null"),
        (b'{"FlexibleTimeWindow": "OFF"}', "Expected null (at 'FlexibleTimeWindow')"),
        (b'{"FlexibleTimeWindow": {"Mode": 1}}', "NUMBER_VALUE can not be converted to a String"),
        (b'{"Target": {"Arn": "a", "RetryPolicy": {"MaximumRetryAttempts": "3"}}}', "Integer"),
        (b'{"Target": {"EcsParameters": {"Tags": {"a": "b"}}}}', "Start of structure or map"),
        (b'{"StartDate": true}', "TRUE_VALUE can not be converted to a Date"),
        (b'{"StartDate": "yesterday"}', "'yesterday' is not a valid timestamp"),
        (b'{"Target": {"EcsParameters": {"TaskCount": 1.5}}}', "NUMBER_VALUE"),
    ],
)
def test_an_unreadable_scheduler_body_is_its_validation_exception(
    body: bytes, message: str
) -> None:
    caught = fault("scheduler", request("POST", "/schedules/a", "", body))
    assert (caught.code, caught.status) == ("ValidationException", 400)
    # Coral says nothing at all about a body it cannot parse.
    assert message in caught.message if message else caught.message == ""
    parsed = botocore_reads(codec("scheduler").error(caught, "r"), None)
    assert (parsed["Error"]["Code"], parsed["ResponseMetadata"]["HTTPStatusCode"]) == (
        "ValidationException",
        400,
    )


@pytest.mark.parametrize(
    ("wire", "where"),
    [
        (request("GET", "/schedules", "MaxResults=ten"), "MaxResults"),
        (request("GET", "/schedules", "MaxResults=1.5"), "MaxResults"),
        (request("GET", "/schedules/%FF"), "UTF-8"),
    ],
)
def test_a_located_value_of_the_wrong_type_is_a_type_fault(wire: WireRequest, where: str) -> None:
    caught = fault("scheduler", wire)
    assert (caught.code, caught.status) == ("ValidationException", 400)
    assert where in caught.message


def test_other_services_say_serialization_exception() -> None:
    caught = fault("lambda", request("POST", "/2015-03-31/functions", "", b"{"))
    assert (caught.code, caught.status, caught.message) == ("SerializationException", 400, "")
    wire = request(
        "PUT", "/x", "", b"", **{"Content-Length": "x", "x-amz-storage-class": "TEMPORAL"}
    )
    assert codec("mediastore-data").decode(wire, "PutObject") == {
        "Path": "x",
        "Body": b"",
        "StorageClass": "TEMPORAL",
    }
    wire = request("GET", "/2015-03-31/functions", "MaxItems=x")
    assert fault("lambda", wire).code == "SerializationException"


@settings(max_examples=100, suppress_health_check=[HealthCheck.too_slow])
@given(body=st.binary(max_size=48), query=st.text(max_size=24))
def test_no_input_makes_anything_but_a_type_fault(body: bytes, query: str) -> None:
    for service, method, path in (
        ("scheduler", "POST", "/schedules/a"),
        ("lambda", "POST", "/2015-03-31/functions/f/invocations"),
        ("apigateway", "GET", "/restapis/r/stages/s/exports/swagger"),
    ):
        wire = request(method, path, query, body)
        try:
            codec(service).decode(wire, codec(service).operation(wire))
        except PortsideError as exc:
            assert exc.status == 400 and exc.code in (
                "SerializationException",
                "ValidationException",
            )


def test_response_headers_and_status() -> None:
    lam = codec("lambda")
    reply = lam.encode("Invoke", {"StatusCode": 202, "FunctionError": "Unhandled"}, "r")
    assert (reply.status, reply.body) == (202, b"")
    assert ("X-Amz-Function-Error", "Unhandled") in reply.headers
    reply = lam.encode("DeleteAlias", {}, "r")
    assert (reply.status, reply.body) == (204, b"")
    exported = {"body": b"{}", "contentType": "application/yaml"}
    reply = codec("apigateway").encode("GetExport", exported, "r")
    assert (reply.content_type, reply.body) == ("application/yaml", b"{}")
    assert not any(name.lower() == "content-type" for name, _ in reply.headers)
    reply = codec("mediastore-data").encode(
        "DescribeObject", {"LastModified": 1700000000, "ContentLength": 5}, "r"
    )
    assert ("Last-Modified", "Tue, 14 Nov 2023 22:13:20 GMT") in reply.headers
    assert ("Content-Length", "5") in reply.headers
    reply = codec("scheduler").encode(
        "GetSchedule", {"Name": "a", "CreationDate": 1700000000.5, "Junk": 1}, "r"
    )
    assert orjson.loads(reply.body) == {"Name": "a", "CreationDate": 1700000000.5}


def test_codec_without_type_error_defaults_to_serialization_exception() -> None:
    model = botocore.session.get_session().get_service_model("scheduler")
    plain = RestJsonCodec(model)
    with pytest.raises(SerializationException):
        plain.decode(request("POST", "/schedules/a", "", b"[]"), "CreateSchedule")


def test_header_lists_split_on_commas_outside_quotes() -> None:
    model = botocore.session.get_session().get_service_model("entityresolution")
    operation = model.operation_model("BatchDeleteUniqueId")
    params = {"workflowName": "w", "inputSource": "s", "uniqueIds": ["a,b", 'say "hi"', "c"]}
    wire = botocore_request(PROTOCOL, operation, params)
    assert wire.headers.get("uniqueids") == '"a,b","say \\"hi\\"",c'
    found = RestJsonCodec(model)
    assert found.decode(wire, found.operation(wire)) == params
