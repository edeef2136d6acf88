"""The EC2 error a boto3 call answers, as (code, message): the ec2 client raises ClientError
with EC2's own code (the model declares no error shapes)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError


def error_of(call: Callable[..., Any], **params: Any) -> tuple[str, str]:
    with pytest.raises(ClientError) as caught:
        call(**params)
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] in (400, 412)
    error = caught.value.response["Error"]
    return error["Code"], error.get("Message", "")


def code_of(call: Callable[..., Any], **params: Any) -> str:
    return error_of(call, **params)[0]


def tags(name: str) -> list[dict[str, Any]]:
    return [{"Key": "Name", "Value": name}]


def spec(kind: str, name: str) -> list[dict[str, Any]]:
    """A TagSpecifications list naming the object `name`."""
    return [{"ResourceType": kind, "Tags": tags(name)}]
