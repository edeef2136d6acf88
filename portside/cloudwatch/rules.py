"""CloudWatch's rules for metrics, statistics and periods; pure.

What the service enforces beyond the model's constraints (Amazon CloudWatch User Guide,
"Metrics concepts", and the API reference for PutMetricData / GetMetricStatistics):

- A namespace is 1-255 of letters, digits and `. - _ / # : space`, not starting with `:`,
  and a caller may not publish into one starting with `AWS/` (reserved for AWS services).
- A datapoint's timestamp may be up to two weeks in the past and two hours in the future.
- StorageResolution is 1 (high resolution) or 60; a high-resolution metric may be read with
  periods of 1, 5, 10 or 30 seconds, anything else in multiples of 60.
- Values must be finite and within 2^360 in magnitude (CloudWatch rejects larger ones).
- Statistics are SampleCount, Average, Sum, Minimum, Maximum; extended statistics are
  percentiles `p0.0`-`p100` (at most two decimals).
- One GetMetricStatistics call answers at most 1,440 datapoints.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from portside.cloudwatch.errors import bad_value, combination, invalid_value

TWO_WEEKS = 14 * 86400
TWO_HOURS = 2 * 3600
MAX_DATAPOINTS = 1440
MAX_VALUE = 2.0**360
STATISTICS = ("SampleCount", "Average", "Sum", "Minimum", "Maximum")
HIGH_RES_PERIODS = (1, 5, 10, 30)
UNITS = (
    "None", "Seconds", "Microseconds", "Milliseconds", "Bytes", "Kilobytes", "Megabytes",
    "Gigabytes", "Terabytes", "Bits", "Kilobits", "Megabits", "Gigabits", "Terabits",
    "Percent", "Count", "Bytes/Second", "Kilobytes/Second", "Megabytes/Second",
    "Gigabytes/Second", "Terabytes/Second", "Bits/Second", "Kilobits/Second",
    "Megabits/Second", "Gigabits/Second", "Terabits/Second", "Count/Second",
)  # fmt: skip
UNIT_CODES = {name: code for code, name in enumerate(UNITS)}
_NAMESPACE = re.compile(r"^[A-Za-z0-9.\-_/#: ]+$")
_PERCENTILE = re.compile(r"^p(\d{1,3})(?:\.(\d{1,2}))?$")

Dimensions = tuple[tuple[str, str], ...]


def epoch(value: Any) -> float:
    """A canonical timestamp (epoch seconds; a datetime or ISO text where a client sent one)."""
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, datetime):
        return value.timestamp()
    return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()


def check_namespace(namespace: str, *, publishing: bool) -> None:
    if not _NAMESPACE.match(namespace) or not namespace.strip() or namespace.startswith(":"):
        raise bad_value(namespace, "Namespace")
    if publishing and namespace.startswith("AWS/"):
        raise bad_value(namespace, "Namespace")


def dimensions(given: Iterable[Mapping[str, str]] | None, where: str = "Dimensions") -> Dimensions:
    """A metric's dimensions as its identity: sorted by name, names unique."""
    pairs = sorted((d["Name"], d["Value"]) for d in given or ())
    for i in range(1, len(pairs)):
        if pairs[i][0] == pairs[i - 1][0]:
            raise invalid_value(
                f"No metric may have more than one dimension named {pairs[i][0]} ({where})."
            )
    return tuple(pairs)


def dimension_list(dims: Dimensions) -> list[dict[str, str]]:
    return [{"Name": n, "Value": v} for n, v in dims]


def check_value(value: float, parameter: str) -> float:
    if not math.isfinite(value) or abs(value) > MAX_VALUE:
        raise bad_value(value, parameter)
    return value


def check_timestamp(ts: float, now: float, parameter: str) -> None:
    if ts < now - TWO_WEEKS:
        raise invalid_value(
            f"The parameter {parameter} must specify a time no more than two weeks in the past."
        )
    if ts > now + TWO_HOURS:
        raise invalid_value(
            f"The parameter {parameter} must specify a time no more than two hours in the future."
        )


def check_resolution(value: int | None, parameter: str) -> int:
    if value is None:
        return 60
    if value not in (1, 60):
        raise bad_value(value, parameter)
    return value


def check_period(period: int, parameter: str = "Period") -> None:
    """A period readable from some stored resolution: 1, 5, 10, 30 or a multiple of 60."""
    if period not in HIGH_RES_PERIODS and period % 60:
        raise invalid_value(f"The parameter {parameter} must be 1, 5, 10, 30, or a multiple of 60.")


def percentile(stat: str) -> float | None:
    """`p99.9` -> 99.9; None when `stat` is not a percentile CloudWatch accepts."""
    m = _PERCENTILE.match(stat)
    if not m:
        return None
    value = float(f"{m[1]}.{m[2] or 0}")
    return value if 0.0 <= value <= 100.0 else None


def check_statistics(statistics: list[str] | None, extended: list[str] | None) -> None:
    if not statistics and not extended:
        raise combination("Must specify either Statistics or ExtendedStatistics.")
    for stat in statistics or ():
        if stat not in STATISTICS:
            raise bad_value(stat, "Statistics")
    for stat in extended or ():
        if percentile(stat) is None:
            raise bad_value(stat, "ExtendedStatistics")


def datapoint_count(start: float, end: float, period: int) -> int:
    return math.ceil((end - start) / period)


def check_datapoints(start: float, end: float, period: int) -> None:
    count = datapoint_count(start, end, period)
    if count > MAX_DATAPOINTS:
        raise combination(
            f"You have requested up to {count:,} datapoints, which exceeds the limit of "
            f"{MAX_DATAPOINTS:,}. You may reduce the datapoints requested by increasing "
            "Period, or decreasing the time range."
        )


def aligned_start(start: float, period: int) -> int:
    """Where the first bucket of a read begins: the start rounded down to its period (to the
    minute for periods of a minute or more, as CloudWatch rounds)."""
    step = period if period < 60 else 60
    return int(start // step * step)
