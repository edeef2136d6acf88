"""Tags on every ELB resource, kept in its document (`Tags`, a list of Key/Value)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from portside.elb import names
from portside.elb.errors import ValidationError
from portside.elb.operations import action
from portside.elb.records import FAMILY_OF
from portside.errors import NamedError
from portside.ops.context import Op
from portside.store.base import Document, Tx

MAX_TAGS = 50
Tag = dict[str, Any]


def checked(given: list[dict[str, Any]]) -> list[dict[str, Any]]:
    keys = [t["Key"] for t in given]
    if len(set(keys)) != len(keys):
        raise NamedError("DuplicateTagKeys", "Tag keys must be unique")
    if len(given) > MAX_TAGS:
        raise NamedError("TooManyTags", "The quota for the number of tags per resource is 50")
    return [{"Key": t["Key"], **({"Value": t["Value"]} if "Value" in t else {})} for t in given]


def _resource(tx: Tx, arn: str) -> tuple[str, Document]:
    family = FAMILY_OF.get(names.kind(arn) or "")
    if family is None:
        raise ValidationError(f"'{arn}' is not a valid resource ARN")
    doc = tx.get(family.table, arn)
    if doc is None:
        raise family.missing()
    return family.table, doc


def _retag(op: Op, arns: list[str], change: Callable[[list[Tag]], list[Tag]]) -> dict[str, Any]:
    """Each resource's tags replaced by what `change` makes of them, all in one transaction."""
    with op.store.transaction() as tx:
        for arn in arns:
            table, doc = _resource(tx, arn)
            doc["Tags"] = change(doc.get("Tags") or [])
            tx.put(table, arn, doc)
    return {}


@action("AddTags")
def add_tags(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    given = checked(p["Tags"])

    def add(held: list[Tag]) -> list[Tag]:
        merged = {t["Key"]: t for t in held}
        merged.update({t["Key"]: t for t in given})
        if len(merged) > MAX_TAGS:
            raise NamedError("TooManyTags", "The quota for the number of tags per resource is 50")
        return list(merged.values())

    return _retag(op, p["ResourceArns"], add)


@action("RemoveTags")
def remove_tags(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    keys = set(p["TagKeys"])
    return _retag(op, p["ResourceArns"], lambda held: [t for t in held if t["Key"] not in keys])


@action("DescribeTags")
def describe_tags(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    with op.store.read() as tx:
        found = [(arn, _resource(tx, arn)[1]) for arn in p["ResourceArns"]]
    return {
        "TagDescriptions": [
            {"ResourceArn": arn, "Tags": doc.get("Tags") or []} for arn, doc in found
        ]
    }
