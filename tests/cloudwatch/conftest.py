from __future__ import annotations

from typing import Any

import boto3
import botocore.model
import pytest
from botocore.config import Config
from contract import attach
from harness import ACCESS_KEY, REGION, SECRET_KEY, ServerProcess


def client(server: ServerProcess, protocol: str | None = None) -> Any:
    """A boto3 CloudWatch client speaking `protocol`. botocore 1.44 lists the model's
    protocols (smithy-rpc-v2-cbor, json, query) and picks JSON first; `protocol` makes it
    pick that one instead, as SDKs preferring CBOR (and older botocore, query) do."""
    saved = botocore.model.PRIORITY_ORDERED_SUPPORTED_PROTOCOLS
    if protocol is not None:
        botocore.model.PRIORITY_ORDERED_SUPPORTED_PROTOCOLS = (protocol,)
    try:
        made = boto3.session.Session().client(
            "cloudwatch",
            endpoint_url=server.endpoint,
            region_name=REGION,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
            config=Config(retries={"max_attempts": 1}),
        )
        assert made.meta.service_model.resolved_protocol == (protocol or "json")
    finally:
        botocore.model.PRIORITY_ORDERED_SUPPORTED_PROTOCOLS = saved
    return made


@pytest.fixture(scope="session")
def cw(server: ServerProcess) -> Any:
    """boto3 over smithy-rpc-v2-cbor."""
    return client(server, "smithy-rpc-v2-cbor")


@pytest.fixture(scope="session")
def cw_json(server: ServerProcess) -> Any:
    """boto3 over JSON 1.0 (botocore's own choice), every response held to the model."""
    return attach(client(server))


@pytest.fixture(scope="session")
def cw_query(server: ServerProcess) -> Any:
    """boto3 over the query protocol."""
    return client(server, "query")


@pytest.fixture
def namespace(name: str) -> str:
    """A namespace of this test's own, so tests sharing a server never see each other's."""
    return f"Portside/Test/{name}"
