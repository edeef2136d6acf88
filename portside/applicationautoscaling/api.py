"""Application Auto Scaling on the edge: botocore's `application-autoscaling` model (JSON 1.1,
target prefix AnyScaleFrontendService, signing name `application-autoscaling`). Each module
registers its operations; this one gathers them."""

from __future__ import annotations

from portside.api.registry import ServiceSpec
from portside.api.validation import CoralDialect
from portside.applicationautoscaling import (  # noqa: F401  (each registers its operations)
    activities,
    policies,
    scheduled,
    tagging,
    targets,
)
from portside.applicationautoscaling.operations import ACTIONS
from portside.errors import ValidationException

SERVICE = ServiceSpec(
    "application-autoscaling",
    ACTIONS,
    signing_name="application-autoscaling",
    dialect=CoralDialect(ValidationException),
)
