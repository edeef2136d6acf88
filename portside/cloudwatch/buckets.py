"""Datapoints read for a period: one `Bucket` per (period start, unit), and the statistics
CloudWatch computes from it; pure.

A bucket is built from the stored rows that fall in its period (minute aggregates, or
seconds for periods under a minute, or roll-ups for older data). Percentiles come from the
rows' values (`values.py`) and are clamped to the bucket's minimum and maximum; a bucket whose
values are unknown (statistic sets only) has none, and CloudWatch leaves the percentile out.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from portside.cloudwatch import rules, values


@dataclass(slots=True)
class Bucket:
    start: int
    unit: int
    count: float
    total: float
    low: float
    high: float
    pairs: values.Pairs | None = None  # the values, when percentiles were asked for

    def stat(self, name: str) -> float | None:
        """A statistic (`Average`, `p90`, ...) of the bucket; None when it has none."""
        if name == "SampleCount":
            return self.count
        if name == "Sum":
            return self.total
        if name == "Average":
            return self.total / self.count if self.count else None
        if name == "Minimum":
            return self.low
        if name == "Maximum":
            return self.high
        p = rules.percentile(name)
        if p is None or not self.pairs:
            return None
        found = values.percentile(self.pairs, p)
        return None if found is None else min(max(found, self.low), self.high)


def from_aggregates(rows: Iterable[tuple[int, int, float, float, float, float]]) -> list[Bucket]:
    return [Bucket(int(ts), int(u), n, total, lo, hi) for ts, u, n, total, lo, hi in rows]


def from_points(
    rows: Iterable[tuple[int, float, float, float, float, bytes | None, int]],
    start: int,
    period: int,
) -> list[Bucket]:
    """Buckets from stored rows (in time order), with their values merged."""
    out: dict[tuple[int, int], Bucket] = {}
    parts: dict[tuple[int, int], list[tuple[float, float]]] = {}
    for ts, n, total, lo, hi, vals, unit in rows:
        key = (start + (ts - start) // period * period, unit)
        b = out.get(key)
        if b is None:
            out[key] = Bucket(key[0], unit, n, total, lo, hi)
            parts[key] = []
        else:
            b.count += n
            b.total += total
            b.low = min(b.low, lo)
            b.high = max(b.high, hi)
        parts[key] += values.decode(vals, n, lo)
    for key, b in out.items():
        b.pairs = values.of(parts[key])
    return sorted(out.values(), key=lambda b: (b.start, b.unit))


def resolutions(period: int) -> tuple[int, ...]:
    """The stored resolutions a period is read from: seconds below a minute, else every
    resolution that divides it (a minute's rows, and the roll-ups of older data)."""
    if period < 60:
        return (1,)
    return tuple(r for r in (60, 300, 3600) if period % r == 0)
