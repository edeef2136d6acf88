"""ECS actions, one module per resource family. Importing this package registers them all."""

from __future__ import annotations

from portside.api.ecs import (  # noqa: F401  (imported to register their actions)
    account_settings,
    attributes,
    capacity_providers,
    clusters,
    exec,
    instances,
    services,
    tags,
    task_definitions,
    tasks,
)
from portside.api.ecs.registry import ACTIONS

__all__ = ["ACTIONS"]
