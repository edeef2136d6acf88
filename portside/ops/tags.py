"""Tags on any taggable ECS resource, with ECS's limits. Stored apart from the resources, in
the `tags` table keyed by ARN, so every resource kind gets tagging the same way."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from portside.errors import (
    ClusterNotFoundException,
    InvalidParameterException,
    ResourceNotFoundException,
)
from portside.model import arn as arns
from portside.ops.context import Op
from portside.store.base import Tx

MAX_TAGS = 50
_ALLOWED = re.compile(r"^[\w\s+\-=._:/@]*$", re.UNICODE)

# ARN resource kind -> table holding that kind
TAGGABLE: dict[str, str] = {
    "cluster": "clusters",
    "task-definition": "task_definitions",
    "service": "services",
    "task": "tasks",
    "container-instance": "container_instances",
    "capacity-provider": "capacity_providers",
    "daemon": "daemons",
    "daemon-task-definition": "task_definitions",
    "gateway": "ecs_gateways",
}

Tag = dict[str, str]


def validate_tags(tags: Sequence[Mapping[str, Any]], *, existing: int = 0) -> list[Tag]:
    """Check tags as ECS does and return them as {key, value} pairs (value defaults to "")."""
    out: list[Tag] = []
    for tag in tags:
        key = tag.get("key")
        value = tag.get("value", "")
        if not isinstance(key, str) or not key:
            raise InvalidParameterException("Tag key must not be empty.")
        if len(key) > 128:
            raise InvalidParameterException(
                f"Tag key '{key[:32]}...' is longer than 128 characters."
            )
        if not isinstance(value, str):
            raise InvalidParameterException(f"Tag value for key '{key}' must be a string.")
        if len(value) > 256:
            raise InvalidParameterException(
                f"Tag value for key '{key}' is longer than 256 characters."
            )
        if key.lower().startswith("aws:"):
            raise InvalidParameterException(
                "Tag keys with the prefix 'aws:' are reserved for AWS use and cannot be added, "
                "changed or removed."
            )
        if not _ALLOWED.match(key) or not _ALLOWED.match(value):
            raise InvalidParameterException(
                f"Tag '{key}' has characters that are not allowed: use letters, numbers, spaces "
                "and + - = . _ : / @"
            )
        out.append({"key": key, "value": value})
    keys = {t["key"] for t in out}
    if len(keys) != len(out):
        raise InvalidParameterException("Tag keys must be unique.")
    if len(out) + existing > MAX_TAGS:
        raise InvalidParameterException(
            f"A resource can have at most {MAX_TAGS} tags; this request would give it "
            f"{len(out) + existing}."
        )
    return out


def get_tags(tx: Tx, resource_arn: str) -> list[Tag]:
    doc = tx.get("tags", resource_arn)
    return list(doc["tags"]) if doc else []


def set_tags(tx: Tx, resource_arn: str, tags: Iterable[Tag]) -> None:
    tags = list(tags)
    if tags:
        tx.put("tags", resource_arn, {"resourceArn": resource_arn, "tags": tags})
    else:
        tx.delete("tags", resource_arn)


def merge_tags(tx: Tx, resource_arn: str, new: Sequence[Mapping[str, Any]]) -> list[Tag]:
    current = {t["key"]: t["value"] for t in get_tags(tx, resource_arn)}
    checked = validate_tags(new)
    for t in checked:
        current[t["key"]] = t["value"]
    merged = [{"key": k, "value": v} for k, v in current.items()]
    validate_tags(merged)  # the limit applies to the result
    set_tags(tx, resource_arn, merged)
    return merged


def _require_resource(op: Op, tx: Tx, resource_arn: str, *, listing: bool = False) -> None:
    parsed = arns.parse(resource_arn)
    if parsed is None or parsed.service != "ecs" or parsed.kind not in TAGGABLE:
        raise InvalidParameterException(
            f"The ARN '{resource_arn}' is not a valid ECS resource ARN."
        )
    if parsed.region != op.region or parsed.account != op.account:
        raise InvalidParameterException(
            f"The ARN '{resource_arn}' is not in this account and region "
            f"({op.account}, {op.region})."
        )
    doc = tx.get(TAGGABLE[parsed.kind], resource_arn)
    if parsed.kind == "cluster":
        if doc is None:
            raise ClusterNotFoundException("Cluster not found.")
        if doc.get("status") != "ACTIVE":
            # ECS's answer for a deleted cluster (hashicorp/terraform-provider-aws#35524).
            raise InvalidParameterException(
                "The specified cluster is inactive. Specify an active cluster and try again."
            )
    elif doc is None:
        message = "The specified resource could not be found."
        if listing:
            # ListTagsForResource does not declare ResourceNotFoundException in ECS's model.
            raise InvalidParameterException(message)
        raise ResourceNotFoundException(message)


def tag_resource(op: Op, resource_arn: str, tags: Sequence[Mapping[str, Any]]) -> None:
    with op.store.transaction() as tx:
        _require_resource(op, tx, resource_arn)
        merge_tags(tx, resource_arn, tags)


def untag_resource(op: Op, resource_arn: str, keys: Sequence[str]) -> None:
    for key in keys:
        if key.lower().startswith("aws:"):
            raise InvalidParameterException(
                "Tag keys with the prefix 'aws:' are reserved for AWS use and cannot be added, "
                "changed or removed."
            )
    with op.store.transaction() as tx:
        _require_resource(op, tx, resource_arn)
        drop = set(keys)
        set_tags(tx, resource_arn, [t for t in get_tags(tx, resource_arn) if t["key"] not in drop])


def list_tags(op: Op, resource_arn: str) -> list[Tag]:
    with op.store.read() as tx:
        _require_resource(op, tx, resource_arn, listing=True)
        return get_tags(tx, resource_arn)
