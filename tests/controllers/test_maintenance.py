from __future__ import annotations

from pathlib import Path

from portside.controllers.maintenance import reap_stopped_tasks
from portside.store.sqlite import SqliteStore


def test_stopped_tasks_are_forgotten_after_an_hour_and_the_feed_is_trimmed(
    tmp_path: Path,
) -> None:
    clock = [1000.0]
    store = SqliteStore(tmp_path / "s.db", clock=lambda: clock[0])
    with store.transaction() as tx:
        tx.put("tasks", "old", {"lastStatus": "STOPPED", "stoppedAt": 1000.0})
        tx.put("tasks", "new", {"lastStatus": "STOPPED", "stoppedAt": 4000.0})
        tx.put("tasks", "up", {"lastStatus": "RUNNING"})
    assert reap_stopped_tasks(store, now=4700.0) == 1
    with store.read() as tx:
        assert [k for k, _ in tx.scan("tasks")] == ["new", "up"]
    clock[0] = 5000.0
    with store.transaction() as tx:
        tx.put("tasks", "later", {"lastStatus": "RUNNING"})
    assert store.oldest_seq() == 1
    assert store.trim(before=2000.0) == 4  # three puts and the reaped delete
    assert store.oldest_seq() == store.changes(0)[0].seq > 1
    assert [c.key for c in store.changes(0)][-1] == "later"
