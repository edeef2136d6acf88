"""A capacity provider: a named pool of container instances (an Auto Scaling group on ECS), and
the built-in FARGATE and FARGATE_SPOT providers every account has."""

from __future__ import annotations

from dataclasses import dataclass, field

from portside.model.doc import Stored

ACTIVE = "ACTIVE"
INACTIVE = "INACTIVE"
ENABLED = "ENABLED"
DISABLED = "DISABLED"

EC2_AUTOSCALING = "EC2_AUTOSCALING"

# updateStatus values Portside reports (CapacityProviderUpdateStatus in ECS's model)
UPDATE_IN_PROGRESS = "UPDATE_IN_PROGRESS"
UPDATE_COMPLETE = "UPDATE_COMPLETE"
DELETE_IN_PROGRESS = "DELETE_IN_PROGRESS"
DELETE_COMPLETE = "DELETE_COMPLETE"
DELETE_FAILED = "DELETE_FAILED"

_ASG_NAME_MARK = "autoScalingGroupName/"


def asg_name(value: str) -> str:
    """The Auto Scaling group an `autoScalingGroupArn` names: the part after
    `autoScalingGroupName/` of an ARN, or the whole value when it is a plain group name (ECS
    takes either)."""
    head, mark, tail = value.partition(_ASG_NAME_MARK)
    return tail if mark and head.startswith("arn:") else value


@dataclass(slots=True)
class ManagedScaling:
    # ECS's defaults (API reference, ManagedScaling); status DISABLED when omitted.
    status: str = DISABLED
    target_capacity: int = 100
    minimum_scaling_step_size: int = 1
    maximum_scaling_step_size: int = 10000
    instance_warmup_period: int = 300


@dataclass(slots=True)
class AutoScalingGroupProvider:
    auto_scaling_group_arn: str
    managed_scaling: ManagedScaling = field(default_factory=ManagedScaling)
    managed_termination_protection: str = DISABLED
    managed_draining: str = ENABLED

    @property
    def group_name(self) -> str:
        return asg_name(self.auto_scaling_group_arn)


@dataclass(frozen=True, slots=True)
class ScalingRequest:
    """A request's managedScaling: None members were not given (create takes ECS's defaults
    for them, update keeps what the provider has)."""

    status: str | None = None
    target_capacity: int | None = None
    minimum_scaling_step_size: int | None = None
    maximum_scaling_step_size: int | None = None
    instance_warmup_period: int | None = None


@dataclass(frozen=True, slots=True)
class AutoScalingGroupRequest:
    """A Create/UpdateCapacityProvider request's autoScalingGroupProvider (api/ecs parses it).
    None members were not given; update does not change the group, so its ARN is then None."""

    auto_scaling_group_arn: str | None = None
    managed_scaling: ScalingRequest | None = None
    managed_termination_protection: str | None = None
    managed_draining: str | None = None


@dataclass(frozen=True, slots=True)
class ProviderRequest:
    """What a Create/UpdateCapacityProvider request says of the provider's capacity: its
    autoScalingGroupProvider (None when left out), whether it named a managedInstancesProvider,
    and its cluster (which only a Managed Instances provider takes)."""

    auto_scaling_group: AutoScalingGroupRequest | None = None
    managed_instances: bool = False
    cluster: str | None = None


@dataclass(slots=True)
class CapacityProvider(Stored):
    # Indexed columns (store/tables.py) read `name` and `status` from the document.
    arn: str
    name: str
    type: str = EC2_AUTOSCALING  # or FARGATE / FARGATE_SPOT for the built-in ones
    status: str = ACTIVE
    auto_scaling_group_provider: AutoScalingGroupProvider | None = None
    update_status: str | None = None
    update_status_reason: str | None = None
    created_at: float = 0.0
