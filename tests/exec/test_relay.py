"""The relay (portside/exec/relay.py) in-process: a client socket and an agent socket piped
together, the ways a session ends, and what it records."""

from __future__ import annotations

import contextlib
import time
import warnings
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from starlette.applications import Starlette
from starlette.websockets import WebSocketDisconnect

from portside.errors import ResourceNotFoundException
from portside.exec import frames
from portside.exec.registry import ExecRegistry, ExecSession
from portside.exec.relay import Relay
from portside.ops.context import World
from portside.ops.exec import ExecTarget, LogDestination

with warnings.catch_warnings():
    # Starlette 1.x would rather its test client ran on httpx2; httpx is what we have.
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

INSTANCE = "arn:aws:ecs:us-east-1:000000000000:container-instance/c/i"
GROUP = "/aws/ecs/execute-command/c"


class Logs:
    def __init__(self) -> None:
        self.events: dict[str, list[str]] = {}

    def ensure_stream(self, group: str, stream: str, *, create_group: bool, now_ms: int) -> None:
        if not create_group:
            raise ResourceNotFoundException("The specified log group does not exist.")
        self.events.setdefault(stream, [])

    def append(self, group: str, stream: str, events: list[tuple[int, str]], now_ms: int) -> int:
        self.events[stream].extend(m for _, m in events)
        return len(events)


class Rig:
    def __init__(self, client: TestClient, registry: ExecRegistry, logs: Logs) -> None:
        self.http = client
        self.registry = registry
        self.logs = logs
        self.opened: list[Any] = []

    def _connect(self, path: str, **kwargs: Any) -> Any:
        ws = self.http.websocket_connect(path, **kwargs)
        self.opened.append(ws)
        return ws.__enter__()

    def close(self) -> None:
        for ws in self.opened:
            with contextlib.suppress(Exception):
                ws.__exit__(None, None, None)

    def session(self) -> ExecSession:
        target = ExecTarget(
            cluster_arn="arn:aws:ecs:us-east-1:000000000000:cluster/c",
            task_arn="arn:aws:ecs:us-east-1:000000000000:task/c/t",
            instance_arn=INSTANCE,
            container_name="app",
            container_arn="arn:aws:ecs:us-east-1:000000000000:container/c/t/app",
            runtime_id="abc",
            command="cat",
            argv=("cat",),
            log=LogDestination(GROUP, True, True),
        )
        return self.registry.create(
            target, session_id=str(time.monotonic_ns()), access_key="AK", now=1.0
        )

    def client(self, session: ExecSession, tty: bool = False) -> Any:
        ws = self._connect(f"/_portside/exec/v1/{session.id}")
        ws.send_bytes(frames.encode_json(frames.OPEN, {"token": session.token, "tty": tty}))
        return ws

    def agent(self, session: ExecSession) -> Any:
        deadline = time.monotonic() + 5
        while not (offers := self.registry.offers_for({INSTANCE})):
            assert time.monotonic() < deadline, "never offered"
            time.sleep(0.01)
        (offer,) = [o.to_wire() for o in offers]
        assert offer["sessionId"] == session.id
        return self._connect(
            f"/_portside/agent/v1/exec/{session.id}",
            headers={"X-Portside-Exec-Token": offer["agentToken"]},
        )


@pytest.fixture
def rig(request: pytest.FixtureRequest) -> Iterator[Rig]:
    options = getattr(request, "param", {})
    logs = Logs()
    world = World(store=None, clock=lambda: 1700000000.0)  # type: ignore[arg-type]
    world.logs = logs  # type: ignore[assignment]
    registry = ExecRegistry("http://testserver")
    app = Starlette(routes=Relay(world, registry, **options).routes())
    with TestClient(app) as client:
        rig = Rig(client, registry, logs)
        try:
            yield rig
        finally:
            rig.close()


def closed(ws: Any) -> bool:
    try:
        ws.receive_bytes()
    except WebSocketDisconnect:
        return True
    return False


def test_frames_flow_both_ways_and_the_exit_ends_the_session(rig: Rig) -> None:
    session = rig.session()
    client = rig.client(session)
    agent = rig.agent(session)
    client.send_bytes(frames.encode(frames.STDIN, b"hello\n"))
    client.send_bytes(frames.resize(30, 100))
    client.send_bytes(frames.encode(frames.STDIN_EOF))
    assert agent.receive_bytes() == b"\x00hello\n"
    assert frames.decode(agent.receive_bytes()).json() == {"rows": 30, "cols": 100}
    assert agent.receive_bytes() == b"\x06"
    agent.send_bytes(frames.encode(frames.STDOUT, b"hello\n"))
    agent.send_bytes(frames.encode(frames.STDERR, b"warn\n"))
    agent.send_bytes(frames.exit_code(7))
    assert client.receive_bytes() == b"\x01hello\n"
    assert client.receive_bytes() == b"\x02warn\n"
    assert frames.decode(client.receive_bytes()).json() == {"exitCode": 7}
    assert closed(client) and closed(agent)
    start, out, err, end = rig.logs.events[session.id]
    assert orjson.loads(start)["command"] == "cat"
    assert (out, err) == ("hello", "warn")
    assert orjson.loads(end)["exitCode"] == 7
    assert rig.registry.get(session.id) is None


def test_a_client_may_not_send_output_or_exits_to_the_agent(rig: Rig) -> None:
    session = rig.session()
    client = rig.client(session)
    agent = rig.agent(session)
    client.send_bytes(frames.exit_code(0))
    client.send_bytes(frames.encode(frames.STDOUT, b"forged"))
    client.send_bytes(b"\x09junk")
    client.send_bytes(frames.encode(frames.STDIN, b"real"))
    assert agent.receive_bytes() == b"\x00real"
    agent.send_bytes(frames.exit_code(0))
    assert frames.decode(client.receive_bytes()).json() == {"exitCode": 0}


def test_when_the_agent_goes_away_the_client_is_told(rig: Rig) -> None:
    session = rig.session()
    client = rig.client(session)
    agent = rig.agent(session)
    agent.close()
    reply = frames.decode(client.receive_bytes()).json()
    assert reply == {"error": "The agent's connection was lost."}
    assert orjson.loads(rig.logs.events[session.id][-1])["error"] == reply["error"]


def test_an_agent_error_reaches_the_client(rig: Rig) -> None:
    session = rig.session()
    client = rig.client(session)
    agent = rig.agent(session)
    agent.send_bytes(frames.exit_error("no such container"))
    assert frames.decode(client.receive_bytes()).json() == {"error": "no such container"}


def test_when_the_client_goes_away_the_agent_connection_closes(rig: Rig) -> None:
    session = rig.session()
    client = rig.client(session)
    agent = rig.agent(session)
    client.close()
    assert closed(agent)
    assert orjson.loads(rig.logs.events[session.id][-1])["error"] == "The client went away."


@pytest.mark.parametrize("rig", [{"idle_timeout": 0.3}], indirect=True)
def test_an_idle_session_ends(rig: Rig) -> None:
    session = rig.session()
    client = rig.client(session)
    agent = rig.agent(session)
    reply = frames.decode(client.receive_bytes()).json()
    assert reply == {"error": "The session was idle too long."}
    assert closed(agent)


@pytest.mark.parametrize("rig", [{"offer_timeout": 0.2}], indirect=True)
def test_a_session_no_agent_takes_fails_as_not_connected(rig: Rig) -> None:
    session = rig.session()
    client = rig.client(session)
    reply = frames.decode(client.receive_bytes()).json()
    assert reply["error"].startswith("TargetNotConnected")


def test_the_first_frame_must_be_open(rig: Rig) -> None:
    session = rig.session()
    with rig.http.websocket_connect(f"/_portside/exec/v1/{session.id}") as ws:
        ws.send_bytes(frames.encode(frames.STDIN, b"x"))
        assert frames.decode(ws.receive_bytes()).json() == {
            "error": "The first frame must be OPEN."
        }


def test_an_agent_without_the_session_token_is_turned_away(rig: Rig) -> None:
    session = rig.session()
    rig.client(session)
    with (
        pytest.raises(WebSocketDisconnect) as err,
        rig.http.websocket_connect(
            f"/_portside/agent/v1/exec/{session.id}",
            headers={"X-Portside-Exec-Token": session.token},
        ) as ws,
    ):
        ws.receive_bytes()
    assert err.value.code == 4403
