"""Ordered pages and tallies done in the database (Tx.select, Tx.tally, Tx.tallies), and the
upgrade of a data directory written by an earlier version (store/schema.py)."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from portside.store.base import Tally
from portside.store.sql import SqlStore
from portside.store.sqlite import SqliteStore

PREFIX = "arn:aws:ecs:r:1:task-definition/"


@pytest.fixture
def store(open_store: Callable[[], SqlStore]) -> SqlStore:
    s = open_store()
    with s.transaction() as tx:
        for family in ("web", "api"):
            for revision in (1, 2, 9, 10, 11):
                status = "INACTIVE" if revision == 2 else "ACTIVE"
                doc = {"family": family, "revision": revision, "status": status}
                tx.put("task_definitions", f"{PREFIX}{family}:{revision}", doc)
        # Another region's: the prefix keeps it out.
        doc = {"family": "web", "revision": 99, "status": "ACTIVE"}
        tx.put("task_definitions", "arn:aws:ecs:other:1:task-definition/web:99", doc)
    return s


def test_select_orders_by_values_not_text(store: SqlStore) -> None:
    with store.read() as tx:
        rows = tx.select(
            "task_definitions",
            prefix=PREFIX,
            where={"family": "web", "status": "ACTIVE"},
            order=("revision",),
        )
    assert [r[1] for r in rows] == [1, 9, 10, 11]  # as text, "10" < "9"
    assert rows[0] == (f"{PREFIX}web:1", 1)


def test_select_newest_and_pages_both_ways(store: SqlStore) -> None:
    with store.read() as tx:
        newest = tx.select(
            "task_definitions",
            prefix=PREFIX,
            where={"family": "api", "status": "ACTIVE"},
            order=("revision",),
            descending=True,
            limit=1,
        )
        first = tx.select(
            "task_definitions",
            prefix=PREFIX,
            where={"status": "ACTIVE"},
            order=("family", "revision"),
            limit=3,
        )
        rest = tx.select(
            "task_definitions",
            prefix=PREFIX,
            where={"status": "ACTIVE"},
            order=("family", "revision"),
            after=first[-1][1:],
        )
        backwards = tx.select(
            "task_definitions",
            prefix=PREFIX,
            where={"status": "ACTIVE"},
            order=("family", "revision"),
            descending=True,
            after=("web", 10),
            limit=2,
        )
    assert newest == [(f"{PREFIX}api:11", 11)]
    assert [r[1:] for r in first] == [("api", 1), ("api", 9), ("api", 10)]
    assert [r[1:] for r in rest] == [("api", 11), ("web", 1), ("web", 9), ("web", 10), ("web", 11)]
    assert [r[1:] for r in backwards] == [("web", 9), ("web", 1)]


def test_select_refuses_unindexed_orders(store: SqlStore) -> None:
    with store.read() as tx, pytest.raises(KeyError):
        tx.select("task_definitions", order=("doc",))


def test_tally_counts_per_value(store: SqlStore) -> None:
    with store.read() as tx:
        assert tx.tally("task_definitions", ("status",), where={"family": "web"}) == {
            ("ACTIVE",): 5,
            ("INACTIVE",): 1,
        }


def test_select_with_documents_gives_the_newest_in_one_statement(store: SqlStore) -> None:
    with store.read() as tx:
        rows = tx.select(
            "task_definitions",
            prefix=PREFIX,
            where={"family": "web", "status": "ACTIVE"},
            order=("revision",),
            descending=True,
            limit=1,
            docs=True,
        )
    assert rows == [(f"{PREFIX}web:11", 11, {"family": "web", "revision": 11, "status": "ACTIVE"})]


def test_tallies_count_several_tables_at_once(open_store: Callable[[], SqlStore]) -> None:
    s = open_store()
    with s.transaction() as tx:
        for i, (status, fargate) in enumerate(
            [("ACTIVE", False), ("ACTIVE", False), ("DRAINING", False), ("ACTIVE", True)]
        ):
            doc = {"clusterArn": "c", "status": status, "fargate": fargate}
            tx.put("container_instances", f"i{i}", doc)
        tx.put("container_instances", "other", {"clusterArn": "d", "status": "ACTIVE"})
        for i, status in enumerate(["RUNNING", "RUNNING", "PENDING", "STOPPED"]):
            tx.put("tasks", f"t{i}", {"clusterArn": "c", "lastStatus": status})
        tx.put("services", "s1", {"clusterArn": "c", "status": "ACTIVE"})
    with s.read() as tx:
        tasks, services, none, instances = tx.tallies(
            [
                Tally("tasks", ("status",), {"cluster": "c", "status": {"RUNNING", "PENDING"}}),
                Tally("services", (), {"cluster": "c", "status": "ACTIVE"}),
                Tally("services", (), {"cluster": "c", "status": "DRAINING"}),
                Tally("container_instances", ("status", "fargate"), {"cluster": "c"}),
            ]
        )
        alone = tx.tally("container_instances", ("status", "fargate"), where={"cluster": "c"})
    assert tasks == {("RUNNING",): 2, ("PENDING",): 1}
    assert services == {(): 1}
    assert none == {}
    # Each query's values keep their column's type (an integer flag stays an integer).
    assert instances == alone == {("ACTIVE", 0): 2, ("DRAINING", 0): 1, ("ACTIVE", 1): 1}
    with s.read() as tx:
        assert tx.tallies([]) == []
        with pytest.raises(KeyError):
            tx.tallies([Tally("tasks", ("doc",))])


def test_flags_are_stored_as_integers(open_store: Callable[[], SqlStore]) -> None:
    s = open_store()
    with s.transaction() as tx:
        tx.put("container_instances", "a", {"clusterArn": "c", "status": "ACTIVE", "fargate": True})
        tx.put("container_instances", "b", {"clusterArn": "c", "status": "ACTIVE"})
        tx.put(
            "container_instances", "d", {"clusterArn": "c", "status": "ACTIVE", "fargate": False}
        )
    with s.read() as tx:
        assert tx.tally("container_instances", ("fargate",), where={"cluster": "c"}) == {
            (1,): 1,
            (None,): 1,
            (0,): 1,
        }


def test_an_earlier_data_directory_is_upgraded(tmp_path: Path) -> None:
    """A database made before the `fargate` column and the covering indexes existed."""
    path = tmp_path / "old.db"
    db = sqlite3.connect(path)
    db.execute(
        "CREATE TABLE container_instances (key VARCHAR(512) PRIMARY KEY, cluster VARCHAR(512), "
        "status VARCHAR(512), doc TEXT NOT NULL)"
    )
    db.execute(
        "CREATE TABLE task_definitions (key VARCHAR(512) PRIMARY KEY, family VARCHAR(512), "
        "revision INTEGER, status VARCHAR(512), doc TEXT NOT NULL)"
    )
    db.execute(
        "CREATE INDEX ix_task_definitions_family_status ON task_definitions (family, status)"
    )
    db.execute(
        "INSERT INTO container_instances VALUES ('a', 'c', 'ACTIVE', '{\"fargate\": true}'), "
        "('b', 'c', 'ACTIVE', '{}')"
    )
    db.commit()
    db.close()

    store = SqliteStore(path)
    with store.read() as tx:
        assert tx.count("container_instances", where={"cluster": "c", "fargate": 1}) == 1
    indexes = {
        row[0]
        for row in sqlite3.connect(path).execute(
            "SELECT name FROM sqlite_master WHERE type='index'"
        )
    }
    assert "ix_task_definitions_family_status" not in indexes
    assert "ix_task_definitions_family_status_revision" in indexes
    assert "ix_container_instances_fargate" in indexes


def test_changes_of_some_tables_up_to_a_position(open_store: Callable[[], SqlStore]) -> None:
    s = open_store()
    with s.transaction() as tx:
        tx.put("tasks", "t1", {"lastStatus": "RUNNING"})
        tx.put("services", "s1", {"status": "ACTIVE"})
        tx.put("tasks", "t2", {"lastStatus": "RUNNING"})
    upto = s.last_seq()
    with s.transaction() as tx:
        tx.put("services", "s2", {"status": "ACTIVE"})
    assert [c.key for c in s.changes(0, tables=("services",))] == ["s1", "s2"]
    assert [c.key for c in s.changes(0, tables=("services",), upto=upto)] == ["s1"]
    assert [c.key for c in s.changes(0, tables=("tasks", "services"), limit=2)] == ["t1", "s1"]
    assert s.changes(0, tables=()) == []


def test_an_earlier_tasks_table_gets_stopped_at_filled_from_the_documents(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    db = sqlite3.connect(path)
    db.execute(
        "CREATE TABLE tasks (key VARCHAR(512) PRIMARY KEY, cluster VARCHAR(512), "
        "status VARCHAR(512), desired VARCHAR(512), instance VARCHAR(512), "
        "started_by VARCHAR(512), grp VARCHAR(512), token VARCHAR(512), doc TEXT NOT NULL)"
    )
    db.execute(
        "INSERT INTO tasks (key, status, doc) VALUES "
        "('old', 'STOPPED', '{\"lastStatus\": \"STOPPED\", \"stoppedAt\": 1700000000.5}'), "
        "('up', 'RUNNING', '{\"lastStatus\": \"RUNNING\"}')"
    )
    db.commit()
    db.close()
    store = SqliteStore(path)
    with store.read() as tx:
        rows = tx.select("tasks", order=["stopped_at"], where={"status": "STOPPED"})
    assert rows == [("old", 1700000000.5)]
