"""Parameter Store on the edge: json protocol, target prefix AmazonSSM, signing name `ssm`.
Each module of the package registers its operations; this one gathers them."""

from __future__ import annotations

from portside.api.registry import ServiceSpec
from portside.api.validation import CoralDialect
from portside.errors import ValidationException
from portside.ssm import (  # noqa: F401  (each registers its operations)
    delete,
    labels,
    listing,
    put,
    reads,
    tagging,
)
from portside.ssm.operations import ACTIONS

SERVICE = ServiceSpec("ssm", ACTIONS, signing_name="ssm", dialect=CoralDialect(ValidationException))
