"""The datapoints ECS publishes for one cluster in one period, as PutMetricData's MetricDatum
documents; pure.

`AWS/ECS` (Amazon ECS developer guide, "Amazon ECS CloudWatch metrics"), only for what has
RUNNING tasks, as ECS reports nothing for a service or cluster without one:

- ClusterName + ServiceName, for each ACTIVE service: CPUUtilization, MemoryUtilization
  (usage.utilization: one statistic set a period, Average = used over reserved by the
  service's RUNNING tasks).
- ClusterName: CPUUtilization and MemoryUtilization (tasks' use over what the ACTIVE and
  DRAINING EC2 instances registered), CPUReservation and MemoryReservation (what tasks
  reserve over the same); Minimum and Maximum over the instances.

`ECS/ContainerInsights`, when the cluster's `containerInsights` setting is `enabled` or
`enhanced` (CloudWatch User Guide, "Amazon ECS Container Insights metrics"): CpuUtilized,
CpuReserved (units), MemoryUtilized, MemoryReserved (MiB, as Megabytes), NetworkRxBytes,
NetworkTxBytes (Bytes/Second), StorageReadBytes, StorageWriteBytes (Bytes) per cluster, per
service and per task definition family, and per task with `enhanced`; each task's value is
one of the datum's `Values`, so Sum is the total and Average the per-task mean, as
CloudWatch aggregates the tasks' performance events. Per service also DesiredTaskCount,
RunningTaskCount, PendingTaskCount and DeploymentCount; per cluster ContainerInstanceCount,
ServiceCount and TaskCount.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from portside.controllers.ecs_metrics.usage import TaskUsage, share, utilization

AWS_ECS = "AWS/ECS"
INSIGHTS = "ECS/ContainerInsights"
INSIGHTS_ON = frozenset({"enabled", "enhanced"})
MAX_VALUES = 150  # PutMetricData's Values per datum

Datum = dict[str, Any]


@dataclass(frozen=True, slots=True)
class ServiceFacts:
    name: str
    desired: int
    running: int
    pending: int
    deployments: int


@dataclass(frozen=True, slots=True)
class InstanceFacts:
    arn: str
    cpu: int  # registered units
    memory: int  # registered MiB
    cpu_reserved: int  # what its tasks reserve
    memory_reserved: int


@dataclass(frozen=True, slots=True)
class ClusterFacts:
    arn: str
    name: str
    insights: str  # the containerInsights setting: disabled | enabled | enhanced
    services: tuple[ServiceFacts, ...] = ()
    instances: tuple[InstanceFacts, ...] = ()  # ACTIVE or DRAINING, not FARGATE capacity
    # RUNNING tasks: task ARN -> (group, container instance ARN or "")
    running: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    # The names of the cluster's ACTIVE services (None: any service's tasks count).
    active: frozenset[str] | None = None


def datums(
    cluster: ClusterFacts, usage: Mapping[str, TaskUsage], at: float, resolution: int
) -> dict[str, list[Datum]]:
    """Namespace -> the cluster's datapoints stamped `at`. `usage`: tasks' usage by ARN (the
    RUNNING ones of the cluster are read from it)."""

    def datum(name: str, unit: str, dims: Iterable[tuple[str, str]], **value: Any) -> Datum:
        d: Datum = {
            "MetricName": name,
            "Dimensions": [{"Name": n, "Value": v} for n, v in dims],
            "Timestamp": at,
            "Unit": unit,
            **value,
        }
        if resolution < 60:
            d["StorageResolution"] = 1
        return d

    tasks = [usage[arn] for arn in cluster.running if arn in usage]
    out: dict[str, list[Datum]] = {AWS_ECS: [], INSIGHTS: []}
    ecs = out[AWS_ECS]
    by_service: dict[str, list[TaskUsage]] = {}
    for t in tasks:
        if t.service is not None and (cluster.active is None or t.service in cluster.active):
            by_service.setdefault(t.service, []).append(t)
    cluster_dim = ("ClusterName", cluster.name)
    for service, members in sorted(by_service.items()):
        dims = (cluster_dim, ("ServiceName", service))
        for name, pairs in (
            ("CPUUtilization", [(t.cpu_used, t.cpu_reserved) for t in members]),
            ("MemoryUtilization", [(t.memory_used, t.memory_reserved) for t in members]),
        ):
            stats = utilization(pairs)
            if stats is not None:
                ecs.append(datum(name, "Percent", dims, StatisticValues=stats.to_wire()))
    ecs += _cluster_shares(cluster, tasks, datum)
    if cluster.insights in INSIGHTS_ON:
        out[INSIGHTS] = _insights(cluster, tasks, by_service, datum)
    return {ns: found for ns, found in out.items() if found}


def _cluster_shares(
    cluster: ClusterFacts, tasks: list[TaskUsage], datum: Callable[..., Datum]
) -> list[Datum]:
    instances = [i for i in cluster.instances if i.cpu > 0 and i.memory > 0]
    if not tasks or not instances:
        return []
    on: dict[str, list[TaskUsage]] = {}
    for t in tasks:
        on.setdefault(cluster.running[t.task_arn][1], []).append(t)
    cpu_total = sum(i.cpu for i in instances)
    memory_total = sum(i.memory for i in instances)

    def used(i: InstanceFacts, memory: bool) -> float:
        here = on.get(i.arn, ())
        return sum((t.memory_used if memory else t.cpu_used or 0.0) for t in here)

    found = []
    for name, total, size, of in (
        ("CPUUtilization", cpu_total, "cpu", lambda i: used(i, False)),
        ("MemoryUtilization", memory_total, "memory", lambda i: used(i, True)),
        ("CPUReservation", cpu_total, "cpu", lambda i: float(i.cpu_reserved)),
        ("MemoryReservation", memory_total, "memory", lambda i: float(i.memory_reserved)),
    ):
        amounts = [(of(i), getattr(i, size)) for i in instances]
        stats = share(sum(a for a, _ in amounts), total, (100.0 * a / s for a, s in amounts))
        if stats is not None:
            found.append(
                datum(
                    name,
                    "Percent",
                    [("ClusterName", cluster.name)],
                    StatisticValues=stats.to_wire(),
                )
            )
    return found


# (metric, unit, value of a task or None when it has none yet)
_TASK_METRICS: tuple[tuple[str, str, Callable[[TaskUsage], float | None]], ...] = (
    ("CpuUtilized", "None", lambda t: t.cpu_used),
    ("CpuReserved", "None", lambda t: float(t.cpu_reserved)),
    ("MemoryUtilized", "Megabytes", lambda t: t.memory_used),
    ("MemoryReserved", "Megabytes", lambda t: float(t.memory_reserved)),
    ("NetworkRxBytes", "Bytes/Second", lambda t: t.rx_rate),
    ("NetworkTxBytes", "Bytes/Second", lambda t: t.tx_rate),
    ("StorageReadBytes", "Bytes", lambda t: float(t.read_bytes)),
    ("StorageWriteBytes", "Bytes", lambda t: float(t.write_bytes)),
)


def _insights(
    cluster: ClusterFacts,
    tasks: list[TaskUsage],
    by_service: Mapping[str, list[TaskUsage]],
    datum: Callable[..., Datum],
) -> list[Datum]:
    cluster_dim = ("ClusterName", cluster.name)
    found: list[Datum] = []

    def per_task(dims: tuple[tuple[str, str], ...], members: list[TaskUsage]) -> None:
        for name, unit, value in _TASK_METRICS:
            values = [v for v in map(value, members) if v is not None]
            for start in range(0, len(values), MAX_VALUES):
                found.append(datum(name, unit, dims, Values=values[start : start + MAX_VALUES]))

    def count(name: str, dims: tuple[tuple[str, str], ...], n: int) -> None:
        found.append(datum(name, "Count", dims, Value=float(n)))

    per_task((cluster_dim,), tasks)
    count("ContainerInstanceCount", (cluster_dim,), len(cluster.instances))
    count("ServiceCount", (cluster_dim,), len(cluster.services))
    count("TaskCount", (cluster_dim,), len(cluster.running))
    for s in cluster.services:
        dims = (cluster_dim, ("ServiceName", s.name))
        per_task(dims, list(by_service.get(s.name, ())))
        count("DesiredTaskCount", dims, s.desired)
        count("RunningTaskCount", dims, s.running)
        count("PendingTaskCount", dims, s.pending)
        count("DeploymentCount", dims, s.deployments)
    by_family: dict[str, list[TaskUsage]] = {}
    for t in tasks:
        by_family.setdefault(t.family, []).append(t)
    for family, members in sorted(by_family.items()):
        per_task((cluster_dim, ("TaskDefinitionFamily", family)), members)
    if cluster.insights == "enhanced":
        for t in tasks:
            task_id = t.task_arn.rsplit("/", 1)[-1]
            per_task((cluster_dim, ("TaskDefinitionFamily", t.family), ("TaskId", task_id)), [t])
    return found
