"""What a task asks of an instance: CPU units, memory, host ports."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from portside.model.overrides import NO_OVERRIDES, TaskOverrides


@dataclass(frozen=True, slots=True)
class Demand:
    cpu: int = 0
    memory: int = 0
    ports_tcp: tuple[int, ...] = field(default_factory=tuple)
    ports_udp: tuple[int, ...] = field(default_factory=tuple)


def _int(value: Any) -> int:
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return 0


def task_demand(spec: Mapping[str, Any], overrides: TaskOverrides | None = None) -> Demand:
    """The reservation a task of this definition needs (with RunTask overrides applied).

    Task-level cpu and memory win when set; otherwise the containers' sums, each container
    counting memoryReservation where given, else memory (what ECS places on)."""
    overrides = overrides or NO_OVERRIDES
    cpu = 0
    memory = 0
    tcp: list[int] = []
    udp: list[int] = []
    mode = spec.get("networkMode") or "bridge"
    for c in spec.get("containerDefinitions") or ():
        c_cpu, hard, reservation = overrides.for_container(c.get("name")).resources_of(c)
        cpu += _int(c_cpu)
        memory += _int(reservation if reservation is not None else hard)
        if mode in ("bridge", "host"):
            for pm in c.get("portMappings") or ():
                port = pm.get("hostPort") if mode == "bridge" else pm.get("containerPort")
                if port:
                    (udp if pm.get("protocol") == "udp" else tcp).append(int(port))
    task_cpu = overrides.cpu or spec.get("cpu")
    task_memory = overrides.memory or spec.get("memory")
    if task_cpu:
        cpu = _int(task_cpu)
    if task_memory:
        memory = _int(task_memory)
    return Demand(cpu, memory, tuple(sorted(tcp)), tuple(sorted(udp)))
