"""The simulated driver's load model: how much CPU and memory its containers use, as a test
or a demo sets it, and the Docker-shaped stats that follow from it.

A load is set from a time on, for every container or those of one task and/or one container
name; the latest setting that matches a container applies to it. CPU is in ECS's units
(1024 per core) and accumulates as Docker's `cpu_usage.total_usage` does (nanoseconds of CPU
time), integrated over the loads in force while the container ran, so the control plane's
rate between two samples is exactly the load set. Memory is a level.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from portside.agent.driver import LABEL_CONTAINER, LABEL_TASK_ARN

MIB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class _Change:
    at: float
    task_arn: str | None
    container: str | None
    cpu_units: float
    memory_mib: float

    def matches(self, task_arn: str, container: str) -> bool:
        return self.task_arn in (None, task_arn) and self.container in (None, container)


class LoadModel:
    def __init__(self) -> None:
        self._changes: list[_Change] = []
        self._lock = threading.Lock()

    def set(
        self,
        at: float,
        cpu_units: float,
        memory_mib: float = 0.0,
        *,
        task_arn: str | None = None,
        container: str | None = None,
    ) -> None:
        """From `at` on, the matching containers use `cpu_units` and `memory_mib`."""
        with self._lock:
            self._changes.append(_Change(at, task_arn, container, cpu_units, memory_mib))
            self._changes.sort(key=lambda c: c.at)

    def usage(
        self, labels: Mapping[str, str], started: float | None, until: float
    ) -> tuple[float, float]:
        """(CPU seconds used from `started` to `until`, memory MiB at `until`)."""
        task, name = labels.get(LABEL_TASK_ARN, ""), labels.get(LABEL_CONTAINER, "")
        with self._lock:
            changes = [c for c in self._changes if c.matches(task, name)]
        if started is None:
            return 0.0, 0.0
        cpu = 0.0
        units, memory = 0.0, 0.0
        at = started
        for change in changes:
            if change.at > until:
                break
            if change.at > at:
                cpu += units / 1024 * (change.at - at)
                at = change.at
            units, memory = change.cpu_units, change.memory_mib
        cpu += units / 1024 * max(0.0, until - at)
        return cpu, memory

    def docker_stats(
        self,
        runtime_id: str,
        labels: Mapping[str, str],
        started: float | None,
        finished: float | None,
        now: float,
        *,
        host_cpus: int,
        host_memory_mib: int,
    ) -> dict[str, Any]:
        """One sample as Docker's stats API gives it (the fields Portside reads)."""
        until = min(now, finished) if finished is not None else now
        cpu, memory = self.usage(labels, started, until)
        return {
            "id": runtime_id,
            "read": datetime.fromtimestamp(now, UTC).isoformat().replace("+00:00", "Z"),
            "cpu_stats": {
                "cpu_usage": {"total_usage": int(cpu * 1e9)},
                "online_cpus": host_cpus,
            },
            "memory_stats": {
                "usage": int(memory * MIB),
                "limit": host_memory_mib * MIB,
                "stats": {},
            },
            "networks": {"eth0": {"rx_bytes": 0, "tx_bytes": 0}},
            "blkio_stats": {"io_service_bytes_recursive": []},
        }
