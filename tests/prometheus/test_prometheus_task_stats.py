"""Container usage from sample to scrape: Docker's stats document read as a sample, the
simulated driver's load model, the book's utilization (what CloudWatch's AWS/ECS
CPUUtilization reads), the wire message's checks; and, on a running server with a simulated
fleet, the load a test sets showing in `GET /_portside/prometheus/tasks`."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from fleet import register, start_fleet, wait_for_status, wait_until
from harness import ServerProcess
from prometheus_client.parser import text_string_to_metric_families

from portside.agent.driver import LABEL_CONTAINER, LABEL_TASK_ARN
from portside.agent.load_model import LoadModel
from portside.agent.stats import container_sample
from portside.errors import InvalidParameterException
from portside.gateway.protocol.stats import ContainerSample, StatsReport, TaskSample
from portside.prometheus.task_stats import TaskStatsBook, TaskStatsCollector
from portside.testing import FakeClock

TASK = "arn:aws:ecs:us-east-1:000000000000:task/prod/0123456789abcdef"
CLUSTER = "arn:aws:ecs:us-east-1:000000000000:cluster/prod"
TD = "arn:aws:ecs:us-east-1:000000000000:task-definition/web:3"

DOCKER_V2 = {
    "cpu_stats": {"cpu_usage": {"total_usage": 2_500_000_000}},
    "memory_stats": {"usage": 50_000_000, "limit": 134_217_728, "stats": {"inactive_file": 10}},
    "networks": {"eth0": {"rx_bytes": 100, "tx_bytes": 40}, "eth1": {"rx_bytes": 1}},
    "blkio_stats": {
        "io_service_bytes_recursive": [
            {"major": 8, "minor": 0, "op": "read", "value": 4096},
            {"major": 8, "minor": 0, "op": "write", "value": 512},
            {"major": 8, "minor": 16, "op": "Read", "value": 4096},
        ]
    },
}


def test_docker_stats_as_a_sample() -> None:
    sample = container_sample("app", DOCKER_V2, 100.0)
    assert sample == ContainerSample("app", 100.0, 2.5, 49_999_990, 134_217_728, 101, 40, 8192, 512)
    cgroup_v1 = {"memory_stats": {"usage": 1000, "stats": {"total_inactive_file": 300}}}
    assert container_sample("app", cgroup_v1, 1.0).memory_bytes == 700
    assert container_sample("app", {}, 1.0).cpu_seconds == 0  # a container that just ended


def test_load_model_integrates_cpu_over_the_loads_set() -> None:
    model = LoadModel()
    labels = {LABEL_TASK_ARN: TASK, LABEL_CONTAINER: "app"}
    model.set(0.0, 512, 100)  # half a core for everyone
    model.set(10.0, 2048, 300, task_arn=TASK)  # two cores for this task from 10 s
    model.set(20.0, 0, 0, container="other")  # does not match
    assert model.usage(labels, 4.0, 9.0) == (2.5, 100)
    assert model.usage(labels, 4.0, 30.0) == (3.0 + 40.0, 300)
    assert model.usage(labels, None, 30.0) == (0.0, 0.0)  # never started
    stats = model.docker_stats("id", labels, 4.0, 12.0, 50.0, host_cpus=4, host_memory_mib=1024)
    assert stats["cpu_stats"]["cpu_usage"]["total_usage"] == 7_000_000_000  # ended at 12 s
    assert container_sample("app", stats, 50.0).memory_bytes == 300 * 1024 * 1024


def _sample(at: float, cpu: float, memory: int = 64 << 20) -> TaskSample:
    return TaskSample(
        TASK,
        CLUSTER,
        TD,
        "service:web",
        (ContainerSample("app", at, cpu, memory, 128 << 20, 10, 20, 30, 40),),
        cpu_units=1024,
        memory_mib=256,
    )


def test_book_utilization_and_staleness() -> None:
    clock = FakeClock(1000.0)
    book = TaskStatsBook(clock)
    book.put((_sample(1000.0, 5.0),))
    stats = book.get(TASK)
    assert stats is not None and stats.cpu_used_units() is None  # one sample: no rate
    clock.advance(10)
    book.put((_sample(1010.0, 10.0),))
    stats = book.get(TASK)
    assert stats is not None
    assert stats.cpu_used_units() == pytest.approx(512.0)  # 5 CPU-seconds in 10 s
    assert stats.memory_used_mib() == 64.0
    assert 100 * stats.cpu_used_units() / stats.cpu_units == pytest.approx(50.0)  # type: ignore[operator]
    clock.advance(121)
    assert book.tasks() == []


def test_collector_labels() -> None:
    book = TaskStatsBook(FakeClock(1000.0))
    book.put((_sample(1000.0, 5.0),))
    text = TaskStatsCollector(book).render().decode()
    families = {f.name: f.samples for f in text_string_to_metric_families(text)}
    [cpu] = families["portside_task_container_cpu_seconds"]
    assert cpu.labels == {
        "cluster": "prod",
        "service": "web",
        "task": "0123456789abcdef",
        "family": "web",
        "revision": "3",
        "container": "app",
    }
    assert cpu.value == 5.0
    assert families["portside_task_container_network_receive_bytes"][0].value == 10
    assert families["portside_task_container_blkio_write_bytes"][0].value == 40
    assert families["portside_task_cpu_reserved_units"][0].value == 1024
    assert TaskStatsCollector(book).render(frozenset({"staging"})).count(b"prod") == 0
    odd = TaskSample(TASK + "x", CLUSTER, TD, 'service:a"b\\c', _sample(1.0, 1.0).containers)
    book.put((odd,))
    text = TaskStatsCollector(book).render().decode()
    services = {
        s.labels["service"]
        for f in text_string_to_metric_families(text)
        for s in f.samples
        if f.name == "portside_task_container_cpu_seconds"
    }
    assert services == {"web", 'a"b\\c'}


def test_wire_checks() -> None:
    wire = StatsReport((_sample(1.0, 2.0),)).to_wire()
    assert StatsReport.from_wire(wire).tasks[0] == _sample(1.0, 2.0)
    bad: list[dict[str, Any]] = [
        {"tasks": "x"},
        {"tasks": [{**wire["tasks"][0], "taskArn": "nope"}]},
        {"tasks": [{**wire["tasks"][0], "containers": [{"name": "a", "at": 1, "rx_bytes": -1}]}]},
        {"tasks": [{**wire["tasks"][0], "containers": [{"name": "a", "at": "x"}]}]},
    ]
    for message in bad:
        with pytest.raises(InvalidParameterException):
            StatsReport.from_wire(message)


def _task_metrics(server: ServerProcess, cluster: str) -> dict[str, float]:
    reply = httpx.get(
        server.endpoint + "/_portside/prometheus/tasks", params={"cluster": cluster}, timeout=10
    )
    assert reply.status_code == 200
    out: dict[str, float] = {}
    for family in text_string_to_metric_families(reply.text):
        for s in family.samples:
            out[f"{s.name}/{s.labels.get('task')}/{s.labels.get('container', '')}"] = s.value
    return out


def test_a_simulated_load_shows_in_the_tasks_metrics(
    server: ServerProcess, tmp_path: Path, name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PORTSIDE_STATS_INTERVAL", "0.2")
    with start_fleet(server, tmp_path, name) as fleet:
        ecs = fleet.ecs
        td = register(ecs, name, cpu="512", memory="256")
        [task] = ecs.run_task(cluster=name, taskDefinition=td, count=1)["tasks"]
        task = wait_for_status(ecs, name, task["taskArn"], "RUNNING")
        driver = fleet.driver_of(task["containerInstanceArn"])
        driver.load.set(driver.clock(), 256, 48, task_arn=task["taskArn"])
        task_id = task["taskArn"].rsplit("/", 1)[1]
        key = f"portside_task_container_cpu_seconds_total/{task_id}/app"

        def cpu_seen() -> float | None:
            found = _task_metrics(server, name)
            return found.get(key) if found.get(key, 0) > 0.05 else None

        first = wait_until(cpu_seen, timeout=15, what="CPU seconds in the scrape")
        found = _task_metrics(server, name)
        memory_key = f"portside_task_container_memory_usage_bytes/{task_id}/app"
        assert found[memory_key] == 48 * 1024 * 1024
        assert found[f"portside_task_cpu_reserved_units/{task_id}/"] == 512
        assert found[f"portside_task_memory_reserved_bytes/{task_id}/"] == 256 * 1024 * 1024
        # The counter grows by the load set: a quarter of a core.
        later = wait_until(
            lambda: (v := cpu_seen()) is not None and v > first + 0.1 and v, timeout=15
        )
        assert later > first
        # Discovery lists the usage endpoint for the cluster when asked (`usage=true`).
        sd = httpx.get(
            server.endpoint + "/_portside/prometheus/sd",
            params={"cluster": name, "usage": "true"},
            timeout=10,
        ).json()
        [usage] = [g for g in sd if g["labels"].get("job") == "portside-task-usage"]
        assert usage["targets"] == [server.endpoint.removeprefix("http://")]
        assert usage["labels"]["__metrics_path__"] == "/_portside/prometheus/tasks"
        assert usage["labels"]["__meta_ecs_cluster"] == name
        assert re.fullmatch(r"[0-9a-f]+", task_id)
