"""The one edge: STS over the query protocol (boto3, presigned URLs, both AWS CLIs), the
protocol chosen by the request, and the bounds every request meets before it is signed."""

from __future__ import annotations

import json
import socket
import subprocess
import time
from typing import Any
from xml.etree import ElementTree

import boto3
import httpx
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from harness import ACCESS_KEY, REGION, SECRET_KEY, ServerProcess

ECS_TARGET = "AmazonEC2ContainerServiceV20141113"


def _sts(server: ServerProcess, **kwargs: Any) -> Any:
    return boto3.client(
        "sts",
        endpoint_url=server.endpoint,
        region_name=REGION,
        aws_access_key_id=kwargs.pop("access_key", ACCESS_KEY),
        aws_secret_access_key=kwargs.pop("secret_key", SECRET_KEY),
        config=Config(retries={"max_attempts": 1}),
        **kwargs,
    )


def _xml_error(reply: httpx.Response) -> tuple[str, str]:
    root = ElementTree.fromstring(reply.content)
    code = root.find(".//{*}Error/{*}Code")
    message = root.find(".//{*}Error/{*}Message")
    assert code is not None and message is not None, reply.text
    return code.text or "", message.text or ""


def test_get_caller_identity_is_the_account_root(server: ServerProcess) -> None:
    found = _sts(server).get_caller_identity()
    assert found["Account"] == "000000000000"
    assert found["Arn"] == "arn:aws:iam::000000000000:root"
    assert found["UserId"] == "000000000000"


def test_presigned_get_caller_identity(server: ServerProcess) -> None:
    url = _sts(server).generate_presigned_url("get_caller_identity", ExpiresIn=60, HttpMethod="GET")
    reply = httpx.get(url)
    assert reply.status_code == 200, reply.text
    root = ElementTree.fromstring(reply.content)
    arn = root.find(".//{*}GetCallerIdentityResult/{*}Arn")
    assert arn is not None and arn.text == "arn:aws:iam::000000000000:root"
    # The same URL with its signature changed is refused.
    tampered = url.replace("X-Amz-Signature=", "X-Amz-Signature=0")
    refused = httpx.get(tampered)
    assert refused.status_code == 403
    assert _xml_error(refused)[0] == "SignatureDoesNotMatch"


def test_wrong_secret_is_refused_in_the_query_shape(server: ServerProcess) -> None:
    client = _sts(server, secret_key="wrong")
    with pytest.raises(client.exceptions.ClientError) as caught:
        client.get_caller_identity()
    assert caught.value.response["Error"]["Code"] == "SignatureDoesNotMatch"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_aws_cli_v1_and_v2(server: ServerProcess) -> None:
    assert server.aws("sts", "get-caller-identity")["Account"] == "000000000000"
    proc = subprocess.run(
        ["/usr/bin/aws", "sts", "get-caller-identity", "--endpoint-url", server.endpoint],
        env=server.env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["Arn"] == "arn:aws:iam::000000000000:root"


def _form(
    server: ServerProcess, body: str, service: str = "sts", sign: bool = True
) -> httpx.Response:
    headers = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
    request = AWSRequest("POST", server.endpoint + "/", data=body.encode(), headers=headers)
    if sign:
        SigV4Auth(Credentials(ACCESS_KEY, SECRET_KEY), service, REGION).add_auth(request)
    return httpx.post(server.endpoint + "/", content=body.encode(), headers=dict(request.headers))


def test_bad_query_requests_get_query_errors(server: ServerProcess) -> None:
    unsigned = _form(server, "Action=GetCallerIdentity&Version=2011-06-15", sign=False)
    assert unsigned.status_code == 403
    assert _xml_error(unsigned)[0] == "MissingAuthenticationToken"
    unknown = _form(server, "Action=NoSuchThing&Version=2011-06-15")
    assert unknown.status_code == 400
    assert _xml_error(unknown)[0] == "InvalidAction"
    missing = _form(server, "Version=2011-06-15")
    assert missing.status_code == 400
    assert _xml_error(missing)[0] in ("InvalidAction", "MissingAction")
    malformed = _form(server, "Action=GetCallerIdentity&Version=2011-06-15&%zz=1")
    assert malformed.status_code in (200, 400)  # tolerated as AWS does, or refused: never 500
    if malformed.status_code == 400:
        assert _xml_error(malformed)[0]


def test_query_for_a_json_only_service_is_refused(server: ServerProcess) -> None:
    reply = _form(server, "Action=ListClusters&Version=2014-11-13", service="ecs")
    assert reply.status_code == 400
    assert "not implement" in _xml_error(reply)[1]


# -- bounds -----------------------------------------------------------------------------------


def _raw(server: ServerProcess, data: bytes, wait: float = 30) -> bytes:
    """Send raw bytes and read until the server closes the connection."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=wait) as sock:
        sock.sendall(data)
        chunks = []
        while True:
            try:
                chunk = sock.recv(65536)
            except (ConnectionResetError, TimeoutError):
                break
            if not chunk:
                break
            chunks.append(chunk)
        return b"".join(chunks)


def _still_serves(server: ServerProcess) -> None:
    assert server.client("ecs").list_clusters()["clusterArns"] is not None


def test_a_body_over_the_limit_is_refused_unread(server: ServerProcess) -> None:
    head = (
        f"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-amz-json-1.1\r\n"
        f"X-Amz-Target: {ECS_TARGET}.ListClusters\r\nContent-Length: {50 * 1024 * 1024}\r\n\r\n"
    ).encode()
    reply = _raw(server, head + b"{" * 4096)
    assert reply.startswith(b"HTTP/1.1 413"), reply[:200]
    assert b"RequestEntityTooLargeException" in reply
    _still_serves(server)


def test_a_chunked_body_over_the_limit_is_refused(server: ServerProcess) -> None:
    reply = httpx.post(
        server.endpoint + "/",
        content=iter([b" " * (256 * 1024)] * 8),  # 2 MiB, chunked: no Content-Length
        headers={
            "Content-Type": "application/x-amz-json-1.1",
            "X-Amz-Target": f"{ECS_TARGET}.ListClusters",
        },
    )
    assert reply.status_code == 413
    assert reply.json()["__type"] == "RequestEntityTooLargeException"
    _still_serves(server)


def test_too_many_or_too_large_headers(server: ServerProcess) -> None:
    many = "".join(f"X-H{i}: v\r\n" for i in range(200))
    reply = _raw(server, f"GET /_portside/health HTTP/1.1\r\nHost: x\r\n{many}\r\n".encode())
    assert reply.startswith(b"HTTP/1.1 431"), reply[:200]
    big = "X-Big: " + "a" * (128 * 1024) + "\r\n"
    reply = _raw(server, f"GET /_portside/health HTTP/1.1\r\nHost: x\r\n{big}\r\n".encode())
    assert reply.startswith(b"HTTP/1.1 431") or reply.startswith(b"HTTP/1.1 400"), reply[:200]
    _still_serves(server)


def test_conflicting_content_length_and_transfer_encoding(server: ServerProcess) -> None:
    reply = _raw(
        server,
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-amz-json-1.1\r\n"
        b"Content-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    )
    assert reply.startswith(b"HTTP/1.1 400"), reply[:200]
    _still_serves(server)


def test_a_slow_head_is_timed_out(server: ServerProcess) -> None:
    started = time.monotonic()
    reply = _raw(server, b"POST / HTTP/1.1\r\nHost: x\r\n", wait=60)
    assert reply.startswith(b"HTTP/1.1 408") or reply == b"", reply[:200]
    assert time.monotonic() - started < 60  # closed by the server, not by our own timeout


def test_idle_and_slow_connections_do_not_hold_up_calls(server: ServerProcess) -> None:
    idle = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(300)]
    slow = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(50)]
    try:
        for sock in slow:
            sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{")
        for _ in range(20):
            _still_serves(server)
    finally:
        for sock in idle + slow:
            sock.close()


def test_portside_routes_have_a_body_limit_too(server: ServerProcess) -> None:
    head = (
        "POST /_portside/agent/v1/sync HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"Content-Length: {64 * 1024 * 1024}\r\n\r\n"
    ).encode()
    assert _raw(server, head + b"{").startswith(b"HTTP/1.1 413")
    chunked = httpx.post(
        server.endpoint + "/_portside/agent/v1/sync",
        content=iter([b" " * (1024 * 1024)] * 20),
        headers={"Content-Type": "application/json"},
    )
    assert chunked.status_code == 413
    _still_serves(server)
