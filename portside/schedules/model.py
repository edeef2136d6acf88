"""A schedule as stored: what CreateSchedule said, plus where its firing stands.

`target` and `flexible_window` keep EventBridge Scheduler's document shape (Target,
FlexibleTimeWindow): they are passed through to GetSchedule and read by target.py, and the
model has nothing to add to them (as TaskDefinition keeps its `spec`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

ENABLED, DISABLED = "ENABLED", "DISABLED"
SUCCEEDED, FAILED, SKIPPED = "SUCCEEDED", "FAILED", "SKIPPED"
DEFAULT_GROUP = "default"
# The Scheduler's defaults, as GetSchedule shows them.
DEFAULT_RETRY = {"MaximumEventAgeInSeconds": 86400, "MaximumRetryAttempts": 185}


@dataclass(slots=True)
class Pending:
    """An occurrence whose invocation failed and will be tried again."""

    nominal: int  # the occurrence (epoch seconds)
    attempts: int  # invocations made so far
    retry_at: float
    count: int  # tasks still to start
    task_arns: list[str] = field(default_factory=list)  # started by earlier attempts


@dataclass(slots=True)
class LastRun:
    """The outcome of the latest occurrence handled: what a user checks."""

    nominal: int
    at: float
    outcome: str  # SUCCEEDED | FAILED | SKIPPED
    attempts: int = 0
    task_arns: list[str] = field(default_factory=list)
    reason: str | None = None


@dataclass(slots=True)
class Schedule:
    arn: str
    name: str
    group_name: str
    expression: str
    timezone: str
    state: str
    target: dict[str, Any]
    flexible_window: dict[str, Any]
    action_after_completion: str
    created_at: float
    modified_at: float
    anchor: int  # where a rate counts from: StartDate, else the last create or update
    start_date: float | None = None
    end_date: float | None = None
    description: str | None = None
    kms_key_arn: str | None = None
    client_token: str | None = None
    next_fire: int | None = None  # the next occurrence not handled yet
    pending: Pending | None = None
    last_run: LastRun | None = None
    version: int = 1

    @property
    def region(self) -> str:
        return self.arn.split(":")[3]

    @property
    def max_age(self) -> int:
        retry = self.target.get("RetryPolicy") or DEFAULT_RETRY
        return int(retry.get("MaximumEventAgeInSeconds", DEFAULT_RETRY["MaximumEventAgeInSeconds"]))

    @property
    def max_retries(self) -> int:
        retry = self.target.get("RetryPolicy") or DEFAULT_RETRY
        return int(retry.get("MaximumRetryAttempts", DEFAULT_RETRY["MaximumRetryAttempts"]))

    @property
    def window_seconds(self) -> int:
        if self.flexible_window.get("Mode") != "FLEXIBLE":
            return 0
        return int(self.flexible_window.get("MaximumWindowInMinutes") or 0) * 60


def schedule_arn(region: str, account: str, group: str, name: str) -> str:
    return f"arn:aws:scheduler:{region}:{account}:schedule/{group}/{name}"


def group_arn(region: str, account: str, group: str) -> str:
    return f"arn:aws:scheduler:{region}:{account}:schedule-group/{group}"


def started_by(name: str) -> str:
    """What EventBridge Scheduler puts in a task's startedBy: `chronos-schedule/NAME`, cut to
    RunTask's 36 characters (seen on AWS: "chronos-schedule/gold-coast-data-lak")."""
    return f"chronos-schedule/{name}"[:36]
