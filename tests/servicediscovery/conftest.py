from __future__ import annotations

from typing import Any

import pytest
from harness import ServerProcess
from sd_helpers import sd_client


@pytest.fixture(params=["smithy-rpc-v2-cbor", "json"], ids=["cbor", "json"])
def sd(server: ServerProcess, request: pytest.FixtureRequest) -> Any:
    """boto3 over CBOR, then over JSON (every JSON response held to the model)."""
    return sd_client(server, request.param)


@pytest.fixture
def vpc(server: ServerProcess) -> str:
    """The default VPC's id."""
    from aws_query import query_client

    ec2 = query_client(server, "ec2")
    vpcs = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"]
    return str(vpcs[0]["VpcId"])
