"""Where an alarm's actions go: handlers registered by ARN prefix.

An alarm names actions by ARN (AlarmActions, OKActions, InsufficientDataActions). When it
changes state with ActionsEnabled, each action of the new state is handed to the handler
whose prefix is the longest that the ARN starts with: Application Auto Scaling registers
`arn:aws:autoscaling:` for its scaling policies, and anything else can register its own (SNS,
EC2 actions, Systems Manager). An ARN no handler claims is a failed action in the alarm's
history, as CloudWatch records an action it could not execute; so is a handler that raises.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class AlarmAction:
    """One action to run: the alarm (as DescribeAlarms shows it) and the transition."""

    arn: str
    alarm: dict[str, Any]
    old_state: str
    new_state: str
    reason: str
    at: float


Handler = Callable[[AlarmAction], None]


class ActionRegistry:
    def __init__(self) -> None:
        self._handlers: dict[str, Handler] = {}
        self._lock = threading.Lock()

    def register(self, prefix: str, handler: Handler) -> None:
        """Send actions whose ARN starts with `prefix` to `handler` (replacing any before)."""
        with self._lock:
            self._handlers[prefix] = handler

    def unregister(self, prefix: str) -> None:
        with self._lock:
            self._handlers.pop(prefix, None)

    def handler(self, arn: str) -> Handler | None:
        with self._lock:
            matches = [p for p in self._handlers if arn.startswith(p)]
            return self._handlers[max(matches, key=len)] if matches else None

    def dispatch(self, action: AlarmAction) -> str | None:
        """Run `action`; None when it ran, else why it failed (for the history)."""
        handler = self.handler(action.arn)
        if handler is None:
            return f"Failed to execute action {action.arn}. No handler for this action."
        try:
            handler(action)
        except Exception as exc:
            return f"Failed to execute action {action.arn}. Received error: '{exc}'"
        return None


def default_actions() -> ActionRegistry:
    return ActionRegistry()
