"""What the PostgreSQL store adds to the store's contract (store/postgresql.py): replicas on
one database never place two tasks in one slot, a commit on one wakes the others' waiters,
a restart of PostgreSQL fails calls with ServerException and loses nothing acknowledged, and
an earlier database is upgraded by the code that upgrades SQLite's."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import psycopg
import pytest

from portside.errors import ServerException
from portside.model.container_instance import InstanceResources
from portside.ops import clusters, launch, task_definitions
from portside.ops import instances as inst_ops
from portside.ops.context import Caller, Op, World, root_principal
from portside.store.postgresql import PostgresStore
from portside.testing.postgres import PostgresServer
from portside.wire import task_requests as wire

ACCOUNT = "000000000000"
T0 = 1_700_000_000.0


@pytest.fixture
def stores(postgres_store_url: str) -> Iterator[Callable[[], PostgresStore]]:
    """Opens replicas' stores on the test's database; closes them after. A call waits at
    most a second for a connection (a server's default: five)."""
    opened: list[PostgresStore] = []

    def make() -> PostgresStore:
        opened.append(PostgresStore(postgres_store_url, pool_timeout=1.0))
        return opened[-1]

    yield make
    for store in opened:
        store.close()


def op_on(store: PostgresStore, replica: int) -> Op:
    ids = iter(range(replica * 10**6, (replica + 1) * 10**6))
    world = World(store=store, clock=lambda: T0, new_id=lambda: f"{next(ids):032x}")
    return Op(world, Caller(ACCOUNT, "us-east-1", "AK", root_principal(ACCOUNT)))


def wait_until(ready: Callable[[], bool], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_replicas_racing_run_task_never_share_a_slot(
    stores: Callable[[], PostgresStore],
) -> None:
    a, b = op_on(stores(), 1), op_on(stores(), 2)
    clusters.create_cluster(a, name="c")
    inst_ops.register(
        a,
        cluster="c",
        total_resources=InstanceResources.of(
            [
                {"name": "CPU", "type": "INTEGER", "integerValue": 1024},
                {"name": "MEMORY", "type": "INTEGER", "integerValue": 1024},
            ]
        ),
    )
    task_definitions.register(
        a,
        {"family": "web", "containerDefinitions": [{"name": "a", "image": "x", "memory": 128}]},
    )
    placed: list[str] = []
    refused: list[str] = []
    start = threading.Barrier(4)

    def race(op: Op) -> None:
        start.wait()
        for _ in range(4):
            views, failures = launch.run_task(
                op, wire.launch({"cluster": "c", "taskDefinition": "web", "count": 1})
            )
            placed.extend(v.task.arn for v in views)
            refused.extend(str(f["reason"]) for f in failures)

    threads = [threading.Thread(target=race, args=(op,)) for op in (a, b, a, b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # 1024 MiB holds eight tasks of 128: eight placed, the other eight refused for memory.
    assert len(placed) == 8 and len(set(placed)) == 8
    assert len(refused) == 8 and all("MEMORY" in r for r in refused)
    with a.store.read() as tx:
        (arn,) = [key for key, _ in tx.scan("container_instances")]
        instance = inst_ops.load(tx, arn)
        assert tx.count("tasks", where={"instance": arn}) == 8
    assert instance is not None and instance.used_memory == 1024


def test_a_commit_on_one_replica_wakes_a_wait_on_another(
    stores: Callable[[], PostgresStore],
) -> None:
    a, b = stores(), stores()
    seq = b.last_seq()
    heard: list[int] = []
    b.subscribe(heard.append)
    woke: list[bool] = []
    waiter = threading.Thread(target=lambda: woke.append(b.wait(seq, 10, tables=["tasks"])))
    waiter.start()
    with a.transaction() as tx:
        tx.put("clusters", "arn:c", {"clusterName": "c", "status": "ACTIVE"})
    with a.transaction() as tx:
        tx.put("tasks", "arn:t", {"lastStatus": "RUNNING"})
    waiter.join(10)
    assert woke == [True]
    assert b.last_seq() == a.last_seq() > seq
    wait_until(lambda: a.last_seq() in heard)
    assert [c.key for c in b.changes(seq)] == ["arn:c", "arn:t"]


def test_a_shared_lock_makes_a_change_of_the_row_wait(
    stores: Callable[[], PostgresStore], postgres_store_url: str
) -> None:
    store = stores()
    with store.transaction() as tx:
        tx.put("clusters", "arn:c", {"clusterName": "c", "status": "ACTIVE"})
    changed = threading.Event()

    def change() -> None:
        with psycopg.connect(postgres_store_url, autocommit=True) as conn:
            conn.execute("UPDATE clusters SET status = 'X' WHERE key = 'arn:c'")
        changed.set()

    with store.transaction() as tx:
        assert tx.lock("clusters", "arn:c", shared=True)
        assert not tx.lock("clusters", "arn:missing")
        other = threading.Thread(target=change)
        other.start()
        assert not changed.wait(0.3)  # held back by the lock until this commits
    assert changed.wait(10)
    other.join()


def test_a_statement_failed_inside_a_transaction_is_not_committed(
    stores: Callable[[], PostgresStore],
) -> None:
    store = stores()
    with pytest.raises(RuntimeError, match="cannot commit"), store.transaction() as tx:
        tx.put("clusters", "arn:c", {"clusterName": "c", "status": "ACTIVE"})
        with pytest.raises(psycopg.Error):
            tx._cur.execute("SELECT no_such_column FROM clusters")
    with store.read() as tx:
        assert tx.get("clusters", "arn:c") is None


@pytest.mark.allow_log(r"database .* unavailable")
def test_calls_fail_with_server_exception_while_postgres_restarts_and_work_after(
    postgres_server: PostgresServer, stores: Callable[[], PostgresStore]
) -> None:
    store, other = stores(), stores()
    acknowledged: list[str] = []
    for i in range(20):
        with store.transaction() as tx:
            tx.put("clusters", f"arn:{i}", {"clusterName": str(i), "status": "ACTIVE"})
        acknowledged.append(f"arn:{i}")
    postgres_server.stop("immediate")  # as a crash would
    try:
        # The first calls find their connections broken, the next none to be had.
        for _ in range(2):
            with pytest.raises(ServerException), store.transaction() as tx:
                tx.put("clusters", "arn:lost", {"clusterName": "lost", "status": "ACTIVE"})
        with pytest.raises(ServerException), store.read() as tx:
            tx.get("clusters", "arn:0")
    finally:
        postgres_server.restart()
    seq = other.last_seq()

    def write() -> bool:
        try:
            with store.transaction() as tx:
                tx.put("clusters", "arn:after", {"clusterName": "after", "status": "ACTIVE"})
        except ServerException:
            return False
        return True

    wait_until(write)  # the pool drops its dead connections and opens new ones
    with store.read() as tx:
        keys = [k for k, _ in tx.scan("clusters")]
    assert set(acknowledged) <= set(keys) and "arn:after" in keys
    # The other replica's listener reconnects and hears commits again.
    wait_until(lambda: other.wait(seq, 0.2))


def test_an_earlier_database_is_upgraded(postgres_url: str) -> None:
    """A database made before the `fargate` column and the covering indexes existed."""
    with psycopg.connect(postgres_url, autocommit=True) as db:
        db.execute(
            'CREATE TABLE container_instances (key VARCHAR(512) COLLATE "C" PRIMARY KEY, '
            "cluster VARCHAR(512), status VARCHAR(512), doc TEXT NOT NULL)"
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
    store = PostgresStore(postgres_url)
    try:
        with store.read() as tx:
            assert tx.count("container_instances", where={"cluster": "c", "fargate": 1}) == 1
    finally:
        store.close()
    with psycopg.connect(postgres_url) as db:
        indexes = {r[0] for r in db.execute("SELECT indexname FROM pg_indexes")}
    assert "ix_task_definitions_family_status" not in indexes
    assert "ix_task_definitions_family_status_revision" in indexes
    assert "ix_container_instances_fargate" in indexes


def test_keys_are_ordered_by_their_bytes_whatever_the_database_collation(
    stores: Callable[[], PostgresStore],
) -> None:
    store = stores()
    keys = ["a|b", "a-c", "A", "a", "a/b", "ab", "é"]
    with store.transaction() as tx:
        for key in keys:
            tx.put("clusters", key, {"clusterName": key, "status": "ACTIVE"})
    with store.read() as tx:
        assert [k for k, _ in tx.scan("clusters")] == sorted(keys, key=str.encode)
        assert [k for k, _ in tx.scan("clusters", prefix="a|")] == ["a|b"]
