"""PutScalingPolicy's configurations checked, as AWS checks them, and the defaults AWS shows
back (target tracking: ScaleOutCooldown and ScaleInCooldown 300, DisableScaleIn false); pure.

ECS services take the predefined metrics ECSServiceAverageCPUUtilization,
ECSServiceAverageMemoryUtilization and ALBRequestCountPerTarget (which needs a ResourceLabel,
`app/<lb>/<id>/targetgroup/<tg>/<id>`), or a customized metric: one metric, or metric math
(Metrics: queries, exactly one returning data).
"""

from __future__ import annotations

import itertools
import re
from typing import Any

from portside.errors import ValidationException

DEFAULT_COOLDOWN = 300
PREDEFINED = {
    # type -> (namespace, metric name, statistic)
    "ECSServiceAverageCPUUtilization": ("AWS/ECS", "CPUUtilization", "Average"),
    "ECSServiceAverageMemoryUtilization": ("AWS/ECS", "MemoryUtilization", "Average"),
    "ALBRequestCountPerTarget": ("AWS/ApplicationELB", "RequestCountPerTarget", "Sum"),
}
ADJUSTMENT_TYPES = ("ChangeInCapacity", "PercentChangeInCapacity", "ExactCapacity")
AGGREGATIONS = ("Average", "Minimum", "Maximum")
_LABEL = re.compile(r"app/[^/]+/[^/]+/targetgroup/[^/]+/[^/]+")


def target_tracking(cfg: dict[str, Any] | None) -> dict[str, Any]:
    """The configuration as stored and shown, defaults filled in."""
    if cfg is None:
        raise ValidationException(
            "TargetTrackingScalingPolicyConfiguration is required for a policy of type "
            "TargetTrackingScaling"
        )
    predefined, custom = (
        cfg.get("PredefinedMetricSpecification"),
        cfg.get("CustomizedMetricSpecification"),
    )
    if (predefined is None) == (custom is None):
        raise ValidationException(
            "Exactly one of PredefinedMetricSpecification and CustomizedMetricSpecification "
            "must be specified"
        )
    if predefined is not None:
        kind = predefined["PredefinedMetricType"]
        if kind not in PREDEFINED:
            raise ValidationException(
                f"Unsupported metric type {kind} for service namespace ecs and scalable "
                "dimension ecs:service:DesiredCount"
            )
        label = predefined.get("ResourceLabel")
        if kind == "ALBRequestCountPerTarget":
            if not label or not _LABEL.fullmatch(label):
                raise ValidationException(
                    "ResourceLabel must be specified for predefined metric type "
                    "ALBRequestCountPerTarget, in the format "
                    "app/<load-balancer-name>/<load-balancer-id>/targetgroup/"
                    "<target-group-name>/<target-group-id>"
                )
        elif label:
            raise ValidationException(
                f"ResourceLabel is not supported for predefined metric type {kind}"
            )
    else:
        _custom(custom or {})
    target = cfg["TargetValue"]
    if not 8.515920e-109 <= target <= 6.153846e108:
        raise ValidationException("TargetValue must be between 8.515920e-109 and 6.153846e+108")
    out = dict(cfg)
    out.setdefault("ScaleOutCooldown", DEFAULT_COOLDOWN)
    out.setdefault("ScaleInCooldown", DEFAULT_COOLDOWN)
    out.setdefault("DisableScaleIn", False)
    return out


def _custom(spec: dict[str, Any]) -> None:
    queries = spec.get("Metrics")
    single = [k for k in ("MetricName", "Namespace", "Dimensions", "Statistic", "Unit")
              if spec.get(k)]  # fmt: skip
    if queries:
        if single:
            raise ValidationException(
                f"CustomizedMetricSpecification cannot specify both Metrics and {single[0]}"
            )
        ids = [q["Id"] for q in queries]
        if len(set(ids)) != len(ids):
            raise ValidationException("Metric query ids must be unique")
        returned = [q for q in queries if q.get("ReturnData", True)]
        if len(returned) != 1:
            raise ValidationException(
                "Exactly one metric query in Metrics must have ReturnData set to true"
            )
        for q in queries:
            if (q.get("Expression") is None) == (q.get("MetricStat") is None):
                raise ValidationException(
                    f"Metric query {q['Id']} must specify exactly one of Expression and MetricStat"
                )
        return
    for key in ("MetricName", "Namespace", "Statistic"):
        if not spec.get(key):
            raise ValidationException(f"{key} must be specified in CustomizedMetricSpecification")


def step_scaling(cfg: dict[str, Any] | None) -> dict[str, Any]:
    if cfg is None:
        raise ValidationException(
            "StepScalingPolicyConfiguration is required for a policy of type StepScaling"
        )
    kind = cfg.get("AdjustmentType")
    if kind is None:
        raise ValidationException("AdjustmentType must be specified")
    steps = cfg.get("StepAdjustments") or []
    if not steps:
        raise ValidationException("There must be at least one step adjustment")
    if cfg.get("MinAdjustmentMagnitude") is not None and kind != "PercentChangeInCapacity":
        raise ValidationException(
            "MinAdjustmentMagnitude is only supported with AdjustmentType PercentChangeInCapacity"
        )
    _check_steps(steps)
    if kind == "ExactCapacity" and any(s["ScalingAdjustment"] < 0 for s in steps):
        raise ValidationException("ScalingAdjustment cannot be negative for ExactCapacity")
    return dict(cfg)


def _check_steps(steps: list[dict[str, Any]]) -> None:
    """No overlap, no gap, at most one step open below and one open above."""

    def low(s: dict[str, Any]) -> float:
        v = s.get("MetricIntervalLowerBound")
        return float("-inf") if v is None else float(v)

    def high(s: dict[str, Any]) -> float:
        v = s.get("MetricIntervalUpperBound")
        return float("inf") if v is None else float(v)

    for s in steps:
        unbounded = (
            s.get("MetricIntervalLowerBound") is None and s.get("MetricIntervalUpperBound") is None
        )
        if unbounded and len(steps) > 1:
            raise ValidationException(
                "A step adjustment with both bounds null must be the only one"
            )
        if low(s) >= high(s):
            raise ValidationException(
                "MetricIntervalLowerBound must be less than MetricIntervalUpperBound"
            )
    ordered = sorted(steps, key=low)
    if sum(1 for s in steps if s.get("MetricIntervalLowerBound") is None) > 1:
        raise ValidationException("Only one step adjustment may have a null lower bound")
    if sum(1 for s in steps if s.get("MetricIntervalUpperBound") is None) > 1:
        raise ValidationException("Only one step adjustment may have a null upper bound")
    for a, b in itertools.pairwise(ordered):
        if high(a) > low(b):
            raise ValidationException("Step adjustments cannot overlap")
        if high(a) < low(b):
            raise ValidationException("Step adjustments cannot have gaps between them")
