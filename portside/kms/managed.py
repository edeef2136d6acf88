"""AWS managed keys: `alias/aws/secretsmanager` and `alias/aws/ssm`. Their aliases exist in
every account and region from the start (ListAliases shows them, without a target until the
key exists); the key itself is made on first reference, as KMS makes it when DescribeKey or a
service first names the alias."""

from __future__ import annotations

from dataclasses import dataclass

from portside.kms import records
from portside.kms.master import MasterKey
from portside.kms.policy import managed_policy
from portside.ops.context import Op
from portside.store.base import Document, Tx

RESERVED = "alias/aws/"


@dataclass(frozen=True, slots=True)
class Managed:
    service: str  # the service's endpoint prefix, as its policy names it
    title: str
    description: str


MANAGED: dict[str, Managed] = {
    "alias/aws/secretsmanager": Managed(
        "secretsmanager",
        "AWS Secrets Manager",
        "Default key that protects my Secrets Manager data when no other key is defined",
    ),
    "alias/aws/ssm": Managed(
        "ssm",
        "AWS Systems Manager",
        "Default key that protects my SSM parameters when no other key is defined",
    ),
}


def create(op: Op, tx: Tx, master: MasterKey, alias: str) -> Document:
    """The AWS managed key of `alias` (one of MANAGED), made now with its alias."""
    kind = MANAGED[alias]
    doc = records.new_key(
        op,
        tx,
        master,
        description=kind.description,
        manager="AWS",
        policy=managed_policy(op.account, op.region, kind.service, kind.title),
        tags=[],
    )
    arn = records.alias_arn(op, alias)
    now = op.now()
    tx.put(
        records.ALIASES,
        arn,
        {
            "AliasName": alias,
            "AliasArn": arn,
            "TargetKeyId": doc["KeyId"],
            "CreationDate": now,
            "LastUpdatedDate": now,
        },
    )
    return doc
