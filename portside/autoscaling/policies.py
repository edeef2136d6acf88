"""Scaling policies: PutScalingPolicy, DescribePolicies, DeletePolicy.

Every type is stored and described as given (SimpleScaling, StepScaling,
TargetTrackingScaling, PredictiveScaling). A target tracking policy also owns two CloudWatch
alarms, made and deleted with it as AWS makes them (`TargetTracking-<group>-AlarmHigh-<uuid>`:
above the target for 3 of 3 datapoints; `...-AlarmLow-<uuid>`, unless DisableScaleIn: under
90 % of it for 15 of 15), with the policy's ARN as their action; tracking.py runs the policy
when one is in ALARM. Simple and step policies are stored for ExecutePolicy and alarms to
name, and not run (Portside's alarms call only target tracking policies of groups).
"""

from __future__ import annotations

import uuid
from typing import Any

from portside.applicationautoscaling import tracking_alarms
from portside.autoscaling import records, runtime
from portside.autoscaling.errors import ValidationError
from portside.autoscaling.names import POLICIES, policy_arn
from portside.autoscaling.operations import ACTIONS
from portside.ops.context import Op
from portside.store.base import Document, Tx

TYPES = ("SimpleScaling", "StepScaling", "TargetTrackingScaling", "PredictiveScaling")
PREDEFINED = {
    "ASGAverageCPUUtilization": ("AWS/EC2", "CPUUtilization", "Average"),
    "ASGAverageNetworkIn": ("AWS/EC2", "NetworkIn", "Average"),
    "ASGAverageNetworkOut": ("AWS/EC2", "NetworkOut", "Average"),
    "ALBRequestCountPerTarget": ("AWS/ApplicationELB", "RequestCountPerTarget", "Sum"),
}
_STORED = (
    "AdjustmentType",
    "MinAdjustmentStep",
    "MinAdjustmentMagnitude",
    "ScalingAdjustment",
    "Cooldown",
    "StepAdjustments",
    "MetricAggregationType",
    "EstimatedInstanceWarmup",
    "TargetTrackingConfiguration",
    "PredictiveScalingConfiguration",
)


def policy_key(group_key: str, name: str) -> str:
    return f"{group_key}|{name}"


def by_arn(tx: Tx, arn: str) -> Document | None:
    for _, doc in tx.scan(POLICIES, where={"arn": arn}):
        return doc
    return None


def _check(p: dict[str, Any], kind: str) -> None:
    if kind not in TYPES:
        raise ValidationError(f"Invalid policy type {kind}")
    if kind == "TargetTrackingScaling":
        cfg = p.get("TargetTrackingConfiguration")
        if not cfg:
            raise ValidationError(
                "TargetTrackingConfiguration is required for policies of type "
                "TargetTrackingScaling."
            )
        given = [
            m
            for m in ("PredefinedMetricSpecification", "CustomizedMetricSpecification")
            if cfg.get(m)
        ]
        if len(given) != 1:
            raise ValidationError(
                "Exactly one of PredefinedMetricSpecification and CustomizedMetricSpecification "
                "must be specified."
            )
        custom = cfg.get("CustomizedMetricSpecification") or {}
        if (
            custom
            and not custom.get("Metrics")
            and not (
                custom.get("MetricName") and custom.get("Namespace") and custom.get("Statistic")
            )
        ):
            raise ValidationError(
                "CustomizedMetricSpecification must specify MetricName, Namespace and Statistic, "
                "or Metrics."
            )
    elif kind == "SimpleScaling" and p.get("ScalingAdjustment") is None:
        raise ValidationError("ScalingAdjustment is required for policies of type SimpleScaling.")
    elif kind == "StepScaling" and not p.get("StepAdjustments"):
        raise ValidationError("StepAdjustments is required for policies of type StepScaling.")


def _metric(cfg: dict[str, Any], group: str, period: int) -> dict[str, Any]:
    predefined = cfg.get("PredefinedMetricSpecification")
    if predefined is not None:
        kind = predefined["PredefinedMetricType"]
        namespace, name, stat = PREDEFINED[kind]
        if kind == "ALBRequestCountPerTarget":
            label = predefined.get("ResourceLabel") or ""
            dims = [{"Name": "TargetGroup", "Value": label.split("/", 3)[-1]}]
        else:
            dims = [{"Name": "AutoScalingGroupName", "Value": group}]
        return {
            "Namespace": namespace,
            "MetricName": name,
            "Dimensions": dims,
            "Statistic": stat,
            "Period": period,
        }
    custom = cfg["CustomizedMetricSpecification"]
    if custom.get("Metrics"):
        queries = []
        for q in custom["Metrics"]:
            item: dict[str, Any] = {"Id": q["Id"], "ReturnData": q.get("ReturnData", True)}
            if q.get("Expression"):
                item["Expression"] = q["Expression"]
            if q.get("MetricStat"):
                stat = q["MetricStat"]
                item["MetricStat"] = {
                    "Metric": stat["Metric"],
                    "Stat": stat["Stat"],
                    "Period": period,
                    **({"Unit": stat["Unit"]} if stat.get("Unit") else {}),
                }
            if q.get("Label"):
                item["Label"] = q["Label"]
            queries.append(item)
        return {"Metrics": queries}
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


def alarm_requests(policy: Document, group: str, ident: str, period: int) -> list[dict[str, Any]]:
    """PutMetricAlarm's parameters for the alarms a target tracking policy owns."""
    cfg = policy["TargetTrackingConfiguration"]
    base = f"TargetTracking-{group}"
    common = {
        "AlarmDescription": "DO NOT EDIT OR DELETE. For TargetTrackingScaling policy "
        f"{policy['PolicyARN']}.",
        "ActionsEnabled": True,
        "AlarmActions": [policy["PolicyARN"]],
        **_metric(cfg, group, period),
    }
    target = float(cfg["TargetValue"])
    out = [
        {
            **common,
            "AlarmName": f"{base}-AlarmHigh-{ident}",
            "EvaluationPeriods": tracking_alarms.HIGH_DATAPOINTS,
            "DatapointsToAlarm": tracking_alarms.HIGH_DATAPOINTS,
            "Threshold": target,
            "ComparisonOperator": "GreaterThanThreshold",
        }
    ]
    if not cfg.get("DisableScaleIn"):
        out.append(
            {
                **common,
                "AlarmName": f"{base}-AlarmLow-{ident}",
                "EvaluationPeriods": tracking_alarms.LOW_DATAPOINTS,
                "DatapointsToAlarm": tracking_alarms.LOW_DATAPOINTS,
                "Threshold": round(target * tracking_alarms.LOW_SHARE, 10),
                "ComparisonOperator": "LessThanThreshold",
            }
        )
    return out


def _drop_alarms(store: object, account: str, region: str, policy: Document) -> None:
    rt = runtime.cloudwatch_for(store)
    names = [a["AlarmName"] for a in policy.get("Alarms") or ()]
    if rt is not None and names:
        tracking_alarms.delete(rt, account, region, names)
    runtime.forget_policy(store, policy["PolicyARN"])


@ACTIONS.action("PutScalingPolicy")
def put_scaling_policy(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    kind = p.get("PolicyType") or "SimpleScaling"
    _check(p, kind)
    with op.store.transaction() as tx:
        group = records.load(tx, op, p["AutoScalingGroupName"])
        key = policy_key(group["_Key"], p["PolicyName"])
        old = tx.get(POLICIES, key)
        ident = old["_Ident"] if old else str(uuid.uuid4())
        doc: Document = {
            "AutoScalingGroupName": group["AutoScalingGroupName"],
            "PolicyName": p["PolicyName"],
            "PolicyARN": policy_arn(
                op.region, op.account, ident, group["AutoScalingGroupName"], p["PolicyName"]
            ),
            "PolicyType": kind,
            "Alarms": [],
            "Enabled": p.get("Enabled", True),
            "_Ident": ident,
            "_GroupKey": group["_Key"],
        }
        for member in _STORED:
            if member in p:
                doc[member] = p[member]
        if kind == "TargetTrackingScaling":
            doc["TargetTrackingConfiguration"].setdefault("DisableScaleIn", False)
            rt = runtime.cloudwatch_for(op.store)
            if rt is not None:
                if old is not None and old.get("Alarms"):
                    stale = {a["AlarmName"] for a in old["Alarms"]}
                    wanted = {
                        r["AlarmName"]
                        for r in alarm_requests(doc, doc["AutoScalingGroupName"], ident, 60)
                    }
                    if stale - wanted:
                        tracking_alarms.delete(rt, op.account, op.region, sorted(stale - wanted))
                requests = alarm_requests(
                    doc, group["AutoScalingGroupName"], ident, op.world.metric_period
                )
                doc["Alarms"] = tracking_alarms.put(rt, op.account, op.region, requests, op.now())
            runtime.watch_policy(op.store, doc["PolicyARN"])
        elif old is not None and old.get("Alarms") and old["PolicyType"] == "TargetTrackingScaling":
            _drop_alarms(op.store, op.account, op.region, old)
        tx.put(POLICIES, key, doc)
    out: dict[str, Any] = {"PolicyARN": doc["PolicyARN"]}
    if doc["Alarms"]:
        out["Alarms"] = doc["Alarms"]
    return out


@ACTIONS.action("DescribePolicies")
def describe_policies(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    name = p.get("AutoScalingGroupName")
    wanted = set(p.get("PolicyNames") or ())
    kinds = set(p.get("PolicyTypes") or ())
    with op.store.read() as tx:
        if name:
            group = records.find(tx, op, name)
            rows = list(tx.scan(POLICIES, prefix=group["_Key"] + "|")) if group else []
        else:
            rows = list(tx.scan(POLICIES, prefix=f"{op.account}|{op.region}|"))
    docs = [
        records.shown(d)
        for _, d in rows
        if (not wanted or d["PolicyName"] in wanted or d["PolicyARN"] in wanted)
        and (not kinds or d["PolicyType"] in kinds)
    ]
    items, token = records.page(
        docs, lambda d: d["PolicyARN"], p.get("NextToken"), p.get("MaxRecords")
    )
    out: dict[str, Any] = {"ScalingPolicies": items}
    if token:
        out["NextToken"] = token
    return out


@ACTIONS.action("DeletePolicy")
def delete_policy(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    ref = p["PolicyName"]
    with op.store.transaction() as tx:
        if ref.startswith("arn:"):
            doc = by_arn(tx, ref)
        else:
            group_name = p.get("AutoScalingGroupName")
            if not group_name:
                raise ValidationError("AutoScalingGroupName is required with a policy name.")
            group = records.load(tx, op, group_name)
            doc = tx.get(POLICIES, policy_key(group["_Key"], ref))
        if doc is None:
            raise ValidationError(f"Policy {ref} not found.")
        tx.delete(POLICIES, policy_key(doc["_GroupKey"], doc["PolicyName"]))
    _drop_alarms(op.store, op.account, op.region, doc)
    return {}


def delete_all(store: object, tx: Tx, group: Document) -> None:
    """A deleted group's policies, and their alarms."""
    account, region, _ = group["_Key"].split("|", 2)
    for key, doc in list(tx.scan(POLICIES, prefix=group["_Key"] + "|")):
        tx.delete(POLICIES, key)
        _drop_alarms(store, account, region, doc)
