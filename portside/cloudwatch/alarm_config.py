"""PutMetricAlarm's request checked and turned into the alarm's document; pure.

An alarm watches one metric (MetricName, Namespace, Dimensions, Period, Statistic or
ExtendedStatistic, Unit) or a metric math expression (Metrics: MetricDataQueries, exactly one
of them with ReturnData), never both. CloudWatch's rules: Period 10, 30 or a multiple of 60;
EvaluationPeriods x Period at most a day; DatapointsToAlarm at most EvaluationPeriods; a
static Threshold with one of the four comparison operators (the band operators belong to
anomaly detection, which Portside does not have); TreatMissingData one of missing, ignore,
breaching, notBreaching; actions given as ARNs.
"""

from __future__ import annotations

from typing import Any

from portside.cloudwatch import queries, rules
from portside.cloudwatch.errors import ValidationError, combination, missing
from portside.cloudwatch.evaluation import INSUFFICIENT, OPERATORS, TREATMENTS

ONE_DAY = 86400
_SINGLE = (
    "MetricName",
    "Namespace",
    "Dimensions",
    "Statistic",
    "ExtendedStatistic",
    "Period",
    "Unit",
)
_COPIED = (
    "AlarmDescription", "MetricName", "Namespace", "Statistic", "ExtendedStatistic", "Period",
    "Unit", "EvaluationPeriods", "DatapointsToAlarm", "Threshold", "ComparisonOperator",
    "TreatMissingData", "EvaluateLowSampleCountPercentile", "Metrics",
)  # fmt: skip
ACTION_LISTS = ("OKActions", "AlarmActions", "InsufficientDataActions")


def check(p: dict[str, Any]) -> None:
    if p.get("Metrics"):
        given = [k for k in _SINGLE if p.get(k)]
        if given:
            raise ValidationError(
                f"Metrics list cannot be combined with {given[0]}; "
                "specify either Metrics or a single metric."
            )
        queries.check(p["Metrics"], "Metrics")
        returned = [q for q in p["Metrics"] if q.get("ReturnData", True)]
        if len(returned) != 1:
            raise ValidationError("Exactly one element of the metrics list should return data.")
        period = alarm_period(p)
    else:
        for name in ("MetricName", "Namespace", "Period"):
            if p.get(name) is None:
                raise missing(name)
        rules.check_namespace(p["Namespace"], publishing=False)
        if (p.get("Statistic") is None) == (p.get("ExtendedStatistic") is None):
            raise combination("Exactly one of Statistic or ExtendedStatistic must be specified.")
        ext = p.get("ExtendedStatistic")
        if ext is not None and rules.percentile(ext) is None:
            raise rules.bad_value(ext, "ExtendedStatistic")
        period = p["Period"]
        if period not in (10, 30) and period % 60:
            raise ValidationError("Period must be 10, 30 or a multiple of 60.")
        rules.dimensions(p.get("Dimensions"))
    n = p.get("EvaluationPeriods")
    if n is None:
        raise missing("EvaluationPeriods")
    if n * period > ONE_DAY:
        raise ValidationError(
            "Metrics cannot be checked across more than a day "
            "(EvaluationPeriods * Period must be <= 86400)."
        )
    m = p.get("DatapointsToAlarm")
    if m is not None and m > n:
        raise ValidationError("DatapointsToAlarm must be less than or equal to EvaluationPeriods.")
    if p.get("ComparisonOperator") is None:
        raise missing("ComparisonOperator")
    if p["ComparisonOperator"] not in OPERATORS or p.get("ThresholdMetricId"):
        raise ValidationError(
            "Anomaly detection alarms (ThresholdMetricId and band comparison operators) are "
            "not supported."
        )
    if p.get("Threshold") is None:
        raise ValidationError("Threshold is required for a static threshold alarm.")
    treat = p.get("TreatMissingData")
    if treat is not None and treat not in TREATMENTS:
        raise ValidationError(
            f"The value {treat} for parameter TreatMissingData is invalid. Valid values are "
            "breaching, notBreaching, ignore, missing."
        )
    for key in ACTION_LISTS:
        for arn in p.get(key) or ():
            if not arn.startswith("arn:") or arn.count(":") < 5:
                raise ValidationError(f"Invalid arn syntax: {arn}")


def alarm_period(alarm: dict[str, Any]) -> int:
    """The period the alarm is evaluated at: its own, or its returned query's."""
    if alarm.get("Period"):
        return int(alarm["Period"])
    for q in alarm.get("Metrics") or ():
        if q.get("ReturnData", True):
            if q.get("MetricStat"):
                return int(q["MetricStat"]["Period"])
            if q.get("Period"):
                return int(q["Period"])
    periods = [q["MetricStat"]["Period"] for q in alarm.get("Metrics") or () if q.get("MetricStat")]
    return int(min(periods)) if periods else 60


def document(p: dict[str, Any], arn: str, old: dict[str, Any] | None, now: float) -> dict[str, Any]:
    """The alarm as stored: the request's members, a new alarm's first state, an updated
    one's state and tags kept (PutMetricAlarm ignores Tags on an update)."""
    doc: dict[str, Any] = {
        "AlarmName": p["AlarmName"],
        "AlarmArn": arn,
        "AlarmConfigurationUpdatedTimestamp": now,
        "ActionsEnabled": p.get("ActionsEnabled", True),
    }
    for key in ACTION_LISTS:
        doc[key] = list(p.get(key) or [])
    for key in _COPIED:
        if p.get(key) is not None:
            doc[key] = p[key]
    if not p.get("Metrics"):
        doc["Dimensions"] = list(p.get("Dimensions") or [])
    if old is None:
        doc.update(
            StateValue=INSUFFICIENT,
            StateReason="Unchecked: Initial alarm creation",
            StateUpdatedTimestamp=now,
            StateTransitionedTimestamp=now,
            _Tags=list(p.get("Tags") or []),
        )
    else:
        for key in ("StateValue", "StateReason", "StateReasonData", "StateUpdatedTimestamp",
                    "StateTransitionedTimestamp", "_Tags"):  # fmt: skip
            if key in old:
                doc[key] = old[key]
    return doc
