"""The reads clients make of features Portside's groups do not have: lifecycle hooks, warm
pools, load balancers attached the classic way, traffic sources, instance refreshes,
notification configurations. Each answers what AWS answers for a group with none (an unknown
group is ValidationError), so Terraform and the CLIs read a group whole."""

from __future__ import annotations

from typing import Any

from portside.autoscaling import records
from portside.autoscaling.operations import ACTIONS
from portside.ops.context import Op


def _group(op: Op, name: str) -> dict[str, Any]:
    with op.store.read() as tx:
        return records.load(tx, op, name)


@ACTIONS.action("DescribeLifecycleHooks")
def describe_lifecycle_hooks(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    _group(op, p["AutoScalingGroupName"])
    return {"LifecycleHooks": []}


@ACTIONS.action("DescribeWarmPool")
def describe_warm_pool(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    _group(op, p["AutoScalingGroupName"])
    return {"Instances": []}


@ACTIONS.action("DescribeLoadBalancers")
def describe_load_balancers(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    group = _group(op, p["AutoScalingGroupName"])
    return {
        "LoadBalancers": [
            {"LoadBalancerName": n, "State": "Added"} for n in group.get("LoadBalancerNames") or ()
        ]
    }


@ACTIONS.action("DescribeLoadBalancerTargetGroups")
def describe_load_balancer_target_groups(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    group = _group(op, p["AutoScalingGroupName"])
    return {
        "LoadBalancerTargetGroups": [
            {"LoadBalancerTargetGroupARN": a, "State": "Added"}
            for a in group.get("TargetGroupARNs") or ()
        ]
    }


@ACTIONS.action("DescribeTrafficSources")
def describe_traffic_sources(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    _group(op, p["AutoScalingGroupName"])
    return {"TrafficSources": []}


@ACTIONS.action("DescribeInstanceRefreshes")
def describe_instance_refreshes(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    _group(op, p["AutoScalingGroupName"])
    return {"InstanceRefreshes": []}


@ACTIONS.action("DescribeNotificationConfigurations")
def describe_notification_configurations(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    for name in p.get("AutoScalingGroupNames") or ():
        _group(op, name)
    return {"NotificationConfigurations": []}


@ACTIONS.action("DescribeScheduledActions")
def describe_scheduled_actions(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    if p.get("AutoScalingGroupName"):
        _group(op, p["AutoScalingGroupName"])
    return {"ScheduledUpdateGroupActions": []}


@ACTIONS.action("DescribeTerminationPolicyTypes")
def describe_termination_policy_types(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    return {
        "TerminationPolicyTypes": [
            "AllocationStrategy",
            "ClosestToNextInstanceHour",
            "Default",
            "NewestInstance",
            "OldestInstance",
            "OldestLaunchConfiguration",
            "OldestLaunchTemplate",
        ]
    }
