"""ECS task scale-in protection actions: wire <-> ops (ops/protection.py)."""

from __future__ import annotations

from typing import Any

from portside.api.ecs.registry import action
from portside.ops import protection
from portside.ops.context import Op
from portside.ops.protection import Protection


def shape(p: Protection) -> dict[str, Any]:
    out: dict[str, Any] = {"taskArn": p.task_arn, "protectionEnabled": p.enabled}
    if p.expires_at is not None:
        out["expirationDate"] = p.expires_at
    return out


@action("UpdateTaskProtection")
def update_task_protection(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    done, failures = protection.update(
        op, p["cluster"], p["tasks"], bool(p["protectionEnabled"]), p.get("expiresInMinutes")
    )
    return {"protectedTasks": [shape(t) for t in done], "failures": failures}


@action("GetTaskProtection")
def get_task_protection(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    done, failures = protection.get(op, p["cluster"], p.get("tasks"))
    return {"protectedTasks": [shape(t) for t in done], "failures": failures}
