"""The credentials endpoint's answers, in the ECS agent's shapes, served by the agent's
metadata endpoint (same listeners: loopback and each task network's gateway, which
169.254.170.2:80 is routed to: routing.py).

    GET /v2/credentials/<id>    {"RoleArn", "AccessKeyId", "SecretAccessKey", "Token",
                                 "Expiration": "2026-12-07T16:36:20Z"}
    GET /v1/credentials?id=<id> the same (the ECS agent's older form)

An id no running task of this agent holds is the ECS agent's 400
`{"code": "InvalidIdInRequest", "message": "CredentialsV2Request: Credentials not found",
"HTTPErrorCode": 400}`; no id at all is `NoIdInRequest`; credentials the control plane
could not give (it is unreachable) are a 500 `InternalServerError`.

Requests that reach 169.254.170.2:80 for anything else (their Host is that address) are the
task's AWS calls when its `AWS_ENDPOINT_URL` is `http://169.254.170.2`: they go on to the
control plane unchanged (method, path, query, headers with the Host the SDK signed, body),
so a task reaches Portside's API in every network mode, whatever address the control plane
listens on.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from portside.agent.credentials.cache import Refused
from portside.gateway.protocol.credentials import TaskCredentials

log = logging.getLogger("portside.agent.credentials")

LINK_LOCAL = "169.254.170.2"
V2 = "/v2/credentials"
V1 = "/v1/credentials"
_HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "content-length",
        "content-encoding",
    }
)

# credentials id -> the task's session (Refused, KeyError for an id it does not know).
Lookup = Callable[[str], TaskCredentials]


def _error(code: str, message: str, status: int) -> Response:
    body = {"code": code, "message": message, "HTTPErrorCode": status}
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


def document(creds: TaskCredentials) -> dict[str, str]:
    """The ECS agent's answer for a task's credentials."""
    expiration = datetime.fromtimestamp(creds.expiration, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "RoleArn": creds.role_arn,
        "AccessKeyId": creds.access_key_id,
        "SecretAccessKey": creds.secret_access_key,
        "Token": creds.token,
        "Expiration": expiration,
    }


class CredentialsEndpoint:
    """The routes, given how to find a task's credentials by id and where the control
    plane is (`upstream`, for the pass-through; None: no pass-through)."""

    def __init__(
        self,
        lookup: Lookup,
        upstream: str | None = None,
        peek: Callable[[str], TaskCredentials | None] | None = None,
    ) -> None:
        self.lookup = lookup
        self.peek = peek  # a fresh session without blocking, or None (then `lookup`, in a thread)
        self.upstream = upstream.rstrip("/") if upstream else None
        self._http: httpx.AsyncClient | None = None

    def routes(self) -> list[BaseRoute]:
        methods = ["GET", "POST", "PUT", "DELETE", "HEAD", "PATCH"]
        return [
            Route(V2 + "/{id}", self._v2, methods=["GET"]),
            Route(V2, self._no_id, methods=["GET"]),
            Route(V2 + "/", self._no_id, methods=["GET"]),
            Route(V1, self._v1, methods=["GET"]),
            Route("/{path:path}", self._pass_through, methods=methods),
        ]

    async def _no_id(self, request: Request) -> Response:
        return _error("NoIdInRequest", "CredentialsV2Request: No ID in the request", 400)

    async def _v1(self, request: Request) -> Response:
        found = request.query_params.get("id")
        if not found:
            return _error("NoIdInRequest", "CredentialsV1Request: No ID in the request", 400)
        return await self._answer(found, "CredentialsV1Request")

    async def _v2(self, request: Request) -> Response:
        return await self._answer(request.path_params["id"], "CredentialsV2Request")

    async def _answer(self, found: str, what: str) -> Response:
        creds = self.peek(found) if self.peek is not None else None
        if creds is not None:
            return Response(orjson.dumps(document(creds)), media_type="application/json")
        try:
            creds = await asyncio.to_thread(self.lookup, found)
        except (KeyError, Refused):
            return _error("InvalidIdInRequest", f"{what}: Credentials not found", 400)
        except Exception as exc:
            log.warning("credentials for id %s…: %s", found[:8], exc)
            return _error("InternalServerError", f"{what}: Credentials uninitialized", 500)
        return Response(orjson.dumps(document(creds)), media_type="application/json")

    async def _pass_through(self, request: Request) -> Response:
        host = (request.headers.get("host") or "").split(":")[0]
        if self.upstream is None or host != LINK_LOCAL:
            # The ECS agent's router answers an unknown path in Go's words.
            return PlainTextResponse("404 page not found\n", status_code=404)
        if self._http is None:
            self._http = httpx.AsyncClient(timeout=httpx.Timeout(70.0))
        url = self.upstream + request.url.path
        if request.url.query:
            url += "?" + request.url.query
        headers: list[tuple[str, str]] = [
            (k, v) for k, v in request.headers.items() if k.lower() not in _HOP_BY_HOP
        ]
        try:
            answer = await self._http.request(
                request.method, url, headers=headers, content=await request.body()
            )
        except httpx.HTTPError as exc:
            log.warning("task API call to %s not passed on: %s", url, exc)
            return PlainTextResponse("control plane unreachable\n", status_code=502)
        kept: dict[str, Any] = {
            k: v for k, v in answer.headers.items() if k.lower() not in _HOP_BY_HOP
        }
        return Response(answer.content, status_code=answer.status_code, headers=kept)

    async def close(self) -> None:
        if self._http is not None:
            await self._http.aclose()
