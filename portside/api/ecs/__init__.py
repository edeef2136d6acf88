"""ECS actions, one module per resource family. Importing this package registers them all."""

from __future__ import annotations

from portside.api.ecs import (  # noqa: F401  (imported to register their actions)
    account_settings,
    agent_actions,
    agent_update,
    attributes,
    capacity_providers,
    clusters,
    daemons,
    exec,
    express,
    gateways,
    instances,
    protection,
    services,
    tags,
    task_definitions,
    task_sets,
    tasks,
)
from portside.api.ecs.registry import ACTIONS
from portside.api.registry import ServiceSpec
from portside.serviceconnect import api as _service_connect  # noqa: F401  (its action)

# ECS's documented request size limits are per member (a task definition's 64 KiB...); the
# body limit is a backstop well above any valid request.
SERVICE = ServiceSpec("ecs", ACTIONS, signing_name="ecs")

__all__ = ["ACTIONS", "SERVICE"]
