"""ECS capacity provider actions: wire <-> ops."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from portside.api.ecs.registry import action
from portside.model.capacity_provider import (
    AutoScalingGroupProvider,
    AutoScalingGroupRequest,
    ProviderRequest,
    ScalingRequest,
)
from portside.ops import capacity_providers
from portside.ops.capacity_providers import ProviderView
from portside.ops.context import Op
from portside.wire.replies import page


def _asg(asg: AutoScalingGroupProvider) -> dict[str, Any]:
    s = asg.managed_scaling
    return {
        "autoScalingGroupArn": asg.auto_scaling_group_arn,
        "managedScaling": {
            "status": s.status,
            "targetCapacity": s.target_capacity,
            "minimumScalingStepSize": s.minimum_scaling_step_size,
            "maximumScalingStepSize": s.maximum_scaling_step_size,
            "instanceWarmupPeriod": s.instance_warmup_period,
        },
        "managedTerminationProtection": asg.managed_termination_protection,
        "managedDraining": asg.managed_draining,
    }


def _asg_request(d: Mapping[str, Any] | None) -> AutoScalingGroupRequest | None:
    """A request's autoScalingGroupProvider as values (None when it left it out)."""
    if d is None:
        return None
    s = d.get("managedScaling")
    scaling = (
        ScalingRequest(
            status=s.get("status"),
            target_capacity=s.get("targetCapacity"),
            minimum_scaling_step_size=s.get("minimumScalingStepSize"),
            maximum_scaling_step_size=s.get("maximumScalingStepSize"),
            instance_warmup_period=s.get("instanceWarmupPeriod"),
        )
        if s is not None
        else None
    )
    return AutoScalingGroupRequest(
        auto_scaling_group_arn=d.get("autoScalingGroupArn"),
        managed_scaling=scaling,
        managed_termination_protection=d.get("managedTerminationProtection"),
        managed_draining=d.get("managedDraining"),
    )


def _provider_request(p: dict[str, Any]) -> ProviderRequest:
    return ProviderRequest(
        auto_scaling_group=_asg_request(p.get("autoScalingGroupProvider")),
        managed_instances=p.get("managedInstancesProvider") is not None,
        cluster=p.get("cluster"),
    )


def shape(view: ProviderView, *, tags: bool = True) -> dict[str, Any]:
    p = view.provider
    out: dict[str, Any] = {
        "capacityProviderArn": p.arn,
        "name": p.name,
        "status": p.status,
        "type": p.type,
    }
    if p.auto_scaling_group_provider is not None:
        out["autoScalingGroupProvider"] = _asg(p.auto_scaling_group_provider)
    if p.update_status:
        out["updateStatus"] = p.update_status
    if p.update_status_reason:
        out["updateStatusReason"] = p.update_status_reason
    # ECS sends `tags` on every provider, empty unless asked for (aws-cli's examples).
    out["tags"] = list(view.tags) if tags else []
    return out


@action("CreateCapacityProvider")
def create_capacity_provider(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    view = capacity_providers.create_capacity_provider(
        op, name=p["name"], request=_provider_request(p), tags=p.get("tags") or ()
    )
    return {"capacityProvider": shape(view)}


@action("UpdateCapacityProvider")
def update_capacity_provider(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    view = capacity_providers.update_capacity_provider(op, p["name"], _provider_request(p))
    return {"capacityProvider": shape(view)}


@action("DeleteCapacityProvider")
def delete_capacity_provider(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    view = capacity_providers.delete_capacity_provider(
        op, p["capacityProvider"], cluster=p.get("cluster")
    )
    return {"capacityProvider": shape(view)}


@action("DescribeCapacityProviders")
def describe_capacity_providers(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    found, failures, token = capacity_providers.describe_capacity_providers(
        op,
        p.get("capacityProviders"),
        cluster=p.get("cluster"),
        max_results=p.get("maxResults"),
        next_token=p.get("nextToken"),
    )
    tags = "TAGS" in (p.get("include") or ())
    return {
        **page("capacityProviders", [shape(v, tags=tags) for v in found], token),
        "failures": failures,
    }
