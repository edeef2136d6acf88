"""KMS on the edge: json protocol, target prefix TrentService, API 2014-11-01. Each module
of the package registers its operations; this one gathers them."""

from __future__ import annotations

from portside.api.registry import ServiceSpec
from portside.api.validation import CoralDialect
from portside.errors import ValidationException
from portside.kms import (  # noqa: F401  (each registers its operations)
    aliases,
    crypto,
    key_policies,
    keys,
    rotation,
    tagging,
)
from portside.kms.operations import ACTIONS

# DescribeKey may make an AWS managed key (a write) the first time it names one: a thread.
SERVICE = ServiceSpec(
    "kms",
    ACTIONS,
    signing_name="kms",
    dialect=CoralDialect(ValidationException),
    heavy_reads=frozenset({"DescribeKey"}),
)
