"""UpdateContainerAgent: wire <-> ops (ops/agent_update.py)."""

from __future__ import annotations

from typing import Any

from portside.api.ecs.registry import action
from portside.ops import agent_update
from portside.ops.context import Op
from portside.wire.ecs_shapes import shape_instance


@action("UpdateContainerAgent")
def update_container_agent(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    view = agent_update.request(op, p.get("cluster"), p["containerInstance"])
    return {"containerInstance": shape_instance(view)}
