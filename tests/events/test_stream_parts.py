"""Small parts: the SSE parser of `portside events`, the API destination rate limit, and
which feed tables a pattern needs."""

from __future__ import annotations

import asyncio
import math
from types import SimpleNamespace

import pytest

from portside.cli.events import sse_data
from portside.events import targets
from portside.events.feed import tables_for
from portside.events.patterns import compile_pattern
from portside.events.targets import RateLimiter, detail_types


def test_sse_messages() -> None:
    lines = [
        ": hello",
        "",
        "id: 7",
        'data: {"a": 1}',
        "",
        "data: x",
        "data: y",
        "",
        ": keepalive",
        "",
    ]
    assert list(sse_data(lines)) == [("7", '{"a": 1}'), ("", "x\ny")]


class FakeTime:
    """The limiter's clock, moved on only by its own sleeps: what it waits is exact."""

    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        # A microsecond clock, like a real one: a sleep always moves it on.
        self.slept.append(seconds)
        self.now += max(math.ceil(round(seconds * 1e6, 3)), 1) / 1e6


def acquired_at(limiter: RateLimiter, fake: FakeTime, calls: int) -> list[float]:
    async def burst() -> list[float]:
        out = []
        for _ in range(calls):
            await limiter.acquire()
            out.append(round(fake.now, 6))
        return out

    return asyncio.run(burst())


def test_rate_limit_spaces_calls(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeTime()
    monkeypatch.setattr(targets, "asyncio", SimpleNamespace(sleep=fake.sleep))
    times = acquired_at(RateLimiter(20, clock=fake.clock), fake, 30)
    # 20 at once (the bucket starts full), then 10 more at 20 a second.
    assert times == pytest.approx([0.0] * 20 + [0.05 * i for i in range(1, 11)], abs=1e-5)


def test_no_limit_is_immediate(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeTime()
    monkeypatch.setattr(targets, "asyncio", SimpleNamespace(sleep=fake.sleep))
    assert acquired_at(RateLimiter(None, clock=fake.clock), fake, 1000) == [0.0] * 1000
    assert fake.slept == []


def test_the_tables_a_pattern_needs() -> None:
    def tables(pattern: dict[str, object]) -> tuple[str, ...]:
        return tables_for(detail_types(compile_pattern(pattern)))

    assert tables({"detail-type": ["ECS Task State Change"]}) == ("tasks",)
    assert tables({"detail-type": [{"prefix": "ECS Deployment"}]}) == ("services",)
    assert tables({"source": ["aws.ec2"]}) == ()
    assert tables({"detail": {"lastStatus": ["STOPPED"]}}) == (
        "tasks",
        "container_instances",
        "services",
        "cw_alarm_events",
    )
    assert tables({"detail-type": [{"anything-but": "ECS Task State Change"}]}) == (
        "container_instances",
        "services",
        "cw_alarm_events",
    )
    assert tables({"source": ["aws.ecs"]}) == ("tasks", "container_instances", "services")
    assert tables({"source": ["aws.cloudwatch"]}) == ("cw_alarm_events",)
