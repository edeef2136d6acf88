"""A task as the agent sees it (`AgentTask`, control plane -> agent).

An AgentTask carries only what an agent acts on, not the stored task: the gateway builds it
(gateway/messages.py), the agent reads its fields. The task definition stays in ECS's document
shape (model/task_definition.py says why); its container definitions are what the drivers
turn into containers. RunTask's overrides travel as they were given; the agent applies them.

The task's role travels resolved (`taskRoleArn`: RunTask's `overrides.taskRoleArn`, else the
definition's), so the agent and the gateway's credentials desk (gateway/credentials.py) agree
on whether a task has one. A message without the member (from a gateway that predates it)
means the definition's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

Json = dict[str, Any]
ENI = "ElasticNetworkInterface"


def opt_int(value: Any) -> int | None:
    return None if value is None else int(value)


def opt_str(value: Any) -> str | None:
    return None if value is None else str(value)


def given(*members: tuple[str, Any]) -> Json:
    """The members that have a value: one left out takes its default on the other side."""
    return {key: value for key, value in members if value is not None}


@dataclass(frozen=True, slots=True)
class Attachment:
    """A task attachment (the awsvpc ENI), with its details as (name, value) pairs."""

    id: str
    type: str
    status: str = ""
    details: tuple[tuple[str, Any], ...] = ()

    def detail(self, name: str) -> Any:
        return next((v for k, v in self.details if k == name), None)

    def to_wire(self) -> Json:
        return {
            "id": self.id,
            "type": self.type,
            "status": self.status,
            "details": [{"name": k, "value": v} for k, v in self.details],
        }

    @classmethod
    def from_wire(cls, d: Mapping[str, Any]) -> Attachment:
        return cls(
            id=str(d.get("id", "")),
            type=str(d.get("type", "")),
            status=str(d.get("status", "")),
            details=tuple((str(x["name"]), x.get("value")) for x in d.get("details") or ()),
        )


@dataclass(frozen=True, slots=True)
class ContainerOverride:
    """RunTask's containerOverrides entry for one container: what the agent applies to its
    container definition."""

    name: str
    command: tuple[str, ...] | None = None
    cpu: int | None = None
    memory: int | None = None
    memory_reservation: int | None = None
    environment: tuple[tuple[str, Any], ...] = ()  # (name, value)
    environment_files: tuple[Mapping[str, Any], ...] = ()  # ECS's {"value", "type"}

    def replacements(self) -> Json:
        """The members that replace the container definition's own (those given), named as
        the definition names them."""
        return given(
            ("command", None if self.command is None else list(self.command)),
            ("cpu", self.cpu),
            ("memory", self.memory),
            ("memoryReservation", self.memory_reservation),
        )

    def to_wire(self) -> Json:
        out: Json = {"name": self.name, **self.replacements()}
        if self.environment:
            out["environment"] = [{"name": k, "value": v} for k, v in self.environment]
        if self.environment_files:
            out["environmentFiles"] = list(self.environment_files)
        return out

    @classmethod
    def from_wire(cls, d: Mapping[str, Any]) -> ContainerOverride:
        command = d.get("command")
        return cls(
            name=str(d.get("name", "")),
            command=None if command is None else tuple(str(a) for a in command),
            cpu=opt_int(d.get("cpu")),
            memory=opt_int(d.get("memory")),
            memory_reservation=opt_int(d.get("memoryReservation")),
            environment=tuple(
                (str(e["name"]), e.get("value", "")) for e in d.get("environment") or ()
            ),
            environment_files=tuple(d.get("environmentFiles") or ()),
        )


@dataclass(frozen=True, slots=True)
class TaskOverrides:
    cpu: str | None = None  # task-level, when RunTask overrode it
    memory: str | None = None
    containers: tuple[ContainerOverride, ...] = ()  # only those that override something

    def to_wire(self) -> Json:
        return {
            "containerOverrides": [c.to_wire() for c in self.containers],
            **given(("cpu", self.cpu), ("memory", self.memory)),
        }

    @classmethod
    def from_wire(cls, d: Mapping[str, Any]) -> TaskOverrides:
        # ECS echoes an entry per container, most of them only a name: skipped unread.
        given = [c for c in d.get("containerOverrides") or () if _overrides(c)]
        cpu, memory = d.get("cpu"), d.get("memory")
        if not given and cpu is None and memory is None:
            return NO_OVERRIDES
        return cls(
            cpu=opt_str(cpu),
            memory=opt_str(memory),
            containers=tuple(ContainerOverride.from_wire(c) for c in given),
        )


NO_OVERRIDES = TaskOverrides()
_APPLIED = ("command", "cpu", "memory", "memoryReservation")


def _overrides(c: Mapping[str, Any]) -> bool:
    """Whether a containerOverrides entry changes anything the agent applies."""
    return (
        any(c.get(k) is not None for k in _APPLIED)
        or bool(c.get("environment"))
        or bool(c.get("environmentFiles"))
    )


@dataclass(frozen=True, slots=True)
class TaskContainer:
    name: str
    arn: str


@dataclass(frozen=True, slots=True)
class AgentTask:
    """A task on one of the session's instances, as its agent needs it."""

    arn: str
    cluster_arn: str
    task_definition_arn: str
    instance_arn: str
    last_status: str
    desired_status: str
    version: int
    definition: Mapping[str, Any]  # the task definition (ECS's document shape)
    launch_type: str = "EC2"
    cpu: str | None = None  # task-level CPU units and MiB, as the task holds them
    memory: str | None = None
    availability_zone: str | None = None
    group: str | None = None
    enable_execute_command: bool = False
    containers: tuple[TaskContainer, ...] = ()
    attachments: tuple[Attachment, ...] = ()
    overrides: TaskOverrides = NO_OVERRIDES
    task_role_arn: str | None = None  # the role the task runs as, its override applied
    # the role the agent acts as for the task (images, secrets, logs), its override applied
    execution_role_arn: str | None = None

    @property
    def family(self) -> str:
        return self.task_definition_arn.rsplit("/", 1)[1].rpartition(":")[0]

    @property
    def revision(self) -> int:
        return int(self.task_definition_arn.rpartition(":")[2])

    @property
    def cluster(self) -> str:
        return self.cluster_arn.rsplit("/", 1)[1]

    @property
    def eni(self) -> Attachment | None:
        return next((a for a in self.attachments if a.type == ENI), None)

    def to_wire(self, with_definition: bool = True) -> Json:
        out: Json = {
            "taskArn": self.arn,
            "clusterArn": self.cluster_arn,
            "taskDefinitionArn": self.task_definition_arn,
            "instanceArn": self.instance_arn,
            "lastStatus": self.last_status,
            "desiredStatus": self.desired_status,
            "version": self.version,
            "launchType": self.launch_type,
            "cpu": self.cpu,
            "memory": self.memory,
            "availabilityZone": self.availability_zone,
            "group": self.group,
            "enableExecuteCommand": self.enable_execute_command,
            "containers": [{"name": c.name, "containerArn": c.arn} for c in self.containers],
            "attachments": [a.to_wire() for a in self.attachments],
            "overrides": self.overrides.to_wire(),
            **given(("taskRoleArn", self.task_role_arn)),
            **given(("executionRoleArn", self.execution_role_arn)),
        }
        if with_definition:
            out["definition"] = self.definition
        return out

    @classmethod
    def from_wire(
        cls, d: Mapping[str, Any], definitions: Mapping[str, Mapping[str, Any]] | None = None
    ) -> AgentTask:
        """`definitions` by ARN, when the task definition travelled beside the task."""
        arn = str(d["taskDefinitionArn"])
        definition = d.get("definition")
        if definition is None:
            definition = (definitions or {}).get(arn) or {}
        return cls(
            arn=str(d["taskArn"]),
            cluster_arn=str(d["clusterArn"]),
            task_definition_arn=arn,
            instance_arn=str(d.get("instanceArn", "")),
            last_status=str(d.get("lastStatus", "PENDING")),
            desired_status=str(d.get("desiredStatus", "RUNNING")),
            version=int(d.get("version") or 0),
            definition=definition,
            launch_type=str(d.get("launchType") or "EC2"),
            cpu=opt_str(d.get("cpu")),
            memory=opt_str(d.get("memory")),
            availability_zone=opt_str(d.get("availabilityZone")),
            group=opt_str(d.get("group")),
            enable_execute_command=bool(d.get("enableExecuteCommand")),
            containers=tuple(
                TaskContainer(str(c["name"]), str(c.get("containerArn", "")))
                for c in d.get("containers") or ()
            ),
            attachments=tuple(Attachment.from_wire(a) for a in d.get("attachments") or ()),
            overrides=TaskOverrides.from_wire(d.get("overrides") or {}),
            task_role_arn=opt_str(d.get("taskRoleArn", definition.get("taskRoleArn")) or None),
            execution_role_arn=opt_str(
                d.get("executionRoleArn", definition.get("executionRoleArn")) or None
            ),
        )
