"""The session and sync messages, the exec offer and the FARGATE registration."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from portside.gateway.protocol.reports import TaskReport
from portside.gateway.protocol.tasks import AgentTask, Json, opt_int, opt_str

MAX_WAIT = 25.0  # seconds a sync may wait for news at most


@dataclass(frozen=True, slots=True)
class SessionOpen:
    instances: tuple[str, ...]

    def to_wire(self) -> Json:
        return {"instances": list(self.instances)}

    @classmethod
    def from_wire(cls, d: Mapping[str, Any]) -> SessionOpen:
        return cls(tuple(str(a) for a in d.get("instances") or ()))


@dataclass(frozen=True, slots=True)
class SessionOpened:
    session: str
    dns: str | None = None  # the control plane's DNS server, "HOST:PORT" (task resolvers)

    def to_wire(self) -> Json:
        out: Json = {"session": self.session}
        if self.dns:
            out["dns"] = self.dns
        return out

    @classmethod
    def from_wire(cls, d: Mapping[str, Any]) -> SessionOpened:
        return cls(str(d["session"]), opt_str(d.get("dns")))


@dataclass(frozen=True, slots=True)
class SyncRequest:
    session: str
    after: int = 0  # the feed position applied; 0: send everything (a full snapshot)
    reports: tuple[TaskReport, ...] = ()
    wait: float = MAX_WAIT  # seconds the long poll may wait for news

    def to_wire(self) -> Json:
        return {
            "session": self.session,
            "after": self.after,
            "reports": [r.to_wire() for r in self.reports],
            "wait": self.wait,
        }

    @classmethod
    def from_wire(cls, d: Mapping[str, Any]) -> SyncRequest:
        return cls(
            session=str(d.get("session")),
            after=int(d.get("after") or 0),
            reports=tuple(TaskReport.from_wire(r) for r in d.get("reports") or ()),
            wait=min(float(d.get("wait", MAX_WAIT)), MAX_WAIT),
        )


@dataclass(frozen=True, slots=True)
class AgentInstance:
    """One of the session's container instances, as the control plane holds it."""

    arn: str
    status: str
    agent_connected: bool
    version: int
    # UpdateContainerAgent's state (ops/agent_update.py); None: no update asked.
    agent_update_status: str | None = None

    def to_wire(self) -> Json:
        out: Json = {
            "containerInstanceArn": self.arn,
            "status": self.status,
            "agentConnected": self.agent_connected,
            "version": self.version,
        }
        if self.agent_update_status:
            out["agentUpdateStatus"] = self.agent_update_status
        return out

    @classmethod
    def from_wire(cls, d: Mapping[str, Any]) -> AgentInstance:
        update = d.get("agentUpdateStatus")
        return cls(
            str(d["containerInstanceArn"]),
            str(d.get("status", "")),
            bool(d.get("agentConnected")),
            int(d.get("version") or 0),
            None if update is None else str(update),
        )


@dataclass(frozen=True, slots=True)
class ExecOffer:
    """An ECS Exec session waiting for this host's agent to dial in (exec/registry.py)."""

    session_id: str
    agent_token: str
    task_arn: str
    instance_arn: str
    container: str
    runtime_id: str | None
    command: tuple[str, ...]
    tty: bool
    rows: int | None = None
    cols: int | None = None

    def to_wire(self) -> Json:
        return {
            "sessionId": self.session_id,
            "agentToken": self.agent_token,
            "taskArn": self.task_arn,
            "instanceArn": self.instance_arn,
            "container": self.container,
            "runtimeId": self.runtime_id,
            "command": list(self.command),
            "tty": self.tty,
            "rows": self.rows,
            "cols": self.cols,
        }

    @classmethod
    def from_wire(cls, d: Mapping[str, Any]) -> ExecOffer:
        return cls(
            session_id=str(d["sessionId"]),
            agent_token=str(d.get("agentToken", "")),
            task_arn=str(d.get("taskArn")),
            instance_arn=str(d.get("instanceArn", "")),
            container=str(d.get("container")),
            runtime_id=opt_str(d.get("runtimeId")),
            command=tuple(str(a) for a in d.get("command") or ()),
            tty=bool(d.get("tty")),
            rows=opt_int(d.get("rows")),
            cols=opt_int(d.get("cols")),
        )


@dataclass(frozen=True, slots=True)
class Refusal:
    """A report the control plane did not apply (a backward state change, an unknown task)."""

    task_arn: str
    reason: str

    def to_wire(self) -> Json:
        return {"taskArn": self.task_arn, "reason": self.reason}

    @classmethod
    def from_wire(cls, d: Mapping[str, Any]) -> Refusal:
        return cls(str(d.get("taskArn")), str(d.get("reason", "")))


@dataclass(frozen=True, slots=True)
class SyncAnswer:
    """The session's tasks and instances that changed after the request's `after` (all of
    them when `full`), up to the feed position `seq`."""

    seq: int
    full: bool
    tasks: tuple[AgentTask, ...] = ()
    instances: tuple[AgentInstance, ...] = ()
    refused: tuple[Refusal, ...] = ()
    exec: tuple[ExecOffer, ...] = ()

    def to_wire(self) -> Json:
        # Each task definition travels once per answer, however many tasks run it.
        definitions: dict[str, Mapping[str, Any]] = {}
        tasks = []
        for t in self.tasks:
            definitions.setdefault(t.task_definition_arn, t.definition)
            tasks.append(t.to_wire(with_definition=False))
        return {
            "seq": self.seq,
            "full": self.full,
            "tasks": tasks,
            "definitions": definitions,
            "instances": [i.to_wire() for i in self.instances],
            "refused": [r.to_wire() for r in self.refused],
            "exec": [o.to_wire() for o in self.exec],
        }

    @classmethod
    def from_wire(cls, d: Mapping[str, Any]) -> SyncAnswer:
        definitions = d.get("definitions") or {}
        return cls(
            seq=int(d.get("seq") or 0),
            full=bool(d.get("full")),
            tasks=tuple(AgentTask.from_wire(t, definitions) for t in d.get("tasks") or ()),
            instances=tuple(AgentInstance.from_wire(i) for i in d.get("instances") or ()),
            refused=tuple(Refusal.from_wire(r) for r in d.get("refused") or ()),
            exec=tuple(ExecOffer.from_wire(o) for o in d.get("exec") or ()),
        )


@dataclass(frozen=True, slots=True)
class FargateRegistration:
    """The hidden instance `portside up`'s agent offers FARGATE capacity on. The resources,
    version and attributes are RegisterContainerInstance's, in ECS's shape."""

    total_resources: tuple[Mapping[str, Any], ...]
    version_info: Mapping[str, str]
    attributes: tuple[Mapping[str, Any], ...]
    container_instance_arn: str | None = None  # the one registered before, to keep it

    def to_wire(self) -> Json:
        return {
            "totalResources": list(self.total_resources),
            "versionInfo": dict(self.version_info),
            "attributes": list(self.attributes),
            "containerInstanceArn": self.container_instance_arn,
        }

    @classmethod
    def from_wire(cls, d: Mapping[str, Any]) -> FargateRegistration:
        arn = d.get("containerInstanceArn")
        return cls(
            total_resources=tuple(d.get("totalResources") or ()),
            version_info={str(k): str(v) for k, v in (d.get("versionInfo") or {}).items()},
            attributes=tuple(d.get("attributes") or ()),
            container_instance_arn=str(arn) if arn else None,
        )


@dataclass(frozen=True, slots=True)
class FargateRegistered:
    container_instance_arn: str

    def to_wire(self) -> Json:
        return {"containerInstanceArn": self.container_instance_arn}

    @classmethod
    def from_wire(cls, d: Mapping[str, Any]) -> FargateRegistered:
        return cls(str(d["containerInstanceArn"]))
