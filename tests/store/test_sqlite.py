from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from portside.store.sql import SqlStore


@pytest.fixture
def store(open_store: Callable[[], SqlStore]) -> SqlStore:
    return open_store()


def test_put_get_scan_count(store: SqlStore) -> None:
    with store.transaction() as tx:
        tx.put("clusters", "arn:b", {"clusterName": "b", "status": "ACTIVE"})
        tx.put("clusters", "arn:a", {"clusterName": "a", "status": "INACTIVE"})
        tx.put("clusters", "other:c", {"clusterName": "c", "status": "ACTIVE"})
    with store.read() as tx:
        assert tx.get("clusters", "arn:a") == {"clusterName": "a", "status": "INACTIVE"}
        assert tx.get("clusters", "arn:zz") is None
        assert [k for k, _ in tx.scan("clusters", prefix="arn:")] == ["arn:a", "arn:b"]
        assert [k for k, _ in tx.scan("clusters", after="arn:a", limit=1)] == ["arn:b"]
        assert tx.count("clusters", where={"status": "ACTIVE"}) == 2
        assert tx.index("clusters", prefix="arn:") == [
            ("arn:a", "a", "INACTIVE"),
            ("arn:b", "b", "ACTIVE"),
        ]


def test_rollback_on_error_leaves_nothing(store: SqlStore) -> None:
    with pytest.raises(RuntimeError), store.transaction() as tx:
        tx.put("clusters", "arn:a", {"clusterName": "a", "status": "ACTIVE"})
        raise RuntimeError("boom")
    with store.read() as tx:
        assert tx.get("clusters", "arn:a") is None
    assert store.changes(0) == []


def test_change_feed_orders_every_write(store: SqlStore) -> None:
    with store.transaction() as tx:
        tx.put("clusters", "arn:a", {"clusterName": "a", "status": "ACTIVE"})
        tx.delete("clusters", "arn:a")
        assert not tx.delete("clusters", "arn:missing")
    feed = store.changes(0)
    assert [(c.table, c.key, c.op) for c in feed] == [
        ("clusters", "arn:a", "put"),
        ("clusters", "arn:a", "delete"),
    ]
    assert feed[0].doc == {"clusterName": "a", "status": "ACTIVE"}
    assert store.last_seq() == feed[-1].seq
    assert store.changes(feed[0].seq) == feed[1:]


def test_counters_survive_reopen(open_store: Callable[[], SqlStore]) -> None:
    store = open_store()
    with store.transaction() as tx:
        assert [tx.next_value("f"), tx.next_value("f"), tx.next_value("g")] == [1, 2, 1]
    store.close()
    again = open_store()
    with again.transaction() as tx:
        assert tx.next_value("f") == 3


def test_read_only_transaction_refuses_writes(store: SqlStore) -> None:
    with pytest.raises(RuntimeError), store.read() as tx:
        tx.put("clusters", "k", {})


def test_wait_wakes_on_commit_from_another_thread(store: SqlStore) -> None:
    seq = store.last_seq()

    def write() -> None:
        with store.transaction() as tx:
            tx.put("clusters", "arn:x", {"clusterName": "x", "status": "ACTIVE"})

    threading.Timer(0.05, write).start()
    assert store.wait(seq, timeout=5)
    assert store.last_seq() > seq


def test_wait_for_tables_ignores_commits_to_other_tables(store: SqlStore) -> None:
    seq = store.last_seq()
    with store.transaction() as tx:
        tx.put("clusters", "arn:x", {"clusterName": "x", "status": "ACTIVE"})
    assert store.wait(seq, timeout=5)  # any table
    assert not store.wait(seq, timeout=0.05, tables=("tasks", "services"))

    def write() -> None:
        with store.transaction() as tx:
            tx.put("tasks", "arn:t", {"lastStatus": "RUNNING"})

    threading.Timer(0.05, write).start()
    assert store.wait(seq, timeout=5, tables=("tasks", "services"))
    assert store.last_seq() > seq


def test_concurrent_writers_lose_nothing(store: SqlStore) -> None:
    def work(n: int) -> None:
        for i in range(50):
            with store.transaction() as tx:
                tx.next_value("shared")
                tx.put("clusters", f"arn:{n}:{i}", {"clusterName": "x", "status": "ACTIVE"})

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with store.transaction() as tx:
        assert tx.count("clusters") == 200
        assert tx.next_value("shared") == 201
