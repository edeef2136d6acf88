"""What the agent says of a task (`TaskReport`, agent -> control plane: the agent's
SubmitTaskStateChange).

A report's wire form leaves out what the agent does not know yet: the control plane applies
only the members a report carries (ops/task_reports.py), so an absent member and an empty one
differ.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from portside.gateway.protocol.tasks import Attachment, Json, given, opt_str


@dataclass(frozen=True, slots=True)
class ManagedAgent:
    """ECS Exec's agent in a container (this agent serves it: agent/exec.py)."""

    name: str
    last_status: str
    last_started_at: float | None = None

    def to_wire(self) -> Json:
        out: Json = {"name": self.name, "lastStatus": self.last_status}
        if self.last_started_at is not None:
            out["lastStartedAt"] = self.last_started_at
        return out

    @classmethod
    def from_wire(cls, d: Mapping[str, Any]) -> ManagedAgent:
        started = d.get("lastStartedAt")
        return cls(str(d["name"]), str(d["lastStatus"]), None if started is None else started)


@dataclass(frozen=True, slots=True)
class ContainerReport:
    name: str
    last_status: str
    runtime_id: str | None = None
    image_digest: str | None = None
    exit_code: int | None = None
    reason: str | None = None
    network_bindings: tuple[Mapping[str, Any], ...] = ()  # ECS's networkBindings entries
    health_status: str | None = None
    managed_agents: tuple[ManagedAgent, ...] = ()
    private_ipv4: tuple[str, str] | None = None  # awsvpc: (ENI attachment id, address)

    def to_wire(self) -> Json:
        out: Json = {
            "name": self.name,
            "lastStatus": self.last_status,
            **given(
                ("runtimeId", self.runtime_id),
                ("imageDigest", self.image_digest),
                ("exitCode", self.exit_code),
                ("reason", self.reason),
            ),
        }
        if self.network_bindings:
            out["networkBindings"] = list(self.network_bindings)
        if self.health_status is not None:
            out["healthStatus"] = self.health_status
        if self.managed_agents:
            out["managedAgents"] = [a.to_wire() for a in self.managed_agents]
        if self.private_ipv4 is not None:
            attachment, address = self.private_ipv4
            out["networkInterfaces"] = [{"attachmentId": attachment, "privateIpv4Address": address}]
        return out

    @classmethod
    def from_wire(cls, d: Mapping[str, Any]) -> ContainerReport:
        nic = next(iter(d.get("networkInterfaces") or ()), None)
        exit_code = d.get("exitCode")
        return cls(
            name=str(d.get("name", "")),
            last_status=str(d.get("lastStatus", "PENDING")),
            runtime_id=opt_str(d.get("runtimeId")),
            image_digest=opt_str(d.get("imageDigest")),
            exit_code=None if exit_code is None else int(exit_code),
            reason=opt_str(d.get("reason")),
            network_bindings=tuple(d.get("networkBindings") or ()),
            health_status=opt_str(d.get("healthStatus")),
            managed_agents=tuple(ManagedAgent.from_wire(a) for a in d.get("managedAgents") or ()),
            private_ipv4=(str(nic["attachmentId"]), str(nic["privateIpv4Address"]))
            if nic
            else None,
        )


# Report members that are times or words, in wire order: (wire name, attribute).
_REPORT_FIELDS = (
    ("startedAt", "started_at"),
    ("pullStartedAt", "pull_started_at"),
    ("pullStoppedAt", "pull_stopped_at"),
    ("executionStoppedAt", "execution_stopped_at"),
    ("stoppedAt", "stopped_at"),
    ("stopCode", "stop_code"),
    ("stoppedReason", "stopped_reason"),
)


@dataclass(frozen=True, slots=True)
class TaskReport:
    """What the agent knows of a task now (the agent's SubmitTaskStateChange)."""

    task_arn: str
    last_status: str
    containers: tuple[ContainerReport, ...] = ()
    started_at: float | None = None  # when the last container really started
    pull_started_at: float | None = None
    pull_stopped_at: float | None = None
    execution_stopped_at: float | None = None
    stopped_at: float | None = None
    stop_code: str | None = None
    stopped_reason: str | None = None
    attachments: tuple[Attachment, ...] | None = None  # awsvpc, once the network exists

    def to_wire(self) -> Json:
        out: Json = {
            "taskArn": self.task_arn,
            "lastStatus": self.last_status,
            "containers": [c.to_wire() for c in self.containers],
        }
        out.update(given(*((key, getattr(self, attr)) for key, attr in _REPORT_FIELDS)))
        if self.attachments is not None:
            out["attachments"] = [a.to_wire() for a in self.attachments]
        return out

    @classmethod
    def from_wire(cls, d: Mapping[str, Any]) -> TaskReport:
        attachments = d.get("attachments")
        return cls(
            task_arn=str(d.get("taskArn")),
            last_status=str(d.get("lastStatus", "")),
            containers=tuple(ContainerReport.from_wire(c) for c in d.get("containers") or ()),
            attachments=None
            if attachments is None
            else tuple(Attachment.from_wire(a) for a in attachments),
            **{attr: d.get(key) for key, attr in _REPORT_FIELDS},
        )
