"""What the Cloud Map tests share: an operation waited for, an error's code and message."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import boto3
import botocore.model
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from contract import attach
from harness import ACCESS_KEY, REGION, SECRET_KEY, ServerProcess


def wait_operation(sd: Any, operation_id: str) -> dict[str, Any]:
    """The operation once it has left SUBMITTED and PENDING."""
    deadline = time.monotonic() + 10
    while True:
        operation = sd.get_operation(OperationId=operation_id)["Operation"]
        if operation["Status"] not in ("SUBMITTED", "PENDING") or time.monotonic() > deadline:
            return dict(operation)
        time.sleep(0.02)


def namespace_id(sd: Any, operation_id: str) -> str:
    return str(wait_operation(sd, operation_id)["Targets"]["NAMESPACE"])


def error_of(call: Callable[..., Any], **params: Any) -> tuple[str, str]:
    with pytest.raises(ClientError) as caught:
        call(**params)
    error = caught.value.response["Error"]
    return error["Code"], error.get("Message", "")


def sd_client(server: ServerProcess, protocol: str) -> Any:
    """A Cloud Map client speaking `protocol` (botocore 1.44 lists smithy-rpc-v2-cbor first in
    the model and picks JSON; CBOR is what SDKs preferring it send). No `data-` host prefix
    for DiscoverInstances: the endpoint is an address."""
    saved = botocore.model.PRIORITY_ORDERED_SUPPORTED_PROTOCOLS
    botocore.model.PRIORITY_ORDERED_SUPPORTED_PROTOCOLS = (protocol,)
    try:
        made = boto3.session.Session().client(
            "servicediscovery",
            endpoint_url=server.endpoint,
            region_name=REGION,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
            config=Config(retries={"max_attempts": 1}, inject_host_prefix=False),
        )
        assert made.meta.service_model.resolved_protocol == protocol
    finally:
        botocore.model.PRIORITY_ORDERED_SUPPORTED_PROTOCOLS = saved
    return attach(made) if protocol == "json" else made
