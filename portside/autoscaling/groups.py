"""Auto Scaling groups: Create/Update/Delete/DescribeAutoScalingGroups and
SetDesiredCapacity. These write what the group wants; the `autoscaling-groups` loop
(loop.py) launches and terminates instances to match.

A group launches from a launch template (`LaunchTemplate`, or a `MixedInstancesPolicy`'s
template with its first instance type override), in the zones of its `VPCZoneIdentifier`
subnets or its `AvailabilityZones` (the default VPC's subnet in each). Its tags carry
`PropagateAtLaunch` (`AmazonECSManaged` among them when ECS manages the group).
Launch configurations and attaching existing instances are not supported (ValidationError
saying so).
"""

from __future__ import annotations

import uuid
from typing import Any

from portside.autoscaling import records
from portside.autoscaling.errors import ValidationError, already_exists, in_use
from portside.autoscaling.names import GROUPS, group_arn, key_of
from portside.autoscaling.operations import ACTIONS
from portside.autoscaling.tags import checked_tags
from portside.ec2 import defaults, zones
from portside.ec2.launch_templates import resolve
from portside.ec2.records import SUBNET
from portside.errors import NamedError
from portside.ops.context import Op
from portside.store.base import Document, Tx

SERVICE_ROLE = "role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling"
_UNSUPPORTED = ("LaunchConfigurationName", "InstanceId", "WarmPoolConfiguration")
# Members kept as given and shown back.
_PLAIN = (
    "DefaultCooldown",
    "HealthCheckType",
    "HealthCheckGracePeriod",
    "TerminationPolicies",
    "NewInstancesProtectedFromScaleIn",
    "CapacityRebalance",
    "MaxInstanceLifetime",
    "DefaultInstanceWarmup",
    "DesiredCapacityType",
    "PlacementGroup",
    "Context",
    "ServiceLinkedRoleARN",
    "LoadBalancerNames",
    "TargetGroupARNs",
    "InstanceMaintenancePolicy",
    "AvailabilityZoneDistribution",
    "DeletionProtection",
)


def template_spec(p: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """(LaunchTemplateSpecification, instance type override or "") the group launches from."""
    if p.get("LaunchTemplate"):
        return dict(p["LaunchTemplate"]), ""
    mixed = (p.get("MixedInstancesPolicy") or {}).get("LaunchTemplate") or {}
    spec = mixed.get("LaunchTemplateSpecification")
    if spec:
        overrides = [o for o in mixed.get("Overrides") or () if o.get("InstanceType")]
        return dict(spec), overrides[0]["InstanceType"] if overrides else ""
    raise ValidationError(
        "Valid requests must contain either LaunchTemplate, LaunchConfigurationName, "
        "InstanceId or MixedInstancesPolicy parameter."
    )


def check_template(tx: Tx, op: Op, spec: dict[str, Any]) -> None:
    try:
        resolve(tx, op, spec)
    except NamedError as exc:
        raise ValidationError(
            f"You must use a valid fully-formed launch template. {exc.message}"
        ) from None


def placement(tx: Tx, op: Op, subnets: str | None, azs: list[str] | None) -> list[list[str]]:
    """The group's (zone, subnet) pairs in its order: its subnets' zones, else the default
    VPC's subnet of each zone named."""
    pairs: list[list[str]] = []
    if subnets:
        for subnet_id in [s.strip() for s in subnets.split(",") if s.strip()]:
            doc = SUBNET.find(tx, op, subnet_id)
            if doc is None:
                raise ValidationError(f"The subnet ID '{subnet_id}' does not exist")
            zone = doc["AvailabilityZone"]
            if all(z != zone for z, _ in pairs):
                pairs.append([zone, subnet_id])
        return pairs
    if not azs:
        raise ValidationError("At least one Availability Zone or VPC Subnet is required.")
    for zone in azs:
        if zones.find(tx, op, zone) is None:
            raise ValidationError(f"The availability zone {zone} is not legal")
        if all(z != zone for z, _ in pairs):
            pairs.append([zone, ""])
    return pairs


def check_sizes(low: int, high: int, desired: int | None) -> None:
    if low > high:
        raise ValidationError(
            f"Max bound, {high}, must be greater than or equal to min bound, {low}"
        )
    if desired is not None and not low <= desired <= high:
        raise ValidationError(
            f"Desired capacity:{desired} must be between the specified min size:{low} and max "
            f"size:{high}"
        )


def _refuse_unsupported(p: dict[str, Any]) -> None:
    for member in _UNSUPPORTED:
        if p.get(member):
            raise ValidationError(f"Portside does not support {member} on Auto Scaling groups.")


def _apply_launch(tx: Tx, op: Op, doc: Document, p: dict[str, Any]) -> None:
    spec, _ = template_spec(p)
    check_template(tx, op, spec)
    doc.pop("LaunchTemplate", None)
    doc.pop("MixedInstancesPolicy", None)
    if p.get("LaunchTemplate"):
        doc["LaunchTemplate"] = dict(p["LaunchTemplate"])
    else:
        doc["MixedInstancesPolicy"] = p["MixedInstancesPolicy"]


@ACTIONS.action("CreateAutoScalingGroup")
def create_auto_scaling_group(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    _refuse_unsupported(p)
    name = p["AutoScalingGroupName"]
    low, high = p["MinSize"], p["MaxSize"]
    desired = p.get("DesiredCapacity", low)
    check_sizes(low, high, desired)
    tags = checked_tags(p.get("Tags") or (), name)
    with op.store.transaction() as tx:
        defaults.ensure_in(op, tx)
        if records.find(tx, op, name) is not None:
            raise already_exists(name)
        pairs = placement(tx, op, p.get("VPCZoneIdentifier"), p.get("AvailabilityZones"))
        ident = str(uuid.UUID(op.world.new_id()[:32].ljust(32, "0")))
        doc: Document = {
            "AutoScalingGroupName": name,
            "AutoScalingGroupARN": group_arn(op.region, op.account, ident, name),
            "MinSize": low,
            "MaxSize": high,
            "DesiredCapacity": desired,
            "DefaultCooldown": 300,
            "AvailabilityZones": [z for z, _ in pairs],
            "LoadBalancerNames": [],
            "TargetGroupARNs": [],
            "HealthCheckType": "EC2",
            "HealthCheckGracePeriod": 0,
            "CreatedTime": op.now(),
            "SuspendedProcesses": [],
            "EnabledMetrics": [],
            "Tags": tags,
            "TerminationPolicies": ["Default"],
            "NewInstancesProtectedFromScaleIn": False,
            "ServiceLinkedRoleARN": f"arn:aws:iam::{op.account}:{SERVICE_ROLE}",
            "CapacityRebalance": False,
            "TrafficSources": [],
            "_Key": key_of(op, name),
            "_Zones": pairs,
        }
        for member in _PLAIN:
            if member in p:
                doc[member] = p[member]
        if any(s for _, s in pairs):
            doc["VPCZoneIdentifier"] = ",".join(s for _, s in pairs)
        _apply_launch(tx, op, doc, p)
        records.put(tx, doc)
    return {}


@ACTIONS.action("UpdateAutoScalingGroup")
def update_auto_scaling_group(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    _refuse_unsupported(p)
    name = p["AutoScalingGroupName"]
    with op.store.transaction() as tx:
        doc = records.load(tx, op, name)
        if doc.get("_Deleting"):
            raise activity_in_progress_for(name)
        low: int = p["MinSize"] if "MinSize" in p else doc["MinSize"]
        high: int = p["MaxSize"] if "MaxSize" in p else doc["MaxSize"]
        desired = p.get("DesiredCapacity")
        if desired is None:
            # A new bound moves the desired capacity inside it, as AWS does.
            desired = min(max(doc["DesiredCapacity"], low), high)
        check_sizes(low, high, desired)
        if p.get("LaunchTemplate") or p.get("MixedInstancesPolicy"):
            _apply_launch(tx, op, doc, p)
        if p.get("VPCZoneIdentifier") or p.get("AvailabilityZones"):
            pairs = placement(tx, op, p.get("VPCZoneIdentifier"), p.get("AvailabilityZones"))
            doc["_Zones"] = pairs
            doc["AvailabilityZones"] = [z for z, _ in pairs]
            if any(s for _, s in pairs):
                doc["VPCZoneIdentifier"] = ",".join(s for _, s in pairs)
            else:
                doc.pop("VPCZoneIdentifier", None)
        for member in _PLAIN:
            if member in p:
                doc[member] = p[member]
        doc.update(MinSize=low, MaxSize=high, DesiredCapacity=desired)
        records.put(tx, doc)
    return {}


def activity_in_progress_for(name: str) -> NamedError:
    from portside.autoscaling.errors import activity_in_progress

    return activity_in_progress(
        f"AutoScalingGroup {name} is pending delete; no further changes may be made to it."
    )


@ACTIONS.action("DeleteAutoScalingGroup")
def delete_auto_scaling_group(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    name = p["AutoScalingGroupName"]
    with op.store.transaction() as tx:
        doc = tx.get(GROUPS, key_of(op, name))
        if doc is None:
            raise ValidationError(
                f"AutoScalingGroup name not found - AutoScalingGroup '{name}' not found"
            )
        held = records.members(tx, doc["_Key"])
        if held and not p.get("ForceDelete"):
            raise in_use(
                "You cannot delete an AutoScalingGroup while there are instances or pending "
                "Spot instance request(s) still in the group."
            )
        if not held:
            _delete(op.store, tx, doc)
            return {}
        doc["_Deleting"] = True
        doc["Status"] = "Delete in progress"
        doc["DesiredCapacity"] = doc["MinSize"] = doc["MaxSize"] = 0
        records.put(tx, doc)
    return {}


def _delete(store: object, tx: Tx, doc: Document) -> None:
    from portside.autoscaling import policies

    policies.delete_all(store, tx, doc)
    tx.delete(GROUPS, doc["_Key"])


@ACTIONS.action("DescribeAutoScalingGroups")
def describe_auto_scaling_groups(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    from portside.autoscaling.tags import FIELDS as TAG_FIELDS

    names = p.get("AutoScalingGroupNames")
    with op.store.read() as tx:
        if names:
            docs = [d for n in dict.fromkeys(names) if (d := records.find(tx, op, n))]
        else:
            docs = records.all_groups(tx, op)
        for given in p.get("Filters") or ():
            docs = [d for d in docs if _passes(d, given, TAG_FIELDS)]
        items, token = records.page(
            docs, lambda d: d["AutoScalingGroupName"], p.get("NextToken"), p.get("MaxRecords")
        )
        views = [records.group_view(d, records.members(tx, d["_Key"])) for d in items]
    out: dict[str, Any] = {"AutoScalingGroups": views}
    if token:
        out["NextToken"] = token
    return out


def _passes(doc: Document, given: dict[str, Any], fields: Any) -> bool:
    name = given.get("Name") or ""
    values = set(given.get("Values") or ())
    tags = doc.get("Tags") or ()
    if name.startswith("tag:"):
        return any(t["Key"] == name[4:] and t.get("Value", "") in values for t in tags)
    if name == "tag-key":
        return any(t["Key"] in values for t in tags)
    if name == "tag-value":
        return any(t.get("Value", "") in values for t in tags)
    raise ValidationError(f"Filter type {name} is not correct. Allowed Filter types are: "
                          "tag-key tag-value tag:<key>")  # fmt: skip


@ACTIONS.action("SetDesiredCapacity")
def set_desired_capacity(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    from portside.autoscaling.capacity import set_desired_in

    with op.store.transaction() as tx:
        set_desired_in(tx, op, p["AutoScalingGroupName"], p["DesiredCapacity"])
    return {}
