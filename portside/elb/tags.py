"""Tags on every ELB resource, kept in its document (`Tags`, a list of Key/Value)."""

from __future__ import annotations

from typing import Any

from portside.elb import names
from portside.elb.errors import (
    ValidationError,
    lb_not_found,
    listener_not_found,
    rule_not_found,
    tg_not_found,
)
from portside.elb.operations import action
from portside.elb.records import TABLE_OF
from portside.errors import NamedError
from portside.ops.context import Op
from portside.store.base import Document, Tx

MAX_TAGS = 50
_MISSING = {
    "loadbalancer": lb_not_found,
    "targetgroup": tg_not_found,
    "listener": listener_not_found,
    "listener-rule": rule_not_found,
}


def checked(given: list[dict[str, Any]]) -> list[dict[str, Any]]:
    keys = [t["Key"] for t in given]
    if len(set(keys)) != len(keys):
        raise NamedError("DuplicateTagKeys", "Tag keys must be unique")
    if len(given) > MAX_TAGS:
        raise NamedError("TooManyTags", "The quota for the number of tags per resource is 50")
    return [{"Key": t["Key"], **({"Value": t["Value"]} if "Value" in t else {})} for t in given]


def _resource(tx: Tx, arn: str) -> tuple[str, Document]:
    kind = names.kind(arn)
    if kind not in TABLE_OF:
        raise ValidationError(f"'{arn}' is not a valid resource ARN")
    table = TABLE_OF[kind]
    doc = tx.get(table, arn)
    if doc is None:
        raise _MISSING[kind]()
    return table, doc


@action("AddTags")
def add_tags(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    given = checked(p["Tags"])
    with op.store.transaction() as tx:
        for arn in p["ResourceArns"]:
            table, doc = _resource(tx, arn)
            merged = {t["Key"]: t for t in doc.get("Tags") or []}
            merged.update({t["Key"]: t for t in given})
            if len(merged) > MAX_TAGS:
                raise NamedError(
                    "TooManyTags", "The quota for the number of tags per resource is 50"
                )
            doc["Tags"] = list(merged.values())
            tx.put(table, arn, doc)
    return {}


@action("RemoveTags")
def remove_tags(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    keys = set(p["TagKeys"])
    with op.store.transaction() as tx:
        for arn in p["ResourceArns"]:
            table, doc = _resource(tx, arn)
            doc["Tags"] = [t for t in doc.get("Tags") or [] if t["Key"] not in keys]
            tx.put(table, arn, doc)
    return {}


@action("DescribeTags")
def describe_tags(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    with op.store.read() as tx:
        found = [(arn, _resource(tx, arn)[1]) for arn in p["ResourceArns"]]
    return {
        "TagDescriptions": [
            {"ResourceArn": arn, "Tags": doc.get("Tags") or []} for arn, doc in found
        ]
    }
