"""Scaling activities: what a group did and why, in Auto Scaling's words
(`Launching a new EC2 instance: i-...`, `At 2026-01-01T00:00:00Z an instance was started in
response to a difference between desired and actual capacity, increasing the capacity from 0
to 2.`), and DescribeScalingActivities (newest first).

An activity that launches or terminates an instance starts InProgress and ends Successful
when the instance is InService or terminated (the loop ends it); one that could not launch is
Failed with the reason."""

from __future__ import annotations

import time
from typing import Any

import orjson

from portside.autoscaling import records
from portside.autoscaling.errors import ValidationError
from portside.autoscaling.names import ACTIVITIES, GROUPS, group_key, scope
from portside.autoscaling.operations import ACTIONS
from portside.ops.context import Op
from portside.store.base import Document, Tx


def stamp(at: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(at))


def difference_cause(at: float, started: bool, before: int, after: int) -> str:
    if started:
        return (
            f"At {stamp(at)} an instance was started in response to a difference between "
            f"desired and actual capacity, increasing the capacity from {before} to {after}."
        )
    return (
        f"At {stamp(at)} an instance was taken out of service in response to a difference "
        f"between desired and actual capacity, shrinking the capacity from {before} to {after}."
    )


def unhealthy_cause(at: float, instance_id: str) -> str:
    return (
        f"At {stamp(at)} an instance was taken out of service in response to an EC2 instance "
        f"status check failure: instance {instance_id} is not running."
    )


def user_cause(at: float, instance_id: str, decrement: bool) -> str:
    tail = "shrinking the capacity" if decrement else "without decrementing the desired capacity"
    return (
        f"At {stamp(at)} instance {instance_id} was taken out of service in response to a "
        f"user request, {tail}."
    )


def record(
    tx: Tx,
    group: Document,
    ident: str,
    description: str,
    cause: str,
    at: float,
    *,
    status: str = "InProgress",
    message: str = "",
    details: dict[str, str] | None = None,
) -> str:
    """Write an activity of `group`; its key."""
    doc: Document = {
        "ActivityId": ident,
        "AutoScalingGroupName": group["AutoScalingGroupName"],
        "AutoScalingGroupARN": group["AutoScalingGroupARN"],
        "Description": description,
        "Cause": cause,
        "StartTime": at,
        "StatusCode": status,
        "Progress": 100 if status in ("Successful", "Failed", "Cancelled") else 0,
        "Details": orjson.dumps(details or {}).decode(),
    }
    if status in ("Successful", "Failed", "Cancelled"):
        doc["EndTime"] = at
    if message:
        doc["StatusMessage"] = message
    key = records.activity_key(group["_Key"], at, ident)
    tx.put(ACTIVITIES, key, doc)
    return key


def finish(tx: Tx, key: str, at: float, status: str = "Successful", message: str = "") -> None:
    doc = tx.get(ACTIVITIES, key)
    if doc is None or doc.get("EndTime") is not None:
        return
    doc["StatusCode"] = status
    doc["EndTime"] = at
    doc["Progress"] = 100
    if message:
        doc["StatusMessage"] = message
    tx.put(ACTIVITIES, key, doc)


def expire(tx: Tx, group_key_: str, now: float) -> None:
    for key, doc in records.activities_of(tx, group_key_):
        if float(doc["StartTime"]) < now - records.SIX_WEEKS:
            tx.delete(ACTIVITIES, key)


@ACTIONS.action("DescribeScalingActivities")
def describe_scaling_activities(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    name = p.get("AutoScalingGroupName")
    wanted = set(p.get("ActivityIds") or ())
    with op.store.read() as tx:
        if name:
            key = group_key(op.account, op.region, name)
            if tx.get(GROUPS, key) is None and not p.get("IncludeDeletedGroups"):
                found = list(tx.scan(ACTIVITIES, prefix=key + "|"))
                if not found:
                    raise ValidationError(
                        f"AutoScalingGroup name not found - AutoScalingGroup {name} not found"
                    )
            rows = list(tx.scan(ACTIVITIES, prefix=key + "|"))
        else:
            rows = list(tx.scan(ACTIVITIES, prefix=scope(op.account, op.region)))
    docs = [doc for _, doc in rows if not wanted or doc["ActivityId"] in wanted]
    docs.sort(key=lambda d: float(d["StartTime"]), reverse=True)
    items, token = records.page(
        docs, lambda d: d["ActivityId"], p.get("NextToken"), p.get("MaxRecords"), 100
    )
    out: dict[str, Any] = {"Activities": items}
    if token:
        out["NextToken"] = token
    return out
