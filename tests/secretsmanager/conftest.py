from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.config import Config
from contract import attach
from harness import ACCESS_KEY, REGION, SECRET_KEY, ServerProcess


@pytest.fixture
def sm(server: ServerProcess) -> Any:
    return server.client("secretsmanager")


@pytest.fixture
def sm_raw(server: ServerProcess) -> Any:
    """A client that leaves the request's checks to the server (no botocore validation)."""
    config = Config(retries={"max_attempts": 1}, parameter_validation=False)
    return attach(
        boto3.client(
            "secretsmanager",
            endpoint_url=server.endpoint,
            region_name=REGION,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
            config=config,
        )
    )
