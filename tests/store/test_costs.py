"""What the soak's long runs need of the store: work that follows what a call returns or
removes, never the hour of stopped tasks and change feed the store keeps. Costs are counted
in SQLite virtual-machine steps (a progress handler), never in wall time."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from portside import testing
from portside.ops import tasks as task_ops
from portside.store.sqlite import SqliteStore

CLUSTER = "arn:aws:ecs:r:1:cluster/c"
GROUP = "service:web"


@contextmanager
def steps(store: SqliteStore) -> Iterator[Callable[[], int]]:
    """Counts the VM steps of this thread's connection (in hundreds) while the block runs."""
    counted = [0]

    def tick() -> int:
        counted[0] += 1
        return 0

    conn = store._conn()
    conn.set_progress_handler(tick, 100)  # type: ignore[attr-defined]
    try:
        yield lambda: counted[0]
    finally:
        conn.set_progress_handler(None, 0)  # type: ignore[attr-defined]


def _task(
    key: str, status: str, stopped_at: float | None = None, started_by: str = "d2"
) -> dict[str, object]:
    doc: dict[str, object] = {
        "arn": key,
        "clusterArn": CLUSTER,
        "group": GROUP,
        "startedBy": started_by,
        "lastStatus": status,
        "desiredStatus": "STOPPED" if status == "STOPPED" else "RUNNING",
        "padding": "x" * 800,  # a stored task is ~1.7 KB
    }
    if stopped_at is not None:
        doc["stoppedAt"] = stopped_at
    return doc


def test_where_takes_one_of_several_values(tmp_path: Path) -> None:
    store = testing.sqlite_store(tmp_path, name="s.db")
    with store.transaction() as tx:
        for key, status in (("a", "RUNNING"), ("b", "PENDING"), ("c", "STOPPED")):
            tx.put("tasks", key, {"lastStatus": status})
    with store.read() as tx:
        assert [k for k, _ in tx.scan("tasks", where={"status": {"RUNNING", "PENDING"}})] == [
            "a",
            "b",
        ]
        assert tx.count("tasks", where={"status": ("STOPPED",)}) == 1
        assert list(tx.scan("tasks", where={"status": frozenset()})) == []


def _group_store(tmp_path: Path, name: str, old_stopped: int) -> SqliteStore:
    store = testing.sqlite_store(tmp_path, name=name)
    with store.transaction() as tx:
        for n in range(old_stopped):
            tx.put("tasks", f"old-{n:05}", _task(f"old-{n:05}", "STOPPED", 1000.0 + n * 0.01))
        tx.put("tasks", "live-1", _task("live-1", "RUNNING"))
        tx.put("tasks", "live-2", _task("live-2", "PENDING"))
        tx.put("tasks", "recent", _task("recent", "STOPPED", 5000.0))
        tx.put("tasks", "edge", _task("edge", "STOPPED", 4000.0, started_by="d1"))
        # Stopped within the window, but by a deployment not asked for.
        tx.put("tasks", "replaced", _task("replaced", "STOPPED", 4500.0, started_by="d0"))
        tx.put("tasks", "other", {**_task("other", "RUNNING"), "group": "service:api"})
    return store


def test_a_groups_tasks_are_read_without_its_stopped_ones_of_before(tmp_path: Path) -> None:
    """A service's reconcile reads its live tasks and those its current deployments
    stopped since an instant: the same work with 50 or 5,000 earlier stopped tasks kept (a
    scan of the group read them all, and a service's hour of churn made every reconcile
    slower)."""
    cost = {}
    for kept in (50, 5000):
        store = _group_store(tmp_path, f"s{kept}.db", kept)
        with store.read() as tx, steps(store) as counted:
            found = task_ops.of_group(
                tx, CLUSTER, GROUP, stopped_since=4000.0, started_by={"d1", "d2"}
            )
            unstopped = task_ops.of_group(tx, CLUSTER, GROUP)
            cost[kept] = counted()
        assert [k for k, _ in found] == ["edge", "live-1", "live-2", "recent"]
        assert [k for k, _ in unstopped] == ["live-1", "live-2"]
    assert cost[5000] <= cost[50] + 5, cost


def test_trimming_the_feed_reads_what_goes_not_the_whole_feed(tmp_path: Path) -> None:
    """The maintenance loop trims every 10 s, under the write lock; the feed holds an hour."""
    cost = {}
    for kept in (500, 20_000):
        clock = testing.FakeClock(1000.0)
        store = testing.sqlite_store(tmp_path, clock=clock, name=f"f{kept}.db")
        with store.transaction() as tx:
            for n in range(100):
                tx.put("tasks", f"old-{n}", {"lastStatus": "RUNNING"})
        clock.now = 5000.0
        with store.transaction() as tx:
            for n in range(kept):
                tx.put("tasks", f"new-{n}", {"lastStatus": "RUNNING", "padding": "x" * 400})
        with steps(store) as counted:
            assert store.trim(before=2000.0) == 100
            cost[kept] = counted()
        assert store.changes(0, limit=1)[0].key == "new-0"
        assert store.trim(before=2000.0) == 0
    assert cost[20_000] <= cost[500] + 5, cost


def test_a_trim_past_every_change_keeps_the_newest(tmp_path: Path) -> None:
    clock = testing.FakeClock(1000.0)
    store = testing.sqlite_store(tmp_path, clock=clock, name="s.db")
    assert store.trim(before=9000.0) == 0  # an empty feed
    with store.transaction() as tx:
        for key in ("a", "b", "c"):
            tx.put("tasks", key, {"lastStatus": "RUNNING"})
    assert store.trim(before=9000.0) == 2
    assert [c.key for c in store.changes(0)] == ["c"]


def test_a_clusters_counts_skip_its_stopped_tasks(tmp_path: Path) -> None:
    """DescribeClusters' running and pending counts (and its statistics) read the tasks in
    those states only."""
    from portside.model.cluster import Cluster
    from portside.ops.clusters import count

    cost = {}
    for kept in (50, 5000):
        store = _group_store(tmp_path, f"c{kept}.db", kept)
        with store.read() as tx, steps(store) as counted:
            found = count(tx, Cluster(CLUSTER, "c"), statistics=True)
            cost[kept] = counted()
        assert (found.running_tasks, found.pending_tasks) == (2, 1)
    assert cost[5000] <= cost[50] + 5, cost


def test_the_definitions_in_use_skip_the_stopped_tasks(tmp_path: Path) -> None:
    """The maintenance loop's check before it deletes a task definition, in a write
    transaction every pass while one waits."""
    from portside.ops.task_definitions import _in_use

    cost = {}
    for kept in (50, 5000):
        store = _group_store(tmp_path, f"d{kept}.db", kept)
        with store.transaction() as tx:
            tx.put("tasks", "live-1", {**_task("live-1", "RUNNING"), "taskDefinitionArn": "td:1"})
        with store.read() as tx, steps(store) as counted:
            used = _in_use(tx)
            cost[kept] = counted()
        assert "td:1" in used
    assert cost[5000] <= cost[50] + 5, cost
