"""The `leases` and `replicas` rows (store/tables.py), read and written inside a store
transaction.

Neither is a document table: a renewal a second and every replica's heartbeat would otherwise
be changes on the feed, waking every watcher and kept for an hour. So these statements are
written here, for the SQL backends' transaction (`store/sql.py`'s `SqlTx`, which SQLite and
PostgreSQL share), in SQL both accept. The lease row is read `FOR UPDATE` by a renewal and
`FOR SHARE` by a fenced write (a takeover waits for the writes the old epoch let in to
commit), as `lock_clause` says for the backend: SQLite needs no row lock (its writers hold the
database's one write lock from BEGIN IMMEDIATE to commit), and neither, today, does
PostgreSQL's store, whose writers take one advisory lock; the row locks keep the fence sound
without it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from portside.cluster.lease import Lease
from portside.store.base import Tx

LEADER = "leader"


@dataclass(frozen=True, slots=True)
class _Sql:
    cur: Any
    ph: str
    store: Any

    def lock(self, shared: bool) -> str:
        """The row-lock clause of the backend (store/sql.py `lock_clause`; none on SQLite)."""
        clause = getattr(self.store, "lock_clause", None)
        return "" if clause is None else str(clause(shared))


def _sql(tx: Tx) -> _Sql:
    cur = getattr(tx, "_cur", None)
    store = getattr(tx, "_store", None)
    if cur is None or store is None:
        raise TypeError(f"replicas need an SQL store's transaction, not {type(tx).__name__}")
    return _Sql(cur, str(store.placeholder), store)


def read_lease(tx: Tx, name: str = LEADER, *, lock: str | None = None) -> Lease | None:
    """The lease row; `lock` "update" or "share" locks it (PostgreSQL) until the end of
    the write transaction."""
    sql = _sql(tx)
    suffix = sql.lock(lock == "share") if lock else ""
    sql.cur.execute(
        f"SELECT holder, epoch, beat, expires FROM leases WHERE name = {sql.ph}{suffix}", (name,)
    )
    row = sql.cur.fetchone()
    if row is None:
        return None
    return Lease(row[0], int(row[1]), int(row[2]), float(row[3]))


def write_lease(tx: Tx, lease: Lease, name: str = LEADER) -> None:
    sql = _sql(tx)
    ph = sql.ph
    sql.cur.execute(
        f"INSERT INTO leases (name, holder, epoch, beat, expires) VALUES ({ph}, {ph}, {ph}, "
        f"{ph}, {ph}) ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, "
        "epoch = excluded.epoch, beat = excluded.beat, expires = excluded.expires",
        (name, lease.holder, lease.epoch, lease.beat, lease.expires),
    )


def put_replica(tx: Tx, replica_id: str, seen: float, doc: dict[str, Any]) -> None:
    """This replica's heartbeat: `doc` (endpoint, start, loops...) as of `seen`."""
    sql = _sql(tx)
    ph = sql.ph
    sql.cur.execute(
        f"INSERT INTO replicas (id, seen, doc) VALUES ({ph}, {ph}, {ph}) ON CONFLICT (id) "
        "DO UPDATE SET seen = excluded.seen, doc = excluded.doc",
        (replica_id, seen, orjson.dumps(doc).decode()),
    )


def put_instances_seen(tx: Tx, replica_id: str, seen: dict[str, float]) -> None:
    """When this replica's gateway last heard from each instance's agent (after `put_replica`
    made its row)."""
    sql = _sql(tx)
    sql.cur.execute(
        f"UPDATE replicas SET instances = {sql.ph} WHERE id = {sql.ph}",
        (orjson.dumps(seen).decode(), replica_id),
    )


def instances_seen(tx: Tx, *, besides: str, since: float) -> list[dict[str, float]]:
    """What the other replicas' gateways last heard from instances (those replicas whose
    heartbeat is newer than `since`)."""
    sql = _sql(tx)
    sql.cur.execute(
        f"SELECT instances FROM replicas WHERE id <> {sql.ph} AND seen >= {sql.ph} "
        "AND instances IS NOT NULL",
        (besides, since),
    )
    return [orjson.loads(row[0]) for row in sql.cur.fetchall()]


def replicas(tx: Tx) -> list[tuple[str, float, dict[str, Any]]]:
    """Every replica's latest heartbeat: (id, seen, doc), by id."""
    sql = _sql(tx)
    sql.cur.execute("SELECT id, seen, doc FROM replicas ORDER BY id")
    return [(str(i), float(s), orjson.loads(d)) for i, s, d in sql.cur.fetchall()]


def forget_replicas(tx: Tx, before: float) -> int:
    """Remove the heartbeats older than `before` (replicas gone for good); how many."""
    sql = _sql(tx)
    sql.cur.execute(f"DELETE FROM replicas WHERE seen < {sql.ph}", (before,))
    return int(sql.cur.rowcount or 0)
