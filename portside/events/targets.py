"""What one target's delivery is made of: the settings, the target's route (rule, pattern,
API destination, connection), which ECS events its pattern can want, and the rate limit of
its API destination."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from dataclasses import dataclass

import orjson

from portside.events.envelope import ALARM, DETAIL_TYPES
from portside.events.model import ApiDestination, Connection, Rule, Target
from portside.events.patterns import Pattern, compile_pattern


@dataclass(frozen=True, slots=True)
class DeliveryConfig:
    retry_base: float = 1.0  # seconds before the first retry; doubles each time
    retry_cap: float = 600.0
    timeout: float = 5.0  # EventBridge gives an API destination 5 s
    concurrency: int = 16  # calls in flight per target
    max_buffer: int = 10_000  # events held per target before it stops reading ahead

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> DeliveryConfig:
        env = dict(os.environ if env is None else env)
        default = cls()
        return cls(
            retry_base=float(env.get("PORTSIDE_EVENTS_RETRY_BASE", default.retry_base)),
            retry_cap=float(env.get("PORTSIDE_EVENTS_RETRY_CAP", default.retry_cap)),
            timeout=float(env.get("PORTSIDE_EVENTS_TIMEOUT", default.timeout)),
        )


@dataclass(frozen=True, slots=True)
class Route:
    """Everything one target needs to deliver."""

    target: Target
    rule: Rule
    pattern: Pattern
    destination: ApiDestination
    connection: Connection | None

    @property
    def fingerprint(self) -> bytes:
        return orjson.dumps(
            [
                self.target.spec,
                self.rule.event_pattern,
                self.destination.endpoint,
                self.destination.http_method,
                self.destination.rate_limit,
                self.connection.auth_parameters if self.connection else None,
            ]
        )


def detail_types(pattern: Pattern) -> tuple[str, ...]:
    """The detail-types of the events Portside makes (ECS's, CloudWatch's alarm changes) the
    pattern could match (judged on source and detail-type alone: a necessary condition)."""
    top = {k: v for k, v in pattern.source.items() if k in ("source", "detail-type")}
    if not top:
        return DETAIL_TYPES
    probe = compile_pattern(top)
    return tuple(
        t
        for t in DETAIL_TYPES
        if probe.matches({"source": _SOURCES.get(t, "aws.ecs"), "detail-type": t})
    )


_SOURCES = {ALARM: "aws.cloudwatch"}  # every other detail-type is ECS's


class RateLimiter:
    """A token bucket: at most `rate` calls a second (an API destination's limit)."""

    def __init__(self, rate: int | None, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self.clock = clock
        self._tokens = float(rate or 0)
        self._at = clock()

    async def acquire(self) -> None:
        if not self.rate:
            return
        while True:
            now = self.clock()
            self._tokens = min(float(self.rate), self._tokens + (now - self._at) * self.rate)
            self._at = now
            if self._tokens >= 1:
                self._tokens -= 1
                return
            await asyncio.sleep((1 - self._tokens) / self.rate)
