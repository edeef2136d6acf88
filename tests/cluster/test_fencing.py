"""Two replicas over one database: the lease in the store, and fenced writes refused once a
replica has lost it (portside/cluster/fence.py, records.py, leadership.py's beat)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from portside.cluster import records
from portside.cluster.fence import TERM, FencedStore, NotLeader
from portside.cluster.leadership import Leadership
from portside.cluster.lease import Term
from portside.cluster.replicas import Replica, report
from portside.cluster.seen import SharedSeen
from portside.controllers.loop import Loops
from portside.store.base import Store
from portside.testing.store import sqlite_store

OpenStore = Callable[[], Store]


class Monotonic:
    """A monotonic clock the test sets: `beat(began=t)` reads the lease at time t."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def replica(store: Store, name: str) -> Leadership:
    mono = Monotonic()
    leadership = Leadership(store, Loops(), Replica(f"http://{name}", id=name), monotonic=mono)
    original = leadership.beat

    def beat(began: float) -> Term | None:
        mono.now = began
        return original(began)

    leadership.beat = beat  # type: ignore[method-assign]
    return leadership


def fenced_put(store: FencedStore, leadership: Leadership, key: str) -> None:
    """A leader-only loop's write: under the replica's term."""
    assert leadership.term is not None
    token = TERM.set(leadership.term)
    try:
        with store.transaction() as tx:
            tx.put("clusters", key, {"clusterName": key, "status": "ACTIVE"})
    finally:
        TERM.reset(token)


def test_one_replica_leads_and_a_deposed_leaders_late_write_is_refused(
    open_store: OpenStore,
) -> None:
    a_store, b_store = open_store(), open_store()
    a, b = replica(a_store, "a"), replica(b_store, "b")
    a.term = a.beat(began=0.0)
    assert a.term is not None and a.term.epoch == 1
    assert b.beat(began=0.0) is None  # a holds it
    fenced_a = FencedStore(a_store)
    fenced_put(fenced_a, a, "written-while-leading")

    # a pauses (no renewal) past its lease; b, which watched it stay the same, takes over.
    assert b.beat(began=1.0) is None
    b.term = b.beat(began=1.0 + 3.0)
    assert b.term is not None and b.term.epoch == 2

    with pytest.raises(NotLeader, match="no longer leads"):
        fenced_put(fenced_a, a, "written-after-deposed")
    fenced_put(FencedStore(b_store), b, "written-by-new-leader")
    with b_store.read() as tx:
        written = {key for key, _ in tx.scan("clusters")}
    assert written == {"written-while-leading", "written-by-new-leader"}

    # The deposed replica's next beat finds the lease taken; the API's writes (no term) go on.
    assert a.beat(began=5.0) is None
    with fenced_a.transaction() as tx:
        tx.put("clusters", "api-write", {"clusterName": "api-write", "status": "ACTIVE"})


def test_replicas_heartbeats_and_the_leader_show_in_the_report(tmp_path: Path) -> None:
    a_store, b_store = sqlite_store(tmp_path), sqlite_store(tmp_path)  # as on PostgreSQL
    a, b = replica(a_store, "a"), replica(b_store, "b")
    a.term = a.beat(began=0.0)
    b.beat(began=0.0)
    a.beat(began=1.0)  # the heartbeat after leading says so
    seen = report(b_store, "b", now=a.clock())
    assert seen["replica"] == "b"
    assert seen["leader"]["replica"] == "a" and seen["leader"]["epoch"] == 1
    rows = {r["id"]: r for r in seen["replicas"]}
    assert rows["a"]["leader"] is True and rows["a"]["epoch"] == 1
    assert rows["b"]["leader"] is False and rows["b"]["endpoint"] == "http://b"
    assert not rows["a"]["gone"] and not rows["b"]["gone"]


def test_a_clean_stop_hands_the_lease_over_at_once(tmp_path: Path) -> None:
    a_store, b_store = sqlite_store(tmp_path), sqlite_store(tmp_path)  # as on PostgreSQL
    a, b = replica(a_store, "a"), replica(b_store, "b")
    a.term = a.beat(began=0.0)
    assert b.beat(began=0.0) is None
    a._release()
    taken = b.beat(began=0.1)  # no lease duration waited out
    assert taken is not None and taken.epoch == 2
    with a_store.read() as tx:
        lease = records.read_lease(tx)
    assert lease is not None and lease.holder == "b"


class Gateway:
    def __init__(self, seen: dict[str, float]) -> None:
        self.last_seen = seen


def test_the_leaders_liveness_hears_the_agents_of_every_replica(open_store: OpenStore) -> None:
    a_store, b_store = open_store(), open_store()
    now = time.time()
    a_seen = SharedSeen(Gateway({"i-1": now - 50, "i-2": now - 1}), a_store, "a")
    b_seen = SharedSeen(Gateway({"i-1": now - 2, "i-3": now - 3}), b_store, "b")
    a = Leadership(a_store, Loops(), Replica("http://a", id="a"), seen=a_seen)
    b = Leadership(b_store, Loops(), Replica("http://b", id="b"), seen=b_seen)
    b.beat(began=time.monotonic())  # b publishes first; it leads
    assert a.beat(began=time.monotonic()) is None  # a publishes too, and follows
    b.beat(began=time.monotonic())  # the leader's beat reads the others' maps
    assert b_seen.last_seen == {"i-1": now - 2, "i-2": now - 1, "i-3": now - 3}
    assert a_seen.last_seen is a_seen.local.last_seen  # a follower reads none


def test_a_refused_pass_shows_not_leader_in_its_loops_status(tmp_path: Path) -> None:
    store = FencedStore(sqlite_store(tmp_path))
    a, b = replica(store.inner, "a"), replica(store.inner, "b")
    stale = a.beat(began=0.0)
    assert b.beat(began=0.0) is None and b.beat(began=3.0) is not None  # b took over
    loops = Loops()

    def write() -> None:
        with store.transaction() as tx:
            tx.put("clusters", "late", {"clusterName": "late", "status": "ACTIVE"})

    loop = loops.add("services", write, interval=60.0)

    async def one_pass() -> None:
        TERM.set(stale)
        task = asyncio.create_task(loop.run())
        while loop.snapshot().total_errors == 0:
            await asyncio.sleep(0.01)
        task.cancel()

    asyncio.run(one_pass())
    error = loop.snapshot().last_error
    assert error is not None and error.startswith("NotLeader: replica a no longer leads")
    with store.read() as tx:
        assert tx.get("clusters", "late") is None
