"""The Smithy RPC v2 CBOR codec against botocore at both ends, for every operation of the
CBOR models Portside serves (CloudWatch, Cloud Map): what botocore's serializer sends
decodes to the params it was given; what the codec answers, botocore's parser reads back as
the result it was given; errors come out with the code, message and status botocore's error
handling expects. Then what a malformed request gets."""

from __future__ import annotations

import math
import struct
from datetime import UTC, datetime
from functools import cache
from typing import Any

import botocore.session
import cbor2
import pytest
from botocore_strategies import canonical, input_for, output_for, without_metadata
from botocore_wire import botocore_reads, botocore_request
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from portside.api.protocols.base import HeaderMap, WireRequest
from portside.api.protocols.cbor import CborCodec
from portside.errors import (
    NamedError,
    PortsideError,
    SerializationException,
    ServerException,
    UnrecognizedClientException,
)

PROTOCOL = "smithy-rpc-v2-cbor"
SERVICES = ("cloudwatch", "servicediscovery")
HEADERS = {"Smithy-Protocol": "rpc-v2-cbor", "Content-Type": "application/cbor"}
CW = "/service/GraniteServiceVersion20100801/operation/"
EXAMPLES = settings(max_examples=4, suppress_health_check=[HealthCheck.too_slow])


@cache
def codec(service: str) -> CborCodec:
    return CborCodec(botocore.session.get_session().get_service_model(service))


def every_operation() -> list[tuple[str, str]]:
    return [(s, op) for s in SERVICES for op in codec(s).model.operation_names]


def every_error() -> list[tuple[str, str]]:
    return [(s, shape.name) for s in SERVICES for shape in codec(s).model.error_shapes]


def cbor_request(
    operation: str,
    body: bytes,
    headers: dict[str, str] | None = None,
    path: str = CW,
    method: str = "POST",
) -> WireRequest:
    sent = HEADERS if headers is None else headers
    return WireRequest(method, path + operation, "", HeaderMap.of(sent), body)


def fault(request: WireRequest, service: str = "cloudwatch") -> PortsideError:
    with pytest.raises(PortsideError) as caught:
        found = codec(service)
        found.decode(request, found.operation(request))
    return caught.value


def botocore_error(service: str, exc: PortsideError) -> dict[str, Any]:
    reply = codec(service).error(exc, "req-1")
    assert reply.content_type == "application/cbor"
    assert ("Smithy-Protocol", "rpc-v2-cbor") in reply.headers
    parsed = botocore_reads(PROTOCOL, reply, None)
    return {"status": parsed["ResponseMetadata"]["HTTPStatusCode"], **parsed["Error"]}


# -- round trips ------------------------------------------------------------------------------


@pytest.mark.parametrize(("service", "operation"), every_operation())
@EXAMPLES
@given(data=st.data())
def test_what_botocore_sends_decodes_to_its_params(
    service: str, operation: str, data: st.DataObject
) -> None:
    model = codec(service).model.operation_model(operation)
    params = data.draw(input_for(model))
    request = botocore_request(PROTOCOL, model, params)
    assert codec(service).operation(request) == operation
    decoded = codec(service).decode(request, operation)
    if model.input_shape is None:
        assert decoded == {}
        return
    assert canonical(model.input_shape, decoded) == canonical(model.input_shape, params)


@pytest.mark.parametrize(("service", "operation"), every_operation())
@EXAMPLES
@given(data=st.data())
def test_botocore_reads_back_what_is_encoded(
    service: str, operation: str, data: st.DataObject
) -> None:
    model = codec(service).model.operation_model(operation)
    result = data.draw(output_for(model))
    reply = codec(service).encode(operation, result, "req-1")
    assert reply.status == 200
    assert ("Smithy-Protocol", "rpc-v2-cbor") in reply.headers
    parsed = without_metadata(botocore_reads(PROTOCOL, reply, model.output_shape))
    if model.output_shape is None:
        # "MUST NOT contain bodies" and no Content-Type (the spec's `no_output` test).
        assert (reply.body, reply.content_type, parsed) == (b"", "", {})
        return
    assert reply.content_type == "application/cbor"
    assert canonical(model.output_shape, parsed) == canonical(model.output_shape, result)


@pytest.mark.parametrize(("service", "name"), every_error())
def test_each_modeled_error_reads_as_botocore_maps_it(service: str, name: str) -> None:
    shape = codec(service).model.shape_for(name)
    status = (shape.metadata.get("error") or {}).get("httpStatusCode", 400)
    got = botocore_error(service, NamedError(name, "it went wrong", 400))
    # `error_code` is what botocore's error factory keys its exception classes by: the
    # awsQueryError code for CloudWatch (from x-amzn-query-error), else the shape's name.
    assert (got["Code"], got["Message"], got["status"]) == (
        shape.error_code,
        "it went wrong",
        status,
    )
    # botocore's modeled-error parse finds the text under the member the shape declares.
    reply = codec(service).error(NamedError(name, "it went wrong"), "req-1")
    fields = botocore_reads(PROTOCOL, reply, shape)
    declared = [m for m in shape.members if m.lower() == "message"]
    assert [fields.get(m) for m in declared] == ["it went wrong"] * len(declared)


def test_error_type_is_the_absolute_shape_id() -> None:
    reply = codec("servicediscovery").error(NamedError("ServiceNotFound", "no", 404), "r")
    assert cbor2.loads(reply.body) == {
        "__type": "com.amazonaws.servicediscovery#ServiceNotFound",
        "Message": "no",
    }
    assert not any(name.lower() == "x-amzn-query-error" for name, _ in reply.headers)


def test_query_compatible_codes_and_framework_errors() -> None:
    # A query code names its shape too (CloudWatch's handlers may raise either).
    got = botocore_error("cloudwatch", NamedError("InvalidParameterValue", "bad", 400))
    assert (got["Code"], got["QueryErrorCode"], got["Type"]) == (
        "InvalidParameterValue",
        "InvalidParameterValueException",
        "Sender",
    )
    got = botocore_error("cloudwatch", NamedError("InternalServiceFault", "oops", 500))
    assert (got["Code"], got["Type"], got["status"]) == ("InternalServiceError", "Receiver", 500)
    got = botocore_error("cloudwatch", SerializationException("bad body"))
    assert (got["Code"], got["Message"], got["status"]) == (
        "SerializationException",
        "bad body",
        400,
    )
    got = botocore_error("servicediscovery", UnrecognizedClientException("who?"))
    assert (got["Code"], got["status"]) == ("UnrecognizedClientException", 403)
    got = botocore_error("servicediscovery", ServerException("boom"))
    assert (got["Code"], got["status"]) == ("ServerException", 500)


# -- what goes on the wire --------------------------------------------------------------------


def test_timestamps_are_tag_1_doubles_and_undeclared_members_are_left_out() -> None:
    result = {
        "MetricDataResults": [{"Id": "m", "Timestamps": [1700000000], "Values": [1], "X": 1}],
        "NextToken": None,
        "Messages": [],
        "Unknown": "dropped",
    }
    body = codec("cloudwatch").encode("GetMetricData", result, "r").body
    assert b"\xc1\xfb" + struct.pack(">d", 1700000000.0) in body  # tag 1, then a double
    assert b"\xfb" + struct.pack(">d", 1.0) in body  # a double member as a double
    decoded = cbor2.loads(body)
    assert decoded == {
        "MetricDataResults": [
            {"Id": "m", "Timestamps": [datetime.fromtimestamp(1700000000, UTC)], "Values": [1.0]}
        ],
        "Messages": [],
    }


# -- routing ----------------------------------------------------------------------------------


def test_routes_by_the_last_four_segments_and_the_namespaced_service_name() -> None:
    for path in (
        CW,
        "/v1" + CW,
        "/service/com.amazonaws.cloudwatch.GraniteServiceVersion20100801/operation/",
    ):
        assert codec("cloudwatch").operation(cbor_request("ListDashboards", b"", path=path)) == (
            "ListDashboards"
        )


@pytest.mark.parametrize(
    "request_",
    [
        cbor_request("NoSuchOperation", b""),
        cbor_request("ListDashboards", b"", path="/service/Route53AutoNaming_v20170314/operation/"),
        cbor_request("ListDashboards", b"", path="/operation/"),
        cbor_request("ListDashboards", b"", method="GET"),
        cbor_request("ListDashboards", b"\xa0", headers={"Content-Type": "application/cbor"}),
        cbor_request("ListDashboards", b"", headers={"Smithy-Protocol": "rpc-v2-json"}),
    ],
    ids=["operation", "service", "path", "method", "no-smithy-protocol", "other-protocol"],
)
def test_a_request_naming_no_operation_is_unknown_operation_404(request_: WireRequest) -> None:
    caught = fault(request_)
    assert (caught.code, caught.status) == ("UnknownOperationException", 404)
    got = botocore_error("cloudwatch", caught)
    assert (got["Code"], got["status"]) == ("UnknownOperationException", 404)


def test_x_amz_target_is_a_malformed_request() -> None:
    request = cbor_request("ListDashboards", b"", {**HEADERS, "X-Amz-Target": "x.ListDashboards"})
    assert (fault(request).code, fault(request).status) == ("SerializationException", 400)


# -- decoding ---------------------------------------------------------------------------------


def test_empty_bodies_and_empty_maps_are_the_empty_input() -> None:
    cw = codec("cloudwatch")
    for body in (b"", b"\xa0", b"\xbf\xff"):  # nothing, {}, {} of indefinite length
        assert cw.decode(cbor_request("ListDashboards", body), "ListDashboards") == {}
    assert cw.decode(cbor_request("ListDashboards", b"\xa0", {**HEADERS}), "ListDashboards") == {}


def test_a_body_without_content_type_is_read_as_cbor() -> None:
    body = cbor2.dumps({"MaxRecords": 5})
    request = cbor_request("DescribeAlarms", body, {"Smithy-Protocol": "rpc-v2-cbor"})
    assert codec("cloudwatch").decode(request, "DescribeAlarms") == {"MaxRecords": 5}


def test_lenient_forms_read_as_the_shape() -> None:
    body = cbor2.dumps(
        {
            "MaxRecords": 5,
            "StateValue": "OK",
            "AlarmNames": ["a", None],  # a null item stays, for the validator to report
            "NextToken": cbor2.undefined,  # undefined is null: absent
            "Unknown": [1, 2],
        }
    )
    decoded = codec("cloudwatch").decode(cbor_request("DescribeAlarms", body), "DescribeAlarms")
    assert decoded == {"MaxRecords": 5, "StateValue": "OK", "AlarmNames": ["a", None]}
    # A timestamp as tag 1 around an integer, or as a bare number.
    body = (
        b"\xa3"
        + cbor2.dumps("StartTime")
        + b"\xc1\x1a\x65\x53\xf1\x00"  # tag 1, 1700000000
        + cbor2.dumps("EndTime")
        + cbor2.dumps(1700000001.25)
        + cbor2.dumps("Period")
        + cbor2.dumps(60)
    )
    decoded = codec("cloudwatch").decode(
        cbor_request("GetMetricStatistics", body), "GetMetricStatistics"
    )
    assert decoded == {"StartTime": 1700000000, "EndTime": 1700000001.25, "Period": 60}


def test_doubles_take_integers_and_half_floats() -> None:
    # PutMetricData's Value is a double: 3 (an integer) and 1.5 (half precision) both read.
    item = b"\xa2" + cbor2.dumps("MetricName") + cbor2.dumps("m") + cbor2.dumps("Value")
    body = (
        b"\xa2"
        + cbor2.dumps("Namespace")
        + cbor2.dumps("n")
        + cbor2.dumps("MetricData")
        + b"\x82"
        + item
        + cbor2.dumps(3)
        + item
        + b"\xf9\x3e\x00"
    )
    decoded = codec("cloudwatch").decode(cbor_request("PutMetricData", body), "PutMetricData")
    values = [d["Value"] for d in decoded["MetricData"]]
    assert values == [3.0, 1.5] and all(type(v) is float for v in values)


@pytest.mark.parametrize(
    ("operation", "body", "words"),
    [
        ("DescribeAlarms", cbor2.dumps({"MaxRecords": 5})[:-1], "Malformed CBOR"),  # truncated
        ("DescribeAlarms", b"\xa1\x63Max", "Malformed CBOR"),  # a key cut short
        ("DescribeAlarms", b"\xff\xfe\xfd", "Malformed CBOR"),  # garbage
        ("DescribeAlarms", b"\xa0\xa0", "data follows"),  # two items
        ("DescribeAlarms", cbor2.dumps([1, 2]), "Expected structure, found a CBOR array"),
        ("DescribeAlarms", cbor2.dumps("text"), "found a CBOR text string"),
        ("DescribeAlarms", cbor2.dumps({"MaxRecords": "ten"}), "'MaxRecords'"),
        ("DescribeAlarms", cbor2.dumps({"MaxRecords": 1.5}), "Expected integer"),
        ("DescribeAlarms", cbor2.dumps({"MaxRecords": True}), "found a CBOR boolean"),
        ("DescribeAlarms", cbor2.dumps({"AlarmNames": "a"}), "Expected list"),
        ("DescribeAlarms", cbor2.dumps({"AlarmNames": [1]}), "'AlarmNames[0]'"),
        ("ListDashboards", cbor2.dumps({"DashboardNamePrefix": b"x"}), "byte string"),
        ("GetMetricStatistics", cbor2.dumps({"StartTime": "2024-01-01"}), "timestamp"),
        ("GetMetricStatistics", cbor2.dumps({"Period": cbor2.CBORTag(1, 5)}), "tag 1"),
        ("GetMetricStatistics", cbor2.dumps({"StartTime": cbor2.CBORTag(1, "x")}), "timestamp"),
        ("GetMetricStatistics", cbor2.dumps({"Dimensions": {"a": 1}}), "found a CBOR map"),
        ("PutDashboard", cbor2.dumps({"DashboardBody": 1}), "Expected string"),
        ("GetMetricWidgetImage", cbor2.dumps({"MetricWidget": None, "OutputFormat": 1}), "string"),
        ("PutMetricData", cbor2.dumps({"MetricData": [{"Value": "1"}]}), "MetricData[0].Value"),
        ("PutMetricData", cbor2.dumps({"MetricData": [{"Value": 2**2000}]}), "Expected double"),
        ("TagResource", cbor2.dumps({"Tags": [{"Key": 1}]}), "'Tags[0].Key'"),
        ("DescribeAlarms", cbor2.dumps({1: "x", "MaxRecords": "x"}), "MaxRecords"),
    ],
)
def test_unreadable_bodies_are_serialization_exception_400(
    operation: str, body: bytes, words: str
) -> None:
    caught = fault(cbor_request(operation, body))
    assert (caught.code, caught.status) == ("SerializationException", 400)
    assert words in caught.message
    got = botocore_error("cloudwatch", caught)
    assert (got["Code"], got["status"]) == ("SerializationException", 400)


def test_a_body_of_another_media_type_is_415() -> None:
    body = cbor2.dumps({"MaxRecords": 5})
    request = cbor_request("DescribeAlarms", body, {**HEADERS, "Content-Type": "application/json"})
    caught = fault(request)
    assert (caught.code, caught.status) == ("UnsupportedMediaTypeException", 415)


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(
    body=st.binary(max_size=64)
    | st.builds(lambda b: cbor2.dumps({"MaxRecords": 5})[:b], st.integers(0, 14))
)
def test_no_body_makes_anything_but_a_protocol_error(body: bytes) -> None:
    cw = codec("cloudwatch")
    for operation in ("DescribeAlarms", "PutMetricData", "ListDashboards"):
        try:
            cw.decode(cbor_request(operation, body), operation)
        except PortsideError as exc:
            assert (exc.code, exc.status) == ("SerializationException", 400)


def test_non_finite_doubles_round_trip() -> None:
    result = {"MetricAlarms": [{"AlarmName": "a", "Threshold": math.inf}]}
    reply = codec("cloudwatch").encode("DescribeAlarms", result, "r")
    model = codec("cloudwatch").model.operation_model("DescribeAlarms")
    parsed = botocore_reads(PROTOCOL, reply, model.output_shape)
    assert parsed["MetricAlarms"][0]["Threshold"] == math.inf
