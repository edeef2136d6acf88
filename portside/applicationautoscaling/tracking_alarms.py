"""The CloudWatch alarms a target tracking policy creates and owns, as AWS makes them.

Two alarms per policy, named `TargetTracking-<resource id>-AlarmHigh-<uuid>` and
`...-AlarmLow-<uuid>`: AlarmHigh when the metric is above the target for 3 datapoints of 3,
AlarmLow (not made when DisableScaleIn is set) when it is below 90% of the target for 15 of
15. Their period is the server's metric period (AWS: 60 s; `--metric-period` shortens it for
tests and demos). Both call the policy from their ALARM state. They are written straight into
the metric store's alarm records (bypassing PutMetricAlarm's checks, which refuse a period
under 10 s), and deleted with the policy.
"""

from __future__ import annotations

from typing import Any

from portside.applicationautoscaling.names import service_of
from portside.applicationautoscaling.policy_config import PREDEFINED
from portside.cloudwatch import alarm_config
from portside.cloudwatch.alarm_records import alarm_arn, scope
from portside.cloudwatch.runtime import CloudWatchRuntime
from portside.cloudwatch.transitions import history_item

HIGH_DATAPOINTS = 3
LOW_DATAPOINTS = 15
LOW_SHARE = 0.9


def names(resource_id: str, ident: str) -> tuple[str, str]:
    base = f"TargetTracking-{resource_id}"
    return f"{base}-AlarmHigh-{ident}", f"{base}-AlarmLow-{ident}"


def metric(cfg: dict[str, Any], resource_id: str, period: int) -> dict[str, Any]:
    """PutMetricAlarm's metric members for the policy's metric."""
    predefined = cfg.get("PredefinedMetricSpecification")
    if predefined is not None:
        namespace, name, stat = PREDEFINED[predefined["PredefinedMetricType"]]
        if predefined["PredefinedMetricType"] == "ALBRequestCountPerTarget":
            group = predefined["ResourceLabel"].split("/", 3)[3]
            dims = [{"Name": "TargetGroup", "Value": group}]
        else:
            cluster, service = service_of(resource_id)
            dims = [
                {"Name": "ClusterName", "Value": cluster},
                {"Name": "ServiceName", "Value": service},
            ]
        return {
            "Namespace": namespace,
            "MetricName": name,
            "Dimensions": dims,
            "Statistic": stat,
            "Period": period,
        }
    custom = cfg["CustomizedMetricSpecification"]
    if custom.get("Metrics"):
        return {"Metrics": [_query(q, period) for q in custom["Metrics"]]}
    out = {
        "Namespace": custom["Namespace"],
        "MetricName": custom["MetricName"],
        "Dimensions": list(custom.get("Dimensions") or []),
        "Statistic": custom["Statistic"],
        "Period": period,
    }
    if custom.get("Unit"):
        out["Unit"] = custom["Unit"]
    return out


def _query(q: dict[str, Any], period: int) -> dict[str, Any]:
    out: dict[str, Any] = {"Id": q["Id"], "ReturnData": q.get("ReturnData", True)}
    if q.get("Label"):
        out["Label"] = q["Label"]
    if q.get("Expression"):
        out["Expression"] = q["Expression"]
    if q.get("MetricStat"):
        stat = q["MetricStat"]
        out["MetricStat"] = {
            "Metric": {
                "Namespace": stat["Metric"]["Namespace"],
                "MetricName": stat["Metric"]["MetricName"],
                "Dimensions": list(stat["Metric"].get("Dimensions") or []),
            },
            "Stat": stat["Stat"],
            "Period": period,
        }
        if stat.get("Unit"):
            out["MetricStat"]["Unit"] = stat["Unit"]
    return out


def requests(policy: dict[str, Any], ident: str, period: int) -> list[dict[str, Any]]:
    """PutMetricAlarm's parameters for each alarm the policy owns."""
    cfg = policy["TargetTrackingScalingPolicyConfiguration"]
    high, low = names(policy["ResourceId"], ident)
    common = {
        "AlarmDescription": "DO NOT EDIT OR DELETE. For TargetTrackingScaling policy "
        f"{policy['PolicyARN']}.",
        "ActionsEnabled": True,
        "AlarmActions": [policy["PolicyARN"]],
        **metric(cfg, policy["ResourceId"], period),
    }
    target = float(cfg["TargetValue"])
    out = [
        {
            **common,
            "AlarmName": high,
            "EvaluationPeriods": HIGH_DATAPOINTS,
            "DatapointsToAlarm": HIGH_DATAPOINTS,
            "Threshold": target,
            "ComparisonOperator": "GreaterThanThreshold",
        }
    ]
    if not cfg.get("DisableScaleIn"):
        out.append(
            {
                **common,
                "AlarmName": low,
                "EvaluationPeriods": LOW_DATAPOINTS,
                "DatapointsToAlarm": LOW_DATAPOINTS,
                "Threshold": round(target * LOW_SHARE, 10),
                "ComparisonOperator": "LessThanThreshold",
            }
        )
    return out


def put(
    rt: CloudWatchRuntime, account: str, region: str, params: list[dict[str, Any]], now: float
) -> list[dict[str, str]]:
    """Create or update the alarms; the policy's `Alarms` (name and ARN each)."""
    where = scope(account, region)
    shown = []
    for p in params:
        arn = alarm_arn(region, account, p["AlarmName"])
        old = rt.alarms.get(where, p["AlarmName"])
        doc = alarm_config.document(p, arn, old, now)
        verb = "created" if old is None else "updated"
        item = history_item(
            p["AlarmName"],
            now,
            "ConfigurationUpdate",
            f'Alarm "{p["AlarmName"]}" {verb}',
            {"version": "1.0", "type": "Create" if old is None else "Update"},
        )
        rt.alarms.save(where, doc, [item])
        shown.append({"AlarmName": p["AlarmName"], "AlarmARN": arn})
    return shown


def delete(rt: CloudWatchRuntime, account: str, region: str, alarm_names: list[str]) -> None:
    where = scope(account, region)
    found = [a["AlarmName"] for a in rt.alarms.many(where, alarm_names)]
    if found:
        rt.alarms.delete(where, found, [])
