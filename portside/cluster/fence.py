"""Fencing: a leader-only loop's writes commit only while the lease still carries its epoch.

The leader's loops run in an asyncio context whose `TERM` is the leader's term (its replica
id and epoch); `asyncio.to_thread` carries that context into the thread a pass runs in. Every
transaction the `FencedStore` opens under a term first reads the lease row, in the same
transaction (locked against a takeover on PostgreSQL; under SQLite's one write lock), and
raises `NotLeader` without writing when another replica has taken the lease since. Everything
else (the API, the agents' gateway, per-replica loops) runs without a term and goes straight
to the store underneath: one context variable read per transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from contextvars import ContextVar
from typing import Any

from portside.cluster import records
from portside.cluster.lease import Term
from portside.store.base import Change, RawChange, Store, Tx, WriteRefused

TERM: ContextVar[Term | None] = ContextVar("portside_leader_term", default=None)


class NotLeader(WriteRefused):
    """A leader-only write refused: the lease has moved to another replica or epoch. Not a
    PortsideError: no handler may turn it into an answer; the loop's pass fails with it."""


def check(tx: Tx, term: Term) -> None:
    """Raise NotLeader unless the lease, read in `tx`, is still `term`'s."""
    lease = records.read_lease(tx, lock="share")
    if lease is None or lease.holder != term.holder or lease.epoch != term.epoch:
        now = "nobody" if lease is None or lease.holder is None else lease.holder
        epoch = 0 if lease is None else lease.epoch
        raise NotLeader(
            f"replica {term.holder} no longer leads (its epoch {term.epoch}; the lease is "
            f"{now}'s, epoch {epoch}): the write was refused"
        )


class FencedStore:
    """The server's store: `inner`'s, with transactions opened under a leader's term fenced."""

    def __init__(self, inner: Store) -> None:
        self.inner = inner
        self.reads_block = inner.reads_block

    def transaction(self) -> AbstractContextManager[Tx]:
        term = TERM.get()
        if term is None:
            return self.inner.transaction()
        return self._fenced(term)

    @contextmanager
    def _fenced(self, term: Term) -> Iterator[Tx]:
        with self.inner.transaction() as tx:
            check(tx, term)
            yield tx

    def read(self) -> AbstractContextManager[Tx]:
        return self.inner.read()

    def changes(
        self,
        after: int,
        limit: int = 1000,
        *,
        tables: Collection[str] | None = None,
        upto: int | None = None,
    ) -> list[Change]:
        return self.inner.changes(after, limit, tables=tables, upto=upto)

    def changes_raw(
        self,
        after: int,
        limit: int = 1000,
        *,
        tables: Collection[str] | None = None,
        upto: int | None = None,
    ) -> list[RawChange]:
        return self.inner.changes_raw(after, limit, tables=tables, upto=upto)

    def feed_time_at(self, seq: int) -> float | None:
        return self.inner.feed_time_at(seq)

    def last_change(self, table: str, key: str, *, before: int, after: int = 0) -> RawChange | None:
        return self.inner.last_change(table, key, before=before, after=after)

    def last_seq(self) -> int:
        return self.inner.last_seq()

    def oldest_seq(self) -> int:
        return self.inner.oldest_seq()

    def trim(self, before: float) -> int:
        return self.inner.trim(before)

    def wait(self, after: int, timeout: float, *, tables: Iterable[str] | None = None) -> bool:
        return self.inner.wait(after, timeout, tables=tables)

    def subscribe(self, callback: Callable[[int], None]) -> None:
        self.inner.subscribe(callback)

    def close(self) -> None:
        self.inner.close()

    def __getattr__(self, name: str) -> Any:
        # What a backend offers beyond the interface (its path, its dialect...).
        return getattr(self.inner, name)
