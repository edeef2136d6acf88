"""The PostgreSQL store's round trips (store/pg_wire.py): what each kind of transaction sends,
that a read's snapshot is not held on an idle connection, that a statement sent later fails
the transaction it belongs to and nothing of it applies, and values sent as literals come back
as they went."""

from __future__ import annotations

import math
from collections.abc import Iterator
from enum import StrEnum
from typing import Any

import psycopg
import pytest
from fleet import wait_until

from portside.store import pg_wire
from portside.store.postgresql import REAP_AFTER, PostgresStore


class Colour(StrEnum):
    RED = "RED"


@pytest.fixture
def store(postgres_store_url: str) -> Iterator[PostgresStore]:
    s = PostgresStore(postgres_store_url, pool_timeout=1.0)
    yield s
    s.close()


@pytest.fixture
def messages(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """Every message the store sends to PostgreSQL, from now on."""
    sent: list[bytes] = []
    run = pg_wire.Link.run

    def counted(self: pg_wire.Link, message: bytes) -> Any:
        sent.append(message)
        return run(self, message)

    monkeypatch.setattr(pg_wire.Link, "run", counted)
    return sent


def test_a_lookup_is_one_round_trip_and_a_write_of_documents_one(
    store: PostgresStore, messages: list[bytes]
) -> None:
    with store.transaction() as tx:
        tx.put("clusters", "arn:c1", {"clusterName": "c1", "status": "ACTIVE"})
        tx.put("clusters", "arn:c2", {"clusterName": "c2", "status": "ACTIVE"})
    # BEGIN and the writers' lock, both upserts and their change-feed rows, the NOTIFY,
    # COMMIT, and the seq it committed: one message.
    assert len(messages) == 1
    assert tx.seq == store.last_seq() > 0
    messages.clear()
    with store.read() as tx:
        assert tx.get("clusters", "arn:c1") == {"clusterName": "c1", "status": "ACTIVE"}
    assert len(messages) == 1
    with store.read() as tx:
        assert tx.get("clusters", "arn:c2") is not None
        assert tx.count("clusters", where={"status": "ACTIVE"}) == 2
    # The first read's ROLLBACK went in front of the second read's BEGIN.
    assert len(messages) == 3
    assert messages[1].startswith(b"ROLLBACK;BEGIN")
    messages.clear()
    with store.read():
        pass
    assert messages == []  # nothing read, nothing sent


def test_a_read_whose_caller_raises_costs_no_round_trip_more(
    store: PostgresStore, messages: list[bytes]
) -> None:
    with pytest.raises(LookupError), store.read() as tx:
        if tx.get("clusters", "arn:missing") is None:
            raise LookupError("not found")
    with store.read() as tx:
        assert tx.get("clusters", "arn:missing") is None
    assert len(messages) == 2
    assert messages[1].startswith(b"ROLLBACK;BEGIN")


def test_a_read_is_not_left_open_on_an_idle_connection(
    store: PostgresStore, postgres_store_url: str
) -> None:
    with store.read() as tx:
        tx.get("clusters", "arn:none")

    def open_reads() -> int:
        with psycopg.connect(postgres_store_url, autocommit=True) as conn:
            row = conn.execute(
                "SELECT COUNT(*) FROM pg_stat_activity WHERE application_name = 'portside' "
                "AND state = 'idle in transaction'"
            ).fetchone()
            return int(row[0]) if row else 0

    assert REAP_AFTER < 1
    wait_until(lambda: open_reads() == 0, timeout=10, what="the read's snapshot released")
    # And the connection still works.
    with store.read() as tx:
        assert tx.get("clusters", "arn:none") is None


def test_a_deferred_statement_that_fails_fails_its_transaction_whole(
    store: PostgresStore,
) -> None:
    with store.transaction() as tx:
        tx.put("clusters", "arn:kept", {"clusterName": "kept", "status": "ACTIVE"})
    before = store.last_seq()
    with pytest.raises(psycopg.errors.InvalidTextRepresentation), store.transaction() as tx:
        tx.put("clusters", "arn:new", {"clusterName": "new", "status": "ACTIVE"})
        # An integer column given text: refused by PostgreSQL when the upsert is sent, at
        # COMMIT.
        tx.put("task_definitions", "arn:td", {"family": "f", "revision": "one"})
    with store.read() as tx:
        assert tx.get("clusters", "arn:new") is None
        assert tx.get("task_definitions", "arn:td") is None
        assert tx.get("clusters", "arn:kept") is not None
    assert store.last_seq() == before
    with store.transaction() as tx:  # the connection is usable again
        tx.put("clusters", "arn:after", {"clusterName": "after", "status": "ACTIVE"})
    assert store.last_seq() > before


@pytest.mark.parametrize(
    "value",
    [
        "it's",
        "back\\slash and 'quotes' and \"double\"",
        "ünïcødé ✓ 𝄞",
        "; DROP TABLE clusters; --",
        "%s and %(name)s",
        "",
    ],
)
def test_text_goes_and_comes_back_as_it_was(store: PostgresStore, value: str) -> None:
    key = f"arn:{value}"
    with store.transaction() as tx:
        tx.put("clusters", key, {"clusterName": value, "status": "ACTIVE"})
    with store.read() as tx:
        assert tx.get("clusters", key) == {"clusterName": value, "status": "ACTIVE"}
        assert [k for k, _ in tx.scan("clusters", where={"name": value})] == [key]


def test_numbers_and_enums_as_literals(store: PostgresStore) -> None:
    with store.transaction() as tx:
        tx.put("clusters", "arn:e", {"clusterName": "e", "status": Colour.RED})
        for i, at in enumerate([1.5, math.inf, -math.inf, 2**40 + 0.25]):
            tx.put("tasks", f"t{i}", {"clusterArn": "c", "lastStatus": "STOPPED", "stoppedAt": at})
    with store.read() as tx:
        assert [k for k, _ in tx.scan("clusters", where={"status": "RED"})] == ["arn:e"]
        rows = tx.select("tasks", order=("stopped_at",), where={"cluster": "c"})
        assert [r[1] for r in rows] == [-math.inf, 1.5, 2**40 + 0.25, math.inf]
        with pytest.raises(TypeError):
            tx.get("clusters", b"bytes")  # type: ignore[arg-type]
