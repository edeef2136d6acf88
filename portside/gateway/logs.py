"""The agents' log ingest, server side: awslogs output shipped into the log store.

    POST /_portside/agent/v1/logs/prepare  {"group", "stream", "create": bool} -> {}
    POST /_portside/agent/v1/logs/put      {"group", "stream", "first": int,
                                            "events": [{"timestamp", "message"}, ...]}
                                           -> {"next": int}

`prepare` creates the stream (and the group when `create`, which is awslogs-create-group),
once a Fargate task's execution role is found to allow it (iam/enforce/execution_logs.py);
without `create` a missing group is ResourceNotFoundException, which fails the task as ECS
does. `put` is idempotent across retries: `first` is the agent's count of events shipped to
the stream before this batch, and the store keeps only the events past its own counter. Both
answer after the commit. Unlike PutLogEvents, nothing is rejected for its timestamp: an
agent's batch is the container's output, and losing it would be worse than storing it. The
messages, and the checks a batch gets as it is read, are gateway/protocol/logs.py's.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.routing import BaseRoute, Route

from portside.errors import AccessDeniedException, ServerException
from portside.gateway import protocol
from portside.gateway.protocol import LogsPrepare, LogsPut, LogsPutAnswer
from portside.iam.enforce.execution_logs import logs_refusal
from portside.logs.store import LogStore
from portside.ops.context import Op, World

Endpoint = Callable[[Op, dict[str, Any]], Awaitable[Any]]


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
        ask = LogsPrepare.from_wire(params)
        if ask.task_arn is not None:
            refused = await asyncio.to_thread(
                logs_refusal, self.world, ask.task_arn, ask.group, ask.stream, ask.create
            )
            if refused is not None:
                raise AccessDeniedException(refused)
        now = int(op.now() * 1000)
        await asyncio.to_thread(
            self._store().ensure_stream, ask.group, ask.stream, create_group=ask.create, now_ms=now
        )
        return {}

    async def put(self, op: Op, params: dict[str, Any]) -> LogsPutAnswer:
        # Checking 10,000 events is CPU work too: off the event loop with the write.
        return await asyncio.to_thread(self._put, op, params)

    def _put(self, op: Op, params: dict[str, Any]) -> LogsPutAnswer:
        batch = LogsPut.from_wire(params)
        now = int(op.now() * 1000)
        store = self._store()
        return LogsPutAnswer(
            store.put_shipped(batch.group, batch.stream, batch.first, batch.events, now)
        )
