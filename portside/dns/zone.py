"""The records the DNS server answers from, in memory, by name.

Records belong to owners (a task's ARN, a load balancer's): a source replaces an owner's
records whole, and a name's records are those of every owner that has some there (two tasks
may briefly hold one address). One thread writes (the record follower); the event loop reads.
A reader never iterates: it gets one name's `Node`, which is immutable and replaced whole on
a change, so a read sees a name before or after a change and never half of it. Each node
carries the answers encoded for it (`cache`), which go with the node when it is replaced.

Within its authoritative zones (`apexes`: the suffixes only Portside answers, such as
`elb.portside.internal.`) a name without records is NXDOMAIN, unless it is the apex or has
names below it (an empty non-terminal such as `us-west-2.compute.internal.`: NODATA).
Elsewhere (the reverse names, say) a name without records is not Portside's to answer.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from portside.dns.records import Record


@dataclass(frozen=True, slots=True)
class Node:
    """One name's records, by type."""

    name: str
    rrsets: Mapping[str, tuple[Record, ...]]
    cache: dict[Any, Any] = field(default_factory=dict, compare=False)


class Zone:
    def __init__(self, apexes: Iterable[str] = ()) -> None:
        self.apexes = tuple(sorted({a.lower().rstrip(".") + "." for a in apexes}, key=len))
        self._fixed = self.apexes
        self.generation = 0  # bumped by every change: what a cached negative answer checks
        self._owned: dict[str, tuple[Record, ...]] = {}
        self._by_name: dict[str, dict[str, tuple[Record, ...]]] = {}  # name -> owner -> records
        self._nodes: dict[str, Node] = {}
        self._below: dict[str, int] = {}  # names that have names below them -> how many

    # -- reading (the event loop) --------------------------------------------------------------

    def node(self, name: str) -> Node | None:
        """The records of `name` (absolute, lower-case), or None."""
        return self._nodes.get(name)

    def apex_of(self, name: str) -> str | None:
        """The authoritative zone `name` falls in (the longest apex it ends with), or None."""
        found = None
        for apex in self.apexes:
            if name == apex or name.endswith("." + apex):
                found = apex
        return found

    def exists(self, name: str) -> bool:
        """Whether `name` has records, is an apex, or has names below it."""
        return name in self._nodes or name in self._below or name in self.apexes

    # -- writing (one thread) ----------------------------------------------------------------

    def replace(self, owner: str, records: Sequence[Record]) -> bool:
        """Make `records` the whole of `owner`'s records (none: forget it). True when that
        changed anything."""
        new = tuple(sorted(set(records)))
        old = self._owned.get(owner, ())
        if new == old:
            return False
        if new:
            self._owned[owner] = new
        else:
            self._owned.pop(owner, None)
        for name in {r.name for r in old} | {r.name for r in new}:
            mine = tuple(r for r in new if r.name == name)
            held = self._by_name.setdefault(name, {})
            if mine:
                held[owner] = mine
            else:
                held.pop(owner, None)
            self._rebuild(name, held)
        self.generation += 1
        return True

    def set_extra_apexes(self, apexes: Iterable[str]) -> None:
        """Zones that come and go beside the fixed ones (Cloud Map's DNS namespaces): the
        names below them are counted again, and cached negative answers dropped."""
        extra = {a.lower().rstrip(".") + "." for a in apexes}
        self.apexes = tuple(sorted(set(self._fixed) | extra, key=len))
        self._below = {}
        for name in self._nodes:
            self._count_below(name, +1)
        self.generation += 1

    def owners(self) -> dict[str, tuple[Record, ...]]:
        """Every owner's records (a copy)."""
        return dict(self._owned)

    def records(self) -> list[Record]:
        """Every record held, sorted."""
        return sorted({r for rs in self._owned.values() for r in rs})

    def _rebuild(self, name: str, held: dict[str, tuple[Record, ...]]) -> None:
        if not held:
            del self._by_name[name]
            if self._nodes.pop(name, None) is not None:
                self._count_below(name, -1)
            return
        rrsets: dict[str, list[Record]] = {}
        for record in sorted({r for rs in held.values() for r in rs}):
            rrsets.setdefault(record.type, []).append(record)
        was = name in self._nodes
        self._nodes[name] = Node(name, {t: tuple(rs) for t, rs in rrsets.items()})
        if not was:
            self._count_below(name, +1)

    def _count_below(self, name: str, step: int) -> None:
        """Count `name` in each of its ancestors inside its zone (the empty non-terminals)."""
        apex = self.apex_of(name)
        if apex is None:
            return
        parent = name
        while True:
            parent = parent.split(".", 1)[1]
            if len(parent) <= len(apex):
                return
            left = self._below.get(parent, 0) + step
            if left > 0:
                self._below[parent] = left
            else:
                self._below.pop(parent, None)
