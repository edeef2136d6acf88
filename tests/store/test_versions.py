"""The store keeps the version of tasks, container instances and services: a put over a
stored document makes it the stored one plus one, whatever the document says."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from portside.store.sql import SqlStore


@pytest.fixture
def store(open_store: Callable[[], SqlStore]) -> SqlStore:
    return open_store()


def stored(store: SqlStore, key: str) -> int:
    with store.read() as tx:
        doc = tx.get("tasks", key)
    assert doc is not None
    return int(doc["version"])


def test_a_new_document_keeps_its_version_and_each_put_over_it_adds_one(
    store: SqlStore,
) -> None:
    with store.transaction() as tx:
        tx.put("tasks", "t", {"version": 1})
    assert stored(store, "t") == 1
    doc = {"version": 1}  # a stale copy: the stored version counts, not this one
    with store.transaction() as tx:
        tx.put("tasks", "t", doc)
    assert doc["version"] == 2 and stored(store, "t") == 2
    with store.transaction() as tx:
        read = tx.get("tasks", "t")
        assert read is not None
        tx.put("tasks", "t", read)
        tx.put("tasks", "t", read)  # twice in one transaction: two versions
    assert stored(store, "t") == 4


def test_bump_false_writes_the_document_as_it_is(store: SqlStore) -> None:
    with store.transaction() as tx:
        tx.put("tasks", "t", {"version": 1})
        tx.put("tasks", "t", {"version": 1, "reserved": True}, bump=False)
    assert stored(store, "t") == 1
    with store.transaction() as tx:
        tx.put("tasks", "t", {"version": 1})
    assert stored(store, "t") == 2


def test_a_document_put_again_after_its_delete_starts_over(store: SqlStore) -> None:
    with store.transaction() as tx:
        tx.put("tasks", "t", {"version": 1})
        tx.put("tasks", "t", {"version": 1})
        assert tx.delete("tasks", "t")
        tx.put("tasks", "t", {"version": 1})
    assert stored(store, "t") == 1


def test_unversioned_tables_are_left_alone(store: SqlStore) -> None:
    with store.transaction() as tx:
        tx.put("clusters", "c", {"clusterName": "c", "version": 7})
        tx.put("clusters", "c", {"clusterName": "c", "version": 7})
    with store.read() as tx:
        assert tx.get("clusters", "c") == {"clusterName": "c", "version": 7}
