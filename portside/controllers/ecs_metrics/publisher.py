"""The `ecs-metrics` loop: every `metric_period` seconds (World.metric_period, 60 unless a
server is told otherwise), each cluster's datapoints for the period just ended (datums.py),
published into CloudWatch through `cloudwatch.metrics.publish` as the cluster's account and
region.

What it reads: the ACTIVE clusters, services and the ACTIVE or DRAINING container instances
(documents), the RUNNING tasks through the tasks' index (no task document), and the agents'
samples through `TaskStatsBook.tasks()`. It keeps, per task, the counters it read last time,
so each datapoint averages the whole period. A pass whose publishing fails for a cluster
still publishes the others, then fails, so the loop's status shows it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from portside.cloudwatch import metrics
from portside.controllers.ecs_metrics.datums import (
    INSIGHTS_ON,
    ClusterFacts,
    InstanceFacts,
    ServiceFacts,
    datums,
)
from portside.controllers.ecs_metrics.usage import Reading, TaskUsage, task_usage
from portside.controllers.loop import Loop, Loops
from portside.model import arn as arns
from portside.model.cluster import ACTIVE, Cluster
from portside.model.container_instance import ContainerInstance
from portside.model.doc import from_doc
from portside.model.service import Service
from portside.ops.context import Caller, Op, World, root_principal
from portside.prometheus.task_stats import TaskStatsBook
from portside.store.base import Tx
from portside.store.tables import INDEXES

log = logging.getLogger("portside.ecs_metrics")
BATCH = 1000  # PutMetricData's MetricData per call
_TASK_COLUMNS = ("key", *INDEXES["tasks"])


class EcsMetricsPublisher:
    def __init__(self, world: World, book: TaskStatsBook, period: int | None = None) -> None:
        self.world = world
        self.book = book
        self.period = int(period or world.metric_period)
        self._kept: dict[str, Reading] = {}
        self._published: int | None = None  # the last period stamped

    def register(self, loops: Loops) -> Loop:
        return loops.add("ecs-metrics", self.step, interval=self.period, log=log)

    def step(self) -> float:
        now = self.world.clock()
        current = int(now // self.period) * self.period
        stamp = current - self.period  # the period that just ended
        if self._published is None or stamp > self._published:
            self._published = stamp
            self.publish(stamp)
        # A little past the next boundary, so the agents' samples of the period are in.
        lag = min(2.0, max(0.05, self.period * 0.05))
        return max(0.0, current + self.period + lag - self.world.clock())

    def publish(self, stamp: float) -> int:
        """One pass: every cluster's datapoints stamped `stamp`; returns how many."""
        usage = self._usage()
        failures: list[str] = []
        count = 0
        for cluster in self._facts():
            found = datums(cluster, usage, stamp, self.period)
            if not found:
                continue
            parsed = arns.parse(cluster.arn)
            if parsed is None:
                continue
            op = Op(
                self.world,
                Caller(parsed.account, parsed.region, "", root_principal(parsed.account)),
            )
            try:
                for namespace, data in found.items():
                    for start in range(0, len(data), BATCH):
                        metrics.publish(op, namespace, data[start : start + BATCH])
                        count += len(data[start : start + BATCH])
            except Exception as exc:  # the other clusters still get theirs
                log.warning("ECS metrics of %s not published: %s", cluster.name, exc)
                failures.append(f"{cluster.name}: {exc}")
        if failures:
            raise RuntimeError(f"ECS metrics not published for {'; '.join(failures)}")
        return count

    def _usage(self) -> dict[str, TaskUsage]:
        usage: dict[str, TaskUsage] = {}
        kept: dict[str, Reading] = {}
        for stats in self.book.tasks():
            arn = stats.latest.task_arn
            usage[arn] = task_usage(stats, self._kept.get(arn))
            kept[arn] = Reading.of(stats.latest)
        self._kept = kept
        return usage

    def _facts(self) -> list[ClusterFacts]:
        with self.world.store.read() as tx:
            return read_facts(tx)


def read_facts(tx: Tx) -> list[ClusterFacts]:
    """Every ACTIVE cluster that has RUNNING tasks or Container Insights on, with what
    datums.py needs of it."""
    running: dict[str, dict[str, tuple[str, str]]] = {}
    for row in tx.index("tasks", where={"status": "RUNNING"}, ordered=False):
        t: Mapping[str, Any] = dict(zip(_TASK_COLUMNS, row, strict=False))
        running.setdefault(t["cluster"], {})[t["key"]] = (t["grp"] or "", t["instance"] or "")
    out = []
    for _, doc in tx.scan("clusters", where={"status": ACTIVE}):
        cluster = Cluster.from_doc(doc)
        insights = next(
            (s["value"] for s in cluster.settings if s.get("name") == "containerInsights"),
            "disabled",
        )
        tasks = running.get(cluster.arn, {})
        if not tasks and insights not in INSIGHTS_ON:
            continue
        out.append(
            ClusterFacts(
                cluster.arn,
                cluster.name,
                insights,
                services=_services(tx, cluster.arn) if insights in INSIGHTS_ON else (),
                instances=_instances(tx, cluster.arn),
                running=tasks,
                active=frozenset(
                    key.rsplit("/", 1)[-1]
                    for key, *_ in tx.index(
                        "services", where={"cluster": cluster.arn, "status": "ACTIVE"}
                    )
                ),
            )
        )
    return out


def _services(tx: Tx, cluster_arn: str) -> tuple[ServiceFacts, ...]:
    found = []
    for _, doc in tx.scan("services", where={"cluster": cluster_arn, "status": "ACTIVE"}):
        s = from_doc(Service, doc)
        found.append(
            ServiceFacts(
                s.name, s.desired_count, s.running_count, s.pending_count, len(s.deployments)
            )
        )
    return tuple(found)


def _instances(tx: Tx, cluster_arn: str) -> tuple[InstanceFacts, ...]:
    found = []
    where = {"cluster": cluster_arn, "status": ("ACTIVE", "DRAINING")}
    for _, doc in tx.scan("container_instances", where=where):
        i = from_doc(ContainerInstance, doc)
        if not i.fargate:
            found.append(InstanceFacts(i.arn, i.cpu, i.memory, i.used_cpu, i.used_memory))
    return tuple(found)
