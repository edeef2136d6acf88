"""EC2's network objects on the edge: the `ec2` protocol, API 2016-11-15. Each module of
the package registers its operations; this one gathers them."""

from __future__ import annotations

from portside.api.registry import ServiceSpec
from portside.ec2 import (  # noqa: F401  (each registers its operations)
    group_rules,
    instances,
    interfaces,
    launch_templates,
    regions,
    routing,
    security_groups,
    subnets,
    tags,
    vpcs,
)
from portside.ec2.errors import Ec2Dialect
from portside.ec2.operations import ACTIONS

SERVICE = ServiceSpec(
    "ec2",
    ACTIONS,
    dialect=Ec2Dialect(),
    # They read every container instance (the zones agents report) or every tagged object.
    heavy_reads=frozenset(
        {"DescribeAvailabilityZones", "DescribeTags", "DescribeInstances", "DescribeInstanceStatus"}
    ),
)
