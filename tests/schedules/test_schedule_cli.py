"""`portside schedule` as a user runs it, against a real server."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path
from typing import Any

from harness import BIN, ServerProcess
from schedules.client import scheduler_client


def portside(server: ServerProcess, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "portside"), "schedule", *args, "--data-dir", str(tmp_path)],
        env=server.env(),
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_create_list_get_delete(server: ServerProcess, tmp_path: Path, name: str) -> None:
    ecs: Any = server.client()
    ecs.create_cluster(clusterName=name)
    made = portside(
        server,
        tmp_path,
        "create",
        name,
        "--cluster",
        name,
        "--task-definition",
        "web:1",
        "--expression",
        "cron(0 9 ? * MON-FRI *)",
        "--timezone",
        "Europe/Paris",
        "--count",
        "3",
        "--flexible-window",
        "10",
        "--disabled",
    )
    assert made.returncode == 0, made.stderr
    assert made.stdout.strip().endswith(f":schedule/default/{name}")

    got = scheduler_client(server).get_schedule(Name=name)
    assert got["ScheduleExpressionTimezone"] == "Europe/Paris"
    assert got["State"] == "DISABLED"
    assert got["FlexibleTimeWindow"] == {"Mode": "FLEXIBLE", "MaximumWindowInMinutes": 10}
    assert got["Target"]["Arn"].endswith(f":cluster/{name}")
    assert got["Target"]["EcsParameters"] == {"TaskDefinitionArn": "web:1", "TaskCount": 3}

    listed = portside(server, tmp_path, "list", "--prefix", name)
    assert listed.returncode == 0, listed.stderr
    row = listed.stdout.splitlines()[1].split()
    assert row[:3] == [name, "default", "DISABLED"]

    shown = portside(server, tmp_path, "get", name)
    assert shown.returncode == 0, shown.stderr
    assert "cron(0 9 ? * MON-FRI *)" in shown.stdout
    assert "Europe/Paris" in shown.stdout
    assert "none yet" in shown.stdout

    assert portside(server, tmp_path, "delete", name).returncode == 0
    gone = portside(server, tmp_path, "get", name)
    assert gone.returncode == 254
    assert f"ResourceNotFoundException: Schedule {name} does not exist." in gone.stderr


def test_a_bad_expression_is_reported(server: ServerProcess, tmp_path: Path, name: str) -> None:
    server.client().create_cluster(clusterName=name)
    out = portside(
        server,
        tmp_path,
        "create",
        name,
        "--cluster",
        name,
        "--task-definition",
        "web",
        "--expression",
        "cron(0 1 * * * *)",
    )
    assert out.returncode == 254
    assert "ValidationException: Invalid Schedule Expression cron(0 1 * * * *)." in out.stderr


def test_get_shows_the_last_outcome(server: ServerProcess, tmp_path: Path, name: str) -> None:
    ecs: Any = server.client()
    ecs.create_cluster(clusterName=name)  # no instance: RunTask cannot place the task
    ecs.register_task_definition(
        family=name, containerDefinitions=[{"name": "a", "image": "busybox", "memory": 32}]
    )
    made = portside(
        server,
        tmp_path,
        "create",
        name,
        "--cluster",
        name,
        "--task-definition",
        name,
        "--expression",
        "rate(1 day)",  # fires at once
    )
    assert made.returncode == 0, made.stderr
    deadline = time.monotonic() + 10
    while True:
        shown = portside(server, tmp_path, "get", name)
        if "Last run:" in shown.stdout or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert "Last run:         RETRYING" in shown.stdout, shown.stdout
    assert "No Container Instances were found in your cluster." in shown.stdout
    assert "Retry at:" in shown.stdout
    assert "Next run:" in shown.stdout
    portside(server, tmp_path, "delete", name)
