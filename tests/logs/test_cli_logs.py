"""`portside logs`: a task's awslogs streams found from DescribeTasks and its definition,
read back with GetLogEvents; --follow prints new lines and ends when the task stops. The task
runs on a simulated agent; its lines are put with PutLogEvents where ECS would name them."""

from __future__ import annotations

import contextlib
import queue
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fleet import Fleet, start_fleet
from harness import BIN, ServerProcess
from logs.logcalls import now_ms

from portside.cli.logs import sources_of


@pytest.fixture(scope="module")
def fleet(server: ServerProcess, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    with start_fleet(server, tmp_path_factory.mktemp("fleet"), "logs-cli") as shared:
        yield shared


BUSYBOX = {"image": "busybox", "memory": 32}


def awslogs(group: str, prefix: str | None = None) -> dict[str, Any]:
    options = {"awslogs-group": group, "awslogs-region": "us-east-1"}
    if prefix:
        options["awslogs-stream-prefix"] = prefix
    return {"logDriver": "awslogs", "options": options}


@pytest.fixture
def task(fleet: Fleet, logs: Any, name: str) -> dict[str, Any]:
    logs.create_log_group(logGroupName=name)
    fleet.ecs.register_task_definition(
        family=name,
        containerDefinitions=[
            {**BUSYBOX, "name": "web", "logConfiguration": awslogs(name, "app")},
            {**BUSYBOX, "name": "side", "logConfiguration": awslogs(name)},
            {**BUSYBOX, "name": "quiet", "essential": False},
        ],
    )
    arn = fleet.ecs.run_task(cluster=fleet.cluster, taskDefinition=name)["tasks"][0]["taskArn"]
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        found = fleet.ecs.describe_tasks(cluster=fleet.cluster, tasks=[arn])["tasks"][0]
        if found["lastStatus"] == "RUNNING":
            return dict(found)
        time.sleep(0.1)
    raise AssertionError("the task did not start")


def put(logs: Any, group: str, stream: str, lines: list[tuple[int, str]]) -> None:
    with contextlib.suppress(logs.exceptions.ResourceAlreadyExistsException):
        logs.create_log_stream(logGroupName=group, logStreamName=stream)
    logs.put_log_events(
        logGroupName=group,
        logStreamName=stream,
        logEvents=[{"timestamp": t, "message": m} for t, m in lines],
    )


def portside_logs(server: ServerProcess, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "portside"), "logs", *args],
        env=server.env(),
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_stream_names_follow_ecs() -> None:
    task = {
        "taskArn": "arn:aws:ecs:us-east-1:000000000000:task/c/abc123",
        "containers": [{"name": "web", "runtimeId": "d0cker1d"}, {"name": "side"}],
    }
    definition = {
        "containerDefinitions": [
            {"name": "web", "logConfiguration": awslogs("g", "app")},
            {"name": "side", "logConfiguration": awslogs("g")},
            {"name": "other", "logConfiguration": {"logDriver": "json-file"}},
        ]
    }
    sources, notes = sources_of(task, definition, None)
    assert [(s.container, s.group, s.stream) for s in sources] == [("web", "g", "app/web/abc123")]
    assert len(notes) == 2 and "side has not started" in notes[0] and "awslogs" in notes[1]
    task["containers"][1]["runtimeId"] = "d0cker2"
    sources, _ = sources_of(task, definition, "side")
    assert [s.stream for s in sources] == ["d0cker2"]


def test_prints_a_tasks_logs(
    server: ServerProcess, fleet: Fleet, logs: Any, task: dict[str, Any], name: str
) -> None:
    task_id = task["taskArn"].rsplit("/", 1)[-1]
    side_id = next(c["runtimeId"] for c in task["containers"] if c["name"] == "side")
    t = now_ms() - 10_000
    put(logs, name, f"app/web/{task_id}", [(t, "web one"), (t + 2, "web two")])
    put(logs, name, side_id, [(t + 1, "side one")])
    out = portside_logs(server, "--cluster", fleet.cluster, task_id, "--container", "web")
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == ["web one", "web two"]
    out = portside_logs(server, "--cluster", fleet.cluster, task["taskArn"])
    assert out.stdout.splitlines() == ["[web] web one", "[side] side one", "[web] web two"]
    assert "quiet does not use the awslogs log driver" in out.stderr
    out = portside_logs(server, "--cluster", fleet.cluster, task_id, "--container", "nope")
    assert out.returncode != 0 and "no container named nope" in out.stderr
    out = portside_logs(server, "--cluster", fleet.cluster, "0" * 32)
    assert out.returncode != 0 and "not found" in out.stderr


def test_follow_prints_new_lines_until_the_task_stops(
    server: ServerProcess, fleet: Fleet, logs: Any, task: dict[str, Any], name: str, tmp_path: Path
) -> None:
    task_id = task["taskArn"].rsplit("/", 1)[-1]
    stream = f"app/web/{task_id}"
    put(logs, name, stream, [(now_ms(), "before")])
    proc = subprocess.Popen(
        [str(BIN / "portside"), "logs", "--cluster", fleet.cluster, task_id,
         "--container", "web", "--follow"],
        env=server.env(),
        stdout=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line.rstrip("\n"))

    threading.Thread(target=pump, daemon=True).start()
    try:
        assert lines.get(timeout=20) == "before"
        put(logs, name, stream, [(now_ms(), "after")])
        # While it runs (a follow that printed only at the end would never get here).
        assert lines.get(timeout=30) == "after"
        fleet.ecs.stop_task(cluster=fleet.cluster, task=task["taskArn"])
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
