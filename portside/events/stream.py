"""The event stream over HTTP: Server-Sent Events, SigV4-signed like every other call.

    GET /_portside/events/v1/stream?pattern=JSON&after=SEQ&follow=true

Each event of the caller's region that the pattern matches (every ECS event without one) is
one SSE message: `id:` is its feed position, `data:` the EventBridge envelope as JSON. Without
`after` a followed stream starts at the present and an unfollowed one at the oldest change the
feed keeps (an hour); `after` (or a Last-Event-ID header) resumes past a position. Without
`follow` the response ends once it has caught up; with it, a comment line every 15 s keeps
idle connections open.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import orjson
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from portside.api.auth import SigV4Verifier
from portside.api.errors import error_body
from portside.errors import InvalidParameterException, PortsideError
from portside.events.envelope import TABLES
from portside.events.feed import FeedReader, FeedSignal, tables_for
from portside.events.patterns import Pattern, compile_pattern
from portside.events.targets import detail_types
from portside.store.base import Store

PATH = "/_portside/events/v1/stream"
KEEPALIVE = 15.0


def _start(request: Request, store: Store, follow: bool) -> int:
    raw = request.query_params.get("after") or request.headers.get("last-event-id")
    if raw is None or raw == "":
        return store.last_seq() if follow else 0
    try:
        after = int(raw)
    except ValueError:
        raise InvalidParameterException(
            f"after must be a feed position (an integer), not {raw!r}."
        ) from None
    if after < 0:
        raise InvalidParameterException("after must not be negative.")
    return after


async def _messages(
    store: Store, signal: FeedSignal, pattern: Pattern | None, region: str, after: int, follow: bool
) -> AsyncIterator[bytes]:
    types = detail_types(pattern) if pattern is not None else None
    reader = FeedReader(store, after, tables_for(types) if types is not None else TABLES)
    yield b": portside event stream\n\n"
    while True:
        items = await asyncio.to_thread(reader.read, 500)
        for item in items:
            event = item.event
            if event["region"] != region or (pattern is not None and not pattern.matches(event)):
                continue
            yield b"id: %d\ndata: %s\n\n" % (item.seq, orjson.dumps(event))
        if reader.position < store.last_seq():
            continue
        if not follow:
            return
        before = reader.position
        await signal.wait(before, KEEPALIVE)
        if store.last_seq() == before:
            yield b": keepalive\n\n"


def stream_routes(store: Store, verifier: SigV4Verifier, signal: FeedSignal) -> list[Route]:
    async def stream(request: Request) -> Response:
        try:
            principal = verifier.verify(
                method=request.method,
                path=request.scope.get("raw_path", b"/").decode("latin-1"),
                query=request.scope.get("query_string", b"").decode("latin-1"),
                headers=request.headers,
                multi_headers=request.headers.getlist,
                body=b"",
            )
            follow = (request.query_params.get("follow") or "").lower() in ("1", "true", "yes")
            text = request.query_params.get("pattern")
            pattern = compile_pattern(text) if text else None
            after = _start(request, store, follow)
        except PortsideError as exc:
            status, body = error_body(exc)
            return Response(body, status_code=status, media_type="application/x-amz-json-1.1")
        return StreamingResponse(
            _messages(store, signal, pattern, principal.region, after, follow),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    return [Route(PATH, stream, methods=["GET"])]
