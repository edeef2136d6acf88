"""Live exec sessions (portside/exec/registry.py): tokens, offers, attachment; and the
session record (portside/exec/record.py) against a stand-in log store."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

import orjson
import pytest

from portside import testing
from portside.errors import ResourceNotFoundException
from portside.exec.record import Recorder
from portside.exec.registry import OFFER_TTL, TOKEN_TTL, ExecRefused, ExecRegistry
from portside.ops.exec import ExecTarget, LogDestination

INSTANCE = "arn:aws:ecs:us-east-1:000000000000:container-instance/c/i"


def target(log: LogDestination | None = None) -> ExecTarget:
    return ExecTarget(
        cluster_arn="arn:aws:ecs:us-east-1:000000000000:cluster/c",
        task_arn="arn:aws:ecs:us-east-1:000000000000:task/c/t",
        instance_arn=INSTANCE,
        container_name="app",
        container_arn="arn:aws:ecs:us-east-1:000000000000:container/c/t/app",
        runtime_id="abc",
        command="sh -c 'echo hi'",
        argv=("sh", "-c", "echo hi"),
        log=log or LogDestination("/aws/ecs/execute-command/c", True, True),
    )


class Clock(testing.FakeClock):
    def __init__(self) -> None:
        super().__init__(100.0)


def registry(clock: Clock) -> ExecRegistry:
    tokens = itertools.count()
    return ExecRegistry(
        "http://127.0.0.1:4810", monotonic=clock, token=lambda: f"tok{next(tokens)}"
    )


def test_a_session_has_an_ecs_id_and_a_stream_url_on_the_server() -> None:
    reg = registry(Clock())
    s = reg.create(target(), session_id="0123456789abcdef0", access_key="AK", now=1.0)
    assert s.id == "ecs-execute-command-0123456789abcdef0"
    assert reg.stream_url(s.id) == f"ws://127.0.0.1:4810/_portside/exec/v1/{s.id}"
    assert ExecRegistry("https://ps.example:443").stream_url("x").startswith("wss://ps.example")


def test_a_token_opens_its_session_once() -> None:
    async def scenario() -> None:
        clock = Clock()
        reg = registry(clock)
        s = reg.create(target(), session_id="a", access_key="AK", now=1.0)
        with pytest.raises(ExecRefused, match="not valid"):
            reg.open(s.id, "wrong", tty=False, size=None)
        opened = reg.open(s.id, s.token, tty=True, size=(40, 120))
        assert (opened.tty, opened.rows, opened.cols) == (True, 40, 120)
        with pytest.raises(ExecRefused, match="already been used"):
            reg.open(s.id, s.token, tty=True, size=None)

    asyncio.run(scenario())


def test_a_token_expires() -> None:
    async def scenario() -> None:
        clock = Clock()
        reg = registry(clock)
        s = reg.create(target(), session_id="a", access_key="AK", now=1.0)
        clock.now += TOKEN_TTL + 1
        with pytest.raises(ExecRefused, match="expired"):
            reg.open(s.id, s.token, tty=False, size=None)
        assert reg.get(s.id) is None

    asyncio.run(scenario())


def test_an_opened_session_is_offered_once_to_its_instance_and_wakes_the_polls() -> None:
    async def scenario() -> None:
        reg = registry(Clock())
        woken: list[bool] = []
        reg.set_notifier(lambda: woken.append(True))
        s = reg.create(target(), session_id="a", access_key="AK", now=1.0)
        assert reg.offers_for({INSTANCE}) == []  # not before the client is there
        reg.open(s.id, s.token, tty=False, size=None)
        assert woken == [True]
        assert reg.offers_for({"arn:other"}) == []
        (offer,) = [o.to_wire() for o in reg.offers_for({INSTANCE})]
        assert offer["command"] == ["sh", "-c", "echo hi"]
        assert offer["agentToken"] == s.agent_token != s.token
        assert reg.offers_for({INSTANCE}) == []

    asyncio.run(scenario())


def test_only_the_agent_token_attaches_and_only_once() -> None:
    async def scenario() -> None:
        reg = registry(Clock())
        s = reg.create(target(), session_id="a", access_key="AK", now=1.0)
        with pytest.raises(ExecRefused):
            reg.attach(s.id, s.agent_token, "ws")  # not opened yet
        reg.open(s.id, s.token, tty=False, size=None)
        with pytest.raises(ExecRefused):
            reg.attach(s.id, s.token, "ws")
        reg.attach(s.id, s.agent_token, "ws")
        assert s.agent is not None and s.agent.result() == "ws"
        with pytest.raises(ExecRefused):
            reg.attach(s.id, s.agent_token, "ws2")
        reg.end(s.id)
        assert s.ended is not None and s.ended.is_set()
        assert reg.get(s.id) is None

    asyncio.run(scenario())


def test_opened_sessions_outlive_the_token_ttl() -> None:
    async def scenario() -> None:
        clock = Clock()
        reg = registry(clock)
        s = reg.create(target(), session_id="a", access_key="AK", now=1.0)
        reg.open(s.id, s.token, tty=False, size=None)
        clock.now += TOKEN_TTL + OFFER_TTL + 1
        reg.create(target(), session_id="b", access_key="AK", now=2.0)  # sweeps
        assert reg.get(s.id) is s

    asyncio.run(scenario())


class Logs:
    """The LogStore calls the recorder makes."""

    def __init__(self, groups: set[str]) -> None:
        self.groups = groups
        self.streams: dict[tuple[str, str], list[tuple[int, str]]] = {}

    def ensure_stream(self, group: str, stream: str, *, create_group: bool, now_ms: int) -> None:
        if group not in self.groups:
            if not create_group:
                raise ResourceNotFoundException("The specified log group does not exist.")
            self.groups.add(group)
        self.streams.setdefault((group, stream), [])

    def append(self, group: str, stream: str, events: list[tuple[int, str]], now_ms: int) -> int:
        self.streams[(group, stream)].extend(events)
        return len(events)


def record(logs: Logs, dest: LogDestination, tty: bool, chunks: list[bytes]) -> list[Any]:
    async def scenario() -> None:
        reg = registry(Clock())
        s = reg.create(target(dest), session_id="a", access_key="AKIDEXAMPLE", now=1.0)
        s.tty = tty
        rec = Recorder(logs, s, lambda: 1700000000.5)
        await rec.start()
        for chunk in chunks:
            await rec.data(chunk)
        await rec.finish(exit_code=3)

    asyncio.run(scenario())
    events = logs.streams.get((dest.group, "ecs-execute-command-a"), [])
    assert all(ts == 1700000000500 for ts, _ in events)
    return [m for _, m in events]


def test_a_session_without_tty_records_who_what_and_its_output_by_line() -> None:
    logs = Logs(set())
    lines = record(
        logs,
        LogDestination("/aws/ecs/execute-command/c", True, True),
        tty=False,
        chunks=[b"hel", b"lo\nwor", b"ld\n\xff\nlast"],
    )
    start, *output, end = lines
    assert orjson.loads(start) == {
        "event": "start",
        "sessionId": "ecs-execute-command-a",
        "accessKey": "AKIDEXAMPLE",
        "clusterArn": "arn:aws:ecs:us-east-1:000000000000:cluster/c",
        "taskArn": "arn:aws:ecs:us-east-1:000000000000:task/c/t",
        "containerName": "app",
        "command": "sh -c 'echo hi'",
        "tty": False,
        "time": 1700000000.5,
    }
    assert output == ["hello", "world", "\ufffd", "last"]
    assert orjson.loads(end)["exitCode"] == 3


def test_a_tty_session_or_logging_none_records_no_output() -> None:
    dest = LogDestination("/g", True, True)
    assert len(record(Logs(set()), dest, tty=True, chunks=[b"secret\n"])) == 2
    quiet = LogDestination("/g", True, False)
    assert len(record(Logs(set()), quiet, tty=False, chunks=[b"secret\n"])) == 2


def test_a_missing_configured_group_leaves_the_session_unrecorded_as_on_aws() -> None:
    logs = Logs(set())
    assert record(logs, LogDestination("/audit", False, True), tty=False, chunks=[b"x\n"]) == []
    assert logs.streams == {}
