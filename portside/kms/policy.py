"""Key policies as KMS writes them when none is given: a customer key's default policy
(the account's root may do everything, so IAM policies govern), and an AWS managed key's
(use only through its service, metadata readable by the account)."""

from __future__ import annotations

import json
from typing import Any

from portside.errors import NamedError

NAME = "default"  # the only policy name KMS knows


def _text(policy: dict[str, Any]) -> str:
    return json.dumps(policy, indent=2)


def default_policy(account: str) -> str:
    return _text(
        {
            "Version": "2012-10-17",
            "Id": "key-default-1",
            "Statement": [
                {
                    "Sid": "Enable IAM User Permissions",
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
                    "Action": "kms:*",
                    "Resource": "*",
                }
            ],
        }
    )


def managed_policy(account: str, region: str, service: str, title: str) -> str:
    """The policy of the AWS managed key of `service` ("secretsmanager", "ssm")."""
    return _text(
        {
            "Version": "2012-10-17",
            "Id": f"auto-{service}-2",
            "Statement": [
                {
                    "Sid": f"Allow access through {title} for all principals in the account "
                    f"that are authorized to use {title}",
                    "Effect": "Allow",
                    "Principal": {"AWS": "*"},
                    "Action": [
                        "kms:Encrypt",
                        "kms:Decrypt",
                        "kms:ReEncrypt*",
                        "kms:GenerateDataKey*",
                        "kms:CreateGrant",
                        "kms:DescribeKey",
                    ],
                    "Resource": "*",
                    "Condition": {
                        "StringEquals": {
                            "kms:CallerAccount": account,
                            "kms:ViaService": f"{service}.{region}.amazonaws.com",
                        }
                    },
                },
                {
                    "Sid": "Allow direct access to key metadata to the account",
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
                    "Action": ["kms:Describe*", "kms:Get*", "kms:List*", "kms:RevokeGrant"],
                    "Resource": "*",
                },
            ],
        }
    )


def check_policy(text: str) -> None:
    """A policy must be a JSON object with statements: what KMS parses before it looks at
    what the statements allow (which Portside does not enforce)."""
    try:
        doc = json.loads(text)
    except ValueError:
        raise NamedError(
            "MalformedPolicyDocumentException", "Policy contains invalid JSON"
        ) from None
    if not isinstance(doc, dict) or not doc.get("Statement"):
        raise NamedError(
            "MalformedPolicyDocumentException", "Policy document must contain a Statement"
        )


def check_name(name: str) -> None:
    if name != NAME:
        raise NamedError("NotFoundException", "No such policy exists")
