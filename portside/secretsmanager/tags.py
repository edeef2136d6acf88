"""TagResource and UntagResource: a secret's tags, merged by key."""

from __future__ import annotations

from typing import Any

from portside.errors import NamedError
from portside.ops.context import Op
from portside.secretsmanager import records
from portside.secretsmanager.operations import action

MAX_TAGS = 50


@action("TagResource")
def tag_resource(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    with op.store.transaction() as tx:
        doc = records.get(op, tx, p["SecretId"])
        merged = {t["Key"]: t for t in doc.get("Tags") or []}
        merged.update({t["Key"]: t for t in p["Tags"]})
        if len(merged) > MAX_TAGS:
            raise NamedError(
                "InvalidParameterException",
                f"A secret can have at most {MAX_TAGS} tags; this request would give it "
                f"{len(merged)}.",
            )
        doc["Tags"] = list(merged.values())
        records.save(op, tx, doc)
    return {}


@action("UntagResource")
def untag_resource(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    removed = set(p["TagKeys"])
    with op.store.transaction() as tx:
        doc = records.get(op, tx, p["SecretId"])
        doc["Tags"] = [t for t in doc.get("Tags") or [] if t["Key"] not in removed]
        records.save(op, tx, doc)
    return {}
