"""The table of ECS actions: each api/ecs module registers its handlers here."""

from __future__ import annotations

from portside.api.registry import Handler, Operations

ACTIONS = Operations("ECS")
action = ACTIONS.action

__all__ = ["ACTIONS", "Handler", "action"]
