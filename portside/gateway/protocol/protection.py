"""Task scale-in protection asked by a task through its agent's endpoint
(`$ECS_AGENT_URI/task-protection/v1/state`, agent/metadata/protection.py).

    POST /_portside/agent/v1/task-protection   ProtectionRequest -> ProtectionAnswer

`enabled` None asks (GetTaskProtection); True or False sets (UpdateTaskProtection, with
`expires_in_minutes` or ECS's default). The answer is ECS's response for the one task, in
the API's members (epoch seconds for expirationDate); ECS's errors come back as the
gateway's errors, code and message as ECS gives them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from portside.gateway.protocol.tasks import Json

PROTECTION = "/_portside/agent/v1/task-protection"


@dataclass(frozen=True, slots=True)
class ProtectionRequest:
    session: str
    task_arn: str
    enabled: bool | None = None  # None: only read it
    expires_in_minutes: int | None = None

    def to_wire(self) -> Json:
        return {
            "session": self.session,
            "taskArn": self.task_arn,
            "protectionEnabled": self.enabled,
            "expiresInMinutes": self.expires_in_minutes,
        }

    @classmethod
    def from_wire(cls, d: Mapping[str, Any]) -> ProtectionRequest:
        enabled = d.get("protectionEnabled")
        minutes = d.get("expiresInMinutes")
        if enabled is not None and not isinstance(enabled, bool):
            raise TypeError("protectionEnabled must be a boolean")
        if minutes is not None and (isinstance(minutes, bool) or not isinstance(minutes, int)):
            raise TypeError("expiresInMinutes must be an integer")
        return cls(str(d["session"]), str(d["taskArn"]), enabled, minutes)


@dataclass(frozen=True, slots=True)
class ProtectionAnswer:
    """ECS's response members: `protectedTasks` (at most this task) and `failures`."""

    protected_tasks: list[Json] = field(default_factory=list)
    failures: list[Json] = field(default_factory=list)

    def to_wire(self) -> Json:
        return {"protectedTasks": self.protected_tasks, "failures": self.failures}

    @classmethod
    def from_wire(cls, d: Mapping[str, Any]) -> ProtectionAnswer:
        return cls(list(d.get("protectedTasks") or []), list(d.get("failures") or []))
