"""ECR on the edge: json protocol, target prefix AmazonEC2ContainerRegistry_V20150921, signing
name `ecr`. Each module of the package registers its operations; this one gathers them.

The calls that read images talk to the registry over HTTP, so they run in a thread like
writes do rather than on the event loop.
"""

from __future__ import annotations

from portside.api.registry import ServiceSpec
from portside.api.validation import CoralDialect
from portside.ecr import (  # noqa: F401  (each registers its operations)
    authorization,
    images,
    lifecycle_policies,
    policies,
    repositories,
    tagging,
)
from portside.ecr.operations import ACTIONS
from portside.errors import InvalidParameterException

SERVICE = ServiceSpec(
    "ecr",
    ACTIONS,
    signing_name="ecr",
    dialect=CoralDialect(InvalidParameterException),
    body_limit=5 * 1024 * 1024,  # PutImage: a manifest of up to 4 MiB, JSON-escaped
    heavy_reads=frozenset(
        {
            "DescribeImages",
            "ListImages",
            "GetAuthorizationToken",
            "GetLifecyclePolicyPreview",
        }
    ),
)
