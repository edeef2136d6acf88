"""Scaling activities: what DescribeScalingActivities shows, written by every change
Application Auto Scaling makes, in AWS's words:

    a policy       Description "Setting desired count to 4."
                   Cause "monitor alarm <alarm> in state ALARM triggered policy <policy>"
    a schedule     Description "Setting min capacity to 3 and max capacity to 10"
                   Cause "scheduled action name <name> was triggered"
    bounds moved   Description "Setting desired count to 3."
                   Cause "minimum capacity was set to 3" (or maximum)

Every activity Portside records has completed when it is written (the desired count is set
in the same transaction), so StatusCode is Successful and StatusMessage says so the way
AWS does: "Successfully set desired count to 4. Change successfully fulfilled by ecs."
"""

from __future__ import annotations

from typing import Any

from portside.applicationautoscaling import names
from portside.applicationautoscaling.names import uuid_text
from portside.applicationautoscaling.operations import action
from portside.applicationautoscaling.records import page
from portside.ops.context import Op
from portside.store.base import Document


def desired(count: int) -> tuple[str, str]:
    """(Description, StatusMessage) of a desired count change."""
    return (
        f"Setting desired count to {count}.",
        f"Successfully set desired count to {count}. Change successfully fulfilled by ecs.",
    )


def bounds_text(minimum: int | None, maximum: int | None) -> tuple[str, str]:
    parts = []
    if minimum is not None:
        parts.append(f"min capacity to {minimum}")
    if maximum is not None:
        parts.append(f"max capacity to {maximum}")
    joined = " and ".join(parts)
    return f"Setting {joined}", f"Successfully set {joined}"


def alarm_cause(alarm: str, policy: str) -> str:
    return f"monitor alarm {alarm} in state ALARM triggered policy {policy}"


def scheduled_cause(name: str) -> str:
    return f"scheduled action name {name} was triggered"


def bound_cause(which: str, value: int) -> str:
    return f"{which} capacity was set to {value}"


def service_event(activity: Document) -> str:
    """The service event ECS writes for a desired count set by scaling (its console's
    Events tab shows it so)."""
    return f"Message: {activity['StatusMessage']} Cause: {activity['Cause']}"


def make(target: Document, new_id: str, now: float, texts: tuple[str, str], cause: str) -> Document:
    description, message = texts
    return {
        "ActivityId": uuid_text(new_id),
        "ServiceNamespace": target["ServiceNamespace"],
        "ResourceId": target["ResourceId"],
        "ScalableDimension": target["ScalableDimension"],
        "Description": description,
        "Cause": cause,
        "StartTime": now,
        "EndTime": now,
        "StatusCode": "Successful",
        "StatusMessage": message,
    }


@action("DescribeScalingActivities")
def describe_scaling_activities(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    where = names.Where(op.account, op.region)
    namespace, resource = p["ServiceNamespace"], p.get("ResourceId")
    dimension = p.get("ScalableDimension")
    if dimension and not resource:
        from portside.errors import ValidationException

        raise ValidationException("ResourceId must be specified if ScalableDimension is given")
    with op.store.read() as tx:
        rows = [
            (k, d)
            for k, d in tx.scan(names.ACTIVITIES, prefix=where.prefix(namespace, resource))
            if not dimension or d["ScalableDimension"] == dimension
        ]
    # Newest first: order by start time across targets, then page by position.
    rows.sort(key=lambda kd: (-kd[1]["StartTime"], kd[0]))
    ranked = [(f"{i:010d}", d) for i, (_, d) in enumerate(rows)]
    found, token = page(ranked, p.get("MaxResults"), p.get("NextToken"))
    out: dict[str, Any] = {"ScalingActivities": found}
    if token:
        out["NextToken"] = token
    return out
