"""ECS's utilization from the agents' samples (controllers/ecs_metrics/usage.py, datums.py):
the rate over the period, ECS's Average/Minimum/Maximum, the cluster's shares of what its
instances registered, and which metrics Container Insights adds; pure, no server."""

from __future__ import annotations

from typing import Any

import pytest

from portside.cloudwatch import datapoints
from portside.controllers.ecs_metrics.datums import (
    AWS_ECS,
    INSIGHTS,
    ClusterFacts,
    InstanceFacts,
    ServiceFacts,
    datums,
)
from portside.controllers.ecs_metrics.usage import (
    Reading,
    StatisticSet,
    TaskUsage,
    task_usage,
    utilization,
)
from portside.gateway.protocol.stats import ContainerSample, TaskSample
from portside.prometheus.task_stats import TaskStats

CLUSTER = "arn:aws:ecs:us-east-1:000000000000:cluster/prod"
TD = "arn:aws:ecs:us-east-1:000000000000:task-definition/web:3"
I1 = "arn:aws:ecs:us-east-1:000000000000:container-instance/prod/i1"
I2 = "arn:aws:ecs:us-east-1:000000000000:container-instance/prod/i2"


def _task(n: int) -> str:
    return f"arn:aws:ecs:us-east-1:000000000000:task/prod/{n:032x}"


def _sample(at: float, cpu: float, *, task: int = 1, rx: int = 0, mib: int = 64) -> TaskSample:
    return TaskSample(
        _task(task),
        CLUSTER,
        TD,
        "service:web",
        (ContainerSample("app", at, cpu, mib << 20, 0, rx, 0, 7, 9),),
        cpu_units=1024,
        memory_mib=256,
    )


def test_usage_averages_the_period_since_the_kept_reading() -> None:
    # The agent sent two samples 15 s apart at the end; the publisher read 60 s before.
    stats = TaskStats(_sample(160.0, 40.0, rx=6000), _sample(145.0, 39.0, rx=3000), 160.0)
    kept = Reading.of(_sample(100.0, 10.0, rx=0))
    usage = task_usage(stats, kept)
    assert usage.cpu_used == pytest.approx(512.0)  # 30 CPU-seconds in 60 s: half a core
    assert usage.rx_rate == pytest.approx(100.0)
    assert usage.memory_used == 64.0
    assert (usage.family, usage.service, usage.read_bytes) == ("web", "web", 7)
    # First seen: the rate between the agent's two latest samples.
    first = task_usage(stats, None)
    assert first.cpu_used == pytest.approx(1024 / 15)
    # Nothing new since the kept reading: the agent's own latest rate stands.
    assert task_usage(stats, Reading.of(stats.latest)).cpu_used == pytest.approx(1024 / 15)
    # One sample only: no rate yet.
    assert task_usage(TaskStats(_sample(1.0, 1.0), None, 1.0), None).cpu_used is None
    # A restarted container (its counter went back): no rate from it.
    restarted = TaskStats(_sample(200.0, 1.0), _sample(190.0, 50.0), 200.0)
    assert task_usage(restarted, None).cpu_used is None


def test_utilization_is_used_over_reserved_with_the_extreme_tasks() -> None:
    stats = utilization([(512.0, 1024), (256.0, 512), (None, 1024), (100.0, 0)])
    assert stats == StatisticSet(2.0, 2 * 100.0 * 768 / 1536, 50.0, 50.0)
    uneven = utilization([(1024.0, 1024), (0.0, 1024)])
    assert uneven is not None
    assert (uneven.average, uneven.minimum, uneven.maximum) == (50.0, 0.0, 100.0)
    # Weighted by what each task reserves, as ECS's formula is.
    weighted = utilization([(1024.0, 1024), (0.0, 3072)])
    assert weighted is not None and weighted.average == pytest.approx(25.0)
    assert weighted.to_wire()["SampleCount"] == 2.0
    assert utilization([(None, 1024)]) is None
    assert utilization([]) is None


def _usage(task: int, cpu: float | None, memory: float, group: str = "service:web") -> TaskUsage:
    return TaskUsage(_task(task), CLUSTER, group, "web", 1024, 256, cpu, memory, 10.0, 20.0, 1, 2)


def _by(found: list[dict[str, Any]], name: str, **dims: str) -> list[dict[str, Any]]:
    return [
        d
        for d in found
        if d["MetricName"] == name and {x["Name"]: x["Value"] for x in d["Dimensions"]} == dims
    ]


def test_aws_ecs_datums_for_services_and_the_cluster() -> None:
    usage = {
        _task(1): _usage(1, 512.0, 128.0),
        _task(2): _usage(2, 256.0, 64.0),
        _task(3): _usage(3, 1024.0, 256.0, group="family:batch"),
        _task(9): _usage(9, 1024.0, 256.0),  # not RUNNING any more: left out
    }
    running = {_task(1): ("service:web", I1), _task(2): ("service:web", I2), _task(3): ("", I2)}
    instances = (InstanceFacts(I1, 2048, 4096, 1024, 256), InstanceFacts(I2, 2048, 4096, 2048, 512))
    facts = ClusterFacts(CLUSTER, "prod", "disabled", instances=instances, running=running)
    found = datums(facts, usage, 600.0, 60)
    assert set(found) == {AWS_ECS}
    ecs = found[AWS_ECS]
    [cpu] = _by(ecs, "CPUUtilization", ClusterName="prod", ServiceName="web")
    assert cpu["StatisticValues"] == {
        "SampleCount": 2.0,
        "Sum": 2 * 100.0 * 768 / 2048,
        "Minimum": 25.0,
        "Maximum": 50.0,
    }
    assert cpu["Unit"] == "Percent" and cpu["Timestamp"] == 600.0
    assert "StorageResolution" not in cpu
    [memory] = _by(ecs, "MemoryUtilization", ClusterName="prod", ServiceName="web")
    assert memory["StatisticValues"]["Sum"] / memory["StatisticValues"]["SampleCount"] == 37.5
    # The cluster: every task's use over what the instances registered; min/max by instance.
    [cluster_cpu] = _by(ecs, "CPUUtilization", ClusterName="prod")
    assert cluster_cpu["StatisticValues"] == {
        "SampleCount": 2.0,
        "Sum": 2 * 100.0 * 1792 / 4096,
        "Minimum": 25.0,
        "Maximum": 100.0 * 1280 / 2048,
    }
    [reservation] = _by(ecs, "CPUReservation", ClusterName="prod")
    assert reservation["StatisticValues"]["Sum"] / 2 == pytest.approx(100.0 * 3072 / 4096)
    assert _by(ecs, "MemoryReservation", ClusterName="prod")
    assert not [d for d in ecs if d["MetricName"].startswith("Cpu")]  # no Insights
    # A service no longer ACTIVE (deleted, its tasks draining) gets no datapoints.
    gone = ClusterFacts(
        CLUSTER, "prod", "disabled", instances=instances, running=running, active=frozenset()
    )
    assert not _by(
        datums(gone, usage, 600.0, 60)[AWS_ECS],
        "CPUUtilization",
        ClusterName="prod",
        ServiceName="web",
    )
    # A shortened period publishes high-resolution datapoints.
    fast = datums(facts, usage, 600.0, 5)[AWS_ECS]
    assert {d.get("StorageResolution") for d in fast} == {1}
    assert len(datapoints.samples(AWS_ECS, fast, 601.0)) == len(fast)
    # Nothing RUNNING: nothing at all, unless Container Insights is on.
    assert datums(ClusterFacts(CLUSTER, "prod", "disabled"), usage, 600.0, 60) == {}


def test_container_insights_when_the_cluster_setting_is_on() -> None:
    usage = {_task(1): _usage(1, 512.0, 128.0), _task(2): _usage(2, None, 64.0)}
    running = {_task(1): ("service:web", I1), _task(2): ("service:web", I1)}
    services = (ServiceFacts("web", 3, 2, 1, 1), ServiceFacts("idle", 0, 0, 0, 1))
    facts = ClusterFacts(CLUSTER, "prod", "enabled", services, (), running)
    insights = datums(facts, usage, 600.0, 60)[INSIGHTS]
    [cpu] = _by(insights, "CpuUtilized", ClusterName="prod", ServiceName="web")
    assert cpu["Values"] == [512.0] and cpu["Unit"] == "None"  # task 2 has no rate yet
    [reserved] = _by(insights, "CpuReserved", ClusterName="prod", ServiceName="web")
    assert reserved["Values"] == [1024.0, 1024.0]
    [mem] = _by(insights, "MemoryUtilized", ClusterName="prod", TaskDefinitionFamily="web")
    assert mem["Values"] == [128.0, 64.0] and mem["Unit"] == "Megabytes"
    assert _by(insights, "NetworkRxBytes", ClusterName="prod")[0]["Unit"] == "Bytes/Second"
    assert _by(insights, "DesiredTaskCount", ClusterName="prod", ServiceName="web")[0]["Value"] == 3
    assert _by(insights, "PendingTaskCount", ClusterName="prod", ServiceName="web")[0]["Value"] == 1
    assert (
        _by(insights, "RunningTaskCount", ClusterName="prod", ServiceName="idle")[0]["Value"] == 0
    )
    assert _by(insights, "TaskCount", ClusterName="prod")[0]["Value"] == 2
    assert _by(insights, "ServiceCount", ClusterName="prod")[0]["Value"] == 2
    assert not [d for d in insights if any(x["Name"] == "TaskId" for x in d["Dimensions"])]
    enhanced = ClusterFacts(CLUSTER, "prod", "enhanced", services, (), running)
    per_task = _by(
        datums(enhanced, usage, 600.0, 60)[INSIGHTS],
        "CpuUtilized",
        ClusterName="prod",
        TaskDefinitionFamily="web",
        TaskId=f"{1:032x}",
    )
    assert per_task[0]["Values"] == [512.0]
    # CloudWatch takes every datum as PutMetricData would.
    assert len(datapoints.samples(INSIGHTS, insights, 660.0)) == len(insights)
    # Insights on, nothing running: the counts still go out.
    quiet = datums(ClusterFacts(CLUSTER, "prod", "enabled", services), {}, 600.0, 60)
    assert set(quiet) == {INSIGHTS}
