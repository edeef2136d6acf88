"""HTTP/1.1 on the API's path (`POST /` is answered outside ASGI, portside/api/http.py):
keep-alive, pipelining in order, `Connection: close`, HTTP/1.0, `Expect: 100-continue`, and
the headers every answer carries."""

from __future__ import annotations

import socket
from typing import Any
from urllib.parse import urlsplit

import orjson
from harness import ServerProcess
from signing import Wire


def _connect(server: ServerProcess) -> socket.socket:
    url = urlsplit(server.endpoint)
    sock = socket.create_connection((url.hostname or "127.0.0.1", url.port or 80), timeout=10)
    return sock


def _request(
    wire: Wire,
    action: str,
    params: Any,
    *,
    version: str = "1.1",
    extra: dict[str, str] | None = None,
) -> bytes:
    body = orjson.dumps(params)
    headers = wire.prepare(action, body)
    lines = [f"POST / HTTP/{version}", f"Host: {urlsplit(wire.endpoint).netloc}"]
    lines += [f"{k}: {v}" for k, v in headers.items() if k.lower() != "host"]
    lines += [f"{k}: {v}" for k, v in (extra or {}).items()]
    lines += [f"Content-Length: {len(body)}", "", ""]
    return "\r\n".join(lines).encode() + body


class _Responses:
    """Reads HTTP/1.1 responses (Content-Length framed) off a socket, one at a time."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buf = b""

    def _fill(self) -> bool:
        data = self.sock.recv(65536)
        self.buf += data
        return bool(data)

    def next(self) -> tuple[int, dict[str, str], bytes]:
        while b"\r\n\r\n" not in self.buf:
            assert self._fill(), f"connection closed mid-response: {self.buf!r}"
        head, _, self.buf = self.buf.partition(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        status = int(status_line.split()[1])
        headers = {}
        for line in header_lines:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        if status == 100:
            return status, headers, b""
        length = int(headers["content-length"])
        while len(self.buf) < length:
            assert self._fill(), "connection closed mid-body"
        body, self.buf = self.buf[:length], self.buf[length:]
        return status, headers, body

    def closed(self) -> bool:
        try:
            return not self.buf and not self._fill()
        except TimeoutError:
            return False


def test_pipelined_calls_are_answered_in_order(server: ServerProcess, name: str) -> None:
    wire = Wire(server.endpoint)
    # ListClusters answers its first 100 in ARN order and the session server holds many
    # clusters: a name that sorts first is on that page when the calls run in order.
    name = "000" + name
    requests = [
        _request(wire, "CreateCluster", {"clusterName": name}),  # a write, in a thread
        _request(wire, "DescribeClusters", {"clusters": [name]}),  # a read, inline
        _request(wire, "ListClusters", {}),
        _request(wire, "DescribeClusters", {"clusters": [name + "-none"]}),
    ]
    with _connect(server) as sock:
        sock.sendall(b"".join(requests))  # all at once: pipelined
        replies = _Responses(sock)
        answers = [replies.next() for _ in requests]
    statuses = [status for status, _, _ in answers]
    assert statuses == [200, 200, 200, 200]
    created, described, listed, missing = (orjson.loads(body) for _, _, body in answers)
    assert created["cluster"]["clusterName"] == name
    assert described["clusters"][0]["clusterName"] == name
    assert created["cluster"]["clusterArn"] in listed["clusterArns"]
    assert missing["failures"][0]["reason"] == "MISSING"
    ids = [headers["x-amzn-requestid"] for _, headers, _ in answers]
    assert len(set(ids)) == len(ids)
    for _, headers, _ in answers:
        assert headers["content-type"] == "application/x-amz-json-1.1"
        assert "date" in headers


def test_errors_keep_the_connection_open(server: ServerProcess) -> None:
    wire = Wire(server.endpoint)
    with _connect(server) as sock:
        replies = _Responses(sock)
        sock.sendall(_request(wire, "DescribeTaskDefinition", {"taskDefinition": "nope:1"}))
        status, _, body = replies.next()
        assert status == 400 and orjson.loads(body)["__type"] == "ClientException"
        sock.sendall(_request(wire, "ListClusters", {}))
        status, _, body = replies.next()
        assert status == 200 and "clusterArns" in orjson.loads(body)


def test_connection_close_and_http_1_0_close_after_the_answer(server: ServerProcess) -> None:
    wire = Wire(server.endpoint)
    for version, extra in (("1.1", {"Connection": "close"}), ("1.0", None)):
        with _connect(server) as sock:
            sock.sendall(_request(wire, "ListClusters", {}, version=version, extra=extra))
            replies = _Responses(sock)
            status, headers, _ = replies.next()
            assert status == 200
            assert headers.get("connection") == "close"
            assert replies.closed()


def test_expect_100_continue(server: ServerProcess) -> None:
    wire = Wire(server.endpoint)
    raw = _request(wire, "ListClusters", {}, extra={"Expect": "100-continue"})
    head, _, body = raw.partition(b"\r\n\r\n")
    with _connect(server) as sock:
        sock.sendall(head + b"\r\n\r\n")
        replies = _Responses(sock)
        status, _, _ = replies.next()
        assert status == 100
        sock.sendall(body)
        status, _, answer = replies.next()
        assert status == 200 and "clusterArns" in orjson.loads(answer)
