"""Uvicorn's httptools protocol, with two changes on the API's hot path.

1. A response's writes within one turn of the event loop leave as one send. Uvicorn writes a
   response's head and body separately, which is two send(2) calls and, with TCP_NODELAY, two
   packets per API call. On the machines we measured, those system calls were a fifth of the
   server's time per request (bench/api_throughput.py).
2. API calls on `POST /` (every JSON and query call) and `POST /service/...` (CBOR) skip ASGI:
   the parser's callbacks hand the request straight to `Api.dispatch`, and its reply is written
   as one buffer. ASGI's per-request task, events and awaited messages cost about a third of a
   read's time on the event loop. Everything else (rest-json calls, the agent gateway,
   websockets, health) goes through ASGI (`Edge`).

And bounds, before anything is spent on a request (a signature is checked only once the body
is in): at most `MAX_HEADERS` headers of `MAX_HEADER_BYTES` in all (431), a body no larger
than its service's limit (413 in the service's protocol, refused as soon as Content-Length or
the bytes received say so), the head within `HEAD_TIMEOUT` seconds of the connection's first
byte, or of its being opened, and the body within `BODY_TIMEOUT` (408). Such a connection is
closed after the answer. llhttp itself refuses a request with both Content-Length and
Transfer-Encoding (400).
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from portside.api.app import Api, Edge, Reply, too_large
from portside.api.protocols.base import HeaderMap, WireRequest
from portside.api.registry import Route

MAX_HEADERS = 100
MAX_HEADER_BYTES = 64 * 1024
HEAD_TIMEOUT = 10.0  # a client has this long to send a request's head...
BODY_TIMEOUT = 60.0  # ... and this long for its body


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
    """An API call being read, then answered, outside ASGI."""

    head: WireRequest
    route: Route
    keep_alive: bool
    limit: int
    body: list[bytes] = field(default_factory=list)
    size: int = 0


_HEAD = b"content-type: "


class CorkedHttpToolsProtocol(HttpToolsProtocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        app = self.app
        self._api: Api | None = app.api if isinstance(app, Edge) else None
        self._reading: _ApiRequest | None = None
        self._answering = False  # an API reply is being computed (a write, in a thread)
        self._queued: deque[_ApiRequest] = deque()
        self._closing = False  # shutting down: close after the reply in progress
        # Where the request being read stands, and until when it may take: one timer per
        # connection that looks at these, rather than a timer per request (two call_later
        # and two cancels a request cost ~4% of a read's time).
        self._phase = "head"  # head | body | idle (answered, or being answered)
        self._due = 0.0
        self._head_bytes = 0
        self._watch: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses; they have its methods.
        corked: Any = _Corked(transport, self.loop)  # type: ignore[arg-type]
        super().connection_made(corked)
        # A connection that never sends a request is closed too.
        self._due = self.loop.time() + HEAD_TIMEOUT
        self._watch = self.loop.call_later(HEAD_TIMEOUT, self._look)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._watch is not None:
            self._watch.cancel()
            self._watch = None
        super().connection_lost(exc)

    # -- bounds ---------------------------------------------------------------------------

    def _look(self) -> None:
        self._watch = None
        if self.transport.is_closing():
            return
        now = self.loop.time()
        if self._phase != "idle" and now >= self._due:
            self._refuse(408, b"Request Timeout")
            return
        wait = self._due - now if self._phase != "idle" else HEAD_TIMEOUT
        self._watch = self.loop.call_later(max(wait, 0.05), self._look)

    def _refuse(self, status: int, text: bytes) -> None:
        """Answer a request the server will not read any further, and close."""
        if self.transport.is_closing():
            return
        self.transport.write_now(  # type: ignore[attr-defined]
            STATUS_LINE[status]
            + b"content-type: text/plain\r\nconnection: close\r\ncontent-length: "
            + str(len(text)).encode()
            + b"\r\n\r\n"
            + text
        )
        self.transport.close()

    def handle_websocket_upgrade(self) -> None:
        # The connection is the websocket protocol's from here on: no more deadlines of ours
        # (an ECS Exec session may last hours).
        self._phase = "idle"
        if self._watch is not None:
            self._watch.cancel()
            self._watch = None
        super().handle_websocket_upgrade()

    def data_received(self, data: bytes) -> None:
        if self._phase == "head":
            # Bytes while a head is being read count against the head's size (a chunk that
            # also carries the body's start is judged again, exactly, once the head is in).
            self._head_bytes += len(data)
        super().data_received(data)
        if self._phase == "head" and self._head_bytes > MAX_HEADER_BYTES:
            self._refuse(431, b"Request Header Fields Too Large")

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._phase != "head":  # a request after the first on this connection
            self._phase = "head"
            self._head_bytes = 0
        self._due = self.loop.time() + HEAD_TIMEOUT

    def _head_too_large(self) -> bool:
        headers = self.headers
        if len(headers) > MAX_HEADERS:
            return True
        return self._head_bytes > MAX_HEADER_BYTES and (
            sum(len(n) + len(v) + 4 for n, v in headers) > MAX_HEADER_BYTES
        )

    # -- the API's path: parser callbacks -> Api.dispatch -> one write ----------------------

    def on_headers_complete(self) -> None:
        if self.transport.is_closing():
            return
        if self._head_too_large():
            self._refuse(431, b"Request Header Fields Too Large")
            return
        self._phase = "body"
        self._due = self.loop.time() + BODY_TIMEOUT
        parser = self.parser
        url = self.url
        route = None
        if (
            self._api is not None
            and parser.get_method() == b"POST"
            and (url == b"/" or url.startswith(b"/service/"))
            and not parser.should_upgrade()
        ):
            peer = self.client[0] if self.client else None  # IAM's aws:SourceIp
            head = WireRequest(
                "POST", url.decode("latin-1"), "", HeaderMap(self.headers), b"", peer
            )
            route = self._api.route(head)
        if route is None:
            self._reading = None
            super().on_headers_complete()
            return
        keep_alive = parser.get_http_version() != "1.0" and parser.should_keep_alive()
        request = _ApiRequest(head, route, keep_alive, route.body_limit)
        length = head.headers.get("content-length") or ""
        if length.isdigit() and int(length) > request.limit:
            self._refuse_body(request)
            return
        self._reading = request
        if self.expect_100_continue:
            self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")

    def _refuse_body(self, request: _ApiRequest) -> None:
        assert self._api is not None
        self._reading = None
        self._send(self._api.refuse(request.route, too_large(request.limit)), False)

    def on_body(self, body: bytes) -> None:
        request = self._reading
        if request is None:
            if not self.transport.is_closing():
                super().on_body(body)
            return
        request.size += len(body)
        if request.size > request.limit:
            self._refuse_body(request)
            return
        request.body.append(body)

    def on_message_complete(self) -> None:
        self._phase = "idle"
        if self.transport.is_closing():
            return
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
        wire = request.head
        wire.body = b"".join(request.body)
        reply = self._api.dispatch(wire, request.route)
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
        if reply.content_type:
            parts += [_HEAD, reply.content_type.encode(), b"\r\n"]
        parts.append(b"content-length: ")
        parts += [str(len(reply.body)).encode(), b"\r\nx-amzn-requestid: "]
        parts += [reply.request_id.encode(), b"\r\n"]
        for key, text in reply.headers:
            parts += [key.encode("latin-1"), b": ", text.encode("latin-1"), b"\r\n"]
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
