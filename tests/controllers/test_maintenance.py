from __future__ import annotations

from pathlib import Path

from portside import testing
from portside.controllers.maintenance import (
    FEED_HOLD_MAX,
    FEED_TTL,
    REAP_BATCH,
    STOPPED_TASK_TTL,
    feed_trim_point,
    reap_stopped_tasks,
)


def test_stopped_tasks_are_forgotten_after_an_hour_and_the_feed_is_trimmed(
    tmp_path: Path,
) -> None:
    clock = testing.FakeClock(1000.0)
    store = testing.sqlite_store(tmp_path, clock=clock, name="s.db")
    with store.transaction() as tx:
        tx.put("tasks", "old", {"lastStatus": "STOPPED", "stoppedAt": 1000.0})
        tx.put("tasks", "new", {"lastStatus": "STOPPED", "stoppedAt": 4000.0})
        tx.put("tasks", "up", {"lastStatus": "RUNNING"})
    assert reap_stopped_tasks(store, now=4700.0) == 1
    with store.read() as tx:
        assert [k for k, _ in tx.scan("tasks")] == ["new", "up"]
    clock.now = 5000.0
    with store.transaction() as tx:
        tx.put("tasks", "later", {"lastStatus": "RUNNING"})
    assert store.oldest_seq() == 1
    assert store.trim(before=2000.0) == 4  # three puts and the reaped delete
    assert store.oldest_seq() == store.changes(0)[0].seq > 1
    assert [c.key for c in store.changes(0)][-1] == "later"


def test_a_lagging_event_target_holds_the_feed_back_for_at_most_a_day(tmp_path: Path) -> None:
    clock = testing.FakeClock(0.0)
    store = testing.sqlite_store(tmp_path, clock=clock, name="s.db")
    for at, key in ((1000.0, "a"), (2000.0, "b"), (3000.0, "c")):
        clock.now = at
        with store.transaction() as tx:
            tx.put("tasks", key, {"lastStatus": "RUNNING"})
    first = store.changes(0)[0].seq
    now = 10_000.0
    # No event target: an hour.
    assert feed_trim_point(store, now) == now - FEED_TTL
    # A target that has delivered up to "a" keeps "b" (committed at 2000) and after.
    clock.now = 3000.0
    with store.transaction() as tx:
        tx.put("event_targets", "rule|1", {"ruleArn": "rule"})
        tx.put("event_cursors", "rule|1", {"seq": first})
        tx.put("event_cursors", "gone|1", {"seq": 0})  # its target was removed: ignored
    assert feed_trim_point(store, now) == 2000.0
    store.trim(feed_trim_point(store, now))
    assert [c.key for c in store.changes(0)][:2] == ["b", "c"]
    # ... but not beyond a day.
    assert feed_trim_point(store, 2000.0 + FEED_HOLD_MAX + 50) == 2050.0


def test_stopped_tasks_are_reaped_oldest_first_in_batches(tmp_path: Path) -> None:
    store = testing.sqlite_store(tmp_path, clock=lambda: 0.0, name="s.db")
    total = 2 * REAP_BATCH + 7
    with store.transaction() as tx:
        for n in range(total):
            tx.put("tasks", f"t{n:05d}", {"lastStatus": "STOPPED", "stoppedAt": 100.0 + n})
            tx.put("tags", f"t{n:05d}", {"tags": [{"key": "k", "value": "v"}]})
        tx.put("tasks", "no-time", {"lastStatus": "STOPPED"})  # kept: no stoppedAt
        tx.put("tasks", "recent", {"lastStatus": "STOPPED", "stoppedAt": 1e9})
    # Everything stopped before 100 + total - 3 goes; the last three stay.
    now = 100.0 + total - 3 + STOPPED_TASK_TTL
    assert reap_stopped_tasks(store, now=now) == total - 3
    with store.read() as tx:
        kept = [f"t{n:05d}" for n in range(total - 3, total)]
        assert sorted(k for k, _ in tx.scan("tasks")) == sorted([*kept, "no-time", "recent"])
        assert sorted(k for k, _ in tx.scan("tags")) == kept
    assert reap_stopped_tasks(store, now=now) == 0
