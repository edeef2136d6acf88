"""PutScalingPolicy, DescribeScalingPolicies, DeleteScalingPolicy.

A policy belongs to a registered target. Target tracking policies create their alarms
(`tracking_alarms.py`) and show them in `Alarms`; putting the policy again keeps its ARN and
its alarms' names and updates the alarms. Step scaling policies are called by alarms the
user makes, naming the policy's ARN in AlarmActions. Deleting a policy deletes the alarms
it owns (not the user's). PredictiveScaling is not supported.
"""

from __future__ import annotations

from typing import Any

from portside.applicationautoscaling import names, policy_config, records, runtime, tracking_alarms
from portside.applicationautoscaling.errors import limit, no_policy
from portside.applicationautoscaling.operations import action
from portside.cloudwatch import runtime as cloudwatch_runtime
from portside.errors import ValidationException
from portside.ops.context import Op
from portside.store.base import Document

MAX_POLICIES = 50  # per target (AWS's quota)
TYPES = ("StepScaling", "TargetTrackingScaling", "PredictiveScaling")


@action("PutScalingPolicy")
def put_scaling_policy(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    namespace, resource, dimension = p["ServiceNamespace"], p["ResourceId"], p["ScalableDimension"]
    names.check_target(namespace, resource, dimension)
    kind = p.get("PolicyType") or "StepScaling"
    if kind == "PredictiveScaling":
        raise ValidationException(
            "PredictiveScaling policies are not supported for service namespace ecs"
        )
    if kind == "TargetTrackingScaling":
        if p.get("StepScalingPolicyConfiguration") is not None:
            raise ValidationException(
                "StepScalingPolicyConfiguration is not allowed for a policy of type "
                "TargetTrackingScaling"
            )
        cfg = policy_config.target_tracking(p.get("TargetTrackingScalingPolicyConfiguration"))
        cfg_key = "TargetTrackingScalingPolicyConfiguration"
    else:
        if p.get("TargetTrackingScalingPolicyConfiguration") is not None:
            raise ValidationException(
                "TargetTrackingScalingPolicyConfiguration is not allowed for a policy of type "
                "StepScaling"
            )
        cfg = policy_config.step_scaling(p.get("StepScalingPolicyConfiguration"))
        cfg_key = "StepScalingPolicyConfiguration"
    where, now, name = names.Where(op.account, op.region), op.now(), p["PolicyName"]
    scaling = runtime.for_store(op.store)
    cw = cloudwatch_runtime.of(op)
    with scaling.lock, op.store.transaction() as tx:
        target = records.load_target(tx, where, namespace, resource, dimension)
        target_key = records.target_key_of(target)
        key = f"{target_key}|{name}"
        old = tx.get(names.POLICIES, key)
        if old is None and len(records.children(tx, names.POLICIES, target_key)) >= MAX_POLICIES:
            raise limit(f"Too many scaling policies for {resource}: at most {MAX_POLICIES}")
        ident = old["_Id"] if old else names.uuid_text(op.world.new_id())
        doc: Document = {
            "PolicyARN": old["PolicyARN"] if old else names.policy_arn(
                where, ident, namespace, resource, name
            ),
            "PolicyName": name,
            "ServiceNamespace": namespace,
            "ResourceId": resource,
            "ScalableDimension": dimension,
            "PolicyType": kind,
            cfg_key: cfg,
            "Alarms": [],
            "CreationTime": old["CreationTime"] if old else now,
            "_Id": ident,
            "_TargetKey": target_key,
            "_AlarmNames": [],
        }  # fmt: skip
        stale = list(old.get("_AlarmNames") or []) if old else []
        if kind == "TargetTrackingScaling":
            params = tracking_alarms.requests(doc, ident, op.world.metric_period)
            doc["_AlarmNames"] = [a["AlarmName"] for a in params]
            doc["Alarms"] = tracking_alarms.put(cw, op.account, op.region, params, now)
            stale = [n for n in stale if n not in doc["_AlarmNames"]]
        tx.put(names.POLICIES, key, doc)
    tracking_alarms.delete(cw, op.account, op.region, stale)
    out: dict[str, Any] = {"PolicyARN": doc["PolicyARN"]}
    if kind == "TargetTrackingScaling":
        out["Alarms"] = doc["Alarms"]
    return out


@action("DescribeScalingPolicies")
def describe_scaling_policies(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    where, namespace = names.Where(op.account, op.region), p["ServiceNamespace"]
    wanted = set(p.get("PolicyNames") or ())
    resource, dimension = p.get("ResourceId"), p.get("ScalableDimension")
    if dimension and not resource:
        raise ValidationException("ResourceId must be specified if ScalableDimension is given")
    with op.store.read() as tx:
        rows = [
            (k, d)
            for k, d in tx.scan(names.POLICIES, prefix=where.prefix(namespace, resource))
            if (not wanted or d["PolicyName"] in wanted)
            and (not dimension or d["ScalableDimension"] == dimension)
        ]
    found, token = records.page(rows, p.get("MaxResults"), p.get("NextToken"), maximum=10)
    callers = _step_alarms(op, found)
    out: dict[str, Any] = {"ScalingPolicies": [_shown(d, callers) for d in found]}
    if token:
        out["NextToken"] = token
    return out


def _step_alarms(op: Op, policies: list[Document]) -> dict[str, list[dict[str, str]]]:
    """The alarms that call each step policy (AlarmActions naming its ARN), as AWS lists them
    in the policy's Alarms."""
    wanted = {d["PolicyARN"] for d in policies if d["PolicyType"] == "StepScaling"}
    if not wanted:
        return {}
    found: dict[str, list[dict[str, str]]] = {}
    for alarm in cloudwatch_runtime.of(op).alarms.scan(f"{op.account}|{op.region}"):
        for arn in set(alarm.get("AlarmActions") or ()) & wanted:
            found.setdefault(arn, []).append(
                {"AlarmName": alarm["AlarmName"], "AlarmARN": alarm["AlarmArn"]}
            )
    return found


def _shown(doc: Document, callers: dict[str, list[dict[str, str]]]) -> Document:
    out = records.shown(doc)
    if doc["PolicyType"] == "StepScaling":
        out["Alarms"] = callers.get(doc["PolicyARN"], [])
    return out


@action("DeleteScalingPolicy")
def delete_scaling_policy(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    namespace, resource, dimension = p["ServiceNamespace"], p["ResourceId"], p["ScalableDimension"]
    where, name = names.Where(op.account, op.region), p["PolicyName"]
    key = f"{where.target_key(namespace, resource, dimension)}|{name}"
    with runtime.for_store(op.store).lock, op.store.transaction() as tx:
        doc = tx.get(names.POLICIES, key)
        if doc is None:
            raise no_policy(name, namespace, resource, dimension)
        tx.delete(names.POLICIES, key)
    tracking_alarms.delete(
        cloudwatch_runtime.of(op), op.account, op.region, doc.get("_AlarmNames") or []
    )
    return {}
