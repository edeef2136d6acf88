"""A container instance: a host (real or simulated) whose agent runs a cluster's tasks."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from portside.model.states import InstanceStatus

ACTIVE = InstanceStatus.ACTIVE
DRAINING = InstanceStatus.DRAINING
REGISTERING = InstanceStatus.REGISTERING
DEREGISTERING = InstanceStatus.DEREGISTERING
INACTIVE = InstanceStatus.INACTIVE


@dataclass(frozen=True, slots=True)
class InstanceResources:
    """RegisterContainerInstance's totalResources as values. None: the resource was not given
    (registration refuses that). Ports are as given: registration checks them."""

    cpu: int | None = None
    memory: int | None = None
    ports_tcp: tuple[str, ...] = ()
    ports_udp: tuple[str, ...] = ()

    @classmethod
    def of(cls, items: Iterable[Mapping[str, Any]] | None) -> InstanceResources:
        """From ECS's Resource list (the API's request, or the agent's FARGATE registration);
        the first entry of a name counts."""
        resources = list(items or ())

        def find(name: str) -> Mapping[str, Any] | None:
            return next((r for r in resources if r.get("name") == name), None)

        def number(name: str) -> int | None:
            r = find(name)
            if r is None:
                return None
            return int(r.get("integerValue", r.get("longValue", r.get("doubleValue", 0))) or 0)

        def ports(name: str) -> tuple[str, ...]:
            return tuple(str(p) for p in (find(name) or {}).get("stringSetValue") or ())

        return cls(number("CPU"), number("MEMORY"), ports("PORTS"), ports("PORTS_UDP"))


@dataclass(slots=True)
class ContainerInstance:
    arn: str
    cluster_arn: str
    ec2_instance_id: str
    registered_at: float
    status: InstanceStatus = ACTIVE
    status_reason: str | None = None
    agent_connected: bool = True
    version: int = 1
    version_info: dict[str, str] = field(default_factory=dict)
    cpu: int = 0  # registered CPU units
    memory: int = 0  # registered MiB
    reserved_ports_tcp: list[int] = field(default_factory=list)
    reserved_ports_udp: list[int] = field(default_factory=list)
    used_cpu: int = 0
    used_memory: int = 0
    used_ports_tcp: list[int] = field(default_factory=list)
    used_ports_udp: list[int] = field(default_factory=list)
    attributes: list[dict[str, Any]] = field(default_factory=list)  # built-in, from the agent
    capacity_provider_name: str | None = None
    running_tasks: int = 0
    pending_tasks: int = 0
    # Tasks placed here and not yet stopped, by task group (spread and distinctInstance read it).
    group_counts: dict[str, int] = field(default_factory=dict)
    # Capacity `portside up` provides for FARGATE tasks: never listed or counted as an instance.
    fargate: bool = False
    last_heartbeat: float = 0.0
    disconnected_at: float | None = None  # when the agent was last seen going silent
    # UpdateContainerAgent's progress (ops/agent_update.py): PENDING ... UPDATED | FAILED;
    # None: never asked. The reason of a FAILED one, as the agent gave it.
    agent_update_status: str | None = None
    agent_update_reason: str | None = None

    @property
    def id(self) -> str:
        return self.arn.rsplit("/", 1)[1]

    def reserve(self, group: str, cpu: int, memory: int, tcp: list[int], udp: list[int]) -> None:
        """Account a task placed here."""
        self.used_cpu += cpu
        self.used_memory += memory
        self.used_ports_tcp = sorted(set(self.used_ports_tcp) | set(tcp))
        self.used_ports_udp = sorted(set(self.used_ports_udp) | set(udp))
        self.group_counts[group] = self.group_counts.get(group, 0) + 1

    def release(self, group: str, cpu: int, memory: int, tcp: list[int], udp: list[int]) -> None:
        """Give back what a stopped task held."""
        self.used_cpu = max(0, self.used_cpu - cpu)
        self.used_memory = max(0, self.used_memory - memory)
        self.used_ports_tcp = sorted(set(self.used_ports_tcp) - set(tcp))
        self.used_ports_udp = sorted(set(self.used_ports_udp) - set(udp))
        left = self.group_counts.get(group, 0) - 1
        if left > 0:
            self.group_counts[group] = left
        else:
            self.group_counts.pop(group, None)

    def attribute(self, name: str) -> str | None:
        for attr in self.attributes:
            if attr["name"] == name:
                return attr.get("value")
        return None
