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
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from portside.scheduler import constraints, strategies
from portside.scheduler.candidates import Ask, Candidate
from portside.scheduler.pipeline import Ranker, Running, feasibility, first_failure


@dataclass(frozen=True, slots=True)
class Placement:
    chosen: list[str | None]  # per task, the instance ARN, or None where it fits nowhere
    failures: list[tuple[str, str]]  # (instance ARN, ECS reason), by ARN; empty if all placed
    explain: dict[str, int] = field(default_factory=dict)  # reason -> instances it turned away
    # The instance that came nearest (failed the latest filter), for "The closest matching
    # container-instance ... " service events.
    closest: tuple[str, str] | None = None

    def why(self) -> str:
        """The explanation in words, like swarmkit's "insufficient resources on 3 nodes"."""
        if not self.explain:
            return "no container instances" if None in self.chosen else "placed"
        parts = [
            f"{reason} on {n} instance{'s' if n != 1 else ''}"
            for reason, n in sorted(self.explain.items(), key=lambda kv: (-kv[1], kv[0]))
        ]
        return "no container instance met all requirements: " + ", ".join(parts)


def place(ask: Ask, count: int, candidates: Sequence[Candidate], rng: random.Random) -> Placement:
    """Place `count` tasks of `ask` on `candidates`. InvalidParameterException for constraints
    or strategies ECS would refuse (a query syntax error included)."""
    if count < 0:
        raise ValueError("count must not be negative")
    filters = constraints.build(ask)
    chain = strategies.parse(ask.strategy)
    run = Running(candidates, ask)
    reasons, feasible = feasibility(filters, run)
    dynamic = [f for f in filters if f.dynamic]
    ranker = Ranker(chain, run, feasible, rng, picks=count)

    chosen: list[str | None] = []
    while len(chosen) < count:
        i = ranker.best()
        if i is None:
            break
        run.take(i)
        reasons[i] = why = first_failure(dynamic, run, i)
        ranker.moved(i, why is None)
        chosen.append(run.arn[i])
    if len(chosen) == count:
        return Placement(chosen, [])

    chosen.extend([None] * (count - len(chosen)))
    turned_away = [(run.arn[i], why) for i, why in enumerate(reasons) if why is not None]
    reported = sorted((arn, why) for arn, why in turned_away if why not in constraints.UNREPORTED)
    rank = {reason: n for n, reason in enumerate(constraints.ORDER)}
    closest = min(reported, key=lambda f: (-rank[f[1]], f[0]), default=None)
    return Placement(chosen, reported, dict(Counter(why for _, why in turned_away)), closest)
