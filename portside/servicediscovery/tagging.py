"""Tags on namespaces and services (TagResource, UntagResource, ListTagsForResource), kept in
the resource's document as Cloud Map shows them: {Key, Value} pairs, at most 50."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from portside.errors import NamedError
from portside.ops.context import Op
from portside.servicediscovery import records
from portside.servicediscovery.actions import action
from portside.store.base import Document, Tx

MAX_TAGS = 50


def merged(
    held: Sequence[dict[str, str]], given: Sequence[dict[str, Any]], name: str
) -> list[dict[str, str]]:
    """`held` with `given` merged in (a key given again takes the new value), checked."""
    tags = {t["Key"]: t["Value"] for t in held}
    for tag in given:
        tags[tag["Key"]] = tag["Value"]
    if len(tags) > MAX_TAGS:
        raise NamedError(
            "TooManyTagsException", f"The resource {name} can have at most {MAX_TAGS} tags."
        )
    return [{"Key": k, "Value": v} for k, v in tags.items()]


def _resource(op: Op, tx: Tx, arn: str) -> tuple[str, str, Document]:
    m = records.ARN.match(arn)
    missing = NamedError("ResourceNotFoundException", f"Resource not found: {arn}")
    if m is None or (m[1], m[2]) != (op.region, op.account):
        raise missing
    table = records.NAMESPACES if m[3] == "namespace" else records.SERVICES
    key = records.op_scope(op) + m[4]
    doc = tx.get(table, key)
    if doc is None:
        raise missing
    return table, key, doc


@action("TagResource")
def tag_resource(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    with op.store.transaction() as tx:
        table, key, doc = _resource(op, tx, p["ResourceARN"])
        doc["Tags"] = merged(doc.get("Tags") or [], p["Tags"], p["ResourceARN"])
        tx.put(table, key, doc)
    return {}


@action("UntagResource")
def untag_resource(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    drop = set(p["TagKeys"])
    with op.store.transaction() as tx:
        table, key, doc = _resource(op, tx, p["ResourceARN"])
        doc["Tags"] = [t for t in doc.get("Tags") or [] if t["Key"] not in drop]
        tx.put(table, key, doc)
    return {}


@action("ListTagsForResource")
def list_tags(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    with op.store.read() as tx:
        _, _, doc = _resource(op, tx, p["ResourceARN"])
    return {"Tags": list(doc.get("Tags") or [])}
