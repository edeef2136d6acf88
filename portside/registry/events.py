"""The registry's notifications: it posts an event after each manifest it stores (the
configuration's `notifications` endpoint, signed with a bearer secret only the two share).
Portside reads the pushes out of them and hands them on (ECR holds immutable tags there)."""

from __future__ import annotations

import asyncio
import hmac
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

log = logging.getLogger("portside.registry")

EVENTS_PATH = "/_portside/ecr/events"


@dataclass(frozen=True, slots=True)
class Push:
    """A manifest stored: under a tag, or by digest alone (tag None)."""

    repository: str
    digest: str
    tag: str | None
    media_type: str


def pushes(envelope: Any) -> list[Push]:
    """The manifest pushes in a notification envelope, in order; pure."""
    out = []
    events = envelope.get("events") if isinstance(envelope, dict) else None
    for event in events or ():
        if not isinstance(event, dict) or event.get("action") != "push":
            continue
        target = event.get("target") or {}
        repository, digest = target.get("repository"), target.get("digest")
        if not repository or not digest:
            continue
        out.append(
            Push(
                str(repository), str(digest), target.get("tag") or None, target.get("mediaType", "")
            )
        )
    return out


def events_route(secret: str, on_push: Callable[[Sequence[Push]], None]) -> Route:
    expected = f"Bearer {secret}".encode()

    async def events(request: Request) -> Response:
        given = (request.headers.get("authorization") or "").encode()
        if not hmac.compare_digest(given, expected):
            return Response(status_code=401)
        try:
            found = pushes(orjson.loads(await request.body()))
        except orjson.JSONDecodeError:
            return Response(status_code=400)
        if found:
            try:
                await asyncio.to_thread(on_push, found)
            except Exception as exc:
                # Answered as a failure, so the registry delivers the event again.
                log.warning("registry: handling pushes %s failed: %r", found, exc)
                return Response(status_code=503)
        return Response(status_code=200)

    return Route(EVENTS_PATH, events, methods=["POST"])
