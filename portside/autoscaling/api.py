"""EC2 Auto Scaling on the edge: query protocol, signing name `autoscaling`, API 2011-01-01.
Each module of the package registers its operations; this one gathers them."""

from __future__ import annotations

from portside.api.registry import ServiceSpec
from portside.api.validation import CoralDialect
from portside.autoscaling import (  # noqa: F401  (each registers its operations)
    activities,
    groups,
    members,
    policies,
    reads,
    tags,
)
from portside.autoscaling.errors import ValidationError
from portside.autoscaling.operations import ACTIONS

SERVICE = ServiceSpec(
    "autoscaling",
    ACTIONS,
    signing_name="autoscaling",
    dialect=CoralDialect(ValidationError),
    # They read every instance of the groups they show.
    heavy_reads=frozenset({"DescribeAutoScalingGroups", "DescribeAutoScalingInstances"}),
)
