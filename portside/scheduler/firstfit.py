"""The simple placer used until the full strategy pipeline lands: first instance that fits.

Pure: instances in, decisions and reasons out. It mutates nothing it is given; the caller
applies the decisions (reserves the resources) in its transaction."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from portside.model.container_instance import ACTIVE, ContainerInstance
from portside.scheduler.demand import Demand


@dataclass(slots=True)
class Room:
    """What is left on one instance, updated as a batch is placed."""

    instance: ContainerInstance
    cpu: int
    memory: int
    tcp: set[int] = field(default_factory=set)
    udp: set[int] = field(default_factory=set)

    @classmethod
    def of(cls, inst: ContainerInstance) -> Room:
        return cls(
            inst,
            inst.cpu - inst.used_cpu,
            inst.memory - inst.used_memory,
            set(inst.reserved_ports_tcp) | set(inst.used_ports_tcp),
            set(inst.reserved_ports_udp) | set(inst.used_ports_udp),
        )

    def why_not(self, demand: Demand) -> str | None:
        """ECS's reason this instance cannot take the task, or None when it can."""
        inst = self.instance
        if inst.status != ACTIVE or not inst.agent_connected:
            return "AGENT"
        if demand.cpu > self.cpu:
            return "RESOURCE:CPU"
        if demand.memory > self.memory:
            return "RESOURCE:MEMORY"
        if self.tcp.intersection(demand.ports_tcp) or self.udp.intersection(demand.ports_udp):
            return "RESOURCE:PORTS"
        return None

    def take(self, demand: Demand) -> None:
        self.cpu -= demand.cpu
        self.memory -= demand.memory
        self.tcp.update(demand.ports_tcp)
        self.udp.update(demand.ports_udp)


@dataclass(frozen=True, slots=True)
class Placement:
    chosen: list[ContainerInstance | None]  # per task, None when it fits nowhere
    failures: list[tuple[str, str]]  # (instance ARN, reason) for the tasks that did not fit


def first_fit(demand: Demand, instances: Sequence[ContainerInstance], count: int) -> Placement:
    rooms = [Room.of(i) for i in sorted(instances, key=lambda i: i.arn)]
    chosen: list[ContainerInstance | None] = []
    failures: list[tuple[str, str]] = []
    for _ in range(count):
        reasons: list[tuple[str, str]] = []
        for room in rooms:
            why = room.why_not(demand)
            if why is None:
                room.take(demand)
                chosen.append(room.instance)
                break
            reasons.append((room.instance.arn, why))
        else:
            chosen.append(None)
            failures.extend(reasons)
    return Placement(chosen, failures)
