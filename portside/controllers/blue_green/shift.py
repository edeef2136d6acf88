"""How much production traffic the green task set gets, and when that changes: CodeDeploy's
traffic routing (AllAtOnce, TimeBasedCanary, TimeBasedLinear) as a pure function of the
time the shift began. Every wait is multiplied by `scale` (PORTSIDE_CODEDEPLOY_WAIT_SCALE;
0 makes the shift, the ready wait and the termination wait immediate, for tests and
benchmarks)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

ALL_AT_ONCE = "AllAtOnce"
CANARY = "TimeBasedCanary"
LINEAR = "TimeBasedLinear"


@dataclass(frozen=True, slots=True)
class Routing:
    kind: str
    percentage: int = 100  # the canary's, or each linear step's
    interval_minutes: int = 0

    @classmethod
    def of(cls, config: Mapping[str, Any] | None) -> Routing:
        """From a deployment configuration's trafficRoutingConfig."""
        config = config or {}
        kind = str(config.get("type") or ALL_AT_ONCE)
        if kind == CANARY:
            c = config.get("timeBasedCanary") or {}
            return cls(kind, int(c.get("canaryPercentage", 10)), int(c.get("canaryInterval", 0)))
        if kind == LINEAR:
            c = config.get("timeBasedLinear") or {}
            return cls(kind, int(c.get("linearPercentage", 10)), int(c.get("linearInterval", 0)))
        return cls(ALL_AT_ONCE)


@dataclass(frozen=True, slots=True)
class Step:
    green: int  # percent of production traffic on green now
    next_at: float | None  # when it changes next; None: this is the last step (100)


def at(routing: Routing, began: float, now: float, scale: float = 1.0) -> Step:
    """The green share at `now` of a shift that began at `began`."""
    interval = routing.interval_minutes * 60.0 * scale
    if routing.kind == ALL_AT_ONCE:
        return Step(100, None)
    if routing.kind == CANARY:
        if interval <= 0 or now >= began + interval:
            return Step(100, None)
        return Step(routing.percentage, began + interval)
    # Linear: percentage more each interval until everything is on green.
    steps = math.ceil(100 / max(1, routing.percentage))
    if interval <= 0:
        return Step(100, None)
    done = int((now - began) // interval)
    share = min(100, (done + 1) * routing.percentage)
    if share >= 100 or done + 1 >= steps:
        return Step(100, None)
    return Step(share, began + (done + 1) * interval)
