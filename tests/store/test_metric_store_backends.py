"""The metric store on both backends (cloudwatch/store.py on SQLite, cloudwatch/postgres.py on
PostgreSQL): a bucket aggregates every datapoint put into it however they are batched and
whichever replica took them; retention rolls minutes up into five-minute buckets keeping their
aggregates; alarms and their history are kept."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from portside.cloudwatch import retention
from portside.cloudwatch.alarm_records import AlarmRecords
from portside.cloudwatch.buckets import from_points
from portside.cloudwatch.datapoints import samples
from portside.cloudwatch.store import MetricStore

T = 1_800_000_040 // 300 * 300
NOW = T + 120.0


@pytest.fixture
def open_metrics(
    request: pytest.FixtureRequest, tmp_path: Path, backend: str
) -> Iterator[Callable[[], MetricStore]]:
    opened: list[MetricStore] = []
    url = request.getfixturevalue("postgres_url") if backend == "postgresql" else ""

    def make() -> MetricStore:
        if backend == "postgresql":
            from portside.cloudwatch.postgres import PostgresMetricStore

            store: MetricStore = PostgresMetricStore(url)
        else:
            store = MetricStore(tmp_path / "metrics.db", synchronous="OFF")
        opened.append(store)
        return store

    yield make
    for store in opened:
        store.close()


def datum(value: float, at: float) -> dict[str, object]:
    return {"MetricName": "m", "Value": value, "Timestamp": at}


def test_buckets_aggregate_every_put_and_roll_up(open_metrics: Callable[[], MetricStore]) -> None:
    a, b = open_metrics(), open_metrics()  # two replicas on PostgreSQL; one file on SQLite
    every = [float(v) for v in range(1, 21)]
    for i, value in enumerate(every):
        store = a if i % 2 else b
        batch = [datum(value, T + 10), datum(value * 100, T + 70)]
        store.put("a|r", samples("N", batch, NOW), int(NOW))
    sid = a.find("a|r", "N", "m", ())
    assert sid is not None and b.find("a|r", "N", "m", ()) == sid
    first, second = from_points(a.points(sid, (60,), T, T + 120, None), T, 60)
    assert (first.count, first.total, first.low, first.high) == (20, sum(every), 1.0, 20.0)
    assert first.stat("p50") == 10.0
    assert (second.count, second.low, second.high) == (20, 100.0, 2000.0)
    # Fifteen days on, the minutes are five-minute buckets with the same aggregates.
    later = T + 16 * 86400 + 600
    assert retention.apply(a, later) >= 2
    assert a.points(sid, (60,), T, T + 120, None) == []
    (rolled,) = from_points(a.points(sid, (300,), T, T + 300, None), T, 300)
    assert rolled.count == 40 and math.isclose(rolled.total, sum(every) * 101)
    assert (rolled.low, rolled.high) == (1.0, 2000.0)
    assert rolled.stat("p100") == 2000.0


def test_alarms_and_their_history(open_metrics: Callable[[], MetricStore]) -> None:
    records = AlarmRecords(open_metrics())
    doc = {"AlarmName": "high", "StateValue": "OK", "StateUpdatedTimestamp": 1}
    item = {"AlarmName": "high", "Timestamp": NOW, "HistoryItemType": "StateUpdate"}
    records.save("a|r", doc, [item])
    assert records.get("a|r", "high") == doc
    changed = {**doc, "StateValue": "ALARM"}
    assert records.replace("a|r", doc, changed, [item])
    assert not records.replace("a|r", doc, changed)  # stale: the state moved on
    assert [d["StateValue"] for _, d in records.every()] == ["ALARM"]
    got = records.history(
        "a|r", name="high", kind=None, start=None, end=None, descending=True, after=None, limit=5
    )
    assert len(got) == 2 and got[0][0] > got[1][0]
    records.delete("a|r", ["high"], [])
    assert records.get("a|r", "high") is None
