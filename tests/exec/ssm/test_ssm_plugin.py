"""Portside's `session-manager-plugin` (portside/ssm_plugin) as the AWS CLI runs it, against a
scripted data channel server: its arguments, a session's course, resends, a dropped
connection."""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import orjson
import pytest
from harness import BIN
from websockets.sync.server import Server, ServerConnection, serve

from portside.exec.ssm import payloads
from portside.exec.ssm.channel import DataChannel
from portside.exec.ssm.message import OUTPUT_STREAM_DATA, Message, PayloadType, decode, encode
from portside.ssm_plugin.main import stream_url

PLUGIN = str(BIN / "session-manager-plugin")


def plugin(
    *args: str, env: dict[str, str] | None = None, **kw: Any
) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [PLUGIN, *args], capture_output=True, timeout=30, env={**os.environ, **(env or {})}, **kw
    )


class Script:
    """The server's end, run by a test function on each connection."""

    def __init__(self, ws: ServerConnection) -> None:
        self.ws = ws
        self.opening = orjson.loads(ws.recv(timeout=10))
        self.channel = DataChannel(OUTPUT_STREAM_DATA)

    def send(self, payload_type: int, payload: bytes) -> None:
        self.ws.send(self.channel.data(payload_type, payload, time.monotonic()))

    def read(self, ack: bool = True) -> Message:
        """The client's next stream data message (sizes skipped)."""
        while True:
            raw = self.ws.recv(timeout=10)
            assert isinstance(raw, bytes)
            if not ack:
                m = decode(raw)
                if m.message_type != "input_stream_data":
                    self.channel.receive(raw, time.monotonic())  # acknowledgements count
                elif m.payload_type != PayloadType.SIZE:
                    return m
                continue
            got = self.channel.receive(raw, time.monotonic())
            for reply in got.replies:
                self.ws.send(reply)
            for m in got.data:
                if m.payload_type != PayloadType.SIZE:
                    return m

    def handshake(self) -> None:
        self.send(PayloadType.HANDSHAKE_REQUEST, payloads.handshake_request("3.0"))
        answer = self.read()
        assert answer.payload_type == PayloadType.HANDSHAKE_RESPONSE
        assert payloads.json_of(answer.payload)["ProcessedClientActions"][0]["ActionStatus"] == 1
        self.send(PayloadType.HANDSHAKE_COMPLETE, payloads.handshake_complete(1000))

    def drain(self) -> None:
        """Wait for the plugin to acknowledge all it was sent, as Portside's server does."""
        while not self.channel.all_acknowledged:
            raw = self.ws.recv(timeout=10)
            assert isinstance(raw, bytes)
            for reply in self.channel.receive(raw, time.monotonic()).replies:
                self.ws.send(reply)

    def close_channel(self, output: str = "") -> None:
        self.drain()
        self.ws.send(encode(payloads.channel_closed(self.opening["ClientId"], 1, output)))


@pytest.fixture
def server() -> Iterator[Callable[[Callable[[Script], None]], str]]:
    """Serve a script; returns the session JSON the plugin is given."""
    running: list[Server] = []
    failures: list[BaseException] = []

    def start(script: Callable[[Script], None]) -> str:
        def handler(ws: ServerConnection) -> None:
            try:
                script(Script(ws))
            except BaseException as exc:  # reported by the test, not lost in a thread
                failures.append(exc)

        srv = serve(handler, "127.0.0.1", 0)
        running.append(srv)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        port = srv.socket.getsockname()[1]
        return json.dumps(
            {"sessionId": "s-1", "streamUrl": f"ws://127.0.0.1:{port}/s", "tokenValue": "tok"}
        )

    yield start
    for srv in running:
        srv.shutdown()
    if failures:
        raise failures[0]


def start_session(session: str, **kw: Any) -> subprocess.CompletedProcess[bytes]:
    return plugin(session, "us-east-1", "StartSession", "", '{"Target": "ecs:c_t_r"}', "", **kw)


def test_with_no_arguments_it_says_it_is_installed_as_the_cli_checks() -> None:
    proc = plugin()
    assert proc.returncode == 0
    assert b"The Session Manager plugin was installed successfully" in proc.stdout
    assert plugin("--version").stdout.strip()
    assert b"Unknown operation x" in plugin("x").stdout


def test_a_session_sends_keystrokes_resent_until_acknowledged_and_ends_on_channel_closed(
    server: Callable[[Callable[[Script], None]], str],
) -> None:
    seen: list[Message] = []

    def script(s: Script) -> None:
        assert s.opening["TokenValue"] == "tok"
        s.handshake()
        s.send(PayloadType.OUTPUT, b"ready\r\n")
        first = s.read(ack=False)  # not acknowledged: the plugin must send it again
        again = s.read()
        seen.extend([first, again])
        s.send(PayloadType.OUTPUT, b"got:" + again.payload + b"\r\n")
        s.close_channel()

    proc = start_session(server(script), input=b"abc")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout.decode()
    assert "\nStarting session with SessionId: s-1\n" in out
    assert "ready\r\ngot:abc\r\n" in out
    assert out.endswith("\n\nExiting session with sessionId: s-1.\n\n")
    first, again = seen
    assert (first.message_id, first.sequence_number, first.payload) == (
        again.message_id,
        again.sequence_number,
        b"abc",
    )


def test_the_exit_code_when_asked_and_the_reason_the_channel_closed(
    server: Callable[[Callable[[Script], None]], str],
) -> None:
    def script(s: Script) -> None:
        assert s.opening.get("PortsideExitCode") is True
        s.handshake()
        s.send(PayloadType.EXIT_CODE, b"4")
        s.close_channel("Session ended by the test.")

    proc = start_session(server(script), env={"PORTSIDE_SSM_EXIT_CODE": "1"}, input=b"")
    assert proc.returncode == 4, proc.stderr
    assert proc.stdout.decode().endswith("\n\nSessionId: s-1 : Session ended by the test.\n\n")


def test_a_dropped_connection_ends_the_session(
    server: Callable[[Callable[[Script], None]], str],
) -> None:
    def script(s: Script) -> None:
        s.handshake()
        s.send(PayloadType.OUTPUT, b"hello\r\n")
        s.drain()
        s.ws.close()

    proc = start_session(server(script), input=b"")
    assert proc.returncode == 255
    out = proc.stdout.decode()
    assert "hello\r\n" in out
    assert "SessionId: s-1 : The connection to the session was lost." in out


def test_the_session_may_come_in_an_environment_variable(
    server: Callable[[Callable[[Script], None]], str],
) -> None:
    def script(s: Script) -> None:
        s.handshake()
        s.close_channel()

    name = "AWS_SSM_START_SESSION_RESPONSE_1"
    proc = start_session(name, env={name: server(script)}, input=b"")
    assert proc.returncode == 0, proc.stderr
    assert b"Exiting session with sessionId: s-1." in proc.stdout


def test_a_portside_stream_is_dialled_on_the_endpoint_the_cli_called() -> None:
    url = "ws://10.0.0.5:8000/_portside/exec/v1/ecs-execute-command-1"
    assert stream_url(url, "https://ecs.example:8443") == (
        "wss://ecs.example:8443/_portside/exec/v1/ecs-execute-command-1"
    )
    other = "wss://ssmmessages.us-east-1.amazonaws.com/v1/data-channel/s?role=publish_subscribe"
    assert stream_url(other, "https://ssm.us-east-1.amazonaws.com") == other
