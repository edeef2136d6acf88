"""Leadership on two replicas over one store, on the event loop: the leader's loops run on one
replica at a time, stop at once when its lease cannot be renewed, and start on the other
(portside/cluster/leadership.py). Short leases so the test takes a second or two."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from pathlib import Path

from portside.cluster.fence import TERM
from portside.cluster.leadership import Leadership
from portside.cluster.lease import Term
from portside.cluster.replicas import Replica
from portside.controllers.loop import LEADER, Loops
from portside.store.base import Store
from portside.testing.store import sqlite_store

RENEW, LEASE = 0.1, 0.5


class Replicated:
    """One replica: its loops (one leader-only loop counting its passes) and leadership."""

    def __init__(self, store: Store, name: str) -> None:
        self.passes = 0
        self.epochs: set[int] = set()
        self.loops = Loops()
        self.loops.group(LEADER).add("work", self.work, interval=0.02)
        self.leadership = Leadership(
            store, self.loops, Replica(f"http://{name}", id=name), renew_every=RENEW, duration=LEASE
        )

    def work(self) -> float | None:
        term = TERM.get()
        assert term is not None  # a leader loop runs under its term
        self.epochs.add(term.epoch)
        self.passes += 1
        return None

    def running(self) -> bool:
        return not self.loops.status()[0].standby and self.leadership.term is not None


async def until(condition: Callable[[], bool], timeout: float = 10.0) -> float:
    began = time.monotonic()
    while not condition():
        assert time.monotonic() - began < timeout, "condition not met in time"
        await asyncio.sleep(0.01)
    return time.monotonic() - began


def test_the_leaders_loops_move_when_its_lease_cannot_be_renewed(tmp_path: Path) -> None:
    async def scenario() -> None:
        a, b = Replicated(sqlite_store(tmp_path), "a"), Replicated(sqlite_store(tmp_path), "b")
        a_run = asyncio.create_task(a.leadership.run())
        await until(lambda: a.passes > 0)
        b_run = asyncio.create_task(b.leadership.run())
        await asyncio.sleep(4 * RENEW)
        assert b.passes == 0 and b.leadership.term is None  # one leader at a time

        # a's database calls hang (cut off): its beat never returns.
        cut = threading.Event()
        renew = a.leadership.beat

        def hung(began: float) -> Term | None:
            cut.wait(10)
            return renew(began)

        a.leadership.beat = hung  # type: ignore[method-assign]
        # It stops its loops by its term's deadline (a sixth of a lease before b may take
        # over; the slack here is for a loaded machine's event loop).
        assert await until(lambda: a.loops.status()[0].standby) < 2 * LEASE
        await until(lambda: b.passes > 0)
        assert b.leadership.term is not None and b.leadership.term.epoch == 2
        frozen = a.passes
        await asyncio.sleep(4 * RENEW)
        assert a.passes == frozen  # a's loop stays stopped

        # a comes back: it follows b now.
        cut.set()
        await asyncio.sleep(LEASE)
        assert a.leadership.term is None and b.leadership.term is not None
        assert a.epochs == {1} and b.epochs == {2}

        # b stops cleanly: it hands the lease over, a leads again without waiting it out.
        b_run.cancel()
        began = time.monotonic()
        await until(lambda: a.running() and a.passes > frozen)
        assert time.monotonic() - began < LEASE + 4 * RENEW
        assert a.epochs == {1, 3}
        a_run.cancel()
        await asyncio.gather(a_run, b_run, return_exceptions=True)

    asyncio.run(scenario())
