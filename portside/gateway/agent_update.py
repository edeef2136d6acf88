"""An agent's UpdateContainerAgent progress (server side; the agent's part is
agent/self_update.py, the rules ops/agent_update.py's).

    POST /_portside/agent/v1/agent-update  AgentUpdateReport -> {}

Only for one of the asking session's instances (else AccessDeniedException); a report that
does not follow the instance's current state (a stale one) is ignored.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from starlette.routing import BaseRoute, Route

from portside.errors import AccessDeniedException, ClientException, SerializationException
from portside.gateway.protocol.agent_update import AGENT_UPDATE, AgentUpdateReport
from portside.ops import agent_update
from portside.ops import instances as inst_ops
from portside.ops.context import Op, World

InstancesOf = Callable[[str], set[str] | None]


class Done:
    def to_wire(self) -> dict[str, Any]:
        return {}


class AgentUpdateDesk:
    def __init__(self, world: World, instances_of: InstancesOf) -> None:
        self.world = world
        self.instances_of = instances_of

    def routes(self, endpoint: Callable[[Any], Any]) -> list[BaseRoute]:
        return [Route(AGENT_UPDATE, endpoint(self.answer), methods=["POST"])]

    async def answer(self, op: Op, params: dict[str, Any]) -> Done:
        try:
            report = AgentUpdateReport.from_wire(params)
        except (KeyError, TypeError) as exc:
            raise SerializationException(f"The request is not a valid message: {exc!r}") from None
        instances = self.instances_of(report.session)
        if instances is None:
            raise ClientException("UnknownSession: open a new session.")
        if report.instance_arn not in instances:
            raise AccessDeniedException(
                f"The container instance {report.instance_arn} is not one of this agent's session."
            )
        await asyncio.to_thread(self.run, op, report)
        return Done()

    def run(self, op: Op, report: AgentUpdateReport) -> None:
        with op.store.transaction() as tx:
            inst = inst_ops.load(tx, report.instance_arn)
            if inst is not None:
                agent_update.report(tx, inst, report.status, report.reason)
