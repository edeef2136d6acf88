"""A group's tags: CreateOrUpdateTags, DeleteTags, DescribeTags, and the checks Create uses.

A tag names its group (`ResourceId`, ResourceType `auto-scaling-group`) and says whether it
is put on the instances the group launches (`PropagateAtLaunch`, false unless given). Keys are
1-128 characters, values up to 256, at most 50 tags a group; `aws:` keys are AWS's own.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from portside.autoscaling import records
from portside.autoscaling.errors import ValidationError, group_not_found
from portside.autoscaling.operations import ACTIONS
from portside.ops.context import Op

MAX_TAGS = 50
FIELDS = ("auto-scaling-group", "key", "value", "propagate-at-launch")


def _one(tag: Mapping[str, Any], name: str) -> dict[str, Any]:
    key = tag.get("Key") or ""
    if not key or len(key) > 128:
        raise ValidationError("Tag key must be between 1 and 128 characters long.")
    if key.lower().startswith("aws:"):
        raise ValidationError("Tag keys starting with 'aws:' are reserved for internal use")
    value = tag.get("Value") or ""
    if len(value) > 256:
        raise ValidationError("Tag value must be no longer than 256 characters.")
    return {
        "ResourceId": name,
        "ResourceType": "auto-scaling-group",
        "Key": key,
        "Value": value,
        "PropagateAtLaunch": bool(tag.get("PropagateAtLaunch", False)),
    }


def checked_tags(given: Iterable[Mapping[str, Any]], name: str) -> list[dict[str, Any]]:
    tags: dict[str, dict[str, Any]] = {}
    for tag in given:
        tags[tag.get("Key") or ""] = _one(tag, name)
    if len(tags) > MAX_TAGS:
        raise ValidationError(f"The number of tags exceeds the limit of {MAX_TAGS}.")
    return list(tags.values())


def propagated(group: Mapping[str, Any]) -> list[dict[str, str]]:
    """The EC2 tags the group's new instances get (aws:autoscaling:groupName first)."""
    out = [{"Key": "aws:autoscaling:groupName", "Value": group["AutoScalingGroupName"]}]
    out += [
        {"Key": t["Key"], "Value": t["Value"]}
        for t in group.get("Tags") or ()
        if t.get("PropagateAtLaunch")
    ]
    return out


def _by_group(tags: Iterable[Mapping[str, Any]]) -> dict[str, list[Mapping[str, Any]]]:
    out: dict[str, list[Mapping[str, Any]]] = {}
    for tag in tags:
        if tag.get("ResourceType", "auto-scaling-group") != "auto-scaling-group":
            raise ValidationError("ResourceType must be auto-scaling-group")
        out.setdefault(tag.get("ResourceId") or "", []).append(tag)
    return out


@ACTIONS.action("CreateOrUpdateTags")
def create_or_update_tags(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    with op.store.transaction() as tx:
        for name, given in _by_group(p["Tags"]).items():
            doc = records.find(tx, op, name)
            if doc is None:
                raise group_not_found(name)
            held = {t["Key"]: t for t in doc.get("Tags") or ()}
            for tag in given:
                one = _one(tag, name)
                held[one["Key"]] = one
            doc["Tags"] = checked_tags(held.values(), name)
            records.put(tx, doc)
    return {}


@ACTIONS.action("DeleteTags")
def delete_tags(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    with op.store.transaction() as tx:
        for name, given in _by_group(p["Tags"]).items():
            doc = records.find(tx, op, name)
            if doc is None:
                raise group_not_found(name)
            gone = {t.get("Key") for t in given}
            doc["Tags"] = [t for t in doc.get("Tags") or () if t["Key"] not in gone]
            records.put(tx, doc)
    return {}


@ACTIONS.action("DescribeTags")
def describe_tags(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    with op.store.read() as tx:
        tags = [t for g in records.all_groups(tx, op) for t in g.get("Tags") or ()]
    for given in p.get("Filters") or ():
        name, values = given.get("Name"), set(given.get("Values") or ())
        if name not in FIELDS:
            raise ValidationError(
                f"Filter type {name} is not correct. Allowed Filter types are: "
                "auto-scaling-group key value propagate-at-launch"
            )
        member = {
            "auto-scaling-group": "ResourceId",
            "key": "Key",
            "value": "Value",
            "propagate-at-launch": "PropagateAtLaunch",
        }[name]
        tags = [t for t in tags if _text(t[member]) in values]
    items, token = records.page(
        tags,
        lambda t: f"{t['ResourceId']}|{t['Key']}",
        p.get("NextToken"),
        p.get("MaxRecords"),
    )
    out: dict[str, Any] = {"Tags": items}
    if token:
        out["NextToken"] = token
    return out


def _text(value: Any) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)
