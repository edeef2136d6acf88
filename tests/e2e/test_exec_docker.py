"""ECS Exec end to end: a real server, `portside agent --driver docker`, busybox containers,
and `portside exec` as a user runs it (a pipe, or a pseudo-terminal the test types into)."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import pty
import select
import signal
import struct
import subprocess
import termios
import time
import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest
from aws_query import query_client
from botocore.exceptions import ClientError
from e2e.images import busybox_image, docker_available
from fleet import wait_until
from harness import BIN, ServerProcess
from roles import task_role
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from portside.exec import frames

if TYPE_CHECKING:
    from e2e.conftest import AgentProcess

_unavailable = docker_available()
pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(_unavailable is not None, reason=f"no Docker for e2e: {_unavailable}"),
]

SERVE = ["sh", "-c", "trap 'exit 0' TERM; sleep 600 & wait"]
ROLE = "arn:aws:iam::000000000000:role/exec"


def start_task(ecs: Any, agent: AgentProcess, *, enable: bool = True) -> dict[str, Any]:
    family = "exec-" + uuid.uuid4().hex[:8]
    td = ecs.register_task_definition(
        family=family,
        taskRoleArn=ROLE,
        containerDefinitions=[
            {"name": "app", "image": busybox_image(), "memory": 32, "command": SERVE}
        ],
    )["taskDefinition"]["taskDefinitionArn"]
    out = ecs.run_task(cluster=agent.cluster, taskDefinition=td, enableExecuteCommand=enable)
    arn = out["tasks"][0]["taskArn"]
    deadline = time.monotonic() + 30
    while True:
        task = ecs.describe_tasks(cluster=agent.cluster, tasks=[arn])["tasks"][0]
        agents = task["containers"][0].get("managedAgents") or []
        if task["lastStatus"] == "RUNNING" and (
            not enable or any(a["lastStatus"] == "RUNNING" for a in agents)
        ):
            return dict(task)
        assert time.monotonic() < deadline, json.dumps(task, default=str)
        time.sleep(0.1)


@pytest.fixture(scope="module")
def task(server: ServerProcess, agent: AgentProcess) -> Iterator[dict[str, Any]]:
    ecs = server.client()
    task_role(query_client(server, "iam"), ROLE, allow_all=False)
    t = start_task(ecs, agent)
    yield t
    ecs.stop_task(cluster=agent.cluster, task=t["taskArn"])


def portside_exec(
    server: ServerProcess, agent: AgentProcess, task: dict[str, Any], *command: str, **kw: Any
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            str(BIN / "portside"),
            "exec",
            "--cluster",
            agent.cluster,
            "--task",
            task["taskArn"],
            "--",
            *command,
        ],
        env=server.env(),
        capture_output=True,
        text=True,
        timeout=30,
        **kw,
    )


def test_describe_tasks_shows_the_execute_command_agent_running(task: dict[str, Any]) -> None:
    (managed,) = task["containers"][0]["managedAgents"]
    assert managed["name"] == "ExecuteCommandAgent"
    assert managed["lastStatus"] == "RUNNING"
    assert managed["lastStartedAt"].timestamp() > time.time() - 600


def test_exec_prints_the_output_and_exits_with_the_command_code(
    server: ServerProcess, agent: AgentProcess, task: dict[str, Any]
) -> None:
    proc = portside_exec(
        server, agent, task, "sh", "-c", "echo hi; echo oops >&2; exit 3", stdin=subprocess.DEVNULL
    )
    assert proc.returncode == 3, proc.stderr
    assert proc.stdout == "hi\n"
    assert proc.stderr == "oops\n"


def test_exec_relays_piped_stdin_until_its_end(
    server: ServerProcess, agent: AgentProcess, task: dict[str, Any]
) -> None:
    proc = portside_exec(server, agent, task, "sh", "-c", "tr a-z A-Z; echo done", input="abc\n")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "ABC\ndone\n"


def test_exec_is_refused_without_enable_execute_command(
    server: ServerProcess, agent: AgentProcess
) -> None:
    ecs = server.client()
    plain = start_task(ecs, agent, enable=False)
    try:
        with pytest.raises(ClientError) as err:
            ecs.execute_command(
                cluster=agent.cluster, task=plain["taskArn"], command="ls", interactive=True
            )
        assert err.value.response["Error"]["Code"] == "InvalidParameterException"
        assert "execute command was not enabled" in err.value.response["Error"]["Message"]
        proc = portside_exec(server, agent, plain, "ls", stdin=subprocess.DEVNULL)
        assert proc.returncode == 254
        assert "(InvalidParameterException)" in proc.stderr
    finally:
        ecs.stop_task(cluster=agent.cluster, task=plain["taskArn"])


def stream(session: dict[str, Any], tty: bool = False) -> list[frames.Frame]:
    """Open a session's stream as a client does and read it to its end."""
    got: list[frames.Frame] = []
    with connect(session["streamUrl"], open_timeout=10) as ws:
        ws.send(frames.encode_json(frames.OPEN, {"token": session["tokenValue"], "tty": tty}))
        with contextlib.suppress(ConnectionClosed):
            # A refused session is answered and closed at once: this may come too late.
            ws.send(frames.encode(frames.STDIN_EOF))
        for message in ws:
            got.append(frames.decode(message))
            if got[-1].channel == frames.EXIT:
                break
    return got


def test_the_session_is_recorded_in_the_cluster_exec_log_group(
    server: ServerProcess, agent: AgentProcess, task: dict[str, Any]
) -> None:
    ecs = server.client()
    session = ecs.execute_command(
        cluster=agent.cluster,
        task=task["taskArn"],
        command="sh -c 'echo recorded; echo to-stderr >&2'",
        interactive=True,
    )["session"]
    assert session["sessionId"].startswith("ecs-execute-command-")
    got = stream(session)
    assert got[-1].json() == {"exitCode": 0}
    logs = server.client("logs")

    def recorded() -> list[str] | None:
        # The recording is written as the session runs, its end after the exit frame.
        events = logs.get_log_events(
            logGroupName=f"/aws/ecs/execute-command/{agent.cluster}",
            logStreamName=session["sessionId"],
            startFromHead=True,
        )["events"]
        lines = [e["message"] for e in events]
        return lines if lines and '"end"' in lines[-1] else None

    lines = wait_until(recorded, 10, "the session's end in its log stream")
    start = json.loads(lines[0])
    assert start["event"] == "start"
    assert start["accessKey"] == server.env()["AWS_ACCESS_KEY_ID"]
    assert start["taskArn"] == task["taskArn"]
    assert start["containerName"] == "app"
    assert start["command"] == "sh -c 'echo recorded; echo to-stderr >&2'"
    assert start["tty"] is False
    assert sorted(lines[1:3]) == ["recorded", "to-stderr"]
    end = json.loads(lines[-1])
    assert (end["event"], end["exitCode"], end["sessionId"]) == ("end", 0, session["sessionId"])


def test_a_session_token_is_single_use(
    server: ServerProcess, agent: AgentProcess, task: dict[str, Any]
) -> None:
    ecs = server.client()
    session = ecs.execute_command(
        cluster=agent.cluster, task=task["taskArn"], command="true", interactive=True
    )["session"]
    assert stream(session)[-1].json() == {"exitCode": 0}
    # Refused: "already been used" while the first session runs, unknown once it ended.
    (again,) = stream(session)
    assert again.json()["error"] in (
        "The session token has already been used.",
        "The session token is not valid or has expired.",
    )
    forged = dict(session, tokenValue="x" * 43)
    assert "not valid" in stream(forged)[-1].json()["error"]


def test_a_client_that_goes_away_ends_the_command(
    server: ServerProcess, agent: AgentProcess, task: dict[str, Any]
) -> None:
    marker = "sleep 3" + uuid.uuid4().hex[:6].translate(str.maketrans("abcdef", "123456"))
    proc = subprocess.Popen(
        [
            str(BIN / "portside"),
            "exec",
            "--cluster",
            agent.cluster,
            "--task",
            task["taskArn"],
            "--",
            "sh",
            "-c",
            marker,
        ],
        env=server.env(),
        stdin=subprocess.DEVNULL,
    )
    runtime_id = task["containers"][0]["runtimeId"]

    def running() -> bool:
        top = subprocess.run(
            ["docker", "top", runtime_id, "-o", "pid,args"], capture_output=True, text=True
        ).stdout
        return marker in top

    deadline = time.monotonic() + 10
    while not running():
        assert time.monotonic() < deadline, "the command never started"
        time.sleep(0.1)
    proc.kill()
    proc.wait(5)
    deadline = time.monotonic() + 10
    while running():
        assert time.monotonic() < deadline, "the command outlived its client"
        time.sleep(0.1)


class Terminal:
    """`portside exec --interactive` on a pseudo-terminal, driven like a person would."""

    def __init__(self, argv: list[str], env: dict[str, str], rows: int = 24, cols: int = 80):
        self.master, slave = pty.openpty()
        self.set_size(rows, cols)
        self.proc = subprocess.Popen(
            argv, stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True
        )
        os.close(slave)
        self.seen = b""

    def set_size(self, rows: int, cols: int) -> None:
        fcntl.ioctl(self.master, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))

    def resize(self, rows: int, cols: int) -> None:
        self.set_size(rows, cols)
        self.proc.send_signal(signal.SIGWINCH)

    def type(self, text: str) -> None:
        os.write(self.master, text.encode())

    def expect(self, text: str, timeout: float = 10) -> str:
        deadline = time.monotonic() + timeout
        while text.encode() not in self.seen:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"never saw {text!r}; saw {self.seen[-2000:]!r}")
            ready, _, _ = select.select([self.master], [], [], left)
            if ready:
                try:
                    chunk = os.read(self.master, 65536)
                except OSError:
                    chunk = b""
                if not chunk:
                    raise AssertionError(f"terminal closed before {text!r}; saw {self.seen!r}")
                self.seen += chunk
        before, _, after = self.seen.partition(text.encode())
        self.seen = after
        return before.decode(errors="replace")

    def prompt(self) -> str:
        """Wait for busybox sh's prompt, as a person would before typing, and return what
        came before it. Its line editor then asks where the cursor is (ESC[6n) and reads the
        answer among the keystrokes: a terminal answers at once, so the test does, and lets
        the shell take it in before typing on (an answer and keystrokes read together garble
        the line)."""
        before = self.expect("# \x1b[6n")
        self.type("\x1b[1;5R")
        time.sleep(0.2)
        return before

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)
        os.close(self.master)


def runs(runtime_id: str, command: str) -> bool:
    """Whether a process of the container runs exactly `command` (`docker top`)."""
    top = subprocess.run(
        ["docker", "top", runtime_id, "-o", "pid,args"], capture_output=True, text=True
    ).stdout
    return command in (line.split(None, 1)[-1].strip() for line in top.splitlines())


def test_an_interactive_session_through_a_terminal(
    server: ServerProcess, agent: AgentProcess, task: dict[str, Any]
) -> None:
    term = Terminal(
        [
            str(BIN / "portside"),
            "exec",
            "--cluster",
            agent.cluster,
            "--task",
            task["taskArn"],
            "--interactive",
            "--",
            "sh",
        ],
        server.env(),
        rows=30,
        cols=100,
    )
    try:
        term.prompt()
        term.type("echo hel''lo-$((6*7))\n")
        term.expect("hello-42")
        term.prompt()
        # The remote side has a TTY, of the local terminal's size, following its resizes.
        term.type("tty; stty size\n")
        term.expect("/dev/pts/")
        term.expect("30 100")
        term.prompt()
        term.resize(40, 120)
        # The resize goes as a frame of its own, racing the keystrokes after it: ask again
        # until the remote TTY has it.
        deadline = time.monotonic() + 30
        term.type("stty size\n")
        while "40 120" not in term.prompt():
            assert time.monotonic() < deadline, "the resize never reached the remote TTY"
            term.type("stty size\n")
        # Ctrl-C reaches the remote process, not the local CLI: once that process runs.
        nap = "sleep 3" + uuid.uuid4().hex[:6].translate(str.maketrans("abcdef", "123456"))
        term.type(f"{nap}; echo slept\n")
        deadline = time.monotonic() + 30
        while not runs(task["containers"][0]["runtimeId"], nap):
            assert time.monotonic() < deadline, f"{nap} never started"
            time.sleep(0.05)
        term.type("\x03")
        term.type("echo after-$((1+1))\n")
        term.expect("after-2", timeout=5)
        assert b"slept" not in term.seen
        term.prompt()
        term.type("exit 5\n")
        assert term.proc.wait(10) == 5
    finally:
        term.close()
