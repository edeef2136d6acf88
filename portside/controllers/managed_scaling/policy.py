"""The target tracking policy ECS puts on a managed-scaling provider's Auto Scaling group
(developer guide, "Automatically manage Amazon ECS capacity with cluster auto scaling").

While a provider with managedScaling ENABLED is associated with a cluster, its group holds
one policy named `ECSManagedAutoScalingPolicy-<uuid>`: TargetTrackingScaling on the
customized metric `CapacityProviderReservation` (namespace `AWS/ECS/ManagedScaling`,
dimensions CapacityProviderName and ClusterName, Average) with the provider's targetCapacity
as its TargetValue and its instanceWarmupPeriod as EstimatedInstanceWarmup. Auto Scaling makes
the policy's high and low alarms and runs it (autoscaling/policies.py, tracking.py). An
UpdateCapacityProvider that changes the target or the warm-up changes the policy; turning
managed scaling off, deleting the provider or taking it off its cluster removes it, and its
alarms with it (`prune`).

Policies are put through Auto Scaling's own PutScalingPolicy and DeletePolicy, as the
provider's account: a user sees and describes them as on AWS, and is told not to edit them.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from portside.autoscaling import policies
from portside.autoscaling.errors import ValidationError
from portside.autoscaling.names import POLICIES
from portside.model.capacity_provider import CapacityProvider
from portside.ops.context import Caller, Op, World, root_principal

PREFIX = "ECSManagedAutoScalingPolicy-"
NAMESPACE = "AWS/ECS/ManagedScaling"
METRIC = "CapacityProviderReservation"


def configuration(provider: CapacityProvider, cluster: str) -> dict[str, Any]:
    """The policy's TargetTrackingConfiguration."""
    asg = provider.auto_scaling_group_provider
    assert asg is not None
    return {
        "CustomizedMetricSpecification": {
            "MetricName": METRIC,
            "Namespace": NAMESPACE,
            "Dimensions": [
                {"Name": "CapacityProviderName", "Value": provider.name},
                {"Name": "ClusterName", "Value": cluster},
            ],
            "Statistic": "Average",
        },
        "TargetValue": float(asg.managed_scaling.target_capacity),
        "DisableScaleIn": False,
    }


def _managed(op: Op, group: str) -> list[dict[str, Any]]:
    found = policies.describe_policies(op, {"AutoScalingGroupName": group})["ScalingPolicies"]
    return [p for p in found if str(p["PolicyName"]).startswith(PREFIX)]


def ensure(op: Op, provider: CapacityProvider, cluster: str) -> str:
    """The provider's policy on its group as its settings say (made or changed when not);
    its name."""
    asg = provider.auto_scaling_group_provider
    assert asg is not None
    group = asg.group_name
    config = configuration(provider, cluster)
    warmup = asg.managed_scaling.instance_warmup_period
    found = _managed(op, group)
    for extra in found[1:]:  # one policy per group
        policies.delete_policy(
            op, {"AutoScalingGroupName": group, "PolicyName": extra["PolicyName"]}
        )
    if found:
        current = found[0]
        if (
            current.get("TargetTrackingConfiguration") == config
            and current.get("EstimatedInstanceWarmup") == warmup
        ):
            return str(current["PolicyName"])
        name = str(current["PolicyName"])
    else:
        name = PREFIX + str(uuid.uuid4())
    policies.put_scaling_policy(
        op,
        {
            "AutoScalingGroupName": group,
            "PolicyName": name,
            "PolicyType": "TargetTrackingScaling",
            "TargetTrackingConfiguration": config,
            "EstimatedInstanceWarmup": warmup,
        },
    )
    return name


def prune(world: World, keep: Iterable[tuple[str, str, str, str]]) -> int:
    """Remove ECS's policies from every group but those in `keep` ((account, region, group
    name, policy name)); how many went."""
    wanted = set(keep)
    with world.store.read() as tx:
        rows = [
            (*str(d["_GroupKey"]).split("|", 2)[:2], str(d["AutoScalingGroupName"]), str(name))
            for _, d in tx.scan(POLICIES)
            if str(name := d["PolicyName"]).startswith(PREFIX)
        ]
    gone = 0
    for account, region, group, name in rows:
        if (account, region, group, name) in wanted:
            continue
        op = Op(world, Caller(account, region, "", root_principal(account)))
        try:
            policies.delete_policy(op, {"AutoScalingGroupName": group, "PolicyName": name})
            gone += 1
        except ValidationError:
            pass  # the group (and its policies) went meanwhile
    return gone
