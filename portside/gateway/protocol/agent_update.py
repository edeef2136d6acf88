"""An agent's progress on UpdateContainerAgent (ops/agent_update.py says what an update is).

    POST /_portside/agent/v1/agent-update   AgentUpdateReport -> {}

The agent learns of the request from its sync (the instance's `agentUpdateStatus` PENDING)
and reports STAGING (checking what its host has installed), STAGED (a newer Portside is
there), UPDATING (restarting on it) or FAILED with the reason; it is UPDATED once it
registers again running the new version.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from portside.gateway.protocol.tasks import Json

AGENT_UPDATE = "/_portside/agent/v1/agent-update"


@dataclass(frozen=True, slots=True)
class AgentUpdateReport:
    session: str
    instance_arn: str
    status: str  # STAGING | STAGED | UPDATING | FAILED
    reason: str | None = None

    def to_wire(self) -> Json:
        return {
            "session": self.session,
            "containerInstanceArn": self.instance_arn,
            "status": self.status,
            "reason": self.reason,
        }

    @classmethod
    def from_wire(cls, d: Mapping[str, Any]) -> AgentUpdateReport:
        reason = d.get("reason")
        return cls(
            str(d["session"]),
            str(d["containerInstanceArn"]),
            str(d["status"]),
            None if reason is None else str(reason),
        )
