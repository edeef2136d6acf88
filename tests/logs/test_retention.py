"""Retention: what expires, decided with a fake clock, then applied to a real store."""

from __future__ import annotations

from pathlib import Path

from portside.logs import retention
from portside.logs.retention import Expiry
from portside.logs.rules import DAY_MS
from portside.logs.store import LogStore, Window

NOW = 1_800_000_000_000


def test_plan_cuts_each_group_at_its_retention() -> None:
    assert retention.plan([(1, 1), (2, 30)], NOW) == [
        Expiry(1, NOW - DAY_MS),
        Expiry(2, NOW - 30 * DAY_MS),
    ]
    assert retention.plan([], NOW) == []


def test_apply_deletes_only_expired_events(tmp_path: Path) -> None:
    store = LogStore(tmp_path / "logs.db", synchronous="NORMAL")
    for group in ("short", "forever"):
        store.ensure_stream(group, "s", create_group=True, now_ms=NOW)
        store.append(
            group,
            "s",
            [(NOW - 3 * DAY_MS, "old"), (NOW - DAY_MS - 1, "just expired"), (NOW - 5, "new")],
            now_ms=NOW,
        )
    store.set_retention("short", 1)
    assert retention.apply(store, NOW) == 2
    assert retention.apply(store, NOW) == 0

    def left(group: str) -> list[str]:
        sid = store.stream(group, "s").id
        got = store.read(sid, Window(), 10)
        return [e.message for e in got]

    assert left("short") == ["new"]
    assert left("forever") == ["old", "just expired", "new"]
    assert store.stream("short", "s").first_ts == NOW - 5
    assert store.group("short").stored_bytes == len("new")
    # A day later the last one goes too.
    assert retention.apply(store, NOW + DAY_MS) == 1
    assert left("short") == []


def test_expiry_runs_in_batches(tmp_path: Path) -> None:
    store = LogStore(tmp_path / "logs.db", synchronous="NORMAL")
    store.ensure_stream("g", "s", create_group=True, now_ms=NOW)
    store.append("g", "s", [(NOW - 2 * DAY_MS + i, f"e{i}") for i in range(25)], now_ms=NOW)
    group_id = store.group("g").id
    assert store.expire(group_id, NOW - DAY_MS, batch=10) == 25
