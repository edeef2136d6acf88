"""The EC2 codec against botocore at both ends (its `EC2Serializer` and `EC2QueryParser`),
for a fixed sample of EC2's operations that reaches every kind of shape the model has."""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache
from typing import Any

import botocore.session
import pytest
from botocore.model import ListShape, MapShape, Shape, StructureShape
from botocore_strategies import input_for, output_for
from botocore_wire import assert_decodes, assert_encodes, botocore_reads, client_through
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from portside.api.protocols.base import HeaderMap, WireRequest
from portside.api.protocols.ec2 import Ec2Codec
from portside.errors import NamedError, PortsideError, ServerException

FORM = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
EXAMPLES = settings(max_examples=3, suppress_health_check=[HealthCheck.too_slow])
STRIDE = 4  # every 4th operation in name order (216 of EC2's 862), see sample()


@cache
def codec() -> Ec2Codec:
    return Ec2Codec(botocore.session.get_session().get_service_model("ec2"))


def reached(name: str) -> set[tuple[str, str]]:
    """The kinds of shape an operation's input and output reach, by direction."""
    operation = codec().model.operation_model(name)
    found = {("in", kind) for kind in kinds(operation.input_shape, set())}
    return found | {("out", kind) for kind in kinds(operation.output_shape, set())}


@cache
def sample() -> list[str]:
    """Every 4th operation in name order, and for each kind of shape (in each direction)
    those miss, the first operation that reaches it."""
    names = sorted(codec().model.operation_names)
    chosen = names[::STRIDE]
    covered = set().union(*(reached(name) for name in chosen))
    for name in names:
        missing = reached(name) - covered
        if missing:
            chosen.append(name)
            covered |= missing
    return chosen


def kinds(shape: Shape | None, seen: set[str]) -> Iterator[str]:
    """The type names reachable from `shape`."""
    if shape is None or (isinstance(shape, StructureShape) and shape.name in seen):
        return
    seen.add(shape.name)
    yield shape.type_name
    if isinstance(shape, StructureShape):
        for member in shape.members.values():
            yield from kinds(member, seen)
    elif isinstance(shape, ListShape):
        yield from kinds(shape.member, seen)
    elif isinstance(shape, MapShape):
        yield from kinds(shape.key, seen)
        yield from kinds(shape.value, seen)


def test_the_sample_reaches_every_kind_of_shape() -> None:
    every = set().union(*(reached(name) for name in codec().model.operation_names))
    assert len(sample()) >= 150
    assert set().union(*(reached(name) for name in sample())) == every
    assert {kind for _, kind in every} >= {"blob", "float", "double", "long", "timestamp"}


def form(body: str) -> WireRequest:
    return WireRequest("POST", "/", "", HeaderMap.of(FORM), body.encode())


@pytest.mark.parametrize("operation", sample())
@EXAMPLES
@given(data=st.data())
def test_botocore_round_trips(operation: str, data: st.DataObject) -> None:
    model = codec().model.operation_model(operation)
    # EC2 sends nothing for an empty structure, map or list.
    params = data.draw(input_for(model), label="params")
    assert_decodes(codec(), model, params, empty_structures=False, empty_lists=False)
    assert_encodes(codec(), model, data.draw(output_for(model), label="result"))


def test_a_reply_is_ec2s_envelope() -> None:
    result = {"Return": True, "KeyPairId": "k-1"}
    reply = codec().encode("DeleteKeyPair", result, "r1")
    assert reply.body.decode() == (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<DeleteKeyPairResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15">'
        "<requestId>r1</requestId><return>true</return><keyPairId>k-1</keyPairId>"
        "</DeleteKeyPairResponse>"
    )
    reply = codec().encode("DescribeRegions", {"Regions": [{"RegionName": "r"}]}, "r2")
    assert b"<regionInfo><item><regionName>r</regionName></item></regionInfo>" in reply.body


def test_fields_use_ec2_names() -> None:
    body = (
        "Action=DescribeInstances&Version=2016-11-15&InstanceId.2=i-2&InstanceId.1=i-1"
        "&Filter.1.Name=tag%3Aa&Filter.1.Value.1=x+y&MaxResults=7&DryRun=false"
    )
    assert codec().operation(form(body)) == "DescribeInstances"
    assert codec().decode(form(body), "DescribeInstances") == {
        "InstanceIds": ["i-1", "i-2"],
        "Filters": [{"Name": "tag:a", "Values": ["x y"]}],
        "MaxResults": 7,
        "DryRun": False,
    }


def test_blobs_are_base64() -> None:
    body = "Action=ImportKeyPair&KeyName=k&PublicKeyMaterial=c3NoLXJzYSBBQUFB"
    assert codec().decode(form(body), "ImportKeyPair")["PublicKeyMaterial"] == b"ssh-rsa AAAA"


def test_any_version_is_served() -> None:
    assert codec().operation(form("Action=DescribeRegions&Version=2014-10-01")) == "DescribeRegions"


@pytest.mark.parametrize(
    ("body", "code", "text"),
    [
        ("InstanceId.1=i", "MissingAction", "Missing Action"),
        ("Action=DescribeInstancez", "InvalidAction", "The action DescribeInstancez is not valid"),
        ("Action=DescribeInstances&MaxResults=many", "InvalidParameterValue", "(many)"),
        ("Action=DescribeInstances&DryRun=yes", "InvalidParameterValue", "Boolean"),
        ("Action=ImportKeyPair&PublicKeyMaterial=%21%21", "InvalidParameterValue", "Blob"),
        ("Action=DescribeInstances&InstanceId.one=i", "InvalidQueryParameter", "one is not"),
        ("Action=DescribeInstances&Filter.1.Value.0=v", "InvalidQueryParameter", "0 is not"),
        ("Action=DescribeInstances&InstanceId=i", "InvalidQueryParameter", "A list was"),
        ("Action=DescribeInstances&MaxResults.1=5", "InvalidQueryParameter", "Start of"),
        ("Action=DescribeInstances&InstanceId.1=%", "InvalidQueryParameter", "percent"),
    ],
)
def test_unreadable_forms_are_typed_400s_in_ec2s_envelope(body: str, code: str, text: str) -> None:
    with pytest.raises(PortsideError) as caught:
        codec().decode(form(body), codec().operation(form(body)))
    assert (caught.value.code, caught.value.status) == (code, 400)
    assert text in caught.value.message
    reply = codec().error(caught.value, "r1")
    parsed = botocore_reads("ec2", reply, None)
    assert parsed["Error"] == {"Code": code, "Message": caught.value.message}
    assert parsed["ResponseMetadata"] == {
        "RequestId": "r1",
        "HTTPStatusCode": 400,
        "HTTPHeaders": {"content-type": "text/xml"},
    }


@settings(max_examples=60)
@given(body=st.binary(max_size=40) | st.text(alphabet="=&.%+10InstaceIdFlVu", max_size=40))
def test_no_form_escapes_as_anything_but_a_portside_error(body: bytes | str) -> None:
    raw = body.encode() if isinstance(body, str) else body
    request = WireRequest("POST", "/", "", HeaderMap.of(FORM), b"Action=DescribeInstances&" + raw)
    try:
        codec().decode(request, codec().operation(request))
    except PortsideError as caught:
        assert caught.status == 400


def test_errors_keep_their_code_and_status() -> None:
    reply = codec().error(NamedError("InvalidInstanceID.NotFound", "no such i-1"), "r")
    parsed = botocore_reads("ec2", reply, None)
    assert reply.status == 400
    assert parsed["Error"] == {"Code": "InvalidInstanceID.NotFound", "Message": "no such i-1"}
    reply = codec().error(ServerException("down"), "r")
    assert reply.status == 500
    assert botocore_reads("ec2", reply, None)["Error"]["Code"] == "ServerException"


def test_a_boto_client_talks_to_the_codec() -> None:
    def answer(operation: str, params: dict[str, Any]) -> dict[str, Any]:
        if operation == "TerminateInstances":
            raise NamedError("InvalidInstanceID.NotFound", "The instance ID 'i-9' does not exist")
        assert params == {"Filters": [{"Name": "instance-state-name", "Values": ["running"]}]}
        instance = {
            "InstanceId": "i-1",
            "State": {"Code": 16, "Name": "running"},
            "EbsOptimized": False,
        }
        return {"Reservations": [{"ReservationId": "r-1", "Instances": [instance]}]}

    client = client_through(codec(), answer)
    found = client.describe_instances(
        Filters=[{"Name": "instance-state-name", "Values": ["running"]}]
    )
    instance = found["Reservations"][0]["Instances"][0]
    assert (instance["InstanceId"], instance["State"]["Code"], instance["EbsOptimized"]) == (
        "i-1",
        16,
        False,
    )
    assert found["ResponseMetadata"]["RequestId"] == "r"
    with pytest.raises(client.exceptions.ClientError) as caught:
        client.terminate_instances(InstanceIds=["i-9"])
    assert caught.value.response["Error"]["Code"] == "InvalidInstanceID.NotFound"
