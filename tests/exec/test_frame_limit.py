"""The server's websocket message limit (server.py, frames.MAX_MESSAGE) on a real server: a
session carries the largest frames its ends send, and a message past the limit closes the
connection (1009) instead of being buffered. The task's agent is in-process, on a simulated
driver whose exec is a `cat` that answers at the end of its input, in one piece."""

from __future__ import annotations

import os
import queue
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from aws_query import query_client
from fleet import Fleet, register, start_agent, wait_until
from harness import ServerProcess
from roles import task_role
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from portside.agent.driver import ExecProcess
from portside.agent.simulated import SimulatedDriver
from portside.exec import frames

ROLE = "arn:aws:iam::000000000000:role/exec"
_EOF = b""


class Cat:
    """An ExecProcess: all that is written comes back as one piece of stdout at stdin's end
    (the agent cuts it into frames)."""

    def __init__(self) -> None:
        self._input: queue.Queue[bytes] = queue.Queue()

    def output(self) -> Iterator[tuple[int, bytes]]:
        chunks = []
        while (data := self._input.get()) != _EOF:
            chunks.append(data)
        yield 1, b"".join(chunks)

    def write(self, data: bytes) -> None:
        if data:
            self._input.put(data)

    def close_input(self) -> None:
        self._input.put(_EOF)

    def resize(self, rows: int, cols: int) -> None:
        pass

    def wait(self) -> int:
        return 0

    def kill(self) -> None:
        self._input.put(_EOF)


class CatDriver(SimulatedDriver):
    def exec(
        self, runtime_id: str, command: list[str], tty: bool, size: tuple[int, int] | None
    ) -> ExecProcess:
        return Cat()


@pytest.fixture(scope="module")
def fleet(server: ServerProcess, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    cluster = "limit-" + uuid.uuid4().hex[:8]
    ecs = server.client()
    task_role(query_client(server, "iam"), ROLE, allow_all=False)
    ecs.create_cluster(clusterName=cluster)
    root: Path = tmp_path_factory.mktemp("frame-limit")
    fleet = Fleet(ecs, cluster, [start_agent(server, root / "agent", cluster, driver=CatDriver())])
    try:
        yield fleet
    finally:
        fleet.stop()


@pytest.fixture(scope="module")
def task_arn(fleet: Fleet) -> str:
    td = register(fleet.ecs, "limit-" + uuid.uuid4().hex[:8], taskRoleArn=ROLE)
    out = fleet.ecs.run_task(cluster=fleet.cluster, taskDefinition=td, enableExecuteCommand=True)
    arn = str(out["tasks"][0]["taskArn"])

    def exec_ready() -> bool:
        task = fleet.ecs.describe_tasks(cluster=fleet.cluster, tasks=[arn])["tasks"][0]
        agents = task["containers"][0].get("managedAgents") or []
        return bool(agents) and agents[0]["lastStatus"] == "RUNNING"

    wait_until(exec_ready, what="ExecuteCommandAgent RUNNING")
    return arn


@contextmanager
def open_session(fleet: Fleet, task_arn: str) -> Iterator[ClientConnection]:
    session = fleet.ecs.execute_command(
        cluster=fleet.cluster, task=task_arn, command="cat", interactive=True
    )["session"]
    with connect(session["streamUrl"], open_timeout=5, max_size=None) as ws:
        ws.send(frames.encode_json(frames.OPEN, {"token": session["tokenValue"], "tty": False}))
        yield ws


def received(ws: ClientConnection) -> list[frames.Frame]:
    got = []
    for message in ws:
        got.append(frames.decode(message))
    return got


def test_a_session_carries_the_largest_frames(fleet: Fleet, task_arn: str) -> None:
    # Five stdin frames of the largest size; their echo, more than MAX_MESSAGE in one piece
    # from the process, reaches the client cut into frames no larger.
    stdin = [os.urandom(frames.MAX_PAYLOAD) for _ in range(5)]
    with open_session(fleet, task_arn) as ws:
        for data in stdin:
            ws.send(frames.encode(frames.STDIN, data))
        ws.send(frames.encode(frames.STDIN_EOF))
        got = received(ws)
    assert got[-1] == frames.Frame(frames.EXIT, frames.exit_code(0)[1:])
    out = got[:-1]
    assert {f.channel for f in out} == {frames.STDOUT}
    assert max(len(f.payload) for f in out) == frames.MAX_PAYLOAD
    assert b"".join(f.payload for f in out) == b"".join(stdin)


@pytest.mark.parametrize("size", [frames.MAX_MESSAGE + 1, 4 * frames.MAX_MESSAGE])
def test_a_message_past_the_limit_closes_the_connection(
    fleet: Fleet, task_arn: str, size: int
) -> None:
    with open_session(fleet, task_arn) as ws:
        ws.send(frames.encode(frames.STDIN, b"x" * (size - 1)))
        with pytest.raises(ConnectionClosed) as closed:
            received(ws)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1009


def test_the_limit_holds_before_a_session_opens(server: ServerProcess) -> None:
    url = server.endpoint.replace("http://", "ws://") + "/_portside/exec/v1/nobody"
    with connect(url, open_timeout=5) as ws:
        ws.send(b"\x05" + b"{" * frames.MAX_MESSAGE)
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=10)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009


def test_the_largest_frame_fits_with_room_to_spare() -> None:
    # The biggest frames: the CLI's stdin reads (64 KiB) and the agent's output cut to size.
    assert frames.MAX_MESSAGE >= 2 * (frames.MAX_PAYLOAD + 1)
    assert len(frames.encode(frames.STDOUT, bytes(frames.MAX_PAYLOAD))) <= frames.MAX_MESSAGE
