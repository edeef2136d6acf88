"""CreateTags, DeleteTags and DescribeTags on every EC2 object Portside keeps: an id's
prefix (vpc-, subnet-, sg-, sgr-, eni-, rtb-, acl-) names its kind; all the ids of a call
are found before anything changes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from portside.ec2 import tagging
from portside.ec2.filters import FilterSet
from portside.ec2.operations import action
from portside.ec2.records import KINDS, Kind, kind_of, page
from portside.ec2.tagging import Tag
from portside.errors import NamedError
from portside.ops.context import Op
from portside.store.base import Document, Tx

FIELDS = {
    "key": lambda d: (d["Key"],),
    "value": lambda d: (d["Value"],),
    "resource-id": lambda d: (d["ResourceId"],),
    "resource-type": lambda d: (d["ResourceType"],),
}


def _resources(tx: Tx, op: Op, ids: list[str]) -> list[tuple[Kind, Document]]:
    found = []
    for resource_id in dict.fromkeys(ids):
        kind = kind_of(resource_id)
        if kind is None:
            raise NamedError("InvalidID", f"The ID '{resource_id}' is not valid")
        found.append((kind, kind.get(tx, op, resource_id)))
    return found


def _retag(op: Op, ids: list[str], change: Callable[[list[Tag]], list[Tag]]) -> dict[str, Any]:
    with op.store.transaction() as tx:
        for kind, doc in _resources(tx, op, ids):
            doc["Tags"] = change(doc.get("Tags") or [])
            kind.put(tx, op, doc)
    return {}


@action("CreateTags")
def create_tags(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    given = tagging.checked(p["Tags"])
    return _retag(op, p["Resources"], lambda held: tagging.merged(held, given))


@action("DeleteTags")
def delete_tags(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    given = list(p.get("Tags") or ())
    return _retag(op, p["Resources"], lambda held: tagging.removed(held, given))


@action("DescribeTags")
def describe_tags(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    rows: list[dict[str, Any]] = []
    with op.store.read() as tx:
        for kind in KINDS:
            for doc in kind.all(tx, op):
                rows += [
                    {
                        "Key": t["Key"],
                        "ResourceId": doc[kind.id_member],
                        "ResourceType": kind.resource_type,
                        "Value": t.get("Value", ""),
                        "Position": f"{doc[kind.id_member]}|{t['Key']}",
                    }
                    for t in doc.get("Tags") or ()
                ]
    as_tags = lambda row: ({"Key": row["Key"], "Value": row["Value"]},)  # noqa: E731
    keep = FilterSet(p.get("Filters"), FIELDS, tags=as_tags)
    rows = sorted(keep.apply(rows), key=lambda r: (r["ResourceId"], r["Key"]))
    shown = lambda r: {k: v for k, v in r.items() if k != "Position"}  # noqa: E731
    return page(p, rows, "Position", "Tags", shown)
