"""A group's capacity and its instances' protection, from Python: what ECS managed scaling
(and the API's SetDesiredCapacity and SetInstanceProtection) use.

    from portside.autoscaling import capacity
    view = capacity.group(world, account, region, "asg-name-or-arn")    # GroupView | None
    capacity.set_desired(world, account, region, "asg-name-or-arn", 12)
    capacity.set_protection(world, account, region, "asg-name-or-arn", ["i-..."], True)

or inside a transaction of the caller's (an `Op` for the account and region):
`set_desired_in(tx, op, name, n)`, `set_protection_in(tx, op, name, ids, flag)`. Both raise
Auto Scaling's ValidationError (the group or an instance not found, a capacity outside
[MinSize, MaxSize]). The `autoscaling-groups` loop acts on the change within a second.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from portside.autoscaling import records
from portside.autoscaling.errors import ValidationError
from portside.autoscaling.names import name_of
from portside.ec2.instance_records import put as put_instance
from portside.ops.context import Caller, Op, World, root_principal
from portside.store.base import Tx


@dataclass(frozen=True, slots=True)
class InstanceView:
    instance_id: str
    zone: str
    instance_type: str
    lifecycle: str  # Pending, InService, Terminating
    healthy: bool
    protected: bool
    ec2_state: str  # pending, running, shutting-down...
    container_instance_arn: str  # "" until its agent registered
    launched_at: float = 0.0  # EC2's LaunchTime
    in_service_at: float | None = None  # when it went InService (None: it is not)


@dataclass(frozen=True, slots=True)
class GroupView:
    name: str
    arn: str
    min_size: int
    max_size: int
    desired: int
    protect_new: bool  # NewInstancesProtectedFromScaleIn
    instances: tuple[InstanceView, ...]


def _op(world: World, account: str, region: str) -> Op:
    return Op(world, Caller(account, region, "", root_principal(account)))


def group_in(tx: Tx, op: Op, ref: str) -> GroupView | None:
    doc = records.find(tx, op, name_of(ref))
    if doc is None:
        return None
    views = []
    for inst in records.members(tx, doc["_Key"]):
        asg = inst["_Asg"]
        views.append(
            InstanceView(
                instance_id=inst["InstanceId"],
                zone=inst["Placement"]["AvailabilityZone"],
                instance_type=inst["InstanceType"],
                lifecycle=asg["LifecycleState"],
                healthy=records.member(inst).healthy,
                protected=bool(asg.get("ProtectedFromScaleIn")),
                ec2_state=inst["_State"],
                container_instance_arn=inst.get("_ContainerInstanceArn") or "",
                launched_at=float(inst["LaunchTime"]),
                in_service_at=records.in_service_at(inst),
            )
        )
    return GroupView(
        name=doc["AutoScalingGroupName"],
        arn=doc["AutoScalingGroupARN"],
        min_size=int(doc["MinSize"]),
        max_size=int(doc["MaxSize"]),
        desired=int(doc["DesiredCapacity"]),
        protect_new=bool(doc.get("NewInstancesProtectedFromScaleIn")),
        instances=tuple(views),
    )


def group(world: World, account: str, region: str, ref: str) -> GroupView | None:
    """The group a name or ARN names, with its instances; None when there is none."""
    op = _op(world, account, region)
    with world.store.read() as tx:
        return group_in(tx, op, ref)


def set_desired_in(tx: Tx, op: Op, ref: str, desired: int) -> None:
    doc = records.load(tx, op, name_of(ref))
    if desired > doc["MaxSize"]:
        raise ValidationError(
            f"New SetDesiredCapacity value {desired} is above max value {doc['MaxSize']} for "
            "the AutoScalingGroup."
        )
    if desired < doc["MinSize"]:
        raise ValidationError(
            f"New SetDesiredCapacity value {desired} is below min value {doc['MinSize']} for "
            "the AutoScalingGroup."
        )
    if doc["DesiredCapacity"] != desired:
        doc["DesiredCapacity"] = desired
        records.put(tx, doc)


def set_desired(world: World, account: str, region: str, ref: str, desired: int) -> None:
    op = _op(world, account, region)
    with world.store.transaction() as tx:
        set_desired_in(tx, op, ref, desired)


def set_protection_in(
    tx: Tx, op: Op, ref: str, instance_ids: Iterable[str], protected: bool
) -> None:
    doc = records.load(tx, op, name_of(ref))
    held = {i["InstanceId"]: i for i in records.members(tx, doc["_Key"])}
    wanted = list(dict.fromkeys(instance_ids))
    for instance_id in wanted:
        inst = held.get(instance_id)
        if inst is None or inst["_Asg"]["LifecycleState"] == "Terminating":
            raise ValidationError(
                f"The instance {instance_id} is not part of Auto Scaling group "
                f"{doc['AutoScalingGroupName']}."
            )
    for instance_id in wanted:
        inst = held[instance_id]
        if bool(inst["_Asg"].get("ProtectedFromScaleIn")) != protected:
            inst["_Asg"]["ProtectedFromScaleIn"] = protected
            put_instance(tx, inst)


def set_protection(
    world: World, account: str, region: str, ref: str, instance_ids: Iterable[str], protected: bool
) -> None:
    op = _op(world, account, region)
    with world.store.transaction() as tx:
        set_protection_in(tx, op, ref, instance_ids, protected)
