"""ECS ExecuteCommand: wire <-> ops; the session itself lives in portside/exec."""

from __future__ import annotations

from typing import Any

from portside.api.ecs.registry import action
from portside.errors import ServerException
from portside.ops import exec as exec_ops
from portside.ops.context import Op
from portside.wire import task_requests


@action("ExecuteCommand")
def execute_command(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    target = exec_ops.resolve(op, task_requests.execute_command(p))
    registry = op.world.exec
    if registry is None:
        raise ServerException("ECS Exec is not available on this server.")
    session = registry.create(
        target, session_id=op.world.new_id()[:17], access_key=op.caller.access_key, now=op.now()
    )
    return {
        "clusterArn": target.cluster_arn,
        "containerArn": target.container_arn,
        "containerName": target.container_name,
        "interactive": True,
        "taskArn": target.task_arn,
        "session": {
            "sessionId": session.id,
            "streamUrl": registry.stream_url(session.id),
            "tokenValue": session.token,
        },
    }
