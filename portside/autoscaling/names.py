"""Auto Scaling's names: where a caller's groups are kept and their ARNs.

group     ACCOUNT|REGION|NAME
ARN       arn:aws:autoscaling:REGION:ACCOUNT:autoScalingGroup:UUID:autoScalingGroupName/NAME
policy    arn:aws:autoscaling:REGION:ACCOUNT:scalingPolicy:UUID:autoScalingGroupName/NAME:
          policyName/POLICY
"""

from __future__ import annotations

from portside.ops.context import Caller, Op, World, root_principal

GROUPS = "asg_groups"
POLICIES = "asg_policies"
ACTIVITIES = "asg_activities"
# The account Auto Scaling launches from (an instance's RequesterId).
REQUESTER = "940372691376"


def scope(account: str, region: str) -> str:
    return f"{account}|{region}|"


def group_key(account: str, region: str, name: str) -> str:
    return f"{account}|{region}|{name}"


def key_of(op: Op, name: str) -> str:
    return group_key(op.account, op.region, name)


def group_arn(region: str, account: str, ident: str, name: str) -> str:
    return (
        f"arn:aws:autoscaling:{region}:{account}:autoScalingGroup:{ident}:"
        f"autoScalingGroupName/{name}"
    )


def policy_arn(region: str, account: str, ident: str, group: str, policy: str) -> str:
    return (
        f"arn:aws:autoscaling:{region}:{account}:scalingPolicy:{ident}:"
        f"autoScalingGroupName/{group}:policyName/{policy}"
    )


def name_of(ref: str) -> str:
    """A group's name from its name or ARN."""
    marker = ":autoScalingGroupName/"
    if ref.startswith("arn:") and marker in ref:
        return ref.split(marker, 1)[1].split(":", 1)[0]
    return ref


def op_for(world: World, group_key_: str) -> Op:
    """An Op acting for the account and region a group key names (the loop's)."""
    account, region, _ = group_key_.split("|", 2)
    return Op(world, Caller(account, region, "", root_principal(account)))
