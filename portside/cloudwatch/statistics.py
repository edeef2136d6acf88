"""GetMetricStatistics: one metric's statistics and percentiles per period.

Checks as CloudWatch does: Statistics or ExtendedStatistics (not neither), StartTime before
EndTime, a period readable from what is stored (1, 5, 10, 30 or a multiple of 60), at most
1,440 datapoints. Each (period, unit) with data is a datapoint, in time order, with the
statistics asked for (a percentile the data cannot give is left out).
"""

from __future__ import annotations

from typing import Any

from portside.cloudwatch import rules, runtime
from portside.cloudwatch.alarm_records import scope
from portside.cloudwatch.errors import invalid_value
from portside.cloudwatch.operations import action
from portside.cloudwatch.reads import buckets
from portside.ops.context import Op


@action("GetMetricStatistics")
def get_metric_statistics(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    rules.check_namespace(p["Namespace"], publishing=False)
    stats, extended = p.get("Statistics") or [], p.get("ExtendedStatistics") or []
    rules.check_statistics(stats, extended)
    start, end, period = rules.epoch(p["StartTime"]), rules.epoch(p["EndTime"]), p["Period"]
    if start >= end:
        raise invalid_value("The parameter StartTime must be less than the parameter EndTime.")
    rules.check_period(period)
    first = rules.aligned_start(start, period)
    rules.check_datapoints(first, end, period)
    unit = rules.UNIT_CODES[p["Unit"]] if p.get("Unit") else None
    metric = (p["Namespace"], p["MetricName"], rules.dimensions(p.get("Dimensions")))
    found = buckets(
        runtime.of(op).metrics,
        scope(op.account, op.region),
        metric,
        period=period,
        start=first,
        end=int(-(-end // 1)),
        unit=unit,
        percentiles=bool(extended),
    )
    points = []
    for b in found:
        point: dict[str, Any] = {"Timestamp": float(b.start), "Unit": rules.UNITS[b.unit]}
        for name in stats:
            point[name] = b.stat(name)
        if extended:
            known = {name: v for name in extended if (v := b.stat(name)) is not None}
            if known:
                point["ExtendedStatistics"] = known
        points.append(point)
    return {"Label": p["MetricName"], "Datapoints": points}
