"""The ecs-metrics loop on a store of its own (no server): a pass publishes the period that
just ended once, from the RUNNING tasks the store lists and the samples the book holds,
averaging each task over the period; a cluster whose publishing fails does not stop the
others, and the pass fails so the loop's status shows it."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from portside.cloudwatch import metrics
from portside.cloudwatch.statistics import get_metric_statistics
from portside.controllers.ecs_metrics.publisher import EcsMetricsPublisher
from portside.controllers.loop import Loops
from portside.gateway.protocol.stats import ContainerSample, TaskSample
from portside.model.cluster import Cluster
from portside.prometheus.task_stats import TaskStatsBook
from portside.testing import FakeClock
from portside.testing.store import sqlite_store
from portside.testing.world import make_op, make_world

T = 1_800_000_000.0  # a minute boundary
PREFIX = "arn:aws:ecs:us-east-1:000000000000"


def _setup(tmp_path: Path, clusters: tuple[str, ...] = ("prod",)) -> tuple[Any, FakeClock]:
    clock = FakeClock(T + 1)
    world = make_world(sqlite_store(tmp_path), clock=clock)
    with world.store.transaction() as tx:
        for name in clusters:
            arn = f"{PREFIX}:cluster/{name}"
            tx.put("clusters", arn, Cluster(arn, name).to_doc())
            service = {"clusterArn": arn, "status": "ACTIVE"}
            tx.put("services", f"{PREFIX}:service/{name}/web", service)
            tx.put(
                "tasks",
                f"{PREFIX}:task/{name}/{1:032x}",
                {"clusterArn": arn, "lastStatus": "RUNNING", "group": "service:web"},
            )
            tx.put(
                "tasks",
                f"{PREFIX}:task/{name}/{2:032x}",
                {"clusterArn": arn, "lastStatus": "STOPPED", "group": "service:web"},
            )
    return world, clock


def _sample(cluster: str, n: int, at: float, cpu: float) -> TaskSample:
    return TaskSample(
        f"{PREFIX}:task/{cluster}/{n:032x}",
        f"{PREFIX}:cluster/{cluster}",
        f"{PREFIX}:task-definition/web:1",
        "service:web",
        (ContainerSample("app", at, cpu, 32 << 20, 0),),
        cpu_units=1024,
        memory_mib=128,
    )


def _cpu(world: Any, cluster: str = "prod") -> list[dict[str, Any]]:
    reply = get_metric_statistics(
        make_op(world),
        {
            "Namespace": "AWS/ECS",
            "MetricName": "CPUUtilization",
            "Dimensions": [
                {"Name": "ClusterName", "Value": cluster},
                {"Name": "ServiceName", "Value": "web"},
            ],
            "StartTime": T - 600,
            "EndTime": T + 600,
            "Period": 60,
            "Statistics": ["Average", "SampleCount"],
        },
    )
    return sorted(reply["Datapoints"], key=lambda p: p["Timestamp"])


def test_a_pass_publishes_the_period_that_ended_once(tmp_path: Path) -> None:
    world, clock = _setup(tmp_path)
    book = TaskStatsBook(clock)
    for n in (1, 2):  # task 2 is STOPPED: its samples are not the service's
        book.put((_sample("prod", n, T - 20, 10.0),))
        book.put((_sample("prod", n, T - 5, 17.5),))  # half a core over the last 15 s
    publisher = EcsMetricsPublisher(world, book)
    assert publisher.period == 60  # the world's, AWS's by default
    wait = publisher.step()
    assert 60 < wait < 62  # a little past the next minute
    [point] = _cpu(world)
    assert point["Timestamp"] == T - 60 and point["Average"] == pytest.approx(50.0)
    assert point["SampleCount"] == 1
    publisher.step()  # the same period again: nothing more
    assert _cpu(world)[0]["SampleCount"] == 1
    # The next minute averages the whole of it: 45 s at a full core, then 15 s idle.
    book.put((_sample("prod", 1, T + 40, 17.5 + 45),))
    book.put((_sample("prod", 1, T + 55, 17.5 + 45),))
    clock.now = T + 61
    publisher.step()
    later = _cpu(world)[-1]
    assert later["Timestamp"] == T and later["Average"] == pytest.approx(100.0 * 45 / 60)


def test_a_failing_cluster_fails_the_pass_after_the_others(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    world, clock = _setup(tmp_path, ("bad", "good"))
    book = TaskStatsBook(clock)
    for cluster in ("bad", "good"):
        book.put((_sample(cluster, 1, T - 20, 10.0),))
        book.put((_sample(cluster, 1, T - 5, 17.5),))
    real = metrics.publish

    def publish(op: Any, namespace: str, data: Any) -> int:
        if any(d["Dimensions"][0]["Value"] == "bad" for d in data):
            raise RuntimeError("disk full")
        return real(op, namespace, data)

    monkeypatch.setattr(metrics, "publish", publish)
    loops = Loops(clock)
    loop = EcsMetricsPublisher(world, book, period=60).register(loops)
    # One pass as the server runs it (then its pause, cut short here).
    with pytest.raises(TimeoutError):
        asyncio.run(asyncio.wait_for(loop.run(), timeout=2))
    assert _cpu(world, "good") and not _cpu(world, "bad")
    status = loop.snapshot()
    assert status.last_error == "RuntimeError: ECS metrics not published for bad: disk full"
    assert status.consecutive_errors == 1
