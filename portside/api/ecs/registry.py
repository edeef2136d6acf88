"""The table of ECS actions: each api/ecs module registers its handlers here."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from portside.ops.context import Op

Handler = Callable[[Op, dict[str, Any]], dict[str, Any]]

ACTIONS: dict[str, Handler] = {}


def action(name: str) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        if name in ACTIONS:
            raise RuntimeError(f"ECS action {name} registered twice")
        ACTIONS[name] = fn
        return fn

    return register
