"""The ECS placer: `place(ask, count, candidates, rng)`, a pure function.

Filters decide where a task may go (constraints/), strategies where it should (strategies/),
and the batch is placed one task at a time on a running view, so later tasks of the call see
the resources, ports and group counts earlier ones took (pipeline.py). Nothing it is given is
mutated; the caller applies the decisions in its transaction.

When a task fits nowhere, neither does any later one (the tasks of a call are identical and
nothing changed), so the rest fail with it. What ECS reports then: one Failure per container
instance, with the reason that instance turned the task away, e.g.

    "failures": [{"arn": "arn:aws:ecs:...:container-instance/c/0f3e...", "reason": "RESOURCE:CPU"},
                 {"arn": "arn:aws:ecs:...:container-instance/c/9a1b...", "reason": "AGENT"}]
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from portside.scheduler.candidates import Ask, Candidate
from portside.scheduler.placement import Placement
from portside.scheduler.session import Session

__all__ = ["Placement", "place"]


def place(ask: Ask, count: int, candidates: Sequence[Candidate], rng: random.Random) -> Placement:
    """Place `count` tasks of `ask` on `candidates`. InvalidParameterException for constraints
    or strategies ECS would refuse (a query syntax error included).

    A one-call Session: the state it builds is dropped afterwards (ops/placement.py keeps
    sessions between calls)."""
    if count < 0:
        raise ValueError("count must not be negative")
    return Session(ask, candidates, picks=count).place(count, rng)
