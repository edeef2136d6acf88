"""Auto Scaling's operations by name: each module of the package registers its own here."""

from __future__ import annotations

from portside.api.registry import Operations

ACTIONS = Operations("AutoScaling")
