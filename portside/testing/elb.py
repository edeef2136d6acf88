"""Load balancers for tests that run without the edge: a target group some load balancer's
listener forwards to, as a service's loadBalancers need."""

from __future__ import annotations

from portside.elb import listeners, load_balancers, target_groups
from portside.ops.context import Op


def load_balanced_group(
    op: Op,
    name: str = "web",
    *,
    target_type: str = "instance",
    listener_port: int = 8080,
    delay: int | None = None,
) -> str:
    """The ARN of a new HTTP target group behind a new application load balancer."""
    lb = load_balancers.create(op, {"Name": name, "Subnets": ["subnet-1"]})["LoadBalancers"][0]
    tg = target_groups.create(
        op,
        {"Name": name, "Protocol": "HTTP", "Port": 80, "VpcId": "vpc-1", "TargetType": target_type},
    )["TargetGroups"][0]["TargetGroupArn"]
    if delay is not None:
        target_groups.modify_attributes(
            op,
            {
                "TargetGroupArn": tg,
                "Attributes": [
                    {"Key": "deregistration_delay.timeout_seconds", "Value": str(delay)}
                ],
            },
        )
    listeners.create(
        op,
        {
            "LoadBalancerArn": lb["LoadBalancerArn"],
            "Protocol": "HTTP",
            "Port": listener_port,
            "DefaultActions": [{"Type": "forward", "TargetGroupArn": tg}],
        },
    )
    return str(tg)
