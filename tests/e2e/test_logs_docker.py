"""awslogs end to end: a real server, `portside agent --driver docker`, a real Docker Engine,
and the log clients a user has: `aws logs get-log-events` (AWS CLI v1), `aws logs tail
--follow` (AWS CLI v2, Debian's), boto3. Each test checks what a user reads back."""

from __future__ import annotations

import os
import queue
import shutil
import subprocess
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from e2e.conftest import AgentProcess, remove_made_by
from e2e.images import busybox_image, docker_available
from harness import ServerProcess, free_port

_unavailable = docker_available()
pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(_unavailable is not None, reason=f"no Docker for e2e: {_unavailable}"),
]

AWS_V2 = "/usr/bin/aws"
TAIL_POLL = 5.0  # awscli v2's tail --follow polls every 5 s (FollowLogEventsGenerator)


def awslogs(group: str, **options: str) -> dict[str, Any]:
    opts = {"awslogs-group": group, "awslogs-region": "us-east-1", **options}
    return {"logDriver": "awslogs", "options": opts}


def container(name: str, script: str, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "image": busybox_image(),
        "memory": 32,
        "command": ["sh", "-c", script],
        "stopTimeout": 2,
        **extra,
    }


def run_task(ecs: Any, agent: AgentProcess, containers: list[dict[str, Any]]) -> str:
    family = "logs-" + uuid.uuid4().hex[:8]
    td = ecs.register_task_definition(family=family, containerDefinitions=containers)
    out = ecs.run_task(
        cluster=agent.cluster, taskDefinition=td["taskDefinition"]["taskDefinitionArn"]
    )
    assert out["failures"] == [], out["failures"]
    return str(out["tasks"][0]["taskArn"])


def wait_task(
    ecs: Any, agent: AgentProcess, arn: str, check: Callable[[dict[str, Any]], bool], timeout=30.0
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        task = ecs.describe_tasks(cluster=agent.cluster, tasks=[arn])["tasks"][0]
        if check(task):
            return dict(task)
        assert time.monotonic() < deadline, f"task: {task}\nagent log:\n{agent.log()[-4000:]}"
        time.sleep(0.1)


def stopped(task: dict[str, Any]) -> bool:
    return bool(task["lastStatus"] == "STOPPED")


def all_events(logs: Any, group: str, stream: str) -> list[dict[str, Any]]:
    """Every event of a stream, paging forward with GetLogEvents as the SDKs do."""
    events: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"logGroupName": group, "logStreamName": stream}
    token = None
    while True:
        page = logs.get_log_events(startFromHead=True, **kwargs)
        events += page["events"]
        if page["nextForwardToken"] == token:
            return events
        token = kwargs["nextToken"] = page["nextForwardToken"]


def wait_messages(
    read: Callable[[], list[str]], check: Callable[[list[str]], bool], timeout: float = 20
) -> list[str]:
    deadline = time.monotonic() + timeout
    while True:
        try:
            got = read()
        except Exception as exc:  # the stream may not exist yet
            got = [f"<{exc}>"]
        if check(got) or time.monotonic() > deadline:
            return got
        time.sleep(0.2)


def cli_messages(server: ServerProcess, group: str, stream: str) -> list[str]:
    out = server.aws(
        "logs",
        "get-log-events",
        "--log-group-name",
        group,
        "--log-stream-name",
        stream,
        "--start-from-head",
    )
    return [e["message"] for e in out["events"]]


# -- lines, stderr, stream names ------------------------------------------------------------


def test_stdout_and_stderr_lines_read_back_with_the_cli(
    server: ServerProcess, ecs: Any, agent: AgentProcess
) -> None:
    group = "/ecs/e2e-" + uuid.uuid4().hex[:8]
    before = int(time.time() * 1000)
    arn = run_task(
        ecs,
        agent,
        [
            container(
                "web",
                "echo hello one; echo 'oops on stderr' >&2; echo hello two; sleep 1",
                logConfiguration=awslogs(
                    group, **{"awslogs-create-group": "true", "awslogs-stream-prefix": "app"}
                ),
            ),
            container(
                "side",
                "echo from the side",
                essential=False,
                logConfiguration=awslogs(group, **{"awslogs-create-group": "true"}),
            ),
        ],
    )
    task = wait_task(ecs, agent, arn, stopped)
    task_id = arn.rsplit("/", 1)[1]
    want = ["hello one", "hello two", "oops on stderr"]
    got = wait_messages(
        lambda: cli_messages(server, group, f"app/web/{task_id}"), lambda m: sorted(m) == want
    )
    # stdout and stderr are two pipes: their lines interleave by when Docker read them.
    assert sorted(got) == want
    assert [m for m in got if m.startswith("hello")] == ["hello one", "hello two"]
    # Without a prefix the stream is named for the Docker container id, as on EC2.
    side = next(c for c in task["containers"] if c["name"] == "side")
    got = wait_messages(
        lambda: cli_messages(server, group, side["runtimeId"]), ["from the side"].__eq__
    )
    assert got == ["from the side"]
    events = all_events(server.client("logs"), group, f"app/web/{task_id}")
    stamps = [e["timestamp"] for e in events]
    assert stamps == sorted(stamps) and before - 1000 <= stamps[0] <= int(time.time() * 1000)


def test_a_missing_group_fails_the_task_as_ecs_does(
    ecs: Any, agent: AgentProcess, server: ServerProcess
) -> None:
    group = "/ecs/missing-" + uuid.uuid4().hex[:8]
    arn = run_task(
        ecs,
        agent,
        [container("web", "echo never", logConfiguration=awslogs(group))],
    )
    task = wait_task(ecs, agent, arn, stopped)
    reason = (
        "CannotStartContainerError: Error response from daemon: failed to initialize logging "
        "driver: failed to create Cloudwatch log stream: ResourceNotFoundException: The "
        "specified log group does not exist."
    )
    assert task["stoppedReason"] == reason
    assert task["stopCode"] == "TaskFailedToStart"
    assert task["containers"][0]["reason"] == reason
    logs = server.client("logs")
    assert logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"] == []


@pytest.mark.parametrize(
    ("option", "lines", "want"),
    [
        (
            {"awslogs-multiline-pattern": "^(INFO|ERROR)"},
            ["INFO starting", "ERROR boom", "  at a()", "  at b()", "INFO done"],
            ["INFO starting\n", "ERROR boom\n  at a()\n  at b()\n", "INFO done\n"],
        ),
        (
            {"awslogs-datetime-format": "%Y-%m-%d %H:%M:%S"},
            ["2026-11-21 10:00:00 boom", "  at a()", "2026-11-21 10:00:01 done"],
            ["2026-11-21 10:00:00 boom\n  at a()\n", "2026-11-21 10:00:01 done\n"],
        ),
    ],
    ids=["pattern", "datetime-format"],
)
def test_multiline_groups_a_stack_trace(
    server: ServerProcess,
    ecs: Any,
    agent: AgentProcess,
    option: dict[str, str],
    lines: list[str],
    want: list[str],
) -> None:
    group = "/ecs/multi-" + uuid.uuid4().hex[:8]
    script = "; ".join(f"echo '{line}'" for line in lines)
    options = {"awslogs-create-group": "true", "awslogs-stream-prefix": "p", **option}
    arn = run_task(
        ecs, agent, [container("web", script, logConfiguration=awslogs(group, **options))]
    )
    wait_task(ecs, agent, arn, stopped)
    stream = f"p/web/{arn.rsplit('/', 1)[1]}"
    # Docker's awslogs driver ends each line of a multi-line event with "\n".
    assert wait_messages(lambda: cli_messages(server, group, stream), want.__eq__) == want


# -- tail --follow (AWS CLI v2) -------------------------------------------------------------


@pytest.mark.skipif(not os.path.exists(AWS_V2), reason="AWS CLI v2 (Debian's awscli) missing")
def test_tail_follow_shows_a_new_line(
    server: ServerProcess, ecs: Any, agent: AgentProcess, tmp_path: Path
) -> None:
    group = "/ecs/tail-" + uuid.uuid4().hex[:8]
    arn = run_task(
        ecs,
        agent,
        [
            container(
                "web",
                "echo ready; trap 'exit 0' TERM; sleep 600 & wait",
                logConfiguration=awslogs(group, **{"awslogs-create-group": "true"}),
            )
        ],
    )
    task = wait_task(ecs, agent, arn, lambda t: t["lastStatus"] == "RUNNING")
    runtime_id = task["containers"][0]["runtimeId"]
    errors = (tmp_path / "tail.err").open("w")
    tail = subprocess.Popen(
        [AWS_V2, "logs", "tail", group, "--follow", "--endpoint-url", server.endpoint],
        env=server.env(),
        stdout=subprocess.PIPE,
        stderr=errors,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(x) for x in tail.stdout or ()], daemon=True).start()
    try:
        _wait_line(lines, "ready", 20, tmp_path / "tail.err")  # tail is up and polling
        marker = "new-" + uuid.uuid4().hex[:8]
        written = time.monotonic()
        subprocess.run(
            ["docker", "exec", runtime_id, "sh", "-c", f"echo {marker} > /proc/1/fd/1"], check=True
        )
        logs = server.client("logs")
        # Shipped while the container runs; how soon is measured (bench/logs.py), not held
        # to a bound a loaded machine misses.
        while marker not in [e["message"] for e in all_events(logs, group, runtime_id)]:
            assert time.monotonic() - written < 30, "the line was never stored"
            time.sleep(0.05)
        stored = time.monotonic() - written
        # awscli v2 polls every 5 s (_TIME_TO_SLEEP in its logs/tail.py): its next poll shows it.
        _wait_line(lines, marker, TAIL_POLL + 30)
        shown = time.monotonic() - written
        print(f"new line stored after {stored:.2f} s, shown by tail --follow after {shown:.2f} s")
    finally:
        tail.kill()
        tail.wait(5)
        errors.close()
        ecs.stop_task(cluster=agent.cluster, task=arn)


def _wait_line(
    lines: queue.Queue[str], text: str, timeout: float, errors: Path | None = None
) -> None:
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        why = errors.read_text()[-2000:] if errors else ""
        assert left > 0, f"{text!r} not shown within {timeout:.1f} s {why}"
        try:
            if text in lines.get(timeout=left):
                return
        except queue.Empty:
            continue


# -- durability -----------------------------------------------------------------------------


@pytest.fixture
def own_server(tmp_path: Path) -> Any:
    """A server of the test's own, so it can be restarted."""
    srv = ServerProcess(tmp_path / "server", free_port())
    made: list[AgentProcess] = []

    def agent(cleanup_wait: float = 3600.0) -> AgentProcess:
        cluster = "logs" + uuid.uuid4().hex[:8]
        srv.client().create_cluster(clusterName=cluster)
        proc = AgentProcess(srv, cluster, tmp_path / cluster, cleanup_wait)
        made.append(proc)
        return proc.start()

    try:
        yield srv.start(), agent
    finally:
        for proc in made:
            proc.kill()
        srv.stop()
        remove_made_by({a for p in made for a in p.instance_arns})
        shutil.rmtree(tmp_path, ignore_errors=True)


def test_logs_outlive_the_container_and_a_server_restart(own_server: Any) -> None:
    server, start_agent = own_server
    agent = start_agent(cleanup_wait=1.0)
    ecs = server.client()
    group = "/ecs/keep-" + uuid.uuid4().hex[:8]
    arn = run_task(
        ecs,
        agent,
        [
            container(
                "web",
                "for i in 1 2 3; do echo kept $i; done",
                logConfiguration=awslogs(
                    group, **{"awslogs-create-group": "true", "awslogs-stream-prefix": "p"}
                ),
            )
        ],
    )
    task = wait_task(ecs, agent, arn, stopped)
    runtime_id = task["containers"][0]["runtimeId"]
    deadline = time.monotonic() + 20
    while _exists(runtime_id):  # the agent removes it after cleanup_wait
        assert time.monotonic() < deadline, "container never removed"
        time.sleep(0.2)
    server.stop()
    server.start()
    stream = f"p/web/{arn.rsplit('/', 1)[1]}"
    assert cli_messages(server, group, stream) == ["kept 1", "kept 2", "kept 3"]


def test_nothing_lost_or_repeated_across_an_agent_kill_9(own_server: Any) -> None:
    server, start_agent = own_server
    agent = start_agent()
    ecs = server.client()
    group = "/ecs/kill-" + uuid.uuid4().hex[:8]
    n = 4000
    script = f"i=0; while [ $i -lt {n} ]; do echo line $i; i=$((i+1)); usleep 500; done"
    arn = run_task(
        ecs,
        agent,
        [
            container(
                "web",
                script,
                logConfiguration=awslogs(
                    group, **{"awslogs-create-group": "true", "awslogs-stream-prefix": "p"}
                ),
            )
        ],
    )
    wait_task(ecs, agent, arn, lambda t: t["lastStatus"] == "RUNNING")
    stream = f"p/web/{arn.rsplit('/', 1)[1]}"
    logs = server.client("logs")
    # Kill the agent once some lines are shipped and while the container still writes.
    wait_messages(lambda: [e["message"] for e in all_events(logs, group, stream)], bool)
    agent.kill()
    shipped_before = len(all_events(logs, group, stream))
    time.sleep(0.5)
    agent.start()
    wait_task(ecs, agent, arn, stopped, timeout=60)
    want = [f"line {i}" for i in range(n)]
    got = wait_messages(
        lambda: [e["message"] for e in all_events(logs, group, stream)], want.__eq__
    )
    assert 0 < shipped_before < n, shipped_before  # the kill did interrupt the shipping
    assert len(got) == n and len(set(got)) == n, (len(got), len(set(got)), agent.log()[-3000:])
    assert got == want


def _exists(runtime_id: str) -> bool:
    proc = subprocess.run(["docker", "inspect", runtime_id], capture_output=True, timeout=30)
    return proc.returncode == 0


def test_shipping_waits_out_a_server_outage(own_server: Any) -> None:
    server, start_agent = own_server
    agent = start_agent()
    ecs = server.client()
    group = "/ecs/outage-" + uuid.uuid4().hex[:8]
    n = 3000
    script = f"i=0; while [ $i -lt {n} ]; do echo line $i; i=$((i+1)); usleep 500; done"
    options = {"awslogs-create-group": "true", "awslogs-stream-prefix": "p"}
    arn = run_task(
        ecs, agent, [container("web", script, logConfiguration=awslogs(group, **options))]
    )
    wait_task(ecs, agent, arn, lambda t: t["lastStatus"] == "RUNNING")
    stream = f"p/web/{arn.rsplit('/', 1)[1]}"
    before = wait_messages(
        lambda: [e["message"] for e in all_events(server.client("logs"), group, stream)], bool
    )
    assert 0 < len(before) < n  # the outage comes while the container still writes
    server.stop()  # the container writes on; the agent retries with back-off
    time.sleep(2.0)
    server.start()
    logs = server.client("logs")
    want = [f"line {i}" for i in range(n)]
    got = wait_messages(
        lambda: [e["message"] for e in all_events(logs, group, stream)], want.__eq__, timeout=60
    )
    assert got == want, (len(got), len(set(got)), agent.log()[-2000:])
