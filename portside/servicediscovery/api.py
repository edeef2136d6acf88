"""Cloud Map on the edge: botocore's `servicediscovery` model (target prefix
Route53AutoNaming_v20170314), answered in both protocols it lists: smithy-rpc-v2-cbor
(current botocore) and JSON 1.1 (the AWS CLI v2, Terraform). Each module of the package
registers its actions; this one gathers them.

DiscoverInstances and DiscoverInstancesRevision carry the model's host prefix `data-`: an
SDK pointed at an address (`http://127.0.0.1:4810`) must not inject it (boto3:
`Config(inject_host_prefix=False)`; newer SDKs: `AWS_DISABLE_HOST_PREFIX_INJECTION=true`).
"""

from __future__ import annotations

from portside.api.registry import ServiceSpec
from portside.api.validation import CoralDialect
from portside.servicediscovery import (  # noqa: F401  (each registers its actions)
    discovery,
    instances,
    namespaces,
    operations,
    services,
    tagging,
)
from portside.servicediscovery.actions import ACTIONS
from portside.servicediscovery.errors import InvalidInput

SERVICE = ServiceSpec(
    "servicediscovery",
    ACTIONS,
    signing_name="servicediscovery",
    dialect=CoralDialect(InvalidInput),
)
