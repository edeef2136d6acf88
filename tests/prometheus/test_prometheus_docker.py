"""A real Prometheus finds a service's tasks through Portside's HTTP service discovery and
scrapes the exporter in each (real Docker containers: busybox httpd serving a static
`metrics` file in Prometheus' text format), and scrapes the control plane's `/metrics` and
the tasks' usage at `/_portside/prometheus/tasks`, as a user configures it:

    scrape_configs:
      - job_name: ecs
        http_sd_configs:
          - url: "http://portside:4566/_portside/prometheus/sd?cluster=prod&usage=true"
      - job_name: portside
        static_configs: [{targets: ["portside:4566"]}]
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from e2e.images import busybox_image, docker_available
from fleet import wait_until
from harness import ServerProcess
from prometheus_process import PrometheusProcess, prometheus_binary

if TYPE_CHECKING:
    from e2e.conftest import AgentProcess

_unavailable = docker_available() or (
    None if prometheus_binary() else "no prometheus; run scripts/ensure-prometheus.sh"
)
pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(_unavailable is not None, reason=f"cannot run: {_unavailable}"),
]

METRICS = '# TYPE demo_requests counter\\ndemo_requests_total{path=\\"/\\"} 42\\n'
SERVE_METRICS = (
    f'mkdir -p /tmp/www && printf "{METRICS}" > /tmp/www/metrics '
    "&& exec httpd -f -p 9100 -h /tmp/www"
)


def _exporter(job: str) -> dict[str, Any]:
    return {
        "name": "exporter",
        "image": busybox_image(),
        "memory": 32,
        "command": ["sh", "-c", SERVE_METRICS],
        "portMappings": [{"containerPort": 9100}],  # a dynamic host port (bridge)
        "dockerLabels": {
            "PROMETHEUS_EXPORTER_PORT": "9100",
            "PROMETHEUS_EXPORTER_JOB_NAME": job,
        },
        "linuxParameters": {"initProcessEnabled": True},
        "stopTimeout": 2,
    }


@pytest.fixture
def service(
    server: ServerProcess,
    start_agent: Callable[..., AgentProcess],
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[tuple[AgentProcess, str, str]]:
    """A service of two exporter tasks on an agent of the test's own, which samples its
    containers every 2 s: (agent, service, job)."""
    monkeypatch.setenv("PORTSIDE_STATS_INTERVAL", "2")
    agent = start_agent()
    ecs = server.client()
    job = "exporter-" + uuid.uuid4().hex[:8]
    family = "prom" + uuid.uuid4().hex[:8]
    td = ecs.register_task_definition(family=family, containerDefinitions=[_exporter(job)])
    name = "svc" + uuid.uuid4().hex[:8]
    ecs.create_service(
        cluster=agent.cluster,
        serviceName=name,
        taskDefinition=td["taskDefinition"]["taskDefinitionArn"],
        desiredCount=2,
    )
    try:
        yield agent, name, job
    finally:
        with contextlib.suppress(Exception):
            ecs.delete_service(cluster=agent.cluster, service=name, force=True)


def test_prometheus_discovers_and_scrapes_a_services_tasks(
    server: ServerProcess, service: tuple[AgentProcess, str, str], tmp_path: Path
) -> None:
    agent, name, job = service
    ecs = server.client()
    host = server.endpoint.removeprefix("http://")
    prometheus = PrometheusProcess(
        tmp_path / "prometheus",
        [
            {
                "job_name": "ecs",
                "http_sd_configs": [
                    {
                        "url": f"{server.endpoint}/_portside/prometheus/sd"
                        f"?cluster={agent.cluster}&usage=true",
                        "refresh_interval": "1s",
                    }
                ],
                "relabel_configs": [
                    {"source_labels": ["__meta_ecs_task_arn"], "target_label": "task_arn"},
                    {"source_labels": ["__meta_ecs_service"], "target_label": "service"},
                ],
            },
            {"job_name": "portside", "static_configs": [{"targets": [host]}]},
        ],
    )
    try:
        prometheus.start()

        def running_tasks() -> set[str] | None:
            arns = ecs.list_tasks(cluster=agent.cluster, serviceName=name)["taskArns"]
            if len(arns) != 2:
                return None
            tasks = ecs.describe_tasks(cluster=agent.cluster, tasks=arns)["tasks"]
            return {t["taskArn"] for t in tasks if t["lastStatus"] == "RUNNING"} or None

        arns = wait_until(
            lambda: (found := running_tasks()) and len(found) == 2 and found,
            timeout=90,
            what="two RUNNING tasks",
        )

        def scraped() -> set[str] | None:
            up = [t for t in prometheus.targets() if t["labels"].get("job") == job]
            healthy = {t["labels"]["task_arn"] for t in up if t["health"] == "up"}
            return healthy if healthy == arns else None

        wait_until(scraped, timeout=60, what="Prometheus scraping both tasks")
        samples = prometheus.query(f'demo_requests_total{{job="{job}"}}')
        assert {s["metric"]["task_arn"] for s in samples} == arns
        assert {s["value"][1] for s in samples} == {"42"}
        assert {s["metric"]["service"] for s in samples} == {name}

        # The control plane's own metrics, scraped from /metrics.
        tasks = wait_until(
            lambda: prometheus.query(
                f'portside_tasks{{cluster="{agent.cluster}",last_status="RUNNING"}}'
            ),
            timeout=30,
            what="portside_tasks scraped",
        )
        assert tasks[0]["value"][1] == "2"
        assert prometheus.query('up{job="portside"}')[0]["value"][1] == "1"

        # Each container's usage, as the agent samples it from Docker, at the target the
        # discovery adds for the cluster (`usage=true`).
        cpu = wait_until(
            lambda: prometheus.query(
                f'portside_task_container_memory_usage_bytes{{service="{name}"}}'
            ),
            timeout=60,
            what="task usage scraped",
        )
        assert {s["metric"]["container"] for s in cpu} == {"exporter"}
        assert {s["metric"]["task"] for s in cpu} == {a.rsplit("/", 1)[1] for a in arns}
        assert all(float(s["value"][1]) > 0 for s in cpu)
        assert {s["metric"]["job"] for s in cpu} == {"portside-task-usage"}
    finally:
        prometheus.stop()
