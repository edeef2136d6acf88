"""SigV4 on real requests: every way a signature can be wrong, and what ECS answers for each.

What real AWS does, and where we read it:

* Coral (the framework behind ECS's front end) resolves the operation before it authenticates:
  it must, since whether a call needs a signature depends on the operation (cognito-idp's
  InitiateAuth takes unsigned calls on the same endpoint as signed ones, aws/aws-sdk-ruby#1751),
  and a call with no SigV4 signature to a path that is no operation was answered
  `com.amazon.coral.service#UnknownOperationException` (AppSync, aws/aws-sdk-go#3689). So an
  unknown target, or a body that is not AWS JSON, is UnknownOperationException signed or not;
  an operation AWS knows authenticates first. No capture of ECS itself was found.
* UnknownOperationException is HTTP 400 (aws/aws-sdk-net#1536, CloudWatch Logs;
  sharethrough/flume-kinesis#11, Firehose), also for a wrong Content-Type
  (disneystreaming/smithy4s#167, Kinesis with application/octet-stream).
* ECS's own clock window has been seen at 5 minutes ("... (20191210T034404Z - 5 min.)",
  fabfuel/ecs-deploy#126); Portside keeps SigV4's general 15 minutes, in the same wording.

Portside answers authentication faults with HTTP 403 (docs/architecture.md); real ECS uses 400
(the captures above say "status code: 400"). SDKs read `__type`, not the status, so both work;
AUTH_STATUS names the choice in one place.
"""

from __future__ import annotations

import datetime
import hashlib
import subprocess
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from contract import attach, check_error, check_output
from harness import ACCESS_KEY, BIN, SECRET_KEY, ServerProcess
from signing import ECS_PREFIX, Reply, Wire, amz_date

AUTH_STATUS = 403
MISMATCH = "The request signature we calculated does not match the signature you provided."


@pytest.fixture(scope="module")
def wire(server: ServerProcess) -> Iterator[Wire]:
    made = Wire(server.endpoint)
    yield made
    made.close()


def refused(reply: Reply, code: str, status: int = AUTH_STATUS) -> str:
    """Assert the reply is the error `code` with a well-formed body; return its message."""
    assert (reply.status, reply.error) == (status, code), (reply.status, reply.raw[:300])
    check_error(reply.body)
    assert reply.headers["content-type"].startswith("application/x-amz-json-1.1")
    assert reply.headers.get("x-amzn-requestid")
    return reply.message


def ago(minutes: float) -> str:
    return amz_date(datetime.datetime.now(datetime.UTC) - datetime.timedelta(minutes=minutes))


# A good signature


def test_a_signed_request_succeeds(wire: Wire) -> None:
    reply = wire.call("ListClusters")
    assert reply.status == 200, reply.raw
    check_output("ecs", "ListClusters", reply.body)


def test_unsigned_headers_added_after_signing_are_ignored(wire: Wire) -> None:
    headers = wire.prepare("ListClusters")
    headers["X-Forwarded-For"] = "10.0.0.1"
    assert wire.send(headers).status == 200


def test_the_region_comes_from_the_signature(wire: Wire, name: str) -> None:
    reply = wire.call("CreateCluster", {"clusterName": name}, region="eu-west-1")
    assert reply.status == 200, reply.raw
    arn = reply.body["cluster"]["clusterArn"]
    assert arn == f"arn:aws:ecs:eu-west-1:000000000000:cluster/{name}"
    # Regions never see each other.
    listed = wire.call("ListClusters", region="eu-west-1").body["clusterArns"]
    assert arn in listed
    assert arn not in wire.call("ListClusters").body["clusterArns"]


def test_a_few_minutes_of_clock_skew_are_accepted(wire: Wire) -> None:
    assert wire.call("ListClusters", when=ago(14)).status == 200
    assert wire.call("ListClusters", when=ago(-14)).status == 200


# Who signed


def test_unknown_access_key(wire: Wire) -> None:
    message = refused(
        wire.call("ListClusters", access_key="AKIAUNKNOWN000000000"), "UnrecognizedClientException"
    )
    assert message == "The security token included in the request is invalid."


def test_wrong_secret(wire: Wire) -> None:
    message = refused(wire.call("ListClusters", secret_key="wrong"), "InvalidSignatureException")
    assert message.startswith(MISMATCH)


# What was signed


def test_tampered_body(wire: Wire) -> None:
    headers = wire.prepare("CreateCluster", b'{"clusterName": "a"}')
    refused(wire.send(headers, b'{"clusterName": "b"}'), "InvalidSignatureException")


def test_tampered_signed_header(wire: Wire) -> None:
    headers = wire.prepare("ListClusters")
    headers["X-Amz-Target"] = f"{ECS_PREFIX}.DescribeClusters"
    refused(wire.send(headers), "InvalidSignatureException")


def test_tampered_date(wire: Wire) -> None:
    headers = wire.prepare("ListClusters", when=ago(1))
    headers["X-Amz-Date"] = ago(0)
    refused(wire.send(headers), "InvalidSignatureException")


def test_a_claimed_payload_hash_does_not_cover_another_body(wire: Wire) -> None:
    """X-Amz-Content-SHA256 is S3's: the signature covers the body that came, whatever hash
    the request claims for it."""
    signed_body = b'{"clusterName": "a"}'
    claimed = {"X-Amz-Content-SHA256": hashlib.sha256(signed_body).hexdigest()}
    headers = wire.prepare("CreateCluster", signed_body, extra=claimed)
    assert wire.send(headers, signed_body).status == 200
    refused(wire.send(headers, b'{"clusterName": "tampered"}'), "InvalidSignatureException")


def test_unsigned_payload_is_refused(wire: Wire) -> None:
    extra = {"X-Amz-Content-SHA256": "UNSIGNED-PAYLOAD"}
    headers = wire.prepare("CreateCluster", b'{"clusterName": "a"}', extra=extra)
    refused(wire.send(headers, b'{"clusterName": "a"}'), "InvalidSignatureException")


# When it was signed


@pytest.mark.parametrize("minutes", [16, 60])
def test_expired_signature(wire: Wire, minutes: int) -> None:
    message = refused(wire.call("ListClusters", when=ago(minutes)), "InvalidSignatureException")
    assert message.startswith("Signature expired: ")
    assert message.endswith(" - 15 min.)")


@pytest.mark.parametrize("minutes", [16, 60])
def test_signature_from_the_future(wire: Wire, minutes: int) -> None:
    message = refused(wire.call("ListClusters", when=ago(-minutes)), "InvalidSignatureException")
    assert message.startswith("Signature not yet current: ")
    assert message.endswith(" + 15 min.)")


def test_date_not_in_basic_format(wire: Wire) -> None:
    headers = wire.prepare("ListClusters")
    headers["X-Amz-Date"] = "2024-01-01T00:00:00Z"
    refused(wire.send(headers), "IncompleteSignatureException")


def test_scope_date_differs_from_request_date(wire: Wire) -> None:
    headers = wire.prepare("ListClusters")
    day = headers["X-Amz-Date"][:8]
    headers["Authorization"] = headers["Authorization"].replace(f"/{day}/", "/20000101/")
    message = refused(wire.send(headers), "InvalidSignatureException")
    assert message.startswith("Date in Credential scope does not match")


# How it was signed


def test_no_authorization_header(wire: Wire) -> None:
    message = refused(wire.call("ListClusters", sign=False), "MissingAuthenticationTokenException")
    assert message == "Missing Authentication Token"


def test_empty_authorization_header(wire: Wire) -> None:
    reply = wire.call("ListClusters", sign=False, extra={"Authorization": ""})
    refused(reply, "MissingAuthenticationTokenException")


@pytest.mark.parametrize("part", ["Signature", "Credential", "SignedHeaders"])
def test_authorization_missing_a_part(wire: Wire, part: str) -> None:
    headers = wire.prepare("ListClusters")
    algorithm, _, fields = headers["Authorization"].partition(" ")
    kept = [f for f in fields.split(", ") if not f.startswith(part + "=")]
    headers["Authorization"] = f"{algorithm} {', '.join(kept)}"
    message = refused(wire.send(headers), "IncompleteSignatureException")
    assert f"'{part}'" in message


@pytest.mark.parametrize("algorithm", ["AWS4-HMAC-SHA1", "AWS4-ECDSA-P256-SHA256", "AWS", "Bearer"])
def test_wrong_algorithm(wire: Wire, algorithm: str) -> None:
    headers = wire.prepare("ListClusters")
    headers["Authorization"] = headers["Authorization"].replace("AWS4-HMAC-SHA256", algorithm, 1)
    message = refused(wire.send(headers), "IncompleteSignatureException")
    assert algorithm in message


def test_garbage_authorization(wire: Wire) -> None:
    reply = wire.call("ListClusters", sign=False, extra={"Authorization": "AWS4-HMAC-SHA256 x"})
    refused(reply, "IncompleteSignatureException")


def test_malformed_credential_scope(wire: Wire) -> None:
    headers = wire.prepare("ListClusters")
    headers["Authorization"] = headers["Authorization"].replace("/aws4_request", "/aws5_request")
    refused(wire.send(headers), "IncompleteSignatureException")


def test_missing_date_header(wire: Wire) -> None:
    headers = wire.prepare("ListClusters")
    del headers["X-Amz-Date"]
    refused(wire.send(headers), "IncompleteSignatureException")


def test_host_must_be_signed(wire: Wire) -> None:
    headers = wire.prepare("ListClusters")
    auth = headers["Authorization"]
    headers["Authorization"] = auth.replace("SignedHeaders=", "SignedHeaders=x;").replace(
        "host;", ""
    )
    message = refused(wire.send(headers), "IncompleteSignatureException")
    assert "'Host'" in message


def test_non_ascii_signature_is_a_mismatch_not_a_fault(wire: Wire) -> None:
    headers: dict[str, str | bytes] = {**wire.prepare("ListClusters")}
    head, _, _ = str(headers["Authorization"]).rpartition("Signature=")
    headers["Authorization"] = head.encode() + b"Signature=caf\xe9"
    refused(wire.send(headers), "InvalidSignatureException")


def test_credential_scoped_to_another_service(wire: Wire) -> None:
    message = refused(wire.call("ListClusters", service="s3"), "InvalidSignatureException")
    assert message.startswith("Credential should be scoped to correct service: 'ecs'.")


@pytest.mark.parametrize("region", ["", "US-EAST-1", "us east 1", "us-east-1:0", "us.east"])
def test_credential_scoped_to_an_invalid_region(wire: Wire, region: str) -> None:
    # A region becomes part of every ARN; one that no ARN can hold is refused at the door.
    message = refused(wire.call("ListClusters", region=region), "InvalidSignatureException")
    assert message.startswith("Credential should be scoped to a valid region")


# Routing: what AWS resolves before it authenticates


@pytest.mark.parametrize("sign", [True, False])
@pytest.mark.parametrize(
    "target",
    [
        f"{ECS_PREFIX}.NoSuchAction",
        f"{ECS_PREFIX}.",
        "DynamoDB_20120810.ListTables",
        "ListClusters",
        "",
    ],
)
def test_unknown_target_is_unknown_operation_signed_or_not(
    wire: Wire, target: str, sign: bool
) -> None:
    refused(wire.call(None, target=target, sign=sign), "UnknownOperationException", 400)


def test_missing_target_is_unknown_operation(wire: Wire) -> None:
    refused(wire.call(None), "UnknownOperationException", 400)


@pytest.mark.parametrize("sign", [True, False])
@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/octet-stream", "application/xml", None]
)
def test_body_that_is_not_aws_json_is_unknown_operation(
    wire: Wire, content_type: str | None, sign: bool
) -> None:
    reply = wire.call("ListClusters", content_type=content_type, sign=sign)
    assert "content type" in refused(reply, "UnknownOperationException", 400)


@pytest.mark.parametrize(
    "content_type",
    ["application/x-amz-json-1.0", "application/json", "application/x-amz-json-1.1; charset=utf-8"],
)
def test_other_json_content_types_are_accepted(wire: Wire, content_type: str) -> None:
    assert wire.call("ListClusters", content_type=content_type).status == 200


# Every ECS action is served (tests/api/test_new_user_calls.py probes them all); Parameter
# Store's SendCommand, in its model but not served, stands for an unimplemented action.
SEND_COMMAND = {"target": "AmazonSSM.SendCommand", "service": "ssm"}


def test_unimplemented_action_says_so(wire: Wire) -> None:
    message = refused(wire.call(None, **SEND_COMMAND), "UnknownOperationException", 400)
    assert "SendCommand" in message
    assert "not implement" in message


def test_unimplemented_action_still_needs_a_signature(wire: Wire) -> None:
    # SSM knows SendCommand, so it authenticates before anything else.
    refused(wire.call(None, sign=False, **SEND_COMMAND), "MissingAuthenticationTokenException")
    refused(wire.call(None, secret_key="wrong", **SEND_COMMAND), "InvalidSignatureException")


def test_known_action_unsigned_learns_nothing_of_the_body(wire: Wire) -> None:
    reply = wire.raw("CreateCluster", b"{not json", sign=False)
    refused(reply, "MissingAuthenticationTokenException")


def test_wrong_method_or_path(wire: Wire) -> None:
    assert wire.http.get(wire.endpoint + "/").status_code == 405
    assert wire.http.post(wire.endpoint + "/elsewhere").status_code == 404


# Real clients


def _boto3(server: ServerProcess, secret: str) -> Any:
    client = boto3.client(
        "ecs",
        endpoint_url=server.endpoint,
        region_name="us-east-1",
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=secret,
        config=Config(retries={"max_attempts": 1}),
    )
    return attach(client)


def test_boto3_with_the_wrong_secret(server: ServerProcess) -> None:
    with pytest.raises(ClientError) as caught:
        _boto3(server, "wrong-secret").list_clusters()
    error = caught.value.response
    assert error["Error"]["Code"] == "InvalidSignatureException"
    assert error["ResponseMetadata"]["HTTPStatusCode"] == AUTH_STATUS
    assert _boto3(server, SECRET_KEY).list_clusters()["clusterArns"] is not None


def test_boto3_with_an_unknown_key(server: ServerProcess) -> None:
    client = server.client(access_key="AKIAUNKNOWN000000000")
    with pytest.raises(ClientError) as caught:
        client.describe_clusters()
    assert caught.value.response["Error"]["Code"] == "UnrecognizedClientException"


def test_aws_cli_with_the_wrong_secret(server: ServerProcess) -> None:
    env = {**server.env(), "AWS_SECRET_ACCESS_KEY": "wrong-secret"}
    proc = subprocess.run(
        [str(BIN / "aws"), "ecs", "list-clusters", "--output", "json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode != 0
    assert "InvalidSignatureException" in proc.stderr
    assert "signature we calculated does not match" in proc.stderr


def test_aws_cli_signed_for_another_region(server: ServerProcess, name: str) -> None:
    created = server.aws("ecs", "create-cluster", "--cluster-name", name, "--region", "eu-west-1")
    assert created["cluster"]["clusterArn"].startswith("arn:aws:ecs:eu-west-1:")
