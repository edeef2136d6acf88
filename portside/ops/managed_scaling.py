"""ECS managed scaling's rules on a capacity provider: what Create/UpdateCapacityProvider
check of an `autoScalingGroupProvider` against its Auto Scaling group, the tag ECS puts on
the group, and which providers grow their group for tasks that do not fit (`scales`).

The checks, in ECS's order and words:

- managedScaling: targetCapacity 1-100, minimum/maximumScalingStepSize 1-10000 with the
  minimum not above the maximum, instanceWarmupPeriod 0-10000;
- managedTerminationProtection ENABLED needs managed scaling ENABLED;
- with managed scaling ENABLED, the group must exist in the caller's account and region
  (ECS's ClientException naming the ARN), and termination protection needs the group's
  NewInstancesProtectedFromScaleIn (ECS: "the Auto Scaling group must have instance
  protection from scale in enabled").

ECS asks for an existing group in every case; Portside asks it only of a provider it is to
scale, so a provider without managed scaling stays a label for instances started by hand
(`portside agent --attribute portside.autoscaling-group=NAME`, ops/capacity_providers.py).

A provider with managed scaling tags its group `AmazonECSManaged` (propagated at launch), as
ECS does; the `managed-scaling` loop (controllers/managed_scaling/) does the rest.
"""

from __future__ import annotations

from portside.autoscaling import capacity
from portside.autoscaling import records as asg_records
from portside.autoscaling.tags import checked_tags
from portside.errors import ClientException, InvalidParameterException
from portside.model.capacity_provider import (
    ACTIVE,
    ENABLED,
    AutoScalingGroupProvider,
    CapacityProvider,
)
from portside.ops.context import Op
from portside.store.base import Tx

MANAGED_TAG = "AmazonECSManaged"
_TABLE = "capacity_providers"


def check(op: Op, tx: Tx, asg: AutoScalingGroupProvider) -> None:
    """ECS's checks of a provider's group settings (raise ECS's errors)."""
    s = asg.managed_scaling
    if s.status not in ("ENABLED", "DISABLED"):
        raise InvalidParameterException(
            f"Invalid managed scaling status '{s.status}'. Valid values are ENABLED and DISABLED."
        )
    if not 1 <= s.target_capacity <= 100:
        raise InvalidParameterException(
            "The managed scaling target capacity must be between 1 and 100."
        )
    for label, value in (
        ("minimum scaling step size", s.minimum_scaling_step_size),
        ("maximum scaling step size", s.maximum_scaling_step_size),
    ):
        if not 1 <= value <= 10000:
            raise InvalidParameterException(
                f"The managed scaling {label} must be between 1 and 10000."
            )
    if s.minimum_scaling_step_size > s.maximum_scaling_step_size:
        raise InvalidParameterException(
            "The managed scaling minimum scaling step size cannot be greater than the maximum "
            "scaling step size."
        )
    if not 0 <= s.instance_warmup_period <= 10000:
        raise InvalidParameterException(
            "The managed scaling instance warmup period must be between 0 and 10000 seconds."
        )
    if asg.managed_termination_protection == ENABLED and s.status != ENABLED:
        raise ClientException(
            "The managed termination protection setting for the capacity provider is "
            "invalid. To enable managed termination protection for a capacity provider, "
            "managed scaling must also be enabled."
        )
    if s.status != ENABLED:
        return  # a label for instances started by hand (ops/capacity_providers.py)
    group = capacity.group_in(tx, op, asg.group_name)
    if group is None:
        raise ClientException(
            f"The specified Auto Scaling group ARN '{asg.auto_scaling_group_arn}' is not valid. "
            "Specify a valid Auto Scaling group ARN and try again."
        )
    if asg.managed_termination_protection == ENABLED and not group.protect_new:
        raise ClientException(
            "The managed termination protection setting for the capacity provider is "
            "invalid. To enable managed termination protection for a capacity provider, "
            "the Auto Scaling group must have instance protection from scale in enabled."
        )


def tag_group(op: Op, tx: Tx, asg: AutoScalingGroupProvider) -> None:
    """Put ECS's `AmazonECSManaged` tag on the group (propagated to its instances)."""
    if asg.managed_scaling.status != ENABLED:
        return
    doc = asg_records.find(tx, op, asg.group_name)
    if doc is None or any(t.get("Key") == MANAGED_TAG for t in doc.get("Tags") or ()):
        return
    tags = [*(doc.get("Tags") or ()), {"Key": MANAGED_TAG, "Value": "", "PropagateAtLaunch": True}]
    doc["Tags"] = checked_tags(tags, doc["AutoScalingGroupName"])
    asg_records.put(tx, doc)


def is_scaling(provider: CapacityProvider | None) -> bool:
    asg = provider.auto_scaling_group_provider if provider is not None else None
    return (
        provider is not None
        and provider.status == ACTIVE
        and asg is not None
        and asg.managed_scaling.status == ENABLED
    )


def scales(op: Op, tx: Tx, name: str | None) -> bool:
    """Whether the provider `name` has managed scaling: a task that fits none of its instances
    waits PROVISIONING for the instances its group will add, rather than failing."""
    if not name:
        return False
    from portside.model import arn as arns

    doc = tx.get(_TABLE, arns.ecs(op.region, op.account, f"capacity-provider/{name}"))
    return doc is not None and is_scaling(CapacityProvider.from_doc(doc))
