"""The moving parts of one placement call: the running view, the filter interface, the ranker.

    candidates ─► Running        per-instance counters, one list per resource
    filters    ─► feasibility    every filter once per instance per call; after a placement only
                                 the chosen instance changed, so only its dynamic filters rerun
    strategies ─► Ranker.best()  cells of instances that tie on every spread-by-attribute value,
                                 a heap (or, after `random`, bags of ties) in each cell
                  chosen ─► Running.take(i) ─► recheck i ─► Ranker.moved(i)

So a batch costs O(instances) once, then O(cells + log instances) per task. A Session
(session.py) keeps this state between calls and feeds it only the instances that changed:
`Running.reset(i, candidate)`, `Ranker.remove(i)` / `Ranker.add(i)` and the spread counts
(`uncount` / `count`) keep every structure as a fresh build would have it.
"""

from __future__ import annotations

import heapq
import random
from collections import defaultdict
from collections.abc import Callable, Sequence
from operator import attrgetter
from typing import Any, Protocol, cast

from portside.scheduler.candidates import Ask, Candidate, lookup
from portside.scheduler.query import InstanceFacts
from portside.scheduler.strategies.randomly import Random
from portside.scheduler.strategies.spread import SpreadAttribute

Key = tuple[int, ...]


class Running:
    """Per-instance counters of one call, indexed by candidate position. `take(i)` charges one
    task of the ask to instance i; nothing else ever changes them."""

    def __init__(self, candidates: Sequence[Candidate], ask: Ask) -> None:
        self.candidates: Sequence[Candidate] = candidates
        self.ask = ask
        group = ask.group

        def column(name: str) -> list[Any]:
            return list(map(attrgetter(name), candidates))

        # Columns the ask never reads stay empty: at 10,000 instances each costs ~0.3 ms.
        demand = ask.demand
        self.arn: list[str] = column("arn")
        self.cpu: list[int] = column("cpu_free")
        self.memory: list[int] = column("memory_free")
        self.gpus: list[int] = column("gpus_free") if ask.gpus else []
        self.tcp: list[frozenset[int]] = column("ports_tcp") if demand.ports_tcp else []
        self.udp: list[frozenset[int]] = column("ports_udp") if demand.ports_udp else []
        self.group: list[int] = lookup(column("group_counts"), group, 0)  # its tasks
        self.taken: dict[int, int] = {}  # tasks of this call per instance (running count +)
        self._facts: dict[int, InstanceFacts | None] = {}  # of the instances tasks went to

    def __len__(self) -> int:
        return len(self.arn)

    def reset(self, i: int, c: Candidate) -> None:
        """Instance i is now `c` (as stored): forget what this call or earlier ones charged it.
        A session owns its candidates list, so it may be written."""
        cast(list[Candidate], self.candidates)[i] = c
        self._set(i, c)
        self.taken.pop(i, None)
        self._facts.pop(i, None)

    def append(self, c: Candidate) -> int:
        """A new instance at the end; its index."""
        cast(list[Candidate], self.candidates).append(c)
        for column in self._columns():
            column.append(None)
        self._set(len(self.arn) - 1, c)
        return len(self.arn) - 1

    def _columns(self) -> list[list[Any]]:
        """The columns this ask reads (the others stay empty)."""
        demand = self.ask.demand
        used: list[list[Any]] = [self.arn, self.cpu, self.memory, self.group]
        for column, wanted in (
            (self.gpus, self.ask.gpus),
            (self.tcp, demand.ports_tcp),
            (self.udp, demand.ports_udp),
        ):
            if wanted:
                used.append(column)
        return used

    def _set(self, i: int, c: Candidate) -> None:
        self.arn[i] = c.arn
        self.cpu[i] = c.cpu_free
        self.memory[i] = c.memory_free
        self.group[i] = c.group_counts.get(self.ask.group, 0)
        if self.ask.gpus:
            self.gpus[i] = c.gpus_free
        if self.ask.demand.ports_tcp:
            self.tcp[i] = c.ports_tcp
        if self.ask.demand.ports_udp:
            self.udp[i] = c.ports_udp

    def take(self, i: int) -> None:
        demand = self.ask.demand
        self.cpu[i] -= demand.cpu
        self.memory[i] -= demand.memory
        if self.ask.gpus:
            self.gpus[i] -= self.ask.gpus
        if demand.ports_tcp:
            self.tcp[i] = self.tcp[i].union(demand.ports_tcp)
        if demand.ports_udp:
            self.udp[i] = self.udp[i].union(demand.ports_udp)
        self.group[i] += 1
        self.taken[i] = self.taken.get(i, 0) + 1
        self._facts[i] = None

    def facts(self, i: int) -> InstanceFacts:
        """What the cluster query language sees of instance i now."""
        if i not in self._facts:
            # Untouched: the candidate has every field InstanceFacts has, with the same
            # meaning, so queries read it directly (no copy of 10,000 instances per call).
            return cast(InstanceFacts, self.candidates[i])
        facts = self._facts[i]
        if facts is None:
            c = self.candidates[i]
            groups = {g for g, n in c.group_counts.items() if n > 0}
            groups.discard(self.ask.group)
            if self.group[i] > 0:
                groups.add(self.ask.group)
            facts = self._facts[i] = InstanceFacts(
                attributes=c.attributes,
                ec2_instance_id=c.ec2_instance_id,
                registered_at=c.registered_at,
                running_tasks_count=c.running_tasks_count + self.taken.get(i, 0),
                task_groups=frozenset(groups),
                agent_connected=c.agent_connected,
                agent_version=c.agent_version,
            )
        return facts


class Filter(Protocol):
    """One feasibility check. A filter that turns an instance away names ECS's reason.

    It judges a list of instances at once, so a call's first pass over the whole fleet runs
    as one comprehension per filter rather than a method call per instance and filter."""

    @property
    def reason(self) -> str:
        """What ECS reports (Failure.reason) for an instance this filter turns away."""
        ...

    @property
    def dynamic(self) -> bool:
        """Whether placing tasks of this batch can change the answer for an instance."""
        ...

    def admit(self, run: Running, indices: list[int]) -> list[int]:
        """Those of `indices` (in order) that can take one more task of the ask."""
        ...


def feasibility(filters: Sequence[Filter], run: Running) -> tuple[list[str | None], list[int]]:
    """Per instance, the reason of the first filter that turns it away (or None); and the
    instances none does."""
    reasons: list[str | None] = [None] * len(run)
    remaining = list(range(len(run)))
    for f in filters:
        if not remaining:
            break
        admitted = f.admit(run, remaining)
        if len(admitted) < len(remaining):
            keep = set(admitted)
            for i in remaining:
                if i not in keep:
                    reasons[i] = f.reason
            remaining = admitted
    return reasons, remaining


def first_failure(filters: Sequence[Filter], run: Running, i: int) -> str | None:
    """The reason of the first filter that turns instance i away, or None."""
    one = [i]
    for f in filters:
        if not f.admit(run, one):
            return f.reason
    return None


class InstanceStrategy(Protocol):
    def key(self, run: Running) -> Callable[[int], int]:
        """Instance i's score, smaller preferred; it may change only when i takes a task."""
        ...


Strategy = InstanceStrategy | SpreadAttribute | Random


class Ranker:
    """Picks each task's instance among the feasible ones, by the strategy chain.

    Instances sharing every spread-by-attribute value form a cell: within a cell they tie on
    those (bucket) components, so a cell orders its members by the per-instance components
    alone, and the best instance overall is the best of the cells' tops. `random` ends the
    chain: instances that tie on everything before it are chosen between uniformly."""

    def __init__(
        self,
        chain: Sequence[Strategy],
        run: Running,
        feasible: list[int],
        rng: random.Random,
        picks: int | None = None,  # at most this many tasks will be placed (None: unknown)
    ) -> None:
        self.run = run
        self.rng = rng
        self.shuffled = False
        getters: list[Callable[[int], int]] = []
        buckets: list[SpreadAttribute] = []
        self.layout: list[tuple[bool, int]] = []  # per component: (is a bucket, its index)
        for strategy in chain:
            if isinstance(strategy, Random):
                self.shuffled = True
                break
            if isinstance(strategy, SpreadAttribute):
                self.layout.append((True, len(buckets)))
                buckets.append(strategy)
            else:
                self.layout.append((False, len(getters)))
                getters.append(strategy.key(run))
        self.buckets = buckets
        self.getters = getters
        self.key = _key_function(getters)
        self.values = [b.values(run) for b in buckets]
        self.counts = [b.counts(run, v) for b, v in zip(buckets, self.values, strict=True)]
        members: dict[tuple[str | None, ...], list[int]] = {}
        if not self.values:
            members = {(): feasible} if feasible else {}
        elif len(self.values) == 1:  # the usual one (zones): no tuple per instance
            by_value: defaultdict[str | None, list[int]] = defaultdict(list)
            for i, value in zip(feasible, map(self.values[0].__getitem__, feasible), strict=True):
                by_value[value].append(i)
            members = {(value,): ids for value, ids in by_value.items()}
        else:
            columns = [map(values.__getitem__, feasible) for values in self.values]
            wheres = zip(*columns, strict=True)
            for i, where in zip(feasible, wheres, strict=True):
                cell = members.get(where)
                if cell is None:
                    members[where] = [i]
                else:
                    cell.append(i)
        self.cells: dict[tuple[str | None, ...], _Cell] = {
            where: self._cell(where, ids, picks) for where, ids in members.items()
        }
        self.live = list(self.cells.values())

    def _cell(self, where: tuple[str | None, ...], ids: list[int], picks: int | None) -> _Cell:
        if self.shuffled:
            return _Bags(where, self.key, ids, not self.getters)
        return _Heap(where, self.getters, self.run, ids, picks)

    def best(self) -> int | None:
        """The instance the next task goes to, or None when none can take it."""
        live = self.live
        if not live:
            return None
        if len(live) == 1:  # one cell: its own order is the whole order
            return live[0].pick(self.rng)
        ranked = [(self._score(cell), cell) for cell in live]
        top = min(score for score, _ in ranked)
        tied = [cell for score, cell in ranked if score == top]
        if len(tied) == 1:
            return tied[0].pick(self.rng)
        if not self.shuffled:
            return min(tied, key=lambda c: c.first_arn()).pick(self.rng)
        # Uniform over every tied instance: choose a cell in proportion to its tied members.
        r = self.rng.randrange(sum(cell.ties() for cell in tied))
        for cell in tied:
            if r < cell.ties():
                return cell.pick_at(r)
            r -= cell.ties()
        raise AssertionError("unreachable")

    def moved(self, i: int, feasible: bool) -> None:
        """Instance i took a task (Running.take ran); `feasible` is whether it can take more."""
        for values, counts in zip(self.values, self.counts, strict=True):
            counts[values[i]] += 1
        cell = self.cells[self._where(i)]
        cell.moved(i, feasible)
        if not cell:
            self.live.remove(cell)

    # What a Session uses to carry the ranker over to the fleet's next state, one instance at
    # a time: uncount and remove the old instance i, Running.reset, then count and add.

    def uncount(self, i: int) -> None:
        """Take instance i's group tasks out of the spread counts."""
        tasks = self.run.group[i]
        if tasks:
            for values, counts in zip(self.values, self.counts, strict=True):
                counts[values[i]] -= tasks

    def count(self, i: int) -> None:
        """Read instance i's spread values (it is new, or was reset) and count its tasks."""
        c, tasks = self.run.candidates[i], self.run.group[i]
        for bucket, values, counts in zip(self.buckets, self.values, self.counts, strict=True):
            value = c.attributes.get(bucket.attribute)
            if i == len(values):
                values.append(value)
            else:
                values[i] = value
            counts[value] = counts.get(value, 0) + tasks

    def remove(self, i: int) -> None:
        """Instance i (a feasible one) can no longer be chosen."""
        cell = self.cells[self._where(i)]
        cell.remove(i)
        if not cell:
            self.live.remove(cell)

    def add(self, i: int) -> None:
        """Instance i can be chosen (its values counted already)."""
        where = self._where(i)
        cell = self.cells.get(where)
        if cell is None:
            cell = self.cells[where] = self._cell(where, [], None)
        if not cell:
            self.live.append(cell)
        cell.add(i)

    def _where(self, i: int) -> tuple[str | None, ...]:
        return tuple([values[i] for values in self.values])

    def _score(self, cell: _Cell) -> Key:
        inner = cell.best_key()
        counts, where = self.counts, cell.where
        return tuple([counts[j][where[j]] if bucket else inner[j] for bucket, j in self.layout])


def _key_function(getters: Sequence[Callable[[int], int]]) -> Callable[[int], Key]:
    if not getters:
        return lambda i: ()
    if len(getters) == 1:
        (g,) = getters
        return lambda i: (g(i),)
    return lambda i: tuple([g(i) for g in getters])


class _Cell(Protocol):
    where: tuple[str | None, ...]

    def __len__(self) -> int: ...
    def first_arn(self) -> str: ...
    def best_key(self) -> Key: ...
    def ties(self) -> int: ...
    def pick(self, rng: random.Random) -> int: ...
    def pick_at(self, r: int) -> int: ...
    def moved(self, i: int, feasible: bool) -> None: ...
    def add(self, i: int) -> None: ...
    def remove(self, i: int) -> None: ...


class _Heap:
    """A cell with no randomness: a heap of (*key, ARN, index); the ARN breaks the last tie,
    so the choice never depends on the order instances were listed in.

    Within one call only the top ever changes. A session also adds and removes members
    anywhere: from the first such change the heap tracks each member's live entry, and
    entries that are not (removed or re-keyed members) are dropped when they surface."""

    def __init__(
        self,
        where: tuple[str | None, ...],
        getters: Sequence[Callable[[int], int]],
        run: Running,
        members: list[int],
        picks: int | None = None,
    ) -> None:
        self.where = where
        self.getters = getters
        self.arn = run.arn
        self.width = len(getters)
        # Built column by column (map and zip run in C): this is most of a call's setup.
        columns = [map(g, members) for g in getters]
        self.entries: list[tuple[Any, ...]] = list(
            zip(*columns, map(self.arn.__getitem__, members), members, strict=True)
        )
        self.truncated = False
        if picks is not None and len(self.entries) > _TRUNCATE_PAST * picks:
            # A call of `picks` tasks takes at most `picks` instances from this cell, and
            # each pick removes or re-keys the top only: while fewer than `picks` were
            # taken, one of the `picks` best entries is still untouched and no worse than
            # any left out, so the top stays exact. (The sorted list is a valid heap.)
            self.entries = heapq.nsmallest(picks, self.entries)
            self.truncated = True
        else:
            heapq.heapify(self.entries)
        self.live: dict[int, tuple[Any, ...]] | None = None  # index -> its entry, once tracked

    def __len__(self) -> int:
        return len(self.entries) if self.live is None else len(self.live)

    def _top(self) -> tuple[Any, ...]:
        entries, live = self.entries, self.live
        if live is not None:
            while live.get(entries[0][-1]) is not entries[0]:
                heapq.heappop(entries)
        return entries[0]

    def first_arn(self) -> str:
        return cast(str, self._top()[self.width])

    def best_key(self) -> Key:
        return self._top()[: self.width]

    def ties(self) -> int:
        return 1

    def pick(self, rng: random.Random) -> int:
        return cast(int, self._top()[-1])

    def pick_at(self, r: int) -> int:
        return cast(int, self._top()[-1])

    def moved(self, i: int, feasible: bool) -> None:
        # The chosen instance is always this heap's (clean) top: replace it in place.
        assert self.entries[0][-1] == i
        if feasible:
            entry = (*[g(i) for g in self.getters], self.arn[i], i)
            heapq.heapreplace(self.entries, entry)
            if self.live is not None:
                self.live[i] = entry
        else:
            heapq.heappop(self.entries)
            if self.live is not None:
                del self.live[i]

    def _tracked(self) -> dict[int, tuple[Any, ...]]:
        assert not self.truncated, "a truncated heap is for one call only"
        if self.live is None:
            self.live = {entry[-1]: entry for entry in self.entries}
        return self.live

    def add(self, i: int) -> None:
        entry = (*[g(i) for g in self.getters], self.arn[i], i)
        self._tracked()[i] = entry
        heapq.heappush(self.entries, entry)

    def remove(self, i: int) -> None:
        live = self._tracked()
        del live[i]
        if len(self.entries) > 2 * len(live) + 64:  # mostly dead entries: start over
            self.entries = list(live.values())
            heapq.heapify(self.entries)


_TRUNCATE_PAST = 8  # a cell this many times larger than the call keeps only its best entries


class _Bags:
    """A cell whose chain ends in `random`: members grouped by key (a bag of ties each), and a
    heap of the keys; the best bag is sampled uniformly."""

    def __init__(
        self,
        where: tuple[str | None, ...],
        key: Callable[[int], Key],
        members: list[int],
        constant: bool = False,  # the key is () for every instance (no ranker before random)
    ) -> None:
        self.where = where
        self.key = key
        self.bags: dict[Key, list[int]] = {}
        self.slot: dict[int, int] = {}
        keys = [()] * len(members) if constant else list(map(key, members))
        if constant or len(set(keys)) <= 1:
            # One bag (plain `random`, or every key equal): built in C, no loop per member.
            # This was half of a random call's time at 10,000 instances.
            if members:
                self.bags[keys[0]] = list(members)
            self.key_of = dict.fromkeys(members, keys[0] if keys else ())
            self.slot.update(zip(members, range(len(members)), strict=True))
        else:
            for i, k in zip(members, keys, strict=True):
                bag = self.bags.get(k)
                if bag is None:
                    self.bags[k] = [i]
                else:
                    bag.append(i)
            self.key_of = dict(zip(members, keys, strict=True))
            for bag in self.bags.values():
                self.slot.update(zip(bag, range(len(bag)), strict=True))
        self.size = len(members)
        self.keys = list(self.bags)  # a heap; may hold keys whose bag emptied (dropped lazily)
        heapq.heapify(self.keys)
        self.queued = set(self.keys)

    def __len__(self) -> int:
        return self.size

    def add(self, i: int) -> None:
        k = self.key(i)
        bag = self.bags.setdefault(k, [])
        self.slot[i] = len(bag)
        bag.append(i)
        self.key_of[i] = k
        self.size += 1
        if k not in self.queued:
            self.queued.add(k)
            heapq.heappush(self.keys, k)

    def remove(self, i: int) -> None:
        bag = self.bags[self.key_of.pop(i)]
        at, last = self.slot.pop(i), bag.pop()
        if last != i:
            bag[at] = last
            self.slot[last] = at
        self.size -= 1

    def first_arn(self) -> str:
        return ""  # cells of a random chain are never ordered by ARN

    def _best_bag(self) -> list[int]:
        while True:
            bag = self.bags.get(self.keys[0])
            if bag:
                return bag
            self.queued.discard(heapq.heappop(self.keys))

    def best_key(self) -> Key:
        self._best_bag()
        return self.keys[0]

    def ties(self) -> int:
        return len(self._best_bag())

    def pick(self, rng: random.Random) -> int:
        bag = self._best_bag()
        return bag[rng.randrange(len(bag))]

    def pick_at(self, r: int) -> int:
        return self._best_bag()[r]

    def moved(self, i: int, feasible: bool) -> None:
        if feasible and self.key(i) == self.key_of[i]:
            return
        self.remove(i)
        if feasible:
            self.add(i)
