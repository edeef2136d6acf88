"""A group's instances through the API: SetInstanceProtection, DescribeAutoScalingInstances,
TerminateInstanceInAutoScalingGroup."""

from __future__ import annotations

from typing import Any

from portside.autoscaling import activities, records
from portside.autoscaling.capacity import set_protection_in
from portside.autoscaling.errors import ValidationError
from portside.autoscaling.names import GROUPS
from portside.autoscaling.operations import ACTIONS
from portside.ec2.instance_records import INSTANCES, key, put, scope_of
from portside.ec2.instances import terminate
from portside.ops.context import Op
from portside.store.base import Document, Tx


@ACTIONS.action("SetInstanceProtection")
def set_instance_protection(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    with op.store.transaction() as tx:
        set_protection_in(
            tx, op, p["AutoScalingGroupName"], p["InstanceIds"], p["ProtectedFromScaleIn"]
        )
    return {}


def _details(tx: Tx, inst: Document) -> dict[str, Any]:
    view = records.instance_view(inst)
    group = tx.get(GROUPS, inst["_Group"])
    view["AutoScalingGroupName"] = group["AutoScalingGroupName"] if group else ""
    view["HealthStatus"] = view["HealthStatus"].upper()
    return view


def _managed(tx: Tx, op: Op, instance_id: str) -> Document | None:
    inst = tx.get(INSTANCES, key(op, instance_id))
    if inst is None or not inst.get("_Group"):
        return None
    return inst


@ACTIONS.action("DescribeAutoScalingInstances")
def describe_auto_scaling_instances(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    ids = p.get("InstanceIds")
    with op.store.read() as tx:
        if ids:
            found = [i for n in dict.fromkeys(ids) if (i := _managed(tx, op, n))]
        else:
            found = [
                doc
                for _, doc in tx.scan(INSTANCES, prefix=scope_of(op.account, op.region))
                if doc.get("_Group")
            ]
        items, token = records.page(
            found, lambda d: d["InstanceId"], p.get("NextToken"), p.get("MaxRecords")
        )
        views = [_details(tx, i) for i in items]
    out: dict[str, Any] = {"AutoScalingInstances": views}
    if token:
        out["NextToken"] = token
    return out


@ACTIONS.action("TerminateInstanceInAutoScalingGroup")
def terminate_instance_in_auto_scaling_group(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    instance_id = p["InstanceId"]
    decrement = p["ShouldDecrementDesiredCapacity"]
    now = op.now()
    with op.store.transaction() as tx:
        inst = _managed(tx, op, instance_id)
        if inst is None:
            raise ValidationError(
                f"Instance Id not found - No managed instance found for instance ID: {instance_id}"
            )
        group = tx.get(GROUPS, inst["_Group"])
        assert group is not None
        if decrement:
            if group["DesiredCapacity"] <= group["MinSize"]:
                raise ValidationError(
                    f"Currently, desiredSize equals minSize ({group['MinSize']}). Terminating "
                    "instance without replacement will violate group's min size constraint. "
                    "Either set shouldDecrementDesiredCapacity flag to false or lower group's "
                    "min size."
                )
            group["DesiredCapacity"] -= 1
            records.put(tx, group)
        ident = op.world.new_id()
        cause = activities.user_cause(now, instance_id, decrement)
        description = f"Terminating EC2 instance: {instance_id}"
        activity_key = activities.record(tx, group, _uuid(ident), description, cause, now)
        begin_termination(inst, activity_key, f"Service ({activities.stamp(now)})")
        put(tx, inst)
        with_activity = tx.get("asg_activities", activity_key)
    return {"Activity": with_activity}


def begin_termination(inst: Document, activity_key: str, reason: str) -> None:
    """The group lets the instance go: Terminating, and its EC2 instance shutting down."""
    inst["_Asg"]["LifecycleState"] = "Terminating"
    inst["_Asg"]["Activity"] = activity_key
    terminate([inst], reason)


def _uuid(ident: str) -> str:
    import uuid

    return str(uuid.UUID(ident[:32].ljust(32, "0")))
