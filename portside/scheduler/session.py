"""The placer's working state for one ask over one fleet, kept from call to call.

A call of `place()` builds its filters' verdicts, spread counts and heaps from every instance:
O(instances) before the first task, ~5-10 ms at 10,000 instances. Between two RunTasks of the
same ask only a few instances change (those the last call placed on, and whatever the agents
reported), so a Session keeps that state and is told what changed:

    session = Session(ask, candidates)          # O(instances), once
    session.refresh({arn: candidate_or_None})   # O(changed), before each call
    session.place(count, rng)                   # O(cells + log instances) per task

`refresh` must be given every instance that changed since the state was built, and the
instances the session's own calls placed on (`touched()`): a call charges its tasks to its
working state, and the stored instance is the truth once that call is committed or not.
Given that, each call decides exactly what `place()` on the same candidates would (the same
instance for every strategy but random, which picks uniformly among the same ties). The
property tests compare the two on random fleets and random sequences of changes.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Final

from portside.scheduler import constraints, strategies
from portside.scheduler.candidates import Ask, Candidate
from portside.scheduler.pipeline import Ranker, Running, feasibility, first_failure
from portside.scheduler.placement import Placement

GONE: Final = "gone"  # an instance that left the fleet: no longer a candidate, never reported


class Session:
    def __init__(self, ask: Ask, candidates: Sequence[Candidate], picks: int | None = None) -> None:
        """`picks`: the most tasks this session will ever place (one-shot calls); None for a
        session kept between calls."""
        self.ask = ask
        self.filters = constraints.build(ask)
        self.dynamic = [f for f in self.filters if f.dynamic]
        self.run = Running(list(candidates), ask)
        self.reasons, feasible = feasibility(self.filters, self.run)
        chain = strategies.parse(ask.strategy)
        self.ranker = Ranker(chain, self.run, feasible, random.Random(0), picks=picks)
        self._slot: dict[str, int] | None = None  # ARN -> index, built on the first refresh
        self._touched: set[int] = set()
        self.gone = 0

    def __len__(self) -> int:
        """Instances in the fleet now."""
        return len(self.run) - self.gone

    def touched(self) -> list[str]:
        """The ARNs this session's calls placed on since their last refresh."""
        return [self.run.arn[i] for i in self._touched]

    def refresh(self, changed: Mapping[str, Candidate | None]) -> None:
        """The fleet's instances by ARN, as they are now: None for one that left it (or is no
        longer a candidate)."""
        if self._slot is None:
            self._slot = {arn: i for i, arn in enumerate(self.run.arn)}
        slot, run, ranker, reasons = self._slot, self.run, self.ranker, self.reasons
        for arn, c in changed.items():
            i = slot.get(arn)
            if i is None:
                if c is None:
                    continue
                i = slot[arn] = run.append(c)
                reasons.append(GONE)
            else:
                self._touched.discard(i)
                if reasons[i] is None:
                    ranker.remove(i)
                if reasons[i] != GONE:
                    ranker.uncount(i)
                elif c is not None:
                    self.gone -= 1
                if c is None:
                    reasons[i] = GONE
                    self.gone += 1
                    continue
                run.reset(i, c)
            ranker.count(i)
            reasons[i] = why = first_failure(self.filters, run, i)
            if why is None:
                ranker.add(i)

    def place(self, count: int, rng: random.Random) -> Placement:
        """Place `count` tasks of the ask (see placer.place)."""
        if count < 0:
            raise ValueError("count must not be negative")
        run, ranker, reasons, dynamic = self.run, self.ranker, self.reasons, self.dynamic
        ranker.rng = rng
        chosen: list[str | None] = []
        while len(chosen) < count:
            i = ranker.best()
            if i is None:
                break
            run.take(i)
            self._touched.add(i)
            reasons[i] = why = first_failure(dynamic, run, i)
            ranker.moved(i, why is None)
            chosen.append(run.arn[i])
        if len(chosen) == count:
            return Placement(chosen, [])

        chosen.extend([None] * (count - len(chosen)))
        turned_away = [
            (run.arn[i], why) for i, why in enumerate(reasons) if why is not None and why != GONE
        ]
        reported = sorted(
            (arn, why) for arn, why in turned_away if why not in constraints.UNREPORTED
        )
        rank = {reason: n for n, reason in enumerate(constraints.ORDER)}
        closest = min(reported, key=lambda f: (-rank[f[1]], f[0]), default=None)
        return Placement(chosen, reported, dict(Counter(why for _, why in turned_away)), closest)
