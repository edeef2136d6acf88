"""Tags on parameters (ResourceType `Parameter`, ResourceId the parameter's name or ARN), kept
in the parameter's document. Parameters are the only taggable SSM resource here: any other
resource type names nothing that exists (InvalidResourceId).

Chosen without a sample: InvalidResourceId's message (the model's description),
TooManyTagsError's, and the 50-tag limit of a PutParameter (AWS's 50 tags per resource)
worded as Coral words a list too long.
"""

from __future__ import annotations

from typing import Any

from portside.errors import NamedError, ValidationException
from portside.ops.context import Op
from portside.ssm import names, records
from portside.ssm.operations import action
from portside.store.base import Document, Tx

MAX_TAGS = 50


def checked(given: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A PutParameter's tags, one per key (the last given wins)."""
    merged = {t["Key"]: {"Key": t["Key"], "Value": t["Value"]} for t in given}
    if len(merged) > MAX_TAGS:
        raise ValidationException(
            "1 validation error detected: Value at 'tags' failed to satisfy constraint: "
            f"Member must have length less than or equal to {MAX_TAGS}"
        )
    return list(merged.values())


def _invalid_id() -> NamedError:
    return NamedError(
        "InvalidResourceId",
        "The resource ID isn't valid. Verify that you entered the correct ID and try again.",
    )


def _parameter(op: Op, tx: Tx, p: dict[str, Any]) -> Document:
    if p["ResourceType"] != "Parameter":
        raise _invalid_id()
    try:
        ref = names.parse(p["ResourceId"], op.account, op.region, selectors=False)
    except ValidationException:
        raise _invalid_id() from None
    if (ref.account, ref.region) != (op.account, op.region):
        raise _invalid_id()
    doc = records.find(tx, ref)
    if doc is None:
        raise _invalid_id()
    return doc


@action("AddTagsToResource")
def add_tags(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    with op.store.transaction() as tx:
        doc = _parameter(op, tx, p)
        merged = {t["Key"]: t for t in doc.get("Tags") or []}
        merged.update({t["Key"]: {"Key": t["Key"], "Value": t["Value"]} for t in p["Tags"]})
        if len(merged) > MAX_TAGS:
            raise NamedError("TooManyTagsError", f"A parameter can have at most {MAX_TAGS} tags.")
        doc["Tags"] = list(merged.values())
        tx.put(records.PARAMETERS, records.doc_key(doc), doc)
    return {}


@action("RemoveTagsFromResource")
def remove_tags(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    removing = set(p["TagKeys"])
    with op.store.transaction() as tx:
        doc = _parameter(op, tx, p)
        doc["Tags"] = [t for t in doc.get("Tags") or [] if t["Key"] not in removing]
        tx.put(records.PARAMETERS, records.doc_key(doc), doc)
    return {}


@action("ListTagsForResource")
def list_tags(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    with op.store.read() as tx:
        return {"TagList": _parameter(op, tx, p).get("Tags") or []}
