"""ECS's CPUUtilization from real containers: on a server publishing every 5 s
(`--metric-period 5`) with an agent sampling Docker's stats every second, a service whose
container burns CPU shows a CPUUtilization far above an idle service's, read with the AWS
CLI v2 (`aws cloudwatch get-metric-statistics`, the query protocol); and the task metadata
endpoint answers `/task/stats` from inside the task with the agent's samples."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from e2e.conftest import AgentProcess, _new_agent
from e2e.images import busybox_image, docker_available
from fleet import wait_until
from harness import ServerProcess

from portside.agent.driver import LABEL_CONTAINER, LABEL_TASK_ARN

_unavailable = docker_available()
pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(_unavailable is not None, reason=f"cannot run: {_unavailable}"),
]

PERIOD = 5
BURN = "while :; do :; done"


@pytest.fixture(scope="module")
def metrics_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    proc = ServerProcess(
        tmp_path_factory.mktemp("ecs-metrics-docker"), None, "--metric-period", str(PERIOD)
    )
    proc.start(timeout=60)  # a loaded machine starts a server slowly
    yield proc
    proc.close()


@pytest.fixture
def agent(
    metrics_server: ServerProcess, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[AgentProcess]:
    monkeypatch.setenv("PORTSIDE_STATS_INTERVAL", "1")
    proc = _new_agent(metrics_server, tmp_path, 3600.0)
    try:
        yield proc.start()
    finally:
        proc.close()  # removes every container the agent made (its instance's label)


def _service(server: ServerProcess, cluster: str, name: str, script: str) -> str:
    ecs = server.client()
    family = f"{name}-{uuid.uuid4().hex[:8]}"
    td = ecs.register_task_definition(
        family=family,
        cpu="256",  # a quarter of a core: the task's cgroup quota
        memory="64",
        containerDefinitions=[
            {
                "name": "app",
                "image": busybox_image(),
                "command": ["sh", "-c", script],
                "stopTimeout": 2,
            }
        ],
    )["taskDefinition"]["taskDefinitionArn"]
    ecs.create_service(cluster=cluster, serviceName=name, taskDefinition=td, desiredCount=1)

    def running() -> str | None:
        arns = ecs.list_tasks(cluster=cluster, serviceName=name)["taskArns"]
        if not arns:
            return None
        [task] = ecs.describe_tasks(cluster=cluster, tasks=arns)["tasks"]
        return str(task["taskArn"]) if task["lastStatus"] == "RUNNING" else None

    arn: str = wait_until(running, timeout=60, what=f"{name} RUNNING")
    return arn


def _average(server: ServerProcess, cluster: str, service: str) -> float | None:
    """The newest CPUUtilization Average of the service, through the AWS CLI v2."""
    now = time.time()
    out: dict[str, Any] = server.aws(
        "cloudwatch",
        "get-metric-statistics",
        "--namespace",
        "AWS/ECS",
        "--metric-name",
        "CPUUtilization",
        "--dimensions",
        f"Name=ClusterName,Value={cluster}",
        f"Name=ServiceName,Value={service}",
        "--start-time",
        str(int(now - 120)),
        "--end-time",
        str(int(now + 5)),
        "--period",
        str(PERIOD),
        "--statistics",
        "Average",
        v2=True,
    )
    points = sorted(out["Datapoints"], key=lambda p: p["Timestamp"])
    return float(points[-1]["Average"]) if points else None


def test_a_cpu_burning_service_shows_high_cpu_utilization(
    metrics_server: ServerProcess, agent: AgentProcess
) -> None:
    cluster = agent.cluster
    burner = _service(metrics_server, cluster, "burn", BURN)
    _service(metrics_server, cluster, "idle", "exec sleep 3600")

    def both() -> tuple[float, float] | None:
        busy, idle = (
            _average(metrics_server, cluster, "burn"),
            _average(metrics_server, cluster, "idle"),
        )
        # Two full periods of samples for the burner: its rate is the quota's.
        if busy is None or idle is None or busy < 60:
            return None
        return busy, idle

    busy, idle = wait_until(both, timeout=90, what="CPUUtilization of both services")
    assert busy > 60, busy  # up to 100: the quarter core it reserves, used whole
    assert idle < 10, idle
    assert busy > idle + 50

    # Inside the task: the metadata endpoint's task stats, the agent's own samples.
    import docker

    client = docker.from_env()
    [container] = client.containers.list(
        filters={"label": [f"{LABEL_TASK_ARN}={burner}", f"{LABEL_CONTAINER}=app"]}
    )
    code, out = container.exec_run(
        ["sh", "-c", 'wget -qO- "$ECS_CONTAINER_METADATA_URI_V4/task/stats"']
    )
    assert code == 0, out
    stats = json.loads(out)
    assert list(stats) == [container.id]
    doc = stats[container.id]
    assert (
        doc["cpu_stats"]["cpu_usage"]["total_usage"]
        > doc["precpu_stats"]["cpu_usage"]["total_usage"]
    )
    assert doc["memory_stats"]["usage"] > 0
    assert set(doc["network_rate_stats"]) == {"rx_bytes_per_sec", "tx_bytes_per_sec"}


def test_target_tracking_adds_tasks_to_a_cpu_burning_service(
    metrics_server: ServerProcess, agent: AgentProcess
) -> None:
    """The issue's line: a CPU-burning container drives its service's CPUUtilization up and
    the target tracking policy adds tasks (AlarmHigh: 3 datapoints of the shortened period)."""
    cluster = agent.cluster
    _service(metrics_server, cluster, "grow", BURN)
    scaling = metrics_server.client("application-autoscaling")
    resource = f"service/{cluster}/grow"
    scaling.register_scalable_target(
        ServiceNamespace="ecs",
        ResourceId=resource,
        ScalableDimension="ecs:service:DesiredCount",
        MinCapacity=1,
        MaxCapacity=2,
    )
    scaling.put_scaling_policy(
        PolicyName="cpu50",
        ServiceNamespace="ecs",
        ResourceId=resource,
        ScalableDimension="ecs:service:DesiredCount",
        PolicyType="TargetTrackingScaling",
        TargetTrackingScalingPolicyConfiguration={
            "TargetValue": 50.0,
            "PredefinedMetricSpecification": {
                "PredefinedMetricType": "ECSServiceAverageCPUUtilization"
            },
            "DisableScaleIn": True,
        },
    )
    ecs = metrics_server.client()

    def grown() -> bool:
        (svc,) = ecs.describe_services(cluster=cluster, services=["grow"])["services"]
        return bool(svc["desiredCount"] == 2 and svc["runningCount"] == 2)

    wait_until(grown, timeout=120, what="the service grown to 2 RUNNING tasks")
    activities = scaling.describe_scaling_activities(ServiceNamespace="ecs", ResourceId=resource)
    assert any(
        a["Description"] == "Setting desired count to 2." and a["StatusCode"] == "Successful"
        for a in activities["ScalingActivities"]
    ), activities["ScalingActivities"]
