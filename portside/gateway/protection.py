"""Task scale-in protection for a task's own agent (server side; the agent's endpoint is
agent/metadata/protection.py).

    POST /_portside/agent/v1/task-protection  {"session", "taskArn", "protectionEnabled",
                                               "expiresInMinutes"} -> ProtectionAnswer

Only for a task placed on one of the asking session's instances (else
AccessDeniedException): the ECS agent calls UpdateTaskProtection/GetTaskProtection for its
own cluster and the task the request came from, so the answer here is ops/protection.py's,
as the API gives it, for that task in its cluster, in the task's account and region.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from starlette.routing import BaseRoute, Route

from portside.api.ecs.protection import shape
from portside.errors import AccessDeniedException, ClientException, SerializationException
from portside.gateway.protocol.protection import (
    PROTECTION,
    ProtectionAnswer,
    ProtectionRequest,
)
from portside.ops import protection
from portside.ops import tasks as task_ops
from portside.ops.context import Caller, Op, World, root_principal

InstancesOf = Callable[[str], set[str] | None]


class ProtectionDesk:
    def __init__(self, world: World, instances_of: InstancesOf) -> None:
        self.world = world
        self.instances_of = instances_of

    def routes(self, endpoint: Callable[[Any], Any]) -> list[BaseRoute]:
        """The route, wrapped by the gateway's signed-endpoint wrapper."""
        return [Route(PROTECTION, endpoint(self.answer), methods=["POST"])]

    async def answer(self, op: Op, params: dict[str, Any]) -> ProtectionAnswer:
        try:
            ask = ProtectionRequest.from_wire(params)
        except (KeyError, TypeError) as exc:
            raise SerializationException(f"The request is not a valid message: {exc!r}") from None
        instances = self.instances_of(ask.session)
        if instances is None:
            raise ClientException("UnknownSession: open a new session.")
        return await asyncio.to_thread(self.run, op, ask, instances)

    def run(self, op: Op, ask: ProtectionRequest, instances: set[str]) -> ProtectionAnswer:
        with op.store.read() as tx:
            task = task_ops.load(tx, ask.task_arn)
        if task is None or task.instance_arn not in instances:
            raise AccessDeniedException(
                f"The task {ask.task_arn} is not running on an instance of this agent's session."
            )
        _, _, _, region, account, _ = ask.task_arn.split(":", 5)
        as_task = Op(
            op.world, Caller(account, region, op.caller.access_key, root_principal(account))
        )
        if ask.enabled is None:
            done, failures = protection.get(as_task, task.cluster_arn, [task.arn])
        else:
            done, failures = protection.update(
                as_task, task.cluster_arn, [task.arn], ask.enabled, ask.expires_in_minutes
            )
        return ProtectionAnswer([shape(p) for p in done], [dict(f) for f in failures])
