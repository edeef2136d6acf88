"""What a task used over a metric period, from its agent's samples, and the utilization
statistics ECS publishes from it; pure.

A task's CPU is a rate between two cumulative readings. The publisher keeps each task's
readings as of its previous pass (`Reading`), so a datapoint is the average over the whole
period, as ECS's per-minute datapoints are; a task seen for the first time uses the rate
between its agent's latest two samples. Memory is the latest level.

ECS's service utilization (Amazon ECS developer guide, "Service utilization"): the Average
is the CPU (memory) used by the service's RUNNING tasks over what they reserve, in percent;
Minimum and Maximum are those of the least and most loaded task. CloudWatch gets one
statistic set per period whose Sum / SampleCount is that Average (SampleCount: the tasks).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from portside.gateway.protocol.stats import TaskSample
from portside.prometheus.task_stats import MIB, TaskStats


@dataclass(frozen=True, slots=True)
class Reading:
    """A task's cumulative counters at one sample, per container name: (at, cpu_seconds,
    rx_bytes, tx_bytes)."""

    containers: Mapping[str, tuple[float, float, int, int]]

    @classmethod
    def of(cls, sample: TaskSample) -> Reading:
        return cls(
            {c.name: (c.at, c.cpu_seconds, c.rx_bytes, c.tx_bytes) for c in sample.containers}
        )


@dataclass(frozen=True, slots=True)
class TaskUsage:
    task_arn: str
    cluster_arn: str
    group: str  # "service:NAME" for a service's task
    family: str
    cpu_reserved: int  # units, 1024 per vCPU (task-level, else the containers')
    memory_reserved: int  # MiB
    cpu_used: float | None  # units; None: no rate yet (one sample only)
    memory_used: float  # MiB
    rx_rate: float | None = None  # bytes/s, every container
    tx_rate: float | None = None
    read_bytes: int = 0  # cumulative block I/O
    write_bytes: int = 0

    @property
    def service(self) -> str | None:
        return self.group[len("service:") :] if self.group.startswith("service:") else None


def _rates(before: Reading, after: Reading) -> tuple[float, float, float] | None:
    """(CPU units, rx bytes/s, tx bytes/s) between two readings; None when no container has
    a later reading in `after` (nothing new since)."""
    cpu = rx = tx = 0.0
    seen = False
    for name, (at, cpu_s, rx_b, tx_b) in after.containers.items():
        old = before.containers.get(name)
        if old is None or at <= old[0] or cpu_s < old[1]:
            continue  # new or restarted container, or no new reading: no rate
        span = at - old[0]
        seen = True
        cpu += (cpu_s - old[1]) / span
        rx += max(0, rx_b - old[2]) / span
        tx += max(0, tx_b - old[3]) / span
    return (cpu * 1024, rx, tx) if seen else None


def task_usage(stats: TaskStats, kept: Reading | None) -> TaskUsage:
    """The task's usage since `kept` (the publisher's previous reading of it), else between
    its agent's latest two samples."""
    latest = stats.latest
    rates = _rates(kept, Reading.of(latest)) if kept is not None else None
    if rates is None and stats.previous is not None:
        rates = _rates(Reading.of(stats.previous), Reading.of(latest))
    cpu, rx, tx = rates if rates is not None else (None, None, None)
    return TaskUsage(
        task_arn=latest.task_arn,
        cluster_arn=latest.cluster_arn,
        group=latest.group,
        family=latest.task_definition_arn.rsplit("/", 1)[-1].rpartition(":")[0],
        cpu_reserved=latest.cpu_units,
        memory_reserved=latest.memory_mib,
        cpu_used=cpu,
        memory_used=sum(c.memory_bytes for c in latest.containers) / MIB,
        rx_rate=rx,
        tx_rate=tx,
        read_bytes=sum(c.read_bytes for c in latest.containers),
        write_bytes=sum(c.write_bytes for c in latest.containers),
    )


@dataclass(frozen=True, slots=True)
class StatisticSet:
    """PutMetricData's StatisticValues."""

    count: float
    total: float
    minimum: float
    maximum: float

    @property
    def average(self) -> float:
        return self.total / self.count

    def to_wire(self) -> dict[str, float]:
        return {
            "SampleCount": self.count,
            "Sum": self.total,
            "Minimum": self.minimum,
            "Maximum": self.maximum,
        }


def utilization(pairs: Iterable[tuple[float | None, float]]) -> StatisticSet | None:
    """ECS's utilization of a set of tasks from (used, reserved) per task: the Average is
    100 * sum(used) / sum(reserved), Minimum and Maximum the least and most loaded task's.
    Tasks with nothing reserved or no reading yet are left out; None when none is left."""
    known = [(u, r) for u, r in pairs if u is not None and r > 0]
    if not known:
        return None
    used = sum(u for u, _ in known)
    reserved = sum(r for _, r in known)
    each = [100.0 * u / r for u, r in known]
    n = float(len(known))
    return StatisticSet(n, n * 100.0 * used / reserved, min(each), max(each))


def share(used: float, total: float, parts: Iterable[float]) -> StatisticSet | None:
    """A cluster's utilization or reservation: 100 * used / total registered, Minimum and
    Maximum over its instances' own percentages (`parts`)."""
    each = list(parts)
    if total <= 0 or not each:
        return None
    n = float(len(each))
    return StatisticSet(n, n * 100.0 * used / total, min(each), max(each))
