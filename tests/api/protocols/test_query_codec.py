"""The query protocol codec against botocore at both ends: what botocore's serializer sends
decodes to the params it was given, and what the codec answers botocore's parser reads back
to the result it was given, for every operation of the query models Portside serves."""

from __future__ import annotations

from functools import cache
from typing import Any

import botocore.session
import pytest
from botocore_strategies import input_for, output_for
from botocore_wire import assert_decodes, assert_encodes, botocore_reads, client_through
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from portside.api.protocols.base import HeaderMap, WireRequest
from portside.api.protocols.query import QueryCodec
from portside.errors import NamedError, PortsideError, ServerException

SERVICES = ("sts", "iam", "elbv2", "autoscaling", "cloudwatch")
FORM = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
EXAMPLES = settings(max_examples=3, suppress_health_check=[HealthCheck.too_slow])


@cache
def codec(service: str) -> QueryCodec:
    return QueryCodec(botocore.session.get_session().get_service_model(service))


def every_operation() -> list[tuple[str, str]]:
    return [(s, op) for s in SERVICES for op in codec(s).model.operation_names]


def form(body: str, query: str = "", method: str = "POST") -> WireRequest:
    return WireRequest(method, "/", query, HeaderMap.of(FORM), body.encode())


def fault(service: str, request: WireRequest) -> PortsideError:
    with pytest.raises(PortsideError) as caught:
        found = codec(service)
        found.decode(request, found.operation(request))
    return caught.value


@pytest.mark.parametrize(("service", "operation"), every_operation())
@EXAMPLES
@given(data=st.data())
def test_botocore_round_trips(service: str, operation: str, data: st.DataObject) -> None:
    model = codec(service).model.operation_model(operation)
    # The query protocol sends nothing for an empty structure or map (`Name=` for an empty
    # list, though).
    params = data.draw(input_for(model), label="params")
    assert_decodes(codec(service), model, params, empty_structures=False)
    assert_encodes(codec(service), model, data.draw(output_for(model), label="result"))


def test_a_reply_is_the_documented_envelope() -> None:
    reply = codec("sts").encode(
        "GetCallerIdentity", {"Account": "1", "Arn": "a<b", "Bogus": "x", "UserId": None}, "r&1"
    )
    assert reply.body.decode() == (
        '<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">'
        "<GetCallerIdentityResult><Account>1</Account><Arn>a&lt;b</Arn>"
        "</GetCallerIdentityResult><ResponseMetadata><RequestId>r&amp;1</RequestId>"
        "</ResponseMetadata></GetCallerIdentityResponse>"
    )


def test_an_operation_without_output_answers_metadata_only() -> None:
    reply = codec("iam").encode("DeleteUser", {"Ignored": 1}, "r1")
    assert reply.body.decode() == (
        '<DeleteUserResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/">'
        "<ResponseMetadata><RequestId>r1</RequestId></ResponseMetadata></DeleteUserResponse>"
    )


def test_strings_keep_what_xml_would_lose() -> None:
    text = "a\r\nb\x01&]]>"
    reply = codec("sts").encode("GetCallerIdentity", {"Arn": text}, "r")
    parsed = botocore_reads(
        "query", reply, codec("sts").model.operation_model("GetCallerIdentity").output_shape
    )
    assert parsed["Arn"] == "a\r\nb\ufffd&]]>"  # no XML 1.0 document can carry \x01


def test_a_presigned_get_names_its_operation_and_drops_the_signature() -> None:
    client = botocore.session.get_session().create_client(
        "sts", region_name="us-east-1", aws_access_key_id="AKID", aws_secret_access_key="s"
    )
    url = client.generate_presigned_url(
        "assume_role", Params={"RoleArn": "arn:aws:iam::1:role/r", "RoleSessionName": "s1"}
    )
    query = url.split("?", 1)[1]
    assert "X-Amz-Signature=" in query
    request = form("", query, method="GET")
    assert codec("sts").operation(request) == "AssumeRole"
    assert codec("sts").decode(request, "AssumeRole") == {
        "RoleArn": "arn:aws:iam::1:role/r",
        "RoleSessionName": "s1",
    }


def test_query_string_and_body_are_read_together() -> None:
    request = form("UserName=body&Path=%2Fp%2F", query="Action=CreateUser&UserName=query")
    assert codec("iam").operation(request) == "CreateUser"
    assert codec("iam").decode(request, "CreateUser") == {"UserName": "body", "Path": "/p/"}


def test_lists_come_back_in_index_order_and_empty_lists_as_sent() -> None:
    body = "Action=DetachInstances&AutoScalingGroupName=g&ShouldDecrementDesiredCapacity=TRUE"
    body += "&InstanceIds.member.10=c&InstanceIds.member.2=b&InstanceIds.member.1=a"
    assert codec("autoscaling").decode(form(body), "DetachInstances") == {
        "AutoScalingGroupName": "g",
        "ShouldDecrementDesiredCapacity": True,
        "InstanceIds": ["a", "b", "c"],
    }
    decoded = codec("elbv2").decode(form("Action=DescribeTags&ResourceArns="), "DescribeTags")
    assert decoded == {"ResourceArns": []}


def test_timestamps_and_numbers_are_typed() -> None:
    body = (
        "Action=GetMetricStatistics&Namespace=n&MetricName=m&Period=60"
        "&StartTime=2023-11-14T22%3A13%3A20Z&EndTime=2023-11-14T22%3A13%3A20.250%2B00%3A00"
        "&Statistics.member.1=Sum"
    )
    decoded = codec("cloudwatch").decode(form(body), "GetMetricStatistics")
    assert decoded["StartTime"] == 1700000000 and decoded["EndTime"] == 1700000000.25
    assert decoded["Period"] == 60
    body = "Action=PutMetricData&Namespace=n&MetricData.member.1.Value=1.5e3"
    decoded = codec("cloudwatch").decode(form(body), "PutMetricData")
    assert decoded["MetricData"] == [{"Value": 1500.0}]


@pytest.mark.parametrize(
    ("body", "code", "text"),
    [
        ("UserName=x", "MissingAction", "Missing Action"),
        ("Action=", "MissingAction", "Missing Action"),
        ("Action=Nope&Version=2010-05-08", "InvalidAction", "Could not find operation Nope"),
        ("Action=ListUsers&Version=2009-01-01", "InvalidAction", "for version 2009-01-01"),
        ("Action=ListUsers&PathPrefix=%zz", "MalformedInput", "percent"),
        ("Action=ListUsers&PathPrefix=%C3%28", "MalformedInput", "UTF-8"),
        ("Action=ListUsers&MaxItems=ten", "MalformedInput", "'ten' at 'MaxItems'"),
        ("Action=ListUsers&MaxItems=99999999999", "MalformedInput", "Integer"),
        ("Action=ListUsers&MaxItems.member.1=1", "MalformedInput", "Start of structure"),
        (
            "Action=CreateUser&UserName=u&Tags.member.x.Key=k",
            "MalformedInput",
            "x is not a valid index",
        ),
        (
            "Action=CreateUser&UserName=u&Tags.member.0.Key=k",
            "MalformedInput",
            "0 is not a valid index",
        ),
        ("Action=CreateUser&UserName=u&Tags=oops", "MalformedInput", "A list was expected"),
        ("Action=CreateUser&UserName=u&Tags.member.1=oops", "MalformedInput", "structure"),
    ],
)
def test_unreadable_forms_are_typed_400s_in_the_query_envelope(
    body: str, code: str, text: str
) -> None:
    caught = fault("iam", form(body))
    assert (caught.code, caught.status) == (code, 400)
    assert text in caught.message
    parsed = botocore_reads("query", codec("iam").error(caught, "r1"), None)
    assert parsed["Error"] == {"Type": "Sender", "Code": code, "Message": caught.message}
    assert parsed["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_bad_types_deep_in_a_structure_name_the_field() -> None:
    body = (
        "Action=PutMetricData&Namespace=n&MetricData.member.2.Value=x&MetricData.member.1.Value=1"
    )
    caught = fault("cloudwatch", form(body))
    assert "at 'MetricData.member.2.Value'" in caught.message


@settings(max_examples=60)
@given(body=st.binary(max_size=40) | st.text(alphabet="=&.%+1aActionVrsMmbe", max_size=40))
def test_no_form_escapes_as_anything_but_a_portside_error(body: bytes | str) -> None:
    raw = body.encode() if isinstance(body, str) else body
    request = WireRequest("POST", "/", "", HeaderMap.of(FORM), b"Action=ListUsers&" + raw)
    try:
        codec("iam").decode(request, codec("iam").operation(request))
    except PortsideError as caught:
        assert caught.status == 400


@pytest.mark.parametrize("service", SERVICES)
def test_modeled_errors_answer_with_their_query_code_and_status(service: str) -> None:
    for shape in codec(service).model.error_shapes:
        meta = shape.metadata.get("error") or {}
        reply = codec(service).error(NamedError(shape.name, "why"), "r1")
        parsed = botocore_reads("query", reply, None)
        assert parsed["Error"]["Code"] == meta.get("code", shape.name)
        assert parsed["Error"]["Message"] == "why"
        assert reply.status == meta.get("httpStatusCode", 400)


def test_unmodeled_errors_keep_their_own_code_and_status() -> None:
    reply = codec("sts").error(ServerException("down"), "r9")
    parsed = botocore_reads("query", reply, None)
    assert reply.status == 500
    assert parsed["Error"] == {"Type": "Receiver", "Code": "ServerException", "Message": "down"}
    assert parsed["ResponseMetadata"]["RequestId"] == "r9"


def test_botocore_raises_the_modeled_exception_class() -> None:
    client: Any = botocore.session.get_session().create_client(
        "iam", region_name="us-east-1", aws_access_key_id="a", aws_secret_access_key="s"
    )
    reply = codec("iam").error(NamedError("EntityAlreadyExistsException", "taken"), "r")
    parsed = botocore_reads("query", reply, None)
    error = client.exceptions.from_code(parsed["Error"]["Code"])
    assert error is client.exceptions.EntityAlreadyExistsException


def test_a_boto_client_talks_to_the_codec() -> None:
    calls: list[tuple[str, dict[str, Any]]] = []

    def answer(operation: str, params: dict[str, Any]) -> dict[str, Any]:
        calls.append((operation, params))
        if operation == "GetUser":
            raise NamedError("NoSuchEntityException", f"The user {params['UserName']} is gone.")
        return {"Users": [{"UserName": "a", "Path": "/", "CreateDate": 1.5}], "IsTruncated": False}

    client = client_through(codec("iam"), answer)
    users = client.list_users(PathPrefix="/", MaxItems=10)["Users"]
    assert [(u["UserName"], u["CreateDate"].timestamp()) for u in users] == [("a", 1.5)]
    with pytest.raises(client.exceptions.NoSuchEntityException) as caught:
        client.get_user(UserName="bob")
    assert caught.value.response["Error"]["Message"] == "The user bob is gone."
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert calls == [
        ("ListUsers", {"PathPrefix": "/", "MaxItems": 10}),
        ("GetUser", {"UserName": "bob"}),
    ]
