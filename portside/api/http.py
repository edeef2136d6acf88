"""Uvicorn's httptools protocol, with two changes on the API's hot path.

1. A response's writes within one turn of the event loop leave as one send. Uvicorn writes a
   response's head and body separately, which is two send(2) calls and, with TCP_NODELAY, two
   packets per API call. On the machines we measured, those system calls were a fifth of the
   server's time per request (bench/api_throughput.py).
2. `POST /` (every ECS, Logs and EventBridge call) skips ASGI: the parser's callbacks hand the
   request straight to `Api.dispatch`, and its reply is written as one buffer. ASGI's per-request
   task, events and awaited messages cost about a third of a read's time on the event loop.
   Everything else (the agent gateway, websockets, health) goes through ASGI as before.
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from portside.api.app import Api, Edge, Reply


class _Corked:
    """A transport that gathers writes and flushes them once per loop iteration."""

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._pending: list[bytes] = []

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not self._pending:
            self._loop.call_soon(self._flush)
        self._pending.append(bytes(data))

    def write_now(self, data: bytes) -> None:
        """Send `data` (after anything gathered) now: for a reply that is already whole."""
        if self._pending:
            self._pending.append(data)
            self._flush()
        elif not self._transport.is_closing():
            self._transport.write(data)

    def _flush(self) -> None:
        if not self._pending:
            return
        data = b"".join(self._pending)
        self._pending.clear()
        if not self._transport.is_closing():
            self._transport.write(data)

    def close(self) -> None:
        self._flush()
        self._transport.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


@dataclass(slots=True)
class _ApiRequest:
    """A `POST /` being read, then answered, outside ASGI."""

    headers: list[tuple[bytes, bytes]]
    keep_alive: bool
    body: list[bytes] = field(default_factory=list)


_HEAD = b"content-type: application/x-amz-json-1.1\r\ncontent-length: "
_API_SCOPE_BASE = {"type": "http", "method": "POST", "path": "/", "raw_path": b"/"}


class CorkedHttpToolsProtocol(HttpToolsProtocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        app = self.app
        self._api: Api | None = app.api if isinstance(app, Edge) else None
        self._reading: _ApiRequest | None = None
        self._answering = False  # an API reply is being computed (a write, in a thread)
        self._queued: deque[_ApiRequest] = deque()
        self._closing = False  # shutting down: close after the reply in progress

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses; they have its methods.
        corked: Any = _Corked(transport, self.loop)  # type: ignore[arg-type]
        super().connection_made(corked)

    # -- the API's path: parser callbacks -> Api.dispatch -> one write ----------------------

    def on_headers_complete(self) -> None:
        parser = self.parser
        if (
            self._api is None
            or self.url != b"/"
            or parser.get_method() != b"POST"
            or parser.should_upgrade()
        ):
            self._reading = None
            super().on_headers_complete()
            return
        keep_alive = parser.get_http_version() != "1.0" and parser.should_keep_alive()
        self._reading = _ApiRequest(self.headers, keep_alive)
        if self.expect_100_continue:
            self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")

    def on_body(self, body: bytes) -> None:
        if self._reading is None:
            super().on_body(body)
        else:
            self._reading.body.append(body)

    def on_message_complete(self) -> None:
        request = self._reading
        if request is None:
            super().on_message_complete()
            return
        self._reading = None
        if self._busy():
            # A pipelined request: answer in order, after the one in progress.
            self.flow.pause_reading()
            self._queued.append(request)
        else:
            self._answer(request)

    # Requests are answered in order, as HTTP/1.1 requires of pipelining, among API calls and
    # among the other routes. A connection that pipelines an API call and another route's
    # request behind each other could see them answered out of order: no HTTP client we
    # serve pipelines (botocore, httpx, browsers), so this stays simple.
    def _busy(self) -> bool:
        cycle = self.cycle
        return self._answering or (cycle is not None and not cycle.response_complete)

    def _answer(self, request: _ApiRequest) -> None:
        assert self._api is not None
        scope = {**_API_SCOPE_BASE, "headers": request.headers, "query_string": b""}
        reply = self._api.dispatch(scope, b"".join(request.body))
        if isinstance(reply, Reply):
            self._send(reply, request.keep_alive)
            return
        self._answering = True
        task = self.loop.create_task(self._answer_later(reply, request.keep_alive))
        task.add_done_callback(self.tasks.discard)
        self.tasks.add(task)  # uvicorn's shutdown waits for these

    async def _answer_later(self, pending: Any, keep_alive: bool) -> None:
        try:
            reply = await pending
        finally:
            self._answering = False
        self._send(reply, keep_alive)

    def _send(self, reply: Reply, keep_alive: bool) -> None:
        if self.transport.is_closing():
            return
        keep_alive = keep_alive and not self._closing
        parts = [STATUS_LINE[reply.status]]
        for name, value in self.server_state.default_headers:
            parts += [name, b": ", value, b"\r\n"]
        parts += [_HEAD, str(len(reply.body)).encode(), b"\r\nx-amzn-requestid: "]
        parts += [reply.request_id.encode(), b"\r\n"]
        if not keep_alive:
            parts.append(b"connection: close\r\n")
        parts += [b"\r\n", reply.body]
        transport: Any = self.transport
        transport.write_now(b"".join(parts))
        if not keep_alive:
            self.transport.close()
            return
        self.on_response_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if self._queued and not self._busy() and not self.transport.is_closing():
            self._answer(self._queued.popleft())

    def shutdown(self) -> None:
        if self._answering or self._queued:
            # Let the replies in progress go out; the connection closes after them.
            self._closing = True
            return
        super().shutdown()
