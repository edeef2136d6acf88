"""PutMetricData's datapoints checked and turned into what the store keeps; pure.

Each MetricDatum is one of: a `Value`; `Values` with optional `Counts` (up to 150, counts 1
by default); a `StatisticValues` set (count, sum, minimum, maximum: no percentiles can come
of it). A datum goes into its minute's bucket, and a high-resolution one (StorageResolution
1) into its second's too, so reads at a minute or more never look at seconds. Errors name the
member as the query protocol spells it (`MetricData.member.2.Timestamp`), as CloudWatch does
whatever protocol the call came in.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from portside.cloudwatch import rules, values
from portside.cloudwatch.errors import combination, invalid_value
from portside.cloudwatch.store import Sample

MAX_DATA = 1000
MAX_VALUES = 150


def samples(namespace: str, data: Iterable[Mapping[str, Any]], now: float) -> list[Sample]:
    out = [sample(namespace, datum, now, index) for index, datum in enumerate(data, start=1)]
    if len(out) > MAX_DATA:
        raise invalid_value(
            f"The collection MetricData must not have a size greater than {MAX_DATA}."
        )
    return out


def sample(namespace: str, datum: Mapping[str, Any], now: float, index: int) -> Sample:
    """One datum as stored; `index` (1-based) names it in errors. The common datum (one
    Value, at most one dimension, a standard resolution) takes the short way."""
    given = datum.get("Dimensions")
    if not given:
        dims: rules.Dimensions = ()
    elif len(given) == 1:
        dims = ((given[0]["Name"], given[0]["Value"]),)
    else:
        dims = rules.dimensions(given, f"MetricData.member.{index}.Dimensions")
    ts = datum.get("Timestamp")
    ts = now if ts is None else rules.epoch(ts)
    if not now - rules.TWO_WEEKS <= ts <= now + rules.TWO_HOURS:
        rules.check_timestamp(ts, now, f"MetricData.member.{index}.Timestamp")
    resolution = datum.get("StorageResolution")
    if resolution is not None and resolution != 60:
        rules.check_resolution(resolution, f"MetricData.member.{index}.StorageResolution")
    unit = rules.UNIT_CODES[datum.get("Unit") or "None"]
    value = datum.get("Value")
    if value is not None and "StatisticValues" not in datum and "Values" not in datum:
        v = float(value)
        if not -rules.MAX_VALUE <= v <= rules.MAX_VALUE:  # also false for NaN
            rules.check_value(v, f"MetricData.member.{index}.Value")
        point: tuple[float, float, float, float, bytes | None] = (1.0, v, v, v, None)
    else:
        point = _point(datum, f"MetricData.member.{index}")
    minute = int(ts // 60 * 60)
    buckets = ((60, minute), (1, int(ts))) if resolution == 1 else ((60, minute),)
    return Sample(namespace, datum["MetricName"], dims, buckets, (unit, *point))


def _point(datum: Mapping[str, Any], where: str) -> tuple[float, float, float, float, bytes | None]:
    """(count, sum, min, max, vals) of one datum."""
    given = [k for k in ("Value", "StatisticValues", "Values") if datum.get(k) is not None]
    if len(given) > 1:
        raise combination(
            f"The parameters {where}.{given[0]} and {where}.{given[1]} are mutually exclusive "
            "and you have specified both."
        )
    if not given:
        raise combination(
            f"At least one of the parameters {where}.Value, {where}.StatisticValues or "
            f"{where}.Values must be specified."
        )
    if "Value" in given:
        v = rules.check_value(float(datum["Value"]), f"{where}.Value")
        return (1.0, v, v, v, None)
    if "StatisticValues" in given:
        return _statistic_set(datum["StatisticValues"], f"{where}.StatisticValues")
    return _values(datum["Values"], datum.get("Counts"), where)


def _statistic_set(s: Mapping[str, Any], where: str) -> tuple[float, float, float, float, bytes]:
    count, total = float(s["SampleCount"]), float(s["Sum"])
    low, high = float(s["Minimum"]), float(s["Maximum"])
    for name, v in (("SampleCount", count), ("Sum", total), ("Minimum", low), ("Maximum", high)):
        rules.check_value(v, f"{where}.{name}")
    if count <= 0:
        raise invalid_value(f"The parameter {where}.SampleCount must be greater than 0.")
    if low > high:
        raise invalid_value(
            f"The parameter {where}.Minimum must be less than or equal to the parameter "
            f"{where}.Maximum."
        )
    return (count, total, low, high, b"")


def _values(
    given: list[float], counts: list[float] | None, where: str
) -> tuple[float, float, float, float, bytes | None]:
    if len(given) > MAX_VALUES:
        raise invalid_value(
            f"The collection {where}.Values must not have a size greater than {MAX_VALUES}."
        )
    if counts is not None and len(counts) != len(given):
        raise invalid_value(
            f"The parameters {where}.Values and {where}.Counts must be of the same size."
        )
    weights = counts if counts is not None else [1.0] * len(given)
    pairs = []
    for i, (v, c) in enumerate(zip(given, weights, strict=True), start=1):
        rules.check_value(float(v), f"{where}.Values.member.{i}")
        if not c >= 0 or not rules.check_value(float(c), f"{where}.Counts.member.{i}") >= 0:
            raise invalid_value(
                f"The value {c} for parameter {where}.Counts.member.{i} is invalid."
            )
        if c > 0:
            pairs.append((float(v), float(c)))
    if not pairs:
        raise invalid_value(f"The parameter {where}.Values must hold a value with a count.")
    joined = values.of(pairs)
    count = sum(c for _, c in pairs)
    total = sum(v * c for v, c in pairs)
    low, high = min(v for v, _ in pairs), max(v for v, _ in pairs)
    return (count, total, low, high, values.stored(joined, low, high))
