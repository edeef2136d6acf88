"""SigV4-signed AWS JSON 1.1 calls for the benchmarks, over one keep-alive connection.

api_throughput.py's raw `Connection` costs a few µs a request (http.client ~100 µs, boto3
~1 ms), so a polling client costs the server little beyond the requests themselves. `sign`
builds a request once; `send` replays it. Not thread-safe: one client per thread.
"""

from __future__ import annotations

import json
from typing import Any

import orjson
from api_throughput import ACCESS_KEY, REGION, SECRET_KEY, TARGET_PREFIX, Connection
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

ECS = TARGET_PREFIX.rstrip(".")
LOGS = "Logs_20140328"


class ApiError(RuntimeError):
    """A call answered with an HTTP status other than 200."""


class Client:
    def __init__(
        self, port: int, service: str = "ecs", target: str = ECS, timeout: float = 120
    ) -> None:
        self.port = port
        self.netloc = f"127.0.0.1:{port}"
        self.target = target
        self.conn = Connection("127.0.0.1", port, timeout=timeout)
        self.auth = SigV4Auth(Credentials(ACCESS_KEY, SECRET_KEY), service, REGION)

    def sign(self, action: str, params: dict[str, Any]) -> bytes:
        body = json.dumps(params, separators=(",", ":")).encode()
        request = AWSRequest(
            method="POST",
            url=f"http://{self.netloc}/",
            data=body,
            headers={
                "Content-Type": "application/x-amz-json-1.1",
                "X-Amz-Target": f"{self.target}.{action}",
            },
        )
        self.auth.add_auth(request)
        lines = [b"POST / HTTP/1.1", f"Host: {self.netloc}".encode()]
        lines += [f"{k}: {v}".encode() for k, v in request.headers.items()]
        lines += [f"Content-Length: {len(body)}".encode(), b"", b""]
        return b"\r\n".join(lines) + body

    def send(self, raw: bytes) -> dict[str, Any]:
        """Send a signed request; once more on a fresh connection if the kept-alive one was
        closed (the server drops idle ones after 5 s). The callers send reads, or writes
        that may be repeated (RunTask with a clientToken, or where a second task is fine)."""
        for attempt in range(2):
            try:
                status, body = self.conn.exchange(raw)
                break
            except (OSError, ValueError):
                self.conn.close()
                if attempt:
                    raise
        data: dict[str, Any] = orjson.loads(body) if body else {}
        if status != 200:
            raise ApiError(f"HTTP {status}: {body[:500]!r}")
        return data

    def call(self, action: str, **params: Any) -> dict[str, Any]:
        return self.send(self.sign(action, params))

    def close(self) -> None:
        self.conn.close()


class Ecs(Client):
    """The ECS API."""

    def __init__(self, port: int, timeout: float = 120) -> None:
        super().__init__(port, "ecs", ECS, timeout)
