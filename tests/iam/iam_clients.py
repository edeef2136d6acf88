"""Clients and error readers the IAM tests share."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from harness import ACCESS_KEY, REGION, SECRET_KEY, ServerProcess

ACCOUNT = "000000000000"


def client(
    server: ServerProcess, service: str, access_key: str = ACCESS_KEY, secret_key: str = SECRET_KEY
) -> Any:
    """A boto3 client with no model check: for answers IAM gives that its model calls
    incomplete (the root's GetUser has no UserName)."""
    return boto3.client(
        service,
        endpoint_url=server.endpoint,
        region_name=REGION,
        aws_access_key_id=access_key,
        aws_secret_access_key=secret_key,
        config=Config(retries={"max_attempts": 1}),
    )


def error(excinfo: pytest.ExceptionInfo[ClientError]) -> tuple[str, str, int]:
    """(code, message, HTTP status) of a refused call."""
    err = excinfo.value.response
    return err["Error"]["Code"], err["Error"]["Message"], err["ResponseMetadata"]["HTTPStatusCode"]
