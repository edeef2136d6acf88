"""`aws ecs execute-command` end to end, as a user types it: the AWS CLI (v2, Debian's, and v1,
the venv's) runs the `session-manager-plugin` Portside ships, which speaks the Session Manager
data channel to the server; a real agent runs the command in a busybox container."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest
from aws_query import query_client
from e2e.images import busybox_image, docker_available
from e2e.test_exec_docker import SERVE, Terminal, runs
from harness import AWS_V2, BIN, ServerProcess

if TYPE_CHECKING:
    from e2e.conftest import AgentProcess

_unavailable = docker_available()
pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(_unavailable is not None, reason=f"no Docker for e2e: {_unavailable}"),
]


@pytest.fixture(scope="module")
def task(server: ServerProcess, agent: AgentProcess) -> Iterator[dict[str, Any]]:
    """A busybox task with ECS Exec on, once its exec agent runs."""
    ecs = server.client()
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "ecs-tasks.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    role = query_client(server, "iam").create_role(
        RoleName="ssm-exec-" + uuid.uuid4().hex[:8], AssumeRolePolicyDocument=json.dumps(trust)
    )["Role"]["Arn"]
    td = ecs.register_task_definition(
        family="ssm-" + uuid.uuid4().hex[:8],
        taskRoleArn=role,
        containerDefinitions=[
            {"name": "app", "image": busybox_image(), "memory": 32, "command": SERVE}
        ],
    )["taskDefinition"]["taskDefinitionArn"]
    arn = ecs.run_task(cluster=agent.cluster, taskDefinition=td, enableExecuteCommand=True)[
        "tasks"
    ][0]["taskArn"]
    deadline = time.monotonic() + 30
    while True:
        t = ecs.describe_tasks(cluster=agent.cluster, tasks=[arn])["tasks"][0]
        managed = t["containers"][0].get("managedAgents") or []
        if t["lastStatus"] == "RUNNING" and any(a["lastStatus"] == "RUNNING" for a in managed):
            break
        assert time.monotonic() < deadline, t
        time.sleep(0.1)
    yield t
    ecs.stop_task(cluster=agent.cluster, task=arn)


def cli_env(server: ServerProcess) -> dict[str, str]:
    """The server's environment with the venv's bin first on PATH: where `pip install portside`
    puts `session-manager-plugin`, and where both CLIs look for it."""
    env = server.env()
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '/usr/bin:/bin')}"
    return env


def execute_command(
    server: ServerProcess, agent: AgentProcess, task: dict[str, Any], command: str, v2: bool
) -> list[str]:
    aws = [AWS_V2] if v2 else [str(BIN / "aws")]
    endpoint = ["--endpoint-url", server.endpoint] if v2 else []
    return [
        *aws,
        "ecs",
        "execute-command",
        "--cluster",
        agent.cluster,
        "--task",
        task["taskArn"],
        "--container",
        "app",
        "--interactive",
        "--command",
        command,
        *endpoint,
    ]


@pytest.mark.parametrize("v2", [True, False], ids=["cli-v2", "cli-v1"])
def test_the_seed_line_prints_the_output_and_exits_as_aws_does(
    server: ServerProcess, agent: AgentProcess, task: dict[str, Any], v2: bool
) -> None:
    proc = subprocess.run(
        execute_command(server, agent, task, 'sh -c "echo hi; exit 3"', v2),
        env=cli_env(server),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=60,
    )
    # AWS's plugin exits 0 whatever the remote command's status (aws/amazon-ecs-agent#2846,
    # aws/session-manager-plugin#59), so the CLI does too.
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout.decode()
    assert "The Session Manager plugin was installed successfully" in out
    assert "\nStarting session with SessionId: ecs-execute-command-" in out
    assert "\nhi\r\n" in out  # through the remote terminal, as on ECS
    assert "\n\nExiting session with sessionId: ecs-execute-command-" in out
    assert out.index("Starting session") < out.index("hi\r\n") < out.index("Exiting session")


def test_an_interactive_shell_through_a_terminal(
    server: ServerProcess, agent: AgentProcess, task: dict[str, Any]
) -> None:
    term = Terminal(
        execute_command(server, agent, task, "/bin/sh", v2=True), cli_env(server), 30, 100
    )
    try:
        term.prompt()
        term.type("echo one-$((1+1))\n")
        term.expect("one-2")
        term.prompt()
        term.type("echo two-$((2*3))\n")
        term.expect("two-6")
        term.prompt()
        term.type("stty size\n")
        assert "30 100" in term.prompt()
        # The terminal's SIGWINCH goes to its foreground process group, the plugin with it:
        # a size message -> the remote terminal. Ask until it has it.
        term.set_size(41, 132)
        os.killpg(term.proc.pid, signal.SIGWINCH)
        deadline = time.monotonic() + 30
        term.type("stty size\n")
        while "41 132" not in term.prompt():
            assert time.monotonic() < deadline, "the resize never reached the remote TTY"
            term.type("stty size\n")
        # Ctrl-C reaches the remote `sleep`, not the CLI or the plugin: the session goes on.
        nap = "sleep 3" + uuid.uuid4().hex[:6].translate(str.maketrans("abcdef", "123456"))
        term.type(f"{nap}; echo slept\n")
        deadline = time.monotonic() + 30
        while not runs(task["containers"][0]["runtimeId"], nap):
            assert time.monotonic() < deadline, f"{nap} never started"
            time.sleep(0.05)
        term.type("\x03")
        term.type("echo after-$((1+1))\n")
        term.expect("after-2", timeout=10)
        assert b"slept" not in term.seen
        term.prompt()
        term.type("exit 5\n")
        term.expect("Exiting session with sessionId: ecs-execute-command-")
        assert term.proc.wait(10) == 0  # as AWS's plugin: the remote status is not passed on
    finally:
        term.close()
