"""The ASGI app: AWS JSON 1.1 over `POST /`, routed by X-Amz-Target.

Every request is authenticated (SigV4), its target resolved, its body parsed and validated
against botocore's model, and only then handed to the action. Errors leave as one JSON shape.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import botocore.session
import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import Receive, Scope, Send

from portside import __version__
from portside.api.auth import SigV4Verifier
from portside.api.ecs import ACTIONS as ECS_ACTIONS
from portside.api.ecs.registry import Handler
from portside.api.errors import error_body, server_fault
from portside.api.events import ACTIONS as EVENTS_ACTIONS
from portside.api.logs import ACTIONS as LOGS_ACTIONS
from portside.api.validation import InputValidator, parse_body
from portside.errors import (
    InvalidSignatureException,
    PortsideError,
    UnknownOperationException,
)
from portside.ops.context import Caller, Op, World, root_principal

log = logging.getLogger("portside.api")

JSON_TYPES = ("application/x-amz-json-1.1", "application/x-amz-json-1.0", "application/json")


@dataclass(frozen=True, slots=True)
class Service:
    """One AWS service served on the endpoint: its target prefix, signing name and actions."""

    target_prefix: str
    signing_name: str
    actions: dict[str, Handler]
    validator: InputValidator
    known: frozenset[str]


def _service(model_name: str, signing_name: str, actions: dict[str, Handler]) -> Service:
    model = botocore.session.get_session().get_service_model(model_name)
    return Service(
        target_prefix=model.metadata["targetPrefix"],
        signing_name=signing_name,
        actions=actions,
        validator=InputValidator(model),
        known=frozenset(model.operation_names),
    )


@dataclass(slots=True)
class ApiConfig:
    world: World
    account: str
    secret_for: Callable[[str], str | None]


class Api:
    def __init__(self, config: ApiConfig, extra_services: tuple[Service, ...] = ()) -> None:
        self.config = config
        self.verifier = SigV4Verifier(config.secret_for, config.world.clock)
        services = [
            _service("ecs", "ecs", ECS_ACTIONS),
            _service("logs", "logs", LOGS_ACTIONS),
            _service("events", "events", EVENTS_ACTIONS),
            *extra_services,
        ]
        self.services = {s.target_prefix: s for s in services}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The ASGI entry for `POST /`. Plain ASGI rather than a Starlette route: this is
        every API call's path, and the framework's layers cost ~15% of a request. (Served by
        portside.api.http's protocol, `POST /` does not even come through ASGI: see
        `dispatch`.)"""
        body = await _read_body(receive)
        reply = self.dispatch(scope, body)
        if not isinstance(reply, Reply):
            reply = await reply
        await send(
            {
                "type": "http.response.start",
                "status": reply.status,
                "headers": [
                    (b"content-type", b"application/x-amz-json-1.1"),
                    (b"content-length", str(len(reply.body)).encode()),
                    (b"x-amzn-requestid", reply.request_id.encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": reply.body})

    def dispatch(self, scope: Mapping[str, Any], body: bytes) -> Reply | Awaitable[Reply]:
        """Answer one API call: at once for a read (reads run inline on the event loop), or
        an awaitable for a write, which runs in a thread: it waits for its fsync, and reads
        go on meanwhile."""
        request_id = _request_ids.next()
        try:
            call = self._prepare(scope, body)
            if call.action.startswith(_READ_ONLY) and call.action not in _HEAVY_READS:
                return Reply(200, orjson.dumps(call.run()), request_id)
        except Exception as exc:
            return _failure(exc, request_id)
        return self._write(call, request_id)

    async def _write(self, call: _Call, request_id: str) -> Reply:
        try:
            result = await asyncio.to_thread(call.run)
            return Reply(200, orjson.dumps(result), request_id)
        except Exception as exc:
            return _failure(exc, request_id)

    def _prepare(self, scope: Mapping[str, Any], body: bytes) -> _Call:
        headers = _HeaderMap(scope["headers"])
        # Coral resolves the operation before it authenticates (it has operations that take
        # unsigned calls), so an unknown target or a body that is not AWS JSON is
        # UnknownOperationException signed or not; see tests/api/test_auth.py for the sources.
        content_type = (headers.get("content-type") or "").split(";")[0].strip().lower()
        if content_type not in JSON_TYPES:
            raise UnknownOperationException(
                f"Unsupported content type '{content_type}': send application/x-amz-json-1.1."
            )
        target = headers.get("x-amz-target") or ""
        prefix, _, name = target.rpartition(".")
        service = self.services.get(prefix)
        if service is None or name not in service.known:
            raise UnknownOperationException(f"Unknown operation {target or '(none)'}.")
        principal = self.verifier.verify(
            method=scope["method"],
            path=scope.get("raw_path", b"/").decode("latin-1") or "/",
            query=scope.get("query_string", b"").decode("latin-1"),
            headers=headers,
            multi_headers=headers.getlist,
            body=body,
        )
        if principal.service != service.signing_name:
            raise InvalidSignatureException(
                f"Credential should be scoped to correct service: '{service.signing_name}'. "
            )
        handler = service.actions.get(name)
        if handler is None:
            raise UnknownOperationException(f"Portside does not implement {name} yet.")
        params = parse_body(body)
        params = service.validator.validate(name, params)
        account = self.config.account
        caller = Caller(
            account=account,
            region=principal.region,
            access_key=principal.access_key,
            principal_arn=root_principal(account),
        )
        return _Call(name, handler, Op(self.config.world, caller), params)


@dataclass(frozen=True, slots=True)
class Reply:
    """An API call's answer: HTTP status, JSON body, and the request id it carries."""

    status: int
    body: bytes
    request_id: str


def _failure(exc: Exception, request_id: str) -> Reply:
    if isinstance(exc, PortsideError):
        status, payload = error_body(exc)
        if status >= 500:
            log.error("request %s failed: %s", request_id, exc.message)
    else:
        log.error("request %s failed", request_id, exc_info=exc)
        status, payload = server_fault()
    return Reply(status, payload, request_id)


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


class _HeaderMap:
    """Request headers, looked up by lower-case name; built once per request."""

    __slots__ = ("_all",)

    def __init__(self, raw: list[tuple[bytes, bytes]]) -> None:
        found: dict[str, list[str]] = {}
        for name, value in raw:
            found.setdefault(name.decode("latin-1").lower(), []).append(value.decode("latin-1"))
        self._all = found

    def get(self, name: str, /) -> str | None:
        values = self._all.get(name)
        return values[0] if values else None

    def getlist(self, name: str) -> list[str]:
        return self._all.get(name, [])


# Actions that only read: they run inline on the event loop ...
_READ_ONLY = ("Describe", "List", "Get")
# ... except those that may read a lot (a 1 MB page of log events takes ~10 ms): in a thread,
# so they never hold up the calls behind them.
_HEAVY_READS = frozenset({"GetLogEvents", "FilterLogEvents"})


@dataclass(frozen=True, slots=True)
class _Call:
    action: str
    handler: Handler
    op: Op
    params: dict[str, Any]

    def run(self) -> dict[str, Any]:
        return self.handler(self.op, self.params)


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


class Edge:
    """The whole server: `POST /` straight to the API, everything else to Starlette."""

    def __init__(self, api: Api, rest: Starlette) -> None:
        self.api = api
        self.rest = rest

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == "/" and scope["method"] == "POST":
            await self.api(scope, receive, send)
        else:
            await self.rest(scope, receive, send)


def create_app(config: ApiConfig, extra_routes: list[BaseRoute] | None = None) -> Edge:
    api = Api(config)

    async def health(_: Request) -> Response:
        return JSONResponse({"status": "ok", "version": __version__})

    async def not_post(_: Request) -> Response:
        # `POST /` never reaches here (Edge sends it to the API): any other method does.
        return PlainTextResponse("Method Not Allowed", status_code=405, headers={"Allow": "POST"})

    rest = Starlette(
        routes=[
            Route("/", not_post, methods=["GET", "PUT", "DELETE", "PATCH", "OPTIONS"]),
            Route("/_portside/health", health, methods=["GET"]),
            *(extra_routes or []),
        ]
    )
    return Edge(api, rest)
