"""The edge: every AWS call, whatever its service and protocol, answered in one place.

    route      api/registry.py     the request's head -> service + codec (never the body)
    operation  the codec           X-Amz-Target, Action, the CBOR path, the REST route
    sign       api/auth.py         SigV4 (header or presigned) -> who calls, for which scope
    decode     the codec           the body -> canonical params (api/protocols/base.py)
    validate   api/validation.py   the model's constraints, in the service's words
    run        the service         Handler(op, params) -> canonical result
    encode     the codec           the result, or the error, in the request's protocol

The operation is resolved before the signature is checked (AWS resolves the operation before
it decides how to authenticate: an unknown target is UnknownOperationException signed or
not); the body is read only after the signature holds.
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
import os
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import quote

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import Receive, Scope, Send

from portside import __version__
from portside.api import encoding
from portside.api.auth import KeyRing, Principal, SigV4Verifier
from portside.api.offload import Offload
from portside.api.protocols.base import Codec, WireReply, WireRequest, request_head
from portside.api.protocols.json import CONTENT_TYPES, JsonCodec, dumps
from portside.api.registry import Handler, Registry
from portside.api.registry import Route as ApiRoute
from portside.api.services import default_services
from portside.errors import (
    InvalidSignatureException,
    NamedError,
    PortsideError,
    ServerException,
    UnknownOperationException,
)
from portside.iam.enforce import authorize
from portside.ops.context import Caller, Op, World

log = logging.getLogger("portside.api")


@dataclass(slots=True)
class ApiConfig:
    world: World
    account: str
    keys: KeyRing


# Not frozen, as WireRequest (api/protocols/base.py): built on every API call.
@dataclass(slots=True)
class Reply:
    """An API call's answer: the codec's reply and the request id it carries."""

    status: int
    body: bytes
    request_id: str
    content_type: str = "application/x-amz-json-1.1"
    headers: tuple[tuple[str, str], ...] = ()

    @classmethod
    def of(cls, wire: WireReply, request_id: str) -> Reply:
        return cls(wire.status, wire.body, request_id, wire.content_type, wire.headers)


def too_large(limit: int) -> NamedError:
    return NamedError(
        "RequestEntityTooLargeException",
        f"Request body is larger than the {limit} bytes this service accepts.",
        413,
    )


class Api:
    def __init__(self, config: ApiConfig, registry: Registry | None = None) -> None:
        self.config = config
        self.registry = registry or Registry(default_services())
        self.verifier = SigV4Verifier(config.keys, config.world.clock)
        # Reads run on the event loop only when they cannot wait on another process.
        self._inline_reads = not config.world.store.reads_block
        # The threads writes (and blocking reads) run in: one a core (the GIL is one), at
        # least two, more while calls wait behind ones that block (api/offload.py).
        self._offload = Offload(max(2, min(os.cpu_count() or 1, 8)))
        self._callers: dict[tuple[str, str, str, str], Caller] = {}
        # (service, action, HTTP status, seconds) of every call answered: Prometheus' count.
        self.observe: Callable[[str, str, int, float], None] | None = None

    def route(self, head: WireRequest) -> ApiRoute | None:
        return self.registry.route(head)

    def refuse(self, route: ApiRoute, exc: PortsideError) -> Reply:
        """An answer in the route's protocol without running anything (a body too large)."""
        request_id = _request_ids.next()
        return Reply.of(route.codec.error(exc, request_id), request_id)

    def dispatch(self, request: WireRequest, route: ApiRoute) -> Reply | Awaitable[Reply]:
        """Answer one API call: at once for a read (reads run inline on the event loop), or
        an awaitable for a write, which runs in a thread: it waits for its fsync, and reads
        go on meanwhile. Over PostgreSQL, reads run in threads too (`Store.reads_block`)."""
        request_id = _request_ids.next()
        codec = route.codec
        began = time.perf_counter()
        operation = ""
        try:
            call = self._prepare(request, route)
            operation = call.operation
            if call.inline:
                reply = _reply(codec, call.operation, call.run(), request_id)
                return self._observed(route, operation, reply, began)
        except Exception as exc:
            return self._observed(route, operation, _failure(codec, exc, request_id), began)
        return self._write(route, call, request_id, began)

    async def _write(self, route: ApiRoute, call: _Call, request_id: str, began: float) -> Reply:
        try:
            result = await self._offload.run(call.run)
            reply = _reply(route.codec, call.operation, result, request_id)
        except Exception as exc:
            reply = _failure(route.codec, exc, request_id)
        return self._observed(route, call.operation, reply, began)

    def _observed(self, route: ApiRoute, operation: str, reply: Reply, began: float) -> Reply:
        if self.observe is not None:
            service = route.service.spec.model_name if route.service is not None else "unknown"
            self.observe(service, operation, reply.status, time.perf_counter() - began)
        return reply

    def authenticate(self, request: WireRequest) -> Principal:
        """Who signed the request (the one SigV4 check every endpoint uses)."""
        headers = request.headers
        return self.verifier.verify(
            method=request.method,
            # SigV4 encodes a non-S3 path twice: the canonical form of /schedules/a%21b is
            # /schedules/a%2521b (the verifier encodes once more, leaving % alone).
            path=quote(request.path, safe="/~") if request.path != "/" else "/",
            query=request.query,
            headers=headers,
            multi_headers=headers.getlist,
            body=request.body,
        )

    def caller(self, principal: Principal) -> Caller:
        # Callers are few (a key, a region): kept, so a call does not build one (~2 µs).
        key = (principal.access_key, principal.region, principal.principal_arn, principal.account)
        found = self._callers.get(key)
        if found is None:
            account = principal.account or self.config.account
            found = Caller(
                account=account,
                region=principal.region,
                access_key=principal.access_key,
                principal_arn=principal.principal_arn or f"arn:aws:iam::{account}:root",
            )
            if len(self._callers) > 4096:
                self._callers.clear()
            self._callers[key] = found
        return found

    def _prepare(self, request: WireRequest, route: ApiRoute) -> _Call:
        service, codec = route.service, route.codec
        if service is None:
            raise self._no_service(request, codec)
        signed = request  # the signature covers the bytes as sent
        if "content-encoding" in request.headers:  # gzipped: query names its action inside
            request = encoding.decoded(request, service.spec.body_limit)
        operation = codec.operation(request)
        principal = self.authenticate(signed)
        if principal.service != service.signing_name:
            raise InvalidSignatureException(
                f"Credential should be scoped to correct service: '{service.signing_name}'. "
            )
        handler = service.spec.handlers.get(operation)
        if handler is None:
            raise _not_implemented(codec, operation)
        params = codec.decode(request, operation)
        params = service.validator.validate(operation, params)
        if codec.protocol == "json":
            convert = codec.blobs(operation)  # type: ignore[attr-defined]
            if convert is not None:
                params = convert(params)
        op = Op(self.config.world, self.caller(principal))
        authorize(
            op, service.signing_name, codec.protocol, operation, params, signed.source_ip
        )  # IAM
        inline = self._inline_reads and service.inline(operation)
        return _Call(operation, handler, op, params, inline)

    def _no_service(self, request: WireRequest, codec: Codec) -> PortsideError:
        if codec.protocol == "json":
            content_type = request.content_type
            if content_type not in CONTENT_TYPES:
                # Coral resolves the operation before it authenticates, so a body that is not
                # AWS JSON is UnknownOperationException signed or not (tests/api/test_auth.py).
                return UnknownOperationException(
                    f"Unsupported content type '{content_type}': send application/x-amz-json-1.1."
                )
            target = request.headers.get("x-amz-target") or ""
            return UnknownOperationException(f"Unknown operation {target or '(none)'}.")
        # No protocol but JSON names its service; the signature's scope did not name one
        # served here. Unsigned, that is the first thing to say.
        self.authenticate(request)
        return _not_implemented(codec, "")


def _reply(codec: Codec, operation: str, result: dict[str, Any], request_id: str) -> Reply:
    if type(codec) is JsonCodec:  # every ECS call: one object, not two
        return Reply(200, dumps(result), request_id, codec.content_type)
    return Reply.of(codec.encode(operation, result, request_id), request_id)


def _not_implemented(codec: Codec, operation: str) -> PortsideError:
    what = f"{operation}" if operation else "that service"
    message = f"Portside does not implement {what} yet."
    if codec.protocol in ("query", "ec2"):
        return NamedError("InvalidAction", message)
    return UnknownOperationException(message)


def _failure(codec: Codec, exc: Exception, request_id: str) -> Reply:
    if not isinstance(exc, PortsideError):
        log.error("request %s failed", request_id, exc_info=exc)
        exc = ServerException("An internal error occurred. The request was not applied.")
    elif exc.status >= 500:
        log.error("request %s failed: %s", request_id, exc.message)
    return Reply.of(codec.error(exc, request_id), request_id)


class _RequestIds:
    """Request ids shaped like AWS's (a UUID), without a urandom call per request: a random
    prefix per process and a counter."""

    def __init__(self) -> None:
        self._prefix = uuid.uuid4().hex[:20]
        self._count = itertools.count()

    def next(self) -> str:
        n = f"{self._prefix}{next(self._count) & 0xFFFFFFFFFFFF:012x}"
        return f"{n[:8]}-{n[8:12]}-{n[12:16]}-{n[16:20]}-{n[20:]}"


_request_ids = _RequestIds()


# Not frozen, as WireRequest (api/protocols/base.py): built on every API call.
@dataclass(slots=True)
class _Call:
    operation: str
    handler: Handler
    op: Op
    params: dict[str, Any]
    inline: bool

    def run(self) -> dict[str, Any]:
        return self.handler(self.op, self.params)


async def _read_body(receive: Receive, limit: int) -> bytes | None:
    """The whole body, or None once it passes `limit` bytes."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body"):
            return b"".join(chunks)


async def _send(send: Send, reply: Reply) -> None:
    headers = [
        *([(b"content-type", reply.content_type.encode())] if reply.content_type else []),
        (b"content-length", str(len(reply.body)).encode()),
        (b"x-amzn-requestid", reply.request_id.encode()),
        *((k.encode("latin-1"), v.encode("latin-1")) for k, v in reply.headers),
    ]
    await send({"type": "http.response.start", "status": reply.status, "headers": headers})
    await send({"type": "http.response.body", "body": reply.body})


class Edge:
    """The whole server: AWS API calls to the API, everything else to Starlette. (Served by
    portside.api.http's protocol, `POST /` and CBOR calls do not even come through ASGI.)"""

    def __init__(self, api: Api, rest: Starlette) -> None:
        self.api = api
        self.rest = rest

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            head = request_head(scope)
            route = self.api.route(head)
            if route is not None:
                body = await _read_body(receive, route.body_limit)
                if body is None:
                    await _send(send, self.api.refuse(route, too_large(route.body_limit)))
                    return
                reply = self.api.dispatch(replace(head, body=body), route)
                if not isinstance(reply, Reply):
                    reply = await reply
                await _send(send, reply)
                return
            length = head.headers.get("content-length") or ""
            if length.isdigit() and int(length) > OWN_BODY_LIMIT:
                await _send_plain(send, 413, b"Request Entity Too Large")
                return
            receive, send = _bounded(receive, send)
        await self.rest(scope, receive, send)


# Portside's own routes (the agent gateway: a sync's reports for a 10,000-instance session,
# a log batch) take bodies up to this size.
OWN_BODY_LIMIT = 16 * 1024 * 1024


async def _send_plain(send: Send, status: int, text: bytes) -> None:
    headers = [(b"content-type", b"text/plain"), (b"content-length", str(len(text)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": text})


def _bounded(receive: Receive, send: Send) -> tuple[Receive, Send]:
    """`receive` and `send` for a route of our own: once a chunked body passes
    OWN_BODY_LIMIT, 413 is answered, the route sees a client that went away, and whatever
    the route then sends is dropped."""
    seen = 0
    refused = False

    async def bounded_receive() -> Any:
        nonlocal seen, refused
        message = await receive()
        if message["type"] == "http.request" and not refused:
            seen += len(message.get("body", b""))
            if seen > OWN_BODY_LIMIT:
                refused = True
                await _send_plain(send, 413, b"Request Entity Too Large")
        return {"type": "http.disconnect"} if refused else message

    async def bounded_send(message: Any) -> None:
        if not refused:
            await send(message)

    return bounded_receive, bounded_send


Authenticate = Callable[[WireRequest], Principal]

# A loop whose last this-many passes all failed makes the server degraded.
FAILING_AFTER = 3


def health_report(api: Api, head: WireRequest) -> dict[str, Any]:
    """`GET /_portside/health`: "ok" or "degraded" (a background loop keeps failing, or
    is stalled: hung in a pass) for anyone; each loop's last success, last error and error
    counts for a signed request."""
    loops = api.config.world.loops
    failing = loops.failing(FAILING_AFTER) if loops is not None else []
    stalled = loops.stalled() if loops is not None else []
    report: dict[str, Any] = {
        "status": "degraded" if failing or stalled else "ok",
        "version": __version__,
    }
    if loops is None or not (head.headers.get("authorization") or "X-Amz-" in head.query):
        return report
    try:
        api.authenticate(head)
    except PortsideError as exc:
        report["error"] = {"code": exc.code, "message": exc.message}
        return report
    report["failing"] = failing
    report["stalled"] = stalled
    report["loops"] = [dataclasses.asdict(status) for status in loops.status()]
    if loops.cluster is not None:  # the replicas and the leader (portside/cluster)
        report["cluster"] = loops.cluster()
    return report


def create_app(
    config: ApiConfig,
    extra_routes: Callable[[Api], list[BaseRoute]] | list[BaseRoute] | None = None,
    registry: Registry | None = None,
) -> Edge:
    api = Api(config, registry)

    async def health(request: Request) -> Response:
        return JSONResponse(health_report(api, request_head(request.scope)))

    async def not_post(_: Request) -> Response:
        # An API call never reaches here (Edge sends it to the API): any other method does.
        return PlainTextResponse("Method Not Allowed", status_code=405, headers={"Allow": "POST"})

    extra = extra_routes(api) if callable(extra_routes) else list(extra_routes or [])
    rest = Starlette(
        routes=[
            Route("/", not_post, methods=["GET", "PUT", "DELETE", "PATCH", "OPTIONS"]),
            Route("/_portside/health", health, methods=["GET"]),
            *extra,
        ]
    )
    return Edge(api, rest)
