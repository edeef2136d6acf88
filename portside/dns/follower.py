"""Keeps the zone at what the store holds: every source read in full at the first pass (and
whenever the change feed no longer reaches back to where the zone stands), then only the
changes of the sources' tables, as soon as they commit. No query ever reads the store.

Its passes are the `dns` loop on the server's `Loops`: a pass that fails shows in health as
any loop's does, and the next one starts over from where the zone stood. They run on a thread
of their own (a watched loop), not on the threads the other loops and the API's writes
share: a pass waits on the feed all the time, and would keep one of those few threads.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence

from portside.controllers.loop import Loop, Loops
from portside.dns.sources import RecordSource
from portside.dns.zone import Zone
from portside.store.base import RawChange, Store

log = logging.getLogger("portside.dns")

WAIT = 0.25  # seconds a pass follows the feed before it ends (the loop reports in; a stop waits)
RETRY = 1.0  # seconds after a pass that failed
PAGE = 5000  # changes read at once


class RecordFollower:
    def __init__(self, store: Store, zone: Zone, sources: Sequence[RecordSource]) -> None:
        self.store = store
        self.zone = zone
        self.sources = tuple(sources)
        self.tables = tuple(dict.fromkeys(t for s in self.sources for t in s.tables))
        self._after: int | None = None  # the feed position the zone stands at
        self.status: Loop | None = None
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def register(self, loops: Loops) -> Loop:
        self.status = loops.watch("dns", interval=WAIT, log=log)
        return self.status

    def start(self) -> None:
        """Run the passes on a thread of their own until `stop`."""
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name="dns-records", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop after the pass under way (within `WAIT` seconds)."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(WAIT + 5)
            self._thread = None

    def _run(self) -> None:
        status = self.status or Loop("dns", self.step, interval=WAIT, log=log)
        status.started()
        while not self._stopping.is_set():
            try:
                self.step()
            except Exception as exc:
                log.exception("dns pass failed")
                status.failed(exc, RETRY)
                self._stopping.wait(RETRY)
            else:
                status.succeeded(0.0)

    def step(self) -> None:
        """Bring the zone up to date, and keep it so for `WAIT` seconds: each change is
        applied as soon as it commits."""
        if self._after is None:
            self.load()
        deadline = time.monotonic() + WAIT
        while not self._stopping.is_set():
            self.follow()
            assert self._after is not None
            left = deadline - time.monotonic()
            if left <= 0 or not self.store.wait(self._after, left, tables=self.tables):
                return

    def load(self) -> None:
        """Read every source in full, from one snapshot."""
        found: dict[str, tuple] = {}
        with self.store.read() as tx:
            seq = tx.feed_seq()
            for source in self.sources:
                for key, records in source.load(tx):
                    found[f"{source.name}:{key}"] = records
        for owner in self.zone.owners().keys() - found.keys():
            self.zone.replace(owner, ())
        for owner, records in found.items():
            self.zone.replace(owner, records)
        self._after = seq
        log.debug("DNS records loaded: %d owners, feed at %d", len(found), seq)

    def follow(self) -> None:
        """Apply the changes committed since the last pass."""
        store = self.store
        while True:
            assert self._after is not None
            upto = store.last_seq()
            if upto <= self._after:
                return
            if not 0 < store.oldest_seq() <= self._after + 1:
                self.load()  # the feed was trimmed past us: what was skipped is unknown
                return
            changes = store.changes_raw(self._after, PAGE, tables=self.tables, upto=upto)
            self._apply(changes)
            if len(changes) < PAGE:
                self._after = max(self._after, upto)
                return
            self._after = changes[-1].seq

    def _apply(self, changes: Sequence[RawChange]) -> None:
        newest = {(c.table, c.key): c for c in changes}  # only a key's last change matters
        for change in newest.values():
            for source in self.sources:
                if change.table not in source.tables:
                    continue
                for key, records in source.changed(change.table, change.key, change.doc):
                    self.zone.replace(f"{source.name}:{key}", records)
