"""`GET /metrics` and `GET /_portside/prometheus/sd` on a running server, with tasks run
through boto3 on simulated agents: what Prometheus would read, parsed with
prometheus_client's own text parser."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fleet import register, start_fleet, wait_for_status, wait_until
from harness import ServerProcess
from prometheus_client.parser import text_string_to_metric_families

SD = "/_portside/prometheus/sd"


def scrape(server: ServerProcess, path: str = "/metrics", **kw: Any) -> dict[str, list[Any]]:
    """Metric family name -> its samples."""
    reply = httpx.get(server.endpoint + path, timeout=10, **kw)
    assert reply.status_code == 200, reply.text
    assert reply.headers["content-type"].startswith("text/plain; version=")
    return {f.name: f.samples for f in text_string_to_metric_families(reply.text)}


def value(samples: list[Any], name: str, **labels: str) -> float | None:
    found = [s.value for s in samples if s.name == name and labels.items() <= s.labels.items()]
    return sum(found) if found else None


def _exporter_definition(ecs: Any, family: str) -> str:
    return register(
        ecs,
        family,
        containers=[
            {
                "name": "app",
                "image": "busybox",
                "memory": 64,
                "portMappings": [{"containerPort": 9100, "hostPort": 0}],
                "dockerLabels": {
                    "PROMETHEUS_EXPORTER_PORT": "9100",
                    "PROMETHEUS_EXPORTER_JOB_NAME": "web-exporter",
                },
            },
            {"name": "plain", "image": "busybox", "memory": 32},
        ],
    )


@pytest.fixture
def running(server: ServerProcess, tmp_path: Path, name: str) -> Iterator[list[dict[str, Any]]]:
    """Three RUNNING tasks of an exporting definition on a one-agent cluster `name`."""
    with start_fleet(server, tmp_path, name) as fleet:
        ecs = fleet.ecs
        td = _exporter_definition(ecs, name)
        arns = [
            t["taskArn"] for t in ecs.run_task(cluster=name, taskDefinition=td, count=3)["tasks"]
        ]
        yield [wait_for_status(ecs, name, arn, "RUNNING") for arn in arns]


def test_metrics_count_tasks_instances_and_api_calls(
    server: ServerProcess, running: list[dict[str, Any]], name: str
) -> None:
    families = scrape(server)
    tasks = families["portside_tasks"]
    assert value(tasks, "portside_tasks", cluster=name, last_status="RUNNING") == 3
    assert value(tasks, "portside_tasks", cluster=name, region="us-east-1") == 3
    instances = families["portside_container_instances"]
    assert value(instances, "portside_container_instances", cluster=name, status="ACTIVE") == 1
    assert (
        value(instances, "portside_container_instances", cluster=name, agent_connected="true") == 1
    )

    api = families["portside_api_request_duration_seconds"]
    ran = value(
        api,
        "portside_api_request_duration_seconds_count",
        service="ecs",
        action="RunTask",
        code="200",
    )
    assert ran is not None and ran >= 1
    # A call that fails is counted with its status.
    ecs = server.client("ecs")
    with pytest.raises(ecs.exceptions.ClusterNotFoundException):
        ecs.describe_services(cluster=name + "-none", services=["x"])
    api = scrape(server)["portside_api_request_duration_seconds"]
    failed = value(
        api,
        "portside_api_request_duration_seconds_count",
        action="DescribeServices",
        code="400",
    )
    assert failed is not None and failed >= 1
    buckets = [s for s in api if s.name.endswith("_bucket") and s.labels["action"] == "RunTask"]
    assert buckets and buckets[-1].labels["le"] == "+Inf"


def test_metrics_show_loops_feed_and_logs(server: ServerProcess) -> None:
    families = scrape(server)
    passes = families["portside_loop_passes"]
    assert value(passes, "portside_loop_passes_total", loop="services")
    durations = families["portside_loop_pass_duration_seconds"]
    assert value(durations, "portside_loop_pass_duration_seconds_count", loop="liveness")
    assert (
        value(families["portside_loop_errors"], "portside_loop_errors_total", loop="services") == 0
    )
    assert value(families["portside_loop_stalled"], "portside_loop_stalled", loop="dns") == 0
    assert families["portside_change_feed_last_seq"][0].value > 0
    assert "portside_log_events_ingested" in families
    assert "portside_log_stored_bytes" in families


def test_service_discovery_lists_the_exporting_containers(
    server: ServerProcess, running: list[dict[str, Any]], name: str
) -> None:
    reply = httpx.get(server.endpoint + SD, params={"cluster": name}, timeout=10)
    assert reply.status_code == 200
    assert reply.headers["content-type"] == "application/json"
    groups = reply.json()
    assert len(groups) == 3  # one per task: only the labelled container exports
    expected = {}
    for task in running:
        app = next(c for c in task["containers"] if c["name"] == "app")
        [binding] = [b for b in app["networkBindings"] if b["containerPort"] == 9100]
        expected[task["taskArn"]] = f"127.0.0.1:{binding['hostPort']}"
    found = {g["labels"]["__meta_ecs_task_arn"]: g["targets"] for g in groups}
    assert found == {arn: [target] for arn, target in expected.items()}
    labels = groups[0]["labels"]
    assert labels["__meta_ecs_cluster"] == name
    assert labels["__meta_ecs_task_definition_family"] == name
    assert labels["__meta_ecs_task_definition_revision"] == "1"
    assert labels["__meta_ecs_container_name"] == "app"
    assert labels["__meta_ecs_launch_type"] == "EC2"
    assert labels["__meta_ecs_availability_zone"] == "us-east-1a"
    assert labels["__metrics_path__"] == "/metrics"
    assert labels["job"] == "web-exporter"
    other = httpx.get(server.endpoint + SD, params={"cluster": name + "x"}, timeout=10)
    assert other.json() == []


def test_service_discovery_drops_stopped_tasks(
    server: ServerProcess, running: list[dict[str, Any]], name: str
) -> None:
    ecs = server.client("ecs")
    stopped = running[0]["taskArn"]
    ecs.stop_task(cluster=name, task=stopped)

    def listed() -> set[str]:
        groups = httpx.get(server.endpoint + SD, params={"cluster": name}, timeout=10).json()
        return {g["labels"]["__meta_ecs_task_arn"] for g in groups}

    wait_until(lambda: stopped not in listed() and len(listed()) == 2, what="the stop")


def test_a_token_guards_the_routes(tmp_path: Path) -> None:
    os.environ["PORTSIDE_PROMETHEUS_TOKEN"] = "s3cret"
    try:
        server = ServerProcess(tmp_path / "data").start()
    finally:
        del os.environ["PORTSIDE_PROMETHEUS_TOKEN"]
    try:
        for path in ("/metrics", SD, "/_portside/prometheus/tasks"):
            refused = httpx.get(server.endpoint + path, timeout=10)
            assert refused.status_code == 401
            assert refused.headers["www-authenticate"].startswith("Bearer")
            wrong = httpx.get(server.endpoint + path, headers={"Authorization": "Bearer x"})
            assert wrong.status_code == 401
            ok = httpx.get(server.endpoint + path, headers={"Authorization": "Bearer s3cret"})
            assert ok.status_code == 200
        assert httpx.get(server.endpoint + "/_portside/health").status_code == 200
    finally:
        server.close()
