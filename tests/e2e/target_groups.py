"""Target groups for the end-to-end load balancer tests: checked often enough that a new
target turns healthy within seconds (5 s between checks, 2 in a row), instance targets.

    from e2e.target_groups import fast_target_group
"""

from __future__ import annotations

from typing import Any


def fast_target_group(elb: Any, name: str, delay: int) -> str:
    """Create the group, draining a deregistered target for `delay` seconds; its ARN."""
    arn = elb.create_target_group(
        Name=name,
        Protocol="HTTP",
        Port=80,
        VpcId="vpc-0abc",
        HealthCheckIntervalSeconds=5,
        HealthCheckTimeoutSeconds=2,
        HealthyThresholdCount=2,
    )["TargetGroups"][0]["TargetGroupArn"]
    elb.modify_target_group_attributes(
        TargetGroupArn=arn,
        Attributes=[{"Key": "deregistration_delay.timeout_seconds", "Value": str(delay)}],
    )
    return str(arn)
