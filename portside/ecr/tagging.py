"""Tags on repositories (the only taggable ECR resource), kept in the repository's document:
TagResource, UntagResource, ListTagsForResource, and CreateRepository's `tags`."""

from __future__ import annotations

from typing import Any

from portside.ecr import records
from portside.ecr.operations import action
from portside.errors import NamedError
from portside.ops.context import Op
from portside.store.base import Document, Tx

MAX_TAGS = 50
MAX_KEY = 128
MAX_VALUE = 256


def merged(held: list[dict[str, Any]], given: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """`held` with `given` put over it, one tag per key; ECR's limits checked."""
    out = {t["Key"]: t for t in held}
    for tag in given:
        key, value = tag.get("Key"), tag.get("Value")
        if not key or len(key) > MAX_KEY or key.startswith("aws:"):
            raise NamedError(
                "InvalidTagParameterException",
                f"The tag key '{key}' is not valid: 1 to {MAX_KEY} characters, not starting "
                "with 'aws:'",
            )
        if value is None or len(value) > MAX_VALUE:
            raise NamedError(
                "InvalidTagParameterException",
                f"The value of tag '{key}' must be 0 to {MAX_VALUE} characters",
            )
        out[key] = {"Key": key, "Value": value}
    if len(out) > MAX_TAGS:
        raise NamedError("TooManyTagsException", f"A repository can have at most {MAX_TAGS} tags")
    return list(out.values())


def _repository(op: Op, tx: Tx, resource_arn: str) -> Document:
    account, region, name = records.parse_arn(resource_arn)
    if region != op.region:
        raise records.not_found(name, account)
    return records.load(tx, account, region, name)


@action("TagResource")
def tag_resource(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    with op.store.transaction() as tx:
        doc = _repository(op, tx, p["resourceArn"])
        doc["tags"] = merged(doc.get("tags") or [], p["tags"])
        records.save(tx, doc)
    return {}


@action("UntagResource")
def untag_resource(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    removing = set(p["tagKeys"])
    with op.store.transaction() as tx:
        doc = _repository(op, tx, p["resourceArn"])
        doc["tags"] = [t for t in doc.get("tags") or [] if t["Key"] not in removing]
        records.save(tx, doc)
    return {}


@action("ListTagsForResource")
def list_tags(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    with op.store.read() as tx:
        return {"tags": _repository(op, tx, p["resourceArn"]).get("tags") or []}
