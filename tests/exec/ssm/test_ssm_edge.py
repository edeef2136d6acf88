"""The relay's Session Manager edge (portside/exec/ssm/edge.py) in-process: a data channel
client on the streamUrl, a frames agent on the other side."""

from __future__ import annotations

import contextlib
import time
import warnings
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from starlette.applications import Starlette

from portside.exec import frames
from portside.exec.registry import ExecRegistry, ExecSession
from portside.exec.relay import Relay
from portside.exec.ssm import payloads
from portside.exec.ssm.channel import DataChannel
from portside.exec.ssm.message import (
    CHANNEL_CLOSED,
    INPUT_STREAM_DATA,
    Flag,
    Message,
    PayloadType,
    decode,
)
from portside.ops.context import World
from portside.ops.exec import ExecTarget, LogDestination

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

INSTANCE = "arn:aws:ecs:us-east-1:000000000000:container-instance/c/i"


class Logs:
    def __init__(self) -> None:
        self.events: dict[str, list[str]] = {}

    def ensure_stream(self, group: str, stream: str, *, create_group: bool, now_ms: int) -> None:
        self.events.setdefault(stream, [])

    def append(self, group: str, stream: str, events: list[tuple[int, str]], now_ms: int) -> int:
        self.events[stream].extend(m for _, m in events)
        return len(events)


class Client:
    """A plugin's end, driven by hand: it acknowledges what it reads unless told not to."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.channel = DataChannel(INPUT_STREAM_DATA)

    def read(self, ack: bool = True) -> Message:
        """The next stream data or control message."""
        while True:
            got = self.channel.receive(self.ws.receive_bytes(), time.monotonic())
            if ack:
                for reply in got.replies:
                    self.ws.send_bytes(reply)
            if got.data or got.control:
                return (got.data or got.control)[0]

    def send(self, payload_type: int, payload: bytes) -> bytes:
        raw = self.channel.data(payload_type, payload, time.monotonic())
        self.ws.send_bytes(raw)
        return raw

    def handshake(self) -> None:
        request = self.read()
        assert request.payload_type == PayloadType.HANDSHAKE_REQUEST
        body = payloads.json_of(request.payload)
        self.send(PayloadType.HANDSHAKE_RESPONSE, payloads.handshake_response(body, "test"))
        assert self.read().payload_type == PayloadType.HANDSHAKE_COMPLETE


class Rig:
    def __init__(self, http: TestClient, registry: ExecRegistry, logs: Logs) -> None:
        self.http = http
        self.registry = registry
        self.logs = logs
        self.opened: list[Any] = []

    def connect(self, path: str, **kwargs: Any) -> Any:
        ws = self.http.websocket_connect(path, **kwargs)
        self.opened.append(ws)
        return ws.__enter__()

    def session(self) -> ExecSession:
        target = ExecTarget(
            cluster_arn="arn:aws:ecs:us-east-1:000000000000:cluster/c",
            task_arn="arn:aws:ecs:us-east-1:000000000000:task/c/t",
            instance_arn=INSTANCE,
            container_name="app",
            container_arn="arn:aws:ecs:us-east-1:000000000000:container/c/t/app",
            runtime_id="abc",
            command="sh",
            argv=("sh",),
            log=LogDestination("/aws/ecs/execute-command/c", True, True),
        )
        return self.registry.create(
            target, session_id=str(time.monotonic_ns()), access_key="AK", now=1.0
        )

    def client(self, session: ExecSession, token: str | None = None, **extra: Any) -> Client:
        ws = self.connect(f"/_portside/exec/v1/{session.id}")
        opening = orjson.loads(payloads.open_channel(token or session.token, "c-1", "test"))
        ws.send_text(orjson.dumps({**opening, **extra}).decode())
        return Client(ws)

    def agent(self, session: ExecSession) -> Any:
        deadline = time.monotonic() + 5
        while not (offers := self.registry.offers_for({INSTANCE})):
            assert time.monotonic() < deadline, "never offered"
            time.sleep(0.01)
        (offer,) = offers
        assert offer.tty is True  # ECS Exec's sessions always have a terminal
        return self.connect(
            f"/_portside/agent/v1/exec/{session.id}",
            headers={"X-Portside-Exec-Token": offer.agent_token},
        )


def ended(rig: Rig, session: ExecSession) -> dict[str, Any]:
    """The session's end record, once the relay wrote it."""
    deadline = time.monotonic() + 5
    while True:
        last = orjson.loads(rig.logs.events[session.id][-1])
        if last["event"] == "end":
            return dict(last)
        assert time.monotonic() < deadline, "the session did not end"
        time.sleep(0.01)


@pytest.fixture
def rig() -> Iterator[Rig]:
    logs = Logs()
    world = World(store=None, clock=lambda: 1700000000.0)  # type: ignore[arg-type]
    world.logs = logs  # type: ignore[assignment]
    registry = ExecRegistry("http://testserver")
    app = Starlette(routes=Relay(world, registry).routes())
    with TestClient(app) as http:
        r = Rig(http, registry, logs)
        try:
            yield r
        finally:
            for ws in r.opened:
                with contextlib.suppress(Exception):
                    ws.__exit__(None, None, None)


def test_a_session_runs_handshake_keystrokes_output_and_channel_closed(rig: Rig) -> None:
    session = rig.session()
    client = rig.client(session)
    agent = rig.agent(session)
    agent.send_bytes(frames.encode(frames.STDOUT, b"$ "))  # before the handshake: held
    client.handshake()
    out = client.read()
    assert (out.payload_type, out.payload, out.sequence_number) == (PayloadType.OUTPUT, b"$ ", 2)
    client.send(PayloadType.SIZE, payloads.size(33, 111))
    client.send(PayloadType.OUTPUT, b"echo hi\r")
    assert frames.decode(agent.receive_bytes()).json() == {"rows": 33, "cols": 111}
    assert frames.decode(agent.receive_bytes()) == frames.Frame(frames.STDIN, b"echo hi\r")
    agent.send_bytes(frames.encode(frames.STDOUT, b"hi\r\n"))
    agent.send_bytes(frames.exit_code(3))
    assert client.read().payload == b"hi\r\n"
    closed = client.read()
    assert closed.message_type == CHANNEL_CLOSED
    body = payloads.json_of(closed.payload)
    assert (body["SessionId"], body["Output"]) == (session.id, "")
    lines = [orjson.loads(m) for m in rig.logs.events[session.id]]
    assert (lines[0]["event"], lines[0]["tty"]) == ("start", True)
    end = ended(rig, session)
    assert (end["event"], end["exitCode"]) == ("end", 3)


def test_a_client_that_asks_gets_the_exit_code_before_channel_closed(rig: Rig) -> None:
    session = rig.session()
    client = rig.client(session, PortsideExitCode=True)
    agent = rig.agent(session)
    agent.send_bytes(frames.encode(frames.STDOUT, b"bye\r\n"))
    agent.send_bytes(frames.exit_code(7))  # may come before the handshake completes
    client.handshake()
    assert client.read().payload == b"bye\r\n"
    code = client.read()
    assert (code.payload_type, code.payload) == (PayloadType.EXIT_CODE, b"7")
    assert client.read().message_type == CHANNEL_CLOSED


def test_a_bad_token_gets_channel_closed_with_the_reason(rig: Rig) -> None:
    session = rig.session()
    client = rig.client(session, token="forged")
    closed = client.read()
    assert closed.message_type == CHANNEL_CLOSED
    assert payloads.json_of(closed.payload)["Output"] == (
        "The session token is not valid or has expired."
    )


def test_unacknowledged_output_is_resent_and_repeated_input_reaches_the_agent_once(
    rig: Rig,
) -> None:
    session = rig.session()
    client = rig.client(session)
    agent = rig.agent(session)
    first = client.read(ack=False)
    again = decode(client.ws.receive_bytes())  # the server sends it again, unacknowledged
    assert (first.sequence_number, again.sequence_number) == (0, 0)
    assert first.message_id == again.message_id
    body = payloads.json_of(again.payload)
    client.send(PayloadType.HANDSHAKE_RESPONSE, payloads.handshake_response(body, "t"))
    assert client.read().payload_type == PayloadType.HANDSHAKE_COMPLETE
    raw = client.send(PayloadType.OUTPUT, b"a")
    client.ws.send_bytes(raw)  # a resend whose acknowledgement crossed it
    client.send(PayloadType.OUTPUT, b"b")
    assert frames.decode(agent.receive_bytes()).payload == b"a"
    assert frames.decode(agent.receive_bytes()).payload == b"b"


def test_terminate_session_ends_the_session(rig: Rig) -> None:
    session = rig.session()
    client = rig.client(session)
    rig.agent(session)
    client.handshake()
    client.send(PayloadType.FLAG, int(Flag.TERMINATE_SESSION).to_bytes(4, "big"))
    end = ended(rig, session)
    assert end == {**end, "event": "end", "error": "The client went away."}
