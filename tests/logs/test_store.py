"""The log store on its own: the agents' interface, ordering, durability across reopen."""

from __future__ import annotations

from pathlib import Path

import pytest

from portside.errors import ResourceNotFoundException
from portside.logs.store import LogStore, Window
from portside.logs.tokens import Position


@pytest.fixture
def store(tmp_path: Path) -> LogStore:
    return LogStore(tmp_path / "logs.db", synchronous="NORMAL")


def test_ensure_stream_needs_the_group_unless_asked_to_create_it(store: LogStore) -> None:
    with pytest.raises(ResourceNotFoundException, match="log group does not exist"):
        store.ensure_stream("g", "s", create_group=False, now_ms=1)
    store.ensure_stream("g", "s", create_group=True, now_ms=1)
    store.ensure_stream("g", "s", create_group=False, now_ms=2)  # idempotent
    assert store.stream("g", "s").created == 1


def test_retried_agent_batches_are_not_duplicated(store: LogStore) -> None:
    store.ensure_stream("g", "s", create_group=True, now_ms=1)
    batch = [(10, "a"), (11, "b")]
    assert store.put_shipped("g", "s", 0, batch, now_ms=5) == 2
    assert store.put_shipped("g", "s", 0, batch, now_ms=5) == 2  # the retry
    assert store.put_shipped("g", "s", 1, [(11, "b"), (12, "c")], now_ms=5) == 3
    sid = store.stream("g", "s").id
    got = store.read(sid, Window(), 100)
    assert [e.message for e in got] == ["a", "b", "c"]


def test_read_orders_by_timestamp_then_arrival(store: LogStore) -> None:
    store.ensure_stream("g", "s", create_group=True, now_ms=1)
    store.append("g", "s", [(20, "late-ts"), (10, "x")], now_ms=1)
    store.append("g", "s", [(10, "y")], now_ms=2)
    sid = store.stream("g", "s").id
    got = store.read(sid, Window(), 10)
    assert [e.message for e in got] == ["x", "y", "late-ts"]
    tail = store.read(sid, Window(forward=False), 2)
    assert [e.message for e in tail] == ["y", "late-ts"]
    after = store.read(sid, Window(after=got[0].position, end=20), 10)
    assert [e.message for e in after] == ["y"]
    stream = store.stream("g", "s")
    assert (stream.first_ts, stream.last_ts, stream.last_ingest) == (10, 20, 2)


def test_events_survive_reopening(tmp_path: Path) -> None:
    first = LogStore(tmp_path / "logs.db")
    first.ensure_stream("g", "s", create_group=True, now_ms=1)
    first.append("g", "s", [(1, "kept")], now_ms=1)
    first.close()
    again = LogStore(tmp_path / "logs.db")
    again.ensure_stream("g", "s2", create_group=False, now_ms=2)
    again.append("g", "s2", [(1, "new")], now_ms=2)
    merged = again.scan([again.stream("g", "s").id, again.stream("g", "s2").id], Window())
    events = list(merged)
    assert [e.message for e in events] == ["kept", "new"]
    assert events[0].seq < events[1].seq  # the sequence continues after a restart
    assert Position(1, events[0].seq) < events[1].position


def test_delete_group_removes_its_streams_and_events(store: LogStore) -> None:
    store.ensure_stream("g", "s", create_group=True, now_ms=1)
    store.append("g", "s", [(1, "x")], now_ms=1)
    store.delete_group("g")
    with pytest.raises(ResourceNotFoundException):
        store.group("g")
    store.ensure_stream("g", "s", create_group=True, now_ms=2)
    sid = store.stream("g", "s").id
    assert store.read(sid, Window(), 10) == []
