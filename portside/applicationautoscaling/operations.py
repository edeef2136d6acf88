"""Application Auto Scaling's operations by name: each module registers its own here."""

from __future__ import annotations

from portside.api.registry import Operations

ACTIONS = Operations("ApplicationAutoScaling")
action = ACTIONS.action
