"""ELBv2 on the edge: query protocol, signing name `elasticloadbalancing`, API 2015-12-01.
Each module of the package registers its operations; this one gathers them."""

from __future__ import annotations

from portside.api.registry import ServiceSpec
from portside.api.validation import CoralDialect
from portside.elb import (  # noqa: F401  (each registers its operations)
    limits,
    listeners,
    load_balancers,
    rules,
    ssl_policies,
    tags,
    target_groups,
    targets,
)
from portside.elb.errors import ValidationError
from portside.elb.operations import ACTIONS

SERVICE = ServiceSpec(
    "elbv2",
    ACTIONS,
    signing_name="elasticloadbalancing",
    dialect=CoralDialect(ValidationError),
)
