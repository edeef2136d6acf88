"""The CloudWatch Logs store on both backends (logs/store.py on SQLite, logs/postgres.py on
PostgreSQL): the agents' interface, orders, FilterLogEvents' merge, retention; on PostgreSQL
two replicas' stores share one log."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from portside.errors import ResourceAlreadyExistsException, ResourceNotFoundException
from portside.logs.store import LogStore, Window


@pytest.fixture
def open_logs(
    request: pytest.FixtureRequest, tmp_path: Path, backend: str
) -> Iterator[Callable[[], LogStore]]:
    opened: list[LogStore] = []
    url = request.getfixturevalue("postgres_url") if backend == "postgresql" else ""

    def make() -> LogStore:
        if backend == "postgresql":
            from portside.logs.postgres import PostgresLogStore

            store: LogStore = PostgresLogStore(url)
        else:
            store = LogStore(tmp_path / "logs.db", synchronous="OFF")
        opened.append(store)
        return store

    yield make
    for store in opened:
        store.close()


def test_streams_groups_and_events(open_logs: Callable[[], LogStore]) -> None:
    store = open_logs()
    with pytest.raises(ResourceNotFoundException, match="log group does not exist"):
        store.ensure_stream("g", "s", create_group=False, now_ms=1)
    store.ensure_stream("g", "s", create_group=True, now_ms=1)
    store.ensure_stream("g", "s", create_group=False, now_ms=2)  # idempotent
    with pytest.raises(ResourceAlreadyExistsException):
        store.create_group("g", 3)
    with pytest.raises(ResourceAlreadyExistsException):
        store.create_stream("g", "s", 3)
    store.create_group("g|x", 3, tags={"a": "b"})
    batch = [(10, "a"), (11, "b\x00c")]
    assert store.put_shipped("g", "s", 0, batch, now_ms=5) == 2
    assert store.put_shipped("g", "s", 0, batch, now_ms=5) == 2  # the retry
    store.append("g", "s", [(9, "first")], now_ms=6)
    sid = store.stream("g", "s").id
    got = store.read(sid, Window(), 100)
    assert [e.message.replace("\x00", "\ufffd") for e in got] == ["first", "a", "b\ufffdc"]
    assert [e.message for e in store.read(sid, Window(forward=False), 1)] == [got[-1].message]
    stream = store.stream("g", "s")
    assert (stream.first_ts, stream.last_ts, stream.last_ingest) == (9, 11, 6)
    names = [g.name for g in store.groups(prefix="g", contains=None, after="", limit=10)]
    assert names == ["g", "g|x"]
    assert [g.name for g in store.groups(prefix=None, contains="|", after="", limit=10)] == ["g|x"]
    assert store.group("g").stored_bytes == len("abcfirst") + 1
    assert store.update_tags("g|x", {"c": "d"}, ["a"]) == {"c": "d"}
    store.set_retention("g", 1)
    assert store.retentions() == [(store.group("g").id, 1)]
    assert store.expire(store.group("g").id, before_ms=11) == 2
    assert [e.message for e in store.read(sid, Window(), 100)] == [got[-1].message]
    store.delete_group("g")
    with pytest.raises(ResourceNotFoundException):
        store.group("g")


def test_a_scan_merges_streams_in_order_across_pages(open_logs: Callable[[], LogStore]) -> None:
    store = open_logs()
    for name in ("a", "b"):
        store.ensure_stream("g", name, create_group=True, now_ms=1)
    store.append("g", "a", [(2 * i, f"a{i}") for i in range(1500)], now_ms=1)
    store.append("g", "b", [(2 * i + 1, f"b{i}") for i in range(1500)], now_ms=1)
    ids = [store.stream("g", n).id for n in ("a", "b")]
    seen = [e.timestamp for e in store.scan(ids, Window())]
    assert seen == list(range(3000))
    back = [e.timestamp for e in store.scan(ids, Window(forward=False, start=100, end=2999))]
    assert back == list(range(2999, 99, -1))


def test_replicas_on_postgres_share_one_log(postgres_url: str) -> None:
    from portside.logs.postgres import PostgresLogStore

    a, b = PostgresLogStore(postgres_url), PostgresLogStore(postgres_url)
    try:
        shared(a, b)
    finally:
        a.close()
        b.close()


def shared(a: LogStore, b: LogStore) -> None:
    a.ensure_stream("g", "s", create_group=True, now_ms=1)
    b.ensure_stream("g", "s", create_group=True, now_ms=1)
    a.append("g", "s", [(5, "from a")], now_ms=1)
    b.append("g", "s", [(5, "from b")], now_ms=2)
    sid = b.stream("g", "s").id
    got = a.read(sid, Window(), 10)
    assert [e.message for e in got] == ["from a", "from b"]
    assert got[0].seq < got[1].seq
