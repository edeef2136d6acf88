"""Secrets Manager on the edge: json protocol, target prefix `secretsmanager`, API
2017-10-17. Each module of the package registers its operations; this one gathers them.

GetSecretValue and BatchGetSecretValue run in a thread although they only read: they open KMS
blobs and may note the day's first access."""

from __future__ import annotations

from portside.api.registry import ServiceSpec
from portside.api.validation import CoralDialect
from portside.errors import ValidationException
from portside.secretsmanager import (  # noqa: F401  (each registers its operations)
    listing,
    passwords,
    policies,
    rotation,
    secrets,
    tags,
    values,
)
from portside.secretsmanager.operations import ACTIONS

SERVICE = ServiceSpec(
    "secretsmanager",
    ACTIONS,
    signing_name="secretsmanager",
    dialect=CoralDialect(ValidationException),
    heavy_reads=frozenset({"GetSecretValue", "BatchGetSecretValue"}),
)
