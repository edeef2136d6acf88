"""A webhook for event-delivery tests: a tiny HTTP server on 127.0.0.1 in the test process
that records every request and answers with the status `answer` picks."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson


@dataclass(frozen=True)
class Call:
    path: str
    headers: dict[str, str]
    event: dict[str, Any]
    status: int


class Webhook:
    def __init__(self, answer: Callable[[dict[str, Any], int], int] = lambda event, n: 200) -> None:
        """`answer(event, n)` is the status for the n-th call (from 0) bearing this event id."""
        self.answer = answer
        self.calls: list[Call] = []
        self._lock = threading.Lock()
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                event = orjson.loads(body)
                with hook._lock:
                    n = sum(1 for c in hook.calls if c.event.get("id") == event.get("id"))
                    status = hook.answer(event, n)
                    hook.calls.append(
                        Call(
                            self.path,
                            {k.lower(): v for k, v in self.headers.items()},
                            event,
                            status,
                        )
                    )
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def delivered(self) -> list[dict[str, Any]]:
        """The events answered 2xx, in the order they arrived."""
        with self._lock:
            return [c.event for c in self.calls if 200 <= c.status < 300]

    def wait_for(
        self, check: Callable[[list[dict[str, Any]]], bool], timeout: float = 20.0
    ) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while True:
            got = self.delivered()
            if check(got):
                return got
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"webhook: condition not met; delivered {len(got)}: {got[-5:]}"
                )
            time.sleep(0.05)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@contextmanager
def subscribed(
    events: Any, name: str, url: str, pattern: dict[str, Any], **target: Any
) -> Iterator[str]:
    """A rule `name` with `pattern` sending to `url` through an API-key connection (yields the
    API destination's ARN); all removed afterwards, so no worker of the shared server keeps
    reading the feed or calling a closed webhook."""
    conn = events.create_connection(
        Name=name,
        AuthorizationType="API_KEY",
        AuthParameters={
            "ApiKeyAuthParameters": {"ApiKeyName": "x-portside-test", "ApiKeyValue": name}
        },
    )
    dest = events.create_api_destination(
        Name=name, ConnectionArn=conn["ConnectionArn"], InvocationEndpoint=url, HttpMethod="POST"
    )
    events.put_rule(Name=name, EventPattern=orjson.dumps(pattern).decode())
    try:
        failed = events.put_targets(
            Rule=name, Targets=[{"Id": "hook", "Arn": dest["ApiDestinationArn"], **target}]
        )
        assert failed["FailedEntryCount"] == 0, failed
        yield str(dest["ApiDestinationArn"])
    finally:
        events.remove_targets(Rule=name, Ids=["hook"])
        events.delete_rule(Name=name)
        events.delete_api_destination(Name=name)
        events.delete_connection(Name=name)
