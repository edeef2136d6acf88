"""TagResource, UntagResource, ListTagsForResource: tags on scalable targets, addressed by
their ScalableTargetARN (the only taggable resource Application Auto Scaling has); at most
50 per target."""

from __future__ import annotations

from typing import Any

from portside.applicationautoscaling import names
from portside.applicationautoscaling.errors import no_resource, too_many_tags
from portside.applicationautoscaling.operations import action
from portside.errors import ValidationException
from portside.ops.context import Op
from portside.store.base import Document, Tx

MAX_TAGS = 50


def _target(tx: Tx, arn: str) -> tuple[str, Document]:
    if not arn.startswith("arn:aws:application-autoscaling:") or ":scalable-target/" not in arn:
        raise ValidationException(f"Invalid resource ARN: {arn}")
    for key, doc in tx.scan(names.TARGETS, where={"arn": arn}):
        return key, doc
    raise no_resource(arn)


@action("TagResource")
def tag_resource(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    with op.store.transaction() as tx:
        key, doc = _target(tx, p["ResourceARN"])
        tags = dict(doc.get("_Tags") or {})
        tags.update(p["Tags"])
        if len(tags) > MAX_TAGS:
            raise too_many_tags()
        doc["_Tags"] = tags
        tx.put(names.TARGETS, key, doc)
    return {}


@action("UntagResource")
def untag_resource(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    with op.store.transaction() as tx:
        key, doc = _target(tx, p["ResourceARN"])
        tags = dict(doc.get("_Tags") or {})
        for k in p["TagKeys"]:
            tags.pop(k, None)
        doc["_Tags"] = tags
        tx.put(names.TARGETS, key, doc)
    return {}


@action("ListTagsForResource")
def list_tags_for_resource(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    with op.store.read() as tx:
        _, doc = _target(tx, p["ResourceARN"])
    return {"Tags": dict(doc.get("_Tags") or {})}
