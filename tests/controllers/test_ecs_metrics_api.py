"""ECS's own metrics on a running server (`--metric-period 1`) with a simulated fleet whose
load the test sets: a service using half of what its tasks reserve shows CPUUtilization
about 50 in GetMetricStatistics, and Container Insights' metrics appear only for the cluster
whose containerInsights setting is enabled."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from fleet import register, start_fleet, wait_until
from harness import ServerProcess


@pytest.fixture(scope="module")
def fast_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    proc = ServerProcess(tmp_path_factory.mktemp("ecs-metrics"), None, "--metric-period", "1")
    proc.start(timeout=60)  # a loaded machine starts a server slowly
    yield proc
    proc.close()


@pytest.fixture(autouse=True)
def fast_samples(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORTSIDE_STATS_INTERVAL", "0.2")  # the in-process agents' sampler


def _service(fleet: Any, name: str, count: int) -> list[dict[str, Any]]:
    ecs = fleet.ecs
    td = register(ecs, name, cpu="1024", memory="512")
    ecs.create_service(cluster=name, serviceName="web", taskDefinition=td, desiredCount=count)

    def running() -> list[dict[str, Any]] | None:
        arns = ecs.list_tasks(cluster=name, serviceName="web")["taskArns"]
        if len(arns) < count:
            return None
        tasks = ecs.describe_tasks(cluster=name, tasks=arns)["tasks"]
        return tasks if all(t["lastStatus"] == "RUNNING" for t in tasks) else None

    tasks: list[dict[str, Any]] = wait_until(running, timeout=30, what="the service's tasks")
    return tasks


def _epoch(stamp: str) -> float:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def _datapoints(cw: Any, name: str, metric: str, **dims: str) -> list[dict[str, Any]]:
    now = time.time()
    return list(
        cw.get_metric_statistics(
            Namespace="AWS/ECS",
            MetricName=metric,
            Dimensions=[{"Name": k, "Value": v} for k, v in dims.items()],
            StartTime=now - 60,
            EndTime=now + 1,
            Period=1,
            Statistics=["Average", "Minimum", "Maximum", "SampleCount"],
        )["Datapoints"]
    )


def test_half_the_reserved_cpu_shows_as_50_percent(
    fast_server: ServerProcess, tmp_path: Path, name: str
) -> None:
    cw = fast_server.client("cloudwatch")
    with start_fleet(fast_server, tmp_path, name) as fleet:
        tasks = _service(fleet, name, 2)
        driver = fleet.driver_of(tasks[0]["containerInstanceArn"])
        driver.load.set(driver.clock() - 5, 512, 128)  # every container: half a core, 128 MiB

        def settled() -> dict[str, Any] | None:
            points = _datapoints(cw, name, "CPUUtilization", ClusterName=name, ServiceName="web")
            latest = max(points, key=lambda p: p["Timestamp"], default=None)
            if latest is None or abs(latest["Average"] - 50.0) > 2:
                return None
            return latest

        point = wait_until(settled, timeout=30, what="CPUUtilization about 50")
        assert point["Unit"] == "Percent"
        assert point["SampleCount"] == 2  # one value per task, as ECS's statistic set
        assert 48 <= point["Minimum"] <= point["Maximum"] <= 52
        # The task metadata endpoint serves the agent's same samples, in Docker's shape.
        agent = fleet.agent_of(tasks[0]["containerInstanceArn"])
        token = fleet.container_run(tasks[0], "app").token
        base = f"http://127.0.0.1:{agent.config.metadata_port}/v4/{token}"
        [doc] = httpx.get(base + "/task/stats", timeout=10).json().values()
        spent = doc["cpu_stats"]["cpu_usage"]["total_usage"]
        spent -= doc["precpu_stats"]["cpu_usage"]["total_usage"]
        span = _epoch(doc["read"]) - _epoch(doc["preread"])
        assert spent / 1e9 / span == pytest.approx(0.5, abs=0.02)  # half a core
        assert doc["memory_stats"]["usage"] == 128 << 20
        assert doc["network_rate_stats"] == {"rx_bytes_per_sec": 0.0, "tx_bytes_per_sec": 0.0}
        assert httpx.get(base + "/stats", timeout=10).json()["read"] >= doc["read"]
        memory = wait_until(
            lambda: _datapoints(cw, name, "MemoryUtilization", ClusterName=name, ServiceName="web"),
            timeout=10,
        )
        assert abs(max(memory, key=lambda p: p["Timestamp"])["Average"] - 25.0) < 0.5
        # The load stops: the utilization follows it down.
        driver.load.set(driver.clock(), 0, 128)
        wait_until(
            lambda: any(
                p["Average"] < 1
                for p in _datapoints(
                    cw, name, "CPUUtilization", ClusterName=name, ServiceName="web"
                )
            ),
            timeout=30,
            what="CPUUtilization back to 0",
        )
        # The cluster's CPUUtilization: the tasks' use over the instance's 4096 units.
        assert wait_until(lambda: _datapoints(cw, name, "CPUReservation", ClusterName=name))
        metrics = cw.list_metrics(
            Namespace="AWS/ECS", Dimensions=[{"Name": "ClusterName", "Value": name}]
        )
        names = {m["MetricName"] for m in metrics["Metrics"]}
        assert {"CPUUtilization", "MemoryUtilization", "CPUReservation"} <= names
        assert not cw.list_metrics(
            Namespace="ECS/ContainerInsights", Dimensions=[{"Name": "ClusterName", "Value": name}]
        )["Metrics"]  # the setting is off


def test_container_insights_only_where_enabled(
    fast_server: ServerProcess, tmp_path: Path, name: str
) -> None:
    cw = fast_server.client("cloudwatch")
    insights = [{"name": "containerInsights", "value": "enabled"}]
    with start_fleet(fast_server, tmp_path, name, settings=insights) as fleet:
        tasks = _service(fleet, name, 1)
        driver = fleet.driver_of(tasks[0]["containerInstanceArn"])
        driver.load.set(driver.clock() - 5, 256, 64)

        def found() -> set[str] | None:
            metrics = cw.list_metrics(
                Namespace="ECS/ContainerInsights",
                Dimensions=[{"Name": "ClusterName", "Value": name}, {"Name": "ServiceName"}],
            )["Metrics"]
            names = {m["MetricName"] for m in metrics}
            return names if "CpuUtilized" in names else None

        names = wait_until(found, timeout=30, what="Container Insights metrics")
        assert {"CpuReserved", "MemoryUtilized", "RunningTaskCount", "DesiredTaskCount"} <= names
        now = time.time()
        running = cw.get_metric_statistics(
            Namespace="ECS/ContainerInsights",
            MetricName="RunningTaskCount",
            Dimensions=[
                {"Name": "ClusterName", "Value": name},
                {"Name": "ServiceName", "Value": "web"},
            ],
            StartTime=now - 60,
            EndTime=now + 1,
            Period=60,
            Statistics=["Maximum"],
        )["Datapoints"]
        assert running and running[0]["Maximum"] == 1

        def task_count_points() -> int:
            stamp = time.time()
            points = cw.get_metric_statistics(
                Namespace="ECS/ContainerInsights",
                MetricName="TaskCount",
                Dimensions=[{"Name": "ClusterName", "Value": name}],
                StartTime=stamp - 3,
                EndTime=stamp + 1,
                Period=1,
                Statistics=["SampleCount"],
            )["Datapoints"]
            return len(points)

        wait_until(task_count_points, timeout=10, what="TaskCount each second")
        # Turned off: no more Container Insights datapoints for the cluster.
        fleet.ecs.update_cluster_settings(
            cluster=name, settings=[{"name": "containerInsights", "value": "disabled"}]
        )
        wait_until(lambda: task_count_points() == 0, timeout=15, what="Insights to stop")
