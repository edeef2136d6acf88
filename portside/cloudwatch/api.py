"""CloudWatch on the edge: botocore's `cloudwatch` model (endpoint prefix and signing name
`monitoring`), answered in each protocol the model lists: smithy-rpc-v2-cbor (current
botocore), JSON 1.0 (newer SDKs; target prefix GraniteServiceVersion20100801) and query (the
AWS CLI v2 up to 2.9 and older SDKs). Each module of the package registers its operations;
this one gathers them.
"""

from __future__ import annotations

from portside.api.registry import ServiceSpec
from portside.api.validation import CoralDialect
from portside.cloudwatch import (  # noqa: F401  (each registers its operations)
    alarms,
    metric_data,
    metrics,
    statistics,
    tagging,
)
from portside.cloudwatch.errors import ValidationError
from portside.cloudwatch.operations import ACTIONS

# Reads of metric data can scan many rows (and alarms reads are cheap but many): a thread.
SERVICE = ServiceSpec(
    "cloudwatch",
    ACTIONS,
    signing_name="monitoring",
    dialect=CoralDialect(ValidationError),
    heavy_reads=frozenset({"GetMetricData", "GetMetricStatistics", "ListMetrics"}),
)
