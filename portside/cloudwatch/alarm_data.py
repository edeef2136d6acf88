"""The values an alarm evaluates: its statistic for each period of its evaluation window,
read from the metric store (one metric, or its metric math queries)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from portside.cloudwatch import queries, rules
from portside.cloudwatch.reads import buckets
from portside.cloudwatch.store import MetricStore


def values(
    store: MetricStore, scope: str, alarm: dict[str, Any], starts: Sequence[int], period: int
) -> list[float | None]:
    """The value for each period start in `starts` (None where there is none)."""
    if not starts:
        return []
    first, end = min(starts), max(starts) + period
    if alarm.get("Metrics"):
        answers = queries.evaluate(store, scope, alarm["Metrics"], first, end)
        points = dict(answers[0].points) if answers else {}
    else:
        stat = alarm.get("Statistic") or alarm["ExtendedStatistic"]
        metric = (
            alarm["Namespace"],
            alarm["MetricName"],
            rules.dimensions(alarm.get("Dimensions")),
        )
        unit = rules.UNIT_CODES[alarm["Unit"]] if alarm.get("Unit") else None
        found = buckets(
            store,
            scope,
            metric,
            period=period,
            start=first,
            end=end,
            unit=unit,
            percentiles=rules.percentile(stat) is not None,
        )
        points = {}
        for b in found:
            v = b.stat(stat)
            if v is not None:
                points[b.start] = v
    return [points.get(t) for t in starts]
