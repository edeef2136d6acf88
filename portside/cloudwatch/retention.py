"""Metric data aged as CloudWatch ages it: `plan` decides (pure), `apply` rolls up and
deletes, `MetricRetentionLoop` runs it every ten minutes.

CloudWatch keeps (User Guide, "Metrics retention"): data of periods under a minute three
hours; one-minute data 15 days; five-minute data 63 days; one-hour data 455 days (15
months). Older data is still readable at the coarser period: one-minute aggregates become
five-minute ones after 15 days, those one-hour ones after 63 days. Here a high-resolution
datapoint is stored in its minute too (`datapoints.py`), so its seconds are simply deleted.
A roll-up merges the rows of each target bucket (count, sum, min, max and the values) into
the coarser row and deletes them, a few hours of data per transaction, so a pass never holds
the writer long; cutoffs fall on the target's bucket edges, so no bucket is split between
passes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from portside.cloudwatch.alarm_records import HISTORY_DAYS, AlarmRecords
from portside.cloudwatch.store import MetricStore
from portside.controllers.loop import Loop, Loops

log = logging.getLogger("portside.cloudwatch")

DAY = 86400
# (resolution, how long it is kept, what it becomes after: None = deleted)
AGES: tuple[tuple[int, int, int | None], ...] = (
    (1, 3 * 3600, None),
    (60, 15 * DAY, 300),
    (300, 63 * DAY, 3600),
    (3600, 455 * DAY, None),
)
CHUNK = 6 * 3600  # seconds of data per transaction


@dataclass(frozen=True, slots=True)
class Step:
    res: int
    cutoff: int  # rows of `res` with ts < cutoff go
    into: int | None  # rolled up into this resolution first, or just deleted


def plan(now: float) -> list[Step]:
    steps = []
    for res, kept, into in AGES:
        edge = into or res
        steps.append(Step(res, int((now - kept) // edge * edge), into))
    return steps


_ROLLUP = (
    "INSERT INTO points (series, res, ts, unit, n, total, lo, hi, vals) "
    "SELECT series, ?, ts / ? * ?, unit, sum(n), sum(total), min(lo), max(hi), "
    "cw_values(vals, n, lo) FROM points WHERE res = ? AND ts >= ? AND ts < ? "
    "GROUP BY series, ts / ? * ?, unit ORDER BY 1, 3, 4 "
    "ON CONFLICT (series, res, ts, unit) DO UPDATE SET "
    "vals = cw_merge(points.vals, points.n, points.lo, excluded.vals, excluded.n, excluded.lo),"
    " n = points.n + excluded.n, total = points.total + excluded.total,"
    " lo = min(points.lo, excluded.lo), hi = max(points.hi, excluded.hi)"
)


def apply(store: MetricStore, now: float, budget: int = 50) -> int:
    """Carry out the plan, at most `budget` transactions; returns rows removed."""
    removed = 0
    for step in plan(now):
        while budget > 0:
            row = (
                store.reader()
                .execute(
                    "SELECT min(ts) FROM points WHERE res = ? AND ts < ?", (step.res, step.cutoff)
                )
                .fetchone()
            )
            if row is None or row[0] is None:
                break
            low = int(row[0])
            high = min(step.cutoff, low + CHUNK)
            if step.into is not None:
                high = max(low + step.into, high // step.into * step.into)
            with store.write() as w:
                if step.into is not None:
                    into = step.into
                    w.execute(_ROLLUP, (into, into, into, step.res, low, high, into, into))
                cur = w.execute(
                    "DELETE FROM points WHERE res = ? AND ts >= ? AND ts < ?", (step.res, low, high)
                )
                removed += cur.rowcount
            budget -= 1
    AlarmRecords(store).expire_history(now - HISTORY_DAYS * DAY)
    return removed


class MetricRetentionLoop:
    def __init__(
        self, store: MetricStore, clock: Callable[[], float], interval: float = 600.0
    ) -> None:
        self.store = store
        self.clock = clock
        self.interval = interval

    def step(self) -> None:
        removed = apply(self.store, self.clock())
        if removed:
            log.info("metrics retention: rolled up or deleted %d datapoint rows", removed)

    def register(self, loops: Loops) -> Loop:
        return loops.add("metrics-retention", self.step, interval=self.interval, log=log)
