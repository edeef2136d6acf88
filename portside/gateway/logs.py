"""The agents' log ingest, server side: awslogs output shipped into the log store.

    POST /_portside/agent/v1/logs/prepare  {"group", "stream", "create": bool} -> {}
    POST /_portside/agent/v1/logs/put      {"group", "stream", "first": int,
                                            "events": [{"timestamp", "message"}, ...]}
                                           -> {"next": int}

`prepare` creates the stream (and the group when `create`, which is awslogs-create-group);
without `create` a missing group is ResourceNotFoundException, which fails the task as ECS
does. `put` is idempotent across retries: `first` is the agent's count of events shipped to
the stream before this batch, and the store keeps only the events past its own counter. Both
answer after the commit. Unlike PutLogEvents, nothing is rejected for its timestamp: an
agent's batch is the container's output, and losing it would be worse than storing it.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.routing import BaseRoute, Route

from portside.errors import InvalidParameterException, ServerException
from portside.gateway import protocol
from portside.logs.rules import MAX_BATCH_EVENTS
from portside.logs.store import LogStore
from portside.ops.context import Op, World

MAX_PUT_BYTES = 4 * 1024 * 1024
_GROUP = re.compile(r"[\.\-_/#A-Za-z0-9]{1,512}")
_STREAM = re.compile(r"[^:*]{1,512}")

Endpoint = Callable[[Op, dict[str, Any]], Awaitable[dict[str, Any]]]


def _names(params: dict[str, Any]) -> tuple[str, str]:
    group, stream = params.get("group"), params.get("stream")
    if not isinstance(group, str) or _GROUP.fullmatch(group) is None:
        raise InvalidParameterException(f"Invalid log group name: {group!r}")
    if not isinstance(stream, str) or _STREAM.fullmatch(stream) is None:
        raise InvalidParameterException(f"Invalid log stream name: {stream!r}")
    return group, stream


def _events(params: dict[str, Any]) -> list[tuple[int, str]]:
    raw = params.get("events")
    if not isinstance(raw, list):
        raise InvalidParameterException("events must be a list.")
    if len(raw) > MAX_BATCH_EVENTS:
        raise InvalidParameterException(
            f"A batch holds at most {MAX_BATCH_EVENTS} events, got {len(raw)}."
        )
    # Comprehensions rather than one loop with branches: this runs for every shipped line.
    malformed = InvalidParameterException(
        "Each event needs an integer timestamp and a string message."
    )
    try:
        events = [(e["timestamp"], e["message"]) for e in raw]
    except (KeyError, TypeError):
        raise malformed from None
    if not all(type(ts) is int for ts, _ in events) or not all(type(m) is str for _, m in events):
        raise malformed
    if sum(len(m) for _, m in events) > MAX_PUT_BYTES:
        raise InvalidParameterException(f"A batch holds at most {MAX_PUT_BYTES} bytes.")
    if events and min(ts for ts, _ in events) < 0:
        events = [(max(ts, 0), m) for ts, m in events]
    return events


class LogIngest:
    def __init__(self, world: World) -> None:
        self.world = world

    def routes(self, endpoint: Callable[[Endpoint], Any]) -> list[BaseRoute]:
        """The routes, each wrapped by the gateway's signed-endpoint wrapper."""
        return [
            Route(protocol.LOGS_PREPARE, endpoint(self.prepare), methods=["POST"]),
            Route(protocol.LOGS_PUT, endpoint(self.put), methods=["POST"]),
        ]

    def _store(self) -> LogStore:
        if self.world.logs is None:
            raise ServerException("The log store is not configured.")
        return self.world.logs

    async def prepare(self, op: Op, params: dict[str, Any]) -> dict[str, Any]:
        group, stream = _names(params)
        create = params.get("create", False)
        if not isinstance(create, bool):
            raise InvalidParameterException("create must be a boolean.")
        now = int(op.now() * 1000)
        await asyncio.to_thread(
            self._store().ensure_stream, group, stream, create_group=create, now_ms=now
        )
        return {}

    async def put(self, op: Op, params: dict[str, Any]) -> dict[str, Any]:
        # Checking 10,000 events is CPU work too: off the event loop with the write.
        return await asyncio.to_thread(self._put, op, params)

    def _put(self, op: Op, params: dict[str, Any]) -> dict[str, Any]:
        group, stream = _names(params)
        first = params.get("first")
        if type(first) is not int or first < 0:
            raise InvalidParameterException("first must be a non-negative integer.")
        events = _events(params)
        now = int(op.now() * 1000)
        return {"next": self._store().put_shipped(group, stream, first, events, now)}
