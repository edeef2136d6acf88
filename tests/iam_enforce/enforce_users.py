"""What the enforcement tests share: policy documents, IAM users with a policy and a key,
and a refusal's code, message and status."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from harness import REGION, ServerProcess

ACCOUNT = "000000000000"


def document(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow(action: str | list[str], resource: str | list[str] = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def deny(action: str | list[str], resource: str | list[str] = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Deny", "Action": action, "Resource": resource, **extra}


def refusal(excinfo: pytest.ExceptionInfo[ClientError]) -> tuple[str, str, int]:
    """(code, message, HTTP status) of a refused call."""
    err = excinfo.value.response
    return err["Error"]["Code"], err["Error"]["Message"], err["ResponseMetadata"]["HTTPStatusCode"]


@dataclass
class User:
    """An IAM user with one inline policy ("main") and an access key."""

    server: ServerProcess
    iam: Any
    name: str
    arn: str
    key: dict[str, str]
    clients: dict[str, Any] = field(default_factory=dict)

    def client(self, service: str) -> Any:
        if service not in self.clients:
            self.clients[service] = boto3.client(
                service,
                endpoint_url=self.server.endpoint,
                region_name=REGION,
                aws_access_key_id=self.key["AccessKeyId"],
                aws_secret_access_key=self.key["SecretAccessKey"],
                config=Config(retries={"max_attempts": 1}),
            )
        return self.clients[service]

    def set_policy(self, text: str) -> None:
        self.iam.put_user_policy(UserName=self.name, PolicyName="main", PolicyDocument=text)

    def not_authorized(self, action: str, resource: str) -> str:
        return (
            f"User: {self.arn} is not authorized to perform: {action} on resource: {resource} "
            f"because no identity-based policy allows the {action} action"
        )
