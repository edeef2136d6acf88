"""Placement end to end: two `portside agent --driver docker` processes on this host, registered
to one cluster as two container instances in different zones with different `--attribute`
values, and a real Docker Engine. What a user checks: DescribeTasks and the labels `docker
inspect` shows on each task's container (io.portside.instance-arn names the instance whose
agent made it).
"""

from __future__ import annotations

import json
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from e2e.conftest import AgentProcess
from e2e.images import busybox_image, docker_available
from harness import ServerProcess

from portside.agent.driver import LABEL_INSTANCE, LABEL_TASK_ARN

_unavailable = docker_available()
pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(_unavailable is not None, reason=f"no Docker for e2e: {_unavailable}"),
]

# Runs until SIGTERM, then exits 0 at once.
SERVE = ["sh", "-c", "trap 'exit 0' TERM; sleep 600 & wait"]
DISTINCT = "DistinctInstance placement constraint unsatisfied."


class PlacedAgent(AgentProcess):
    """conftest's AgentProcess, started with --zone and --attribute options (teardown, log and
    instance ARN as there)."""

    def __init__(
        self,
        server: ServerProcess,
        cluster: str,
        state_dir: Path,
        zone: str,
        attributes: dict[str, str],
    ) -> None:
        super().__init__(server, cluster, state_dir)
        self.zone = zone
        self.options = ["--zone", zone]
        for name, value in attributes.items():
            self.options += ["--attribute", f"{name}={value}"]


@pytest.fixture
def two_agents(server: ServerProcess, tmp_path: Path) -> Iterator[tuple[PlacedAgent, ...]]:
    cluster = "e2e-place-" + uuid.uuid4().hex[:8]
    server.client().create_cluster(clusterName=cluster)
    agents = [
        PlacedAgent(server, cluster, tmp_path / "blue", "us-east-1a", {"stack": "blue"}),
        PlacedAgent(server, cluster, tmp_path / "green", "us-east-1b", {"stack": "green"}),
    ]
    try:
        for agent in agents:
            agent.start()
        yield tuple(agents)
    finally:
        for agent in agents:
            agent.close()


def wait_running(
    ecs: Any, cluster: str, arns: list[str], timeout: float = 30
) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while True:
        tasks = ecs.describe_tasks(cluster=cluster, tasks=arns)["tasks"]
        if all(t["lastStatus"] == "RUNNING" for t in tasks):
            return list(tasks)
        assert time.monotonic() < deadline, f"tasks never ran: {tasks}"
        time.sleep(0.1)


def container_labels(task_arn: str) -> dict[str, str]:
    """The labels of the task's one container, as `docker inspect` shows them."""
    ids = subprocess.run(
        ["docker", "ps", "-q", "--no-trunc", "--filter", f"label={LABEL_TASK_ARN}={task_arn}"],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    ).stdout.split()
    assert len(ids) == 1, ids
    out = subprocess.run(
        ["docker", "inspect", "--format", "{{json .Config.Labels}}", ids[0]],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    ).stdout
    return dict(json.loads(out))


def test_distinct_instance_and_member_of_on_two_docker_hosts(
    ecs: Any, two_agents: tuple[PlacedAgent, ...]
) -> None:
    blue, green = two_agents
    cluster = blue.cluster
    assert blue.instance_arn != green.instance_arn
    family = "e2e-place-" + uuid.uuid4().hex[:8]
    td = ecs.register_task_definition(
        family=family,
        containerDefinitions=[
            {
                "name": "app",
                "image": busybox_image(),
                "memory": 32,
                "command": SERVE,
                "stopTimeout": 2,
            }
        ],
    )["taskDefinition"]["taskDefinitionArn"]
    zone = {agent.instance_arn: agent.zone for agent in two_agents}
    arns: list[str] = []
    try:
        # distinctInstance: the two tasks run under different instances (different agents).
        out = ecs.run_task(
            cluster=cluster,
            taskDefinition=td,
            count=2,
            placementConstraints=[{"type": "distinctInstance"}],
        )
        assert out["failures"] == []
        arns += [t["taskArn"] for t in out["tasks"]]
        tasks = wait_running(ecs, cluster, arns)
        where = {t["taskArn"]: t["containerInstanceArn"] for t in tasks}
        assert sorted(where.values()) == sorted(zone)
        for t in tasks:
            assert t["availabilityZone"] == zone[t["containerInstanceArn"]]
        labels = {arn: container_labels(arn)[LABEL_INSTANCE] for arn in where}
        assert labels == where

        # A third task with distinctInstance has nowhere to go.
        out = ecs.run_task(
            cluster=cluster,
            taskDefinition=td,
            placementConstraints=[{"type": "distinctInstance"}],
        )
        assert out["tasks"] == []
        failures = sorted((f["arn"], f["reason"]) for f in out["failures"])
        assert failures == sorted((arn, DISTINCT) for arn in zone)

        # memberOf on the agents' --attribute: both tasks on the green instance.
        out = ecs.run_task(
            cluster=cluster,
            taskDefinition=td,
            count=2,
            placementConstraints=[{"type": "memberOf", "expression": "attribute:stack == green"}],
        )
        assert out["failures"] == []
        green_arns = [t["taskArn"] for t in out["tasks"]]
        arns += green_arns
        for t in wait_running(ecs, cluster, green_arns):
            assert t["containerInstanceArn"] == green.instance_arn
            assert t["availabilityZone"] == "us-east-1b"
            assert container_labels(t["taskArn"])[LABEL_INSTANCE] == green.instance_arn
    finally:
        for arn in arns:
            ecs.stop_task(cluster=cluster, task=arn)
