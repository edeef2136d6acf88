"""ECR's operations by name: each module of the package registers its own."""

from __future__ import annotations

from portside.api.registry import Operations

ACTIONS = Operations("ECR")
action = ACTIONS.action
