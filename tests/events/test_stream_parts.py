"""Small parts: the SSE parser of `portside events`, the API destination rate limit, and
which feed tables a pattern needs."""

from __future__ import annotations

import asyncio
import time

from portside.cli.events import sse_data
from portside.events.delivery import RateLimiter, detail_types
from portside.events.feed import tables_for
from portside.events.patterns import compile_pattern


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


def test_rate_limit_spaces_calls() -> None:
    async def burst() -> float:
        limiter = RateLimiter(20)
        start = time.monotonic()
        for _ in range(30):
            await limiter.acquire()
        return time.monotonic() - start

    # 20 at once (the bucket starts full), then 10 more at 20 a second.
    assert 0.4 <= asyncio.run(burst()) < 2.0


def test_no_limit_is_immediate() -> None:
    async def burst() -> float:
        limiter = RateLimiter(None)
        start = time.monotonic()
        for _ in range(1000):
            await limiter.acquire()
        return time.monotonic() - start

    assert asyncio.run(burst()) < 0.5


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
    )
    assert tables({"detail-type": [{"anything-but": "ECS Task State Change"}]}) == (
        "container_instances",
        "services",
    )
