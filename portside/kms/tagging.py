"""Tags on a key (TagResource, UntagResource, ListResourceTags), kept in its document as
KMS shows them: {TagKey, TagValue} pairs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from portside.errors import NamedError
from portside.kms import guards, lookup, paging
from portside.kms.operations import action
from portside.ops.context import Op

MAX_TAGS = 50
Tag = dict[str, str]


def _reserved(key: str) -> NamedError:
    return NamedError("TagException", f"Tag key '{key}' uses the reserved prefix 'aws:'.")


def checked(given: Sequence[dict[str, Any]], held: list[Tag]) -> list[Tag]:
    """`held` with `given` merged in (a key given again takes the new value), checked."""
    merged = {t["TagKey"]: t["TagValue"] for t in held}
    for tag in given:
        if tag["TagKey"].lower().startswith("aws:"):
            raise _reserved(tag["TagKey"])
        merged[tag["TagKey"]] = tag["TagValue"]
    if len(merged) > MAX_TAGS:
        raise NamedError("LimitExceededException", f"A KMS key can have at most {MAX_TAGS} tags.")
    return [{"TagKey": k, "TagValue": v} for k, v in merged.items()]


@action("TagResource")
def tag_resource(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    given = p["Tags"]
    guards.change_key(
        op, p["KeyId"], "TagResource", lambda doc: doc.update(Tags=checked(given, doc["Tags"]))
    )
    return {}


@action("UntagResource")
def untag_resource(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    for key in p["TagKeys"]:
        if key.lower().startswith("aws:"):
            raise _reserved(key)
    drop = set(p["TagKeys"])
    guards.change_key(
        op,
        p["KeyId"],
        "UntagResource",
        lambda doc: doc.update(Tags=[t for t in doc["Tags"] if t["TagKey"] not in drop]),
    )
    return {}


@action("ListResourceTags")
def list_resource_tags(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    with op.store.read() as tx:
        doc = lookup.find(op, tx, p["KeyId"], aliases=False)
    tags = sorted(doc.get("Tags") or [], key=lambda t: t["TagKey"])
    return paging.page(p, tags, lambda t: t["TagKey"], "Tags")
