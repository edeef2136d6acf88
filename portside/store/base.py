"""The store: the only shared state (DESIGN.md rule 1).

Every resource lives in a table as a JSON document under a string key (its ARN), with a few
indexed columns for lookups. All writes happen inside a transaction; each put or delete in a
transaction appends a row to the change feed in the same commit, so watchers (controllers, the
gateway, the event bus) see every committed change exactly once and in order.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol

Document = dict[str, Any]


class WriteRefused(Exception):
    """A transaction the store would not open for this writer (a deposed leader's, say:
    cluster/fence.py). Expected when leadership moves: a loop's pass that meets it ends,
    says so at WARNING, and the pass is not retried under the same term."""


class RawChange(NamedTuple):
    """A change whose document is still JSON text (None for a delete)."""

    seq: int
    at: float
    table: str
    key: str
    op: str
    doc: str | None


@dataclass(frozen=True, slots=True)
class Change:
    """One committed write, as the change feed reports it."""

    seq: int
    at: float
    table: str
    key: str
    op: str  # "put" | "delete"
    doc: Document | None


class Tally(NamedTuple):
    """One count of `Tx.tallies`: documents of `table` matching `where`, per `by`."""

    table: str
    by: tuple[str, ...] = ()
    where: Mapping[str, Any] | None = None


class Tx(Protocol):
    """A transaction: reads see a consistent snapshot; writes commit together or not at all."""

    def get(self, table: str, key: str) -> Document | None:
        """The document stored under `key`, or None."""

    def scan(
        self,
        table: str,
        *,
        prefix: str = "",
        after: str = "",
        where: Mapping[str, Any] | None = None,
        limit: int | None = None,
    ) -> Iterator[tuple[str, Document]]:
        """(key, document) pairs in key order whose key starts with `prefix`, is greater than
        `after`, and whose indexed columns equal the values in `where` (a value that is a
        set, tuple or list: one of its members)."""

    def scan_raw(
        self, table: str, *, prefix: str = "", where: Mapping[str, Any] | None = None
    ) -> list[tuple[str, str]]:
        """(key, the document's stored JSON text), unparsed: for callers that cache what
        they build from a document and only need to know whether it changed."""

    def index(
        self,
        table: str,
        *,
        prefix: str = "",
        where: Mapping[str, Any] | None = None,
        ordered: bool = True,
    ) -> list[tuple[Any, ...]]:
        """(key, *indexed columns in INDEXES order) rows, without reading the documents;
        in key order unless `ordered` is False."""

    def select(
        self,
        table: str,
        *,
        order: Sequence[str],
        prefix: str = "",
        where: Mapping[str, Any] | None = None,
        descending: bool = False,
        after: Sequence[Any] | None = None,
        limit: int | None = None,
        docs: bool = False,
    ) -> list[tuple[Any, ...]]:
        """(key, *values of `order`) rows, ordered by the indexed columns `order` (then key),
        all ascending or all descending; `after` resumes past a position (values of `order`,
        exclusive) in that direction. Ordering and LIMIT happen in the database, so a page or
        the newest row costs what it returns, not what the table holds. With `docs`, each
        row ends with its document (one statement for "the newest one's document")."""

    def count(self, table: str, *, prefix: str = "", where: Mapping[str, Any] | None = None) -> int:
        """How many documents `scan` with the same arguments would yield."""

    def tally(
        self, table: str, by: Sequence[str], *, where: Mapping[str, Any] | None = None
    ) -> dict[tuple[Any, ...], int]:
        """How many documents match `where`, per distinct value of the indexed columns `by`."""

    def tallies(self, queries: Sequence[Tally]) -> list[dict[tuple[Any, ...], int]]:
        """`tally` of each query, in one statement (`by` may be empty: one count, under
        the key `()`, present when nonzero)."""

    def put(self, table: str, key: str, doc: Document, *, bump: bool = True) -> None:
        """Insert or replace a document; its indexed columns are taken from the document.

        A versioned table's document (tasks, container instances, services) put over a stored
        one gets the stored `version` plus one, written into `doc`; a new one keeps its own.
        `bump=False` writes `doc` as it is: a document just made (no stored one to read), or
        a change that is no new version of the resource (an instance's reservations)."""

    def delete(self, table: str, key: str) -> bool:
        """Remove a document; True when it existed."""

    def next_value(self, counter: str) -> int:
        """Increment and return a named durable counter (starting at 1)."""

    def feed_seq(self) -> int:
        """The seq of the newest change this transaction sees, its own writes included."""

    def changed_keys(self, table: str, after: int, *, prefix: str = "") -> set[str] | None:
        """Keys of `table` starting with `prefix` that changes with seq greater than `after`
        wrote or deleted, as this transaction sees them; None when the feed no longer holds
        every such change (it was trimmed past `after`), so the caller must read in full."""

    def on_commit(self, callback: Callable[[], None]) -> None:
        """Call `callback()` once this transaction has committed (a read-only one: once it
        ends without error); never when it rolls back."""

    def lock(self, table: str, key: str, *, shared: bool = True) -> bool:
        """Lock the row of `key` until this (write) transaction ends: shared (`SELECT ... FOR
        SHARE`: other transactions may lock it shared too, but wait to change it) or
        exclusive (`FOR UPDATE`). True when the row exists. On SQLite a no-op beyond that
        answer: its writers are serialised anyway."""


class Store(Protocol):
    """A durable store with a change feed. SQLite (embedded) or PostgreSQL (multi-host)."""

    # Whether a read waits on another process (PostgreSQL's round trips): the API then runs
    # reads in a thread, as it does writes, not on the event loop (api/app.py).
    reads_block: bool

    def transaction(self) -> AbstractContextManager[Tx]:
        """A read-write transaction, committed durably when the block exits normally."""

    def read(self) -> AbstractContextManager[Tx]:
        """A read-only snapshot."""

    def changes(
        self,
        after: int,
        limit: int = 1000,
        *,
        tables: Collection[str] | None = None,
        upto: int | None = None,
    ) -> list[Change]:
        """Committed changes with seq greater than `after` (and at most `upto`), oldest first;
        only those of `tables` when given. A reader of a few tables passes `upto=last_seq()`
        and, when fewer than `limit` come back, has read everything up to `upto`."""

    def changes_raw(
        self,
        after: int,
        limit: int = 1000,
        *,
        tables: Collection[str] | None = None,
        upto: int | None = None,
    ) -> list[RawChange]:
        """`changes`, with each document left as the stored JSON text: a reader that needs
        only some of them (the newest of each key, those of its instances) parses only
        those."""

    def feed_time_at(self, seq: int) -> float | None:
        """When the newest change at or before `seq` committed; None when the feed holds no
        such change (none yet, or trimmed past it)."""

    def last_change(self, table: str, key: str, *, before: int, after: int = 0) -> RawChange | None:
        """The newest change of `key` in `table` with `after` < seq < `before`, if the feed
        holds one. The feed has no index by key: a reader keeps `before - after` small."""

    def last_seq(self) -> int:
        """The seq of the newest committed change (0 when none)."""

    def oldest_seq(self) -> int:
        """The seq of the oldest change still kept (0 when none)."""

    def trim(self, before: float) -> int:
        """Forget changes committed before `before`; return how many."""

    def wait(self, after: int, timeout: float, *, tables: Iterable[str] | None = None) -> bool:
        """Block until a change newer than `after` is committed or `timeout` passes; with
        `tables`, a change to one of them (a wake-up only: read the feed for what changed)."""

    def subscribe(self, callback: Callable[[int], None]) -> None:
        """Call `callback(seq)` after every commit that wrote, from the committing thread."""

    def close(self) -> None:
        """Release connections."""
