"""A schedule running a real container: `aws scheduler create-schedule` (AWS CLI v1) with a
one-time `at()` a few seconds ahead, on `portside agent --driver docker`; the task is started
by `chronos-schedule/NAME`, runs the command its Input overrides, and exits 0."""

from __future__ import annotations

import json
import subprocess
import time
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pytest
from e2e.images import busybox_image, docker_available
from harness import ServerProcess

if TYPE_CHECKING:
    from e2e.conftest import AgentProcess

_unavailable = docker_available()
pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(_unavailable is not None, reason=f"no Docker for e2e: {_unavailable}"),
]


def test_an_at_schedule_runs_a_container(server: ServerProcess, agent: AgentProcess) -> None:
    ecs: Any = server.client()
    family = "sched-" + uuid.uuid4().hex[:8]
    td = ecs.register_task_definition(
        family=family,
        containerDefinitions=[
            {"name": "job", "image": busybox_image(), "memory": 32, "command": ["false"]}
        ],
    )["taskDefinition"]["taskDefinitionArn"]
    cluster = ecs.describe_clusters(clusters=[agent.cluster])["clusters"][0]["clusterArn"]
    when = datetime.fromtimestamp(time.time() + 3, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    overrides = {"containerOverrides": [{"name": "job", "command": ["echo", "scheduled"]}]}
    server.aws(
        "scheduler",
        "create-schedule",
        "--name",
        family,
        "--schedule-expression",
        f"at({when})",
        "--flexible-time-window",
        '{"Mode": "OFF"}',
        "--target",
        json.dumps(
            {
                "Arn": cluster,
                "RoleArn": "arn:aws:iam::000000000000:role/scheduler",
                "Input": json.dumps(overrides),
                "EcsParameters": {"TaskDefinitionArn": td},
            }
        ),
    )
    started_by = f"chronos-schedule/{family}"
    deadline = time.monotonic() + 30
    task: dict[str, Any] = {}
    while time.monotonic() < deadline:
        arns = ecs.list_tasks(cluster=agent.cluster, startedBy=started_by, desiredStatus="STOPPED")[
            "taskArns"
        ]
        if arns:
            task = ecs.describe_tasks(cluster=agent.cluster, tasks=arns)["tasks"][0]
            if task["lastStatus"] == "STOPPED":
                break
        time.sleep(0.2)
    assert task.get("lastStatus") == "STOPPED", f"no scheduled task ran:\n{agent.log()[-3000:]}"
    assert task["startedBy"] == started_by
    container = task["containers"][0]
    assert container["exitCode"] == 0  # `echo`, from the Input's overrides, not `false`
    logs = subprocess.run(
        ["docker", "logs", container["runtimeId"]], capture_output=True, text=True, timeout=30
    )
    assert logs.stdout.strip() == "scheduled"
    # One-time: nothing more after it, once the controller has fired another schedule made
    # now (a pass since, in which a repeat would have fired too).
    barrier = f"{family}-b"
    server.aws(
        "scheduler",
        "create-schedule",
        "--name",
        barrier,
        "--schedule-expression",
        at(time.time() + 1),
        "--flexible-time-window",
        '{"Mode": "OFF"}',
        "--action-after-completion",
        "DELETE",
        "--target",
        json.dumps(
            {
                "Arn": cluster,
                "RoleArn": "arn:aws:iam::000000000000:role/scheduler",
                "EcsParameters": {"TaskDefinitionArn": td},
            }
        ),
    )
    deadline = time.monotonic() + 30
    while not scheduled(ecs, agent.cluster, f"chronos-schedule/{barrier}"):
        assert time.monotonic() < deadline, "the barrier schedule never ran"
        time.sleep(0.2)
    assert len(scheduled(ecs, agent.cluster, started_by)) == 1


def at(when: float) -> str:
    return f"at({datetime.fromtimestamp(when, UTC).strftime('%Y-%m-%dT%H:%M:%S')})"


def scheduled(ecs: Any, cluster: str, started_by: str) -> list[str]:
    return [
        arn
        for desired in ("RUNNING", "STOPPED")
        for arn in ecs.list_tasks(cluster=cluster, startedBy=started_by, desiredStatus=desired)[
            "taskArns"
        ]
    ]
