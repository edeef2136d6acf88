"""One metric's buckets over a window, read from the metric store: SQL aggregates when only
the plain statistics are wanted, every row and its values when a percentile is."""

from __future__ import annotations

from portside.cloudwatch.buckets import Bucket, from_aggregates, from_points, resolutions
from portside.cloudwatch.rules import Dimensions
from portside.cloudwatch.store import MetricStore


def buckets(
    store: MetricStore,
    scope: str,
    metric: tuple[str, str, Dimensions],
    *,
    period: int,
    start: int,
    end: int,
    unit: int | None,
    percentiles: bool,
) -> list[Bucket]:
    sid = store.find(scope, *metric)
    if sid is None or end <= start:
        return []
    res = resolutions(period)
    if percentiles:
        return from_points(store.points(sid, res, start, end, unit), start, period)
    return from_aggregates(store.aggregates(sid, res, start, end, period, unit))
