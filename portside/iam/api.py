"""IAM on the edge: query protocol, signing name `iam`, API 2010-05-08. IAM is global: its
clients sign for us-east-1 (iam.amazonaws.com); with an endpoint URL they sign with service
`iam` and whatever region they have. Each module of the package registers its operations;
this one gathers them."""

from __future__ import annotations

from portside.api.registry import ServiceSpec
from portside.api.validation import CoralDialect
from portside.iam import (  # noqa: F401  (each registers its operations)
    access_keys,
    account,
    attachments,
    groups,
    inline,
    policies,
    profiles,
    roles,
    tagging,
    users,
    versions,
)
from portside.iam.errors import ValidationError
from portside.iam.operations import ACTIONS

SERVICE = ServiceSpec("iam", ACTIONS, signing_name="iam", dialect=CoralDialect(ValidationError))
