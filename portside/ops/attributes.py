"""Custom attributes on container instances (the only target type ECS has).

Stored in the `attributes` table, one row per (target, name), so placement can read every
instance's custom attributes with one scan of its cluster."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from portside.errors import (
    AttributeLimitExceededException,
    InvalidParameterException,
    TargetNotFoundException,
)
from portside.model import arn as arns
from portside.model.states import InstanceStatus
from portside.ops.clusters import get_active
from portside.ops.context import Op
from portside.ops.paging import check_max_results, decode_token, encode_token
from portside.store.base import Tx

TARGET_TYPE = "container-instance"
MAX_CUSTOM = 10
# The Attribute shape's documentation: names may hold back slashes too; values must not start or
# end with a space.
_NAME = re.compile(r"^[A-Za-z0-9_.\-/\\]{1,128}$")
_VALUE = re.compile(r"^(?! )[A-Za-z0-9_.@\-/\\: ]{1,128}(?<! )$")

Attribute = dict[str, str]


def _key(cluster_arn: str, target_arn: str, name: str) -> str:
    return f"{cluster_arn}|{target_arn}|{name}"


def _check(attr: Mapping[str, Any]) -> None:
    name = attr.get("name", "")
    if not _NAME.match(name):
        raise InvalidParameterException(
            f"Attribute name '{name}' is not valid: use up to 128 letters, numbers, hyphens, "
            "underscores, periods, forward slashes and back slashes."
        )
    value = attr.get("value")
    if value is not None and not _VALUE.match(value):
        raise InvalidParameterException(
            f"Attribute value '{value}' is not valid: use up to 128 letters, numbers, hyphens, "
            "underscores, periods, at signs, slashes, back slashes, colons and spaces, not "
            "starting or ending with a space."
        )
    target_type = attr.get("targetType", TARGET_TYPE)
    if target_type != TARGET_TYPE:
        raise InvalidParameterException(f"Invalid target type: {target_type}")


def _target(op: Op, tx: Tx, cluster_arn: str, attr: Mapping[str, Any]) -> str:
    """The container instance ARN an attribute's targetId names (ID or ARN)."""
    target_id = attr.get("targetId")
    if not target_id:
        raise InvalidParameterException("targetId is required for container-instance attributes.")
    if arns.is_arn(target_id):
        target_arn = target_id
    else:
        if attr.get("targetType") is None:
            # ECS needs the type to read a short ID (the Attribute shape's documentation).
            raise InvalidParameterException(
                f"targetType is required when targetId '{target_id}' is not a full ARN."
            )
        cluster_name = cluster_arn.rsplit("/", 1)[1]
        target_arn = arns.ecs(
            op.region, op.account, f"container-instance/{cluster_name}/{target_id}"
        )
    doc = tx.get("container_instances", target_arn)
    if doc is None or doc.get("clusterArn") != cluster_arn:
        raise TargetNotFoundException(f"Could not find {target_id}.")
    return target_arn


def instance_attributes(tx: Tx, cluster_arn: str, target_arn: str) -> list[Attribute]:
    rows = tx.scan("attributes", prefix=f"{cluster_arn}|{target_arn}|")
    return [_shape(doc) for _, doc in rows]


def _shape(doc: Mapping[str, Any]) -> Attribute:
    out = {"name": doc["name"], "targetType": TARGET_TYPE, "targetId": doc["targetId"]}
    if doc.get("value") is not None:
        out["value"] = doc["value"]
    return out


def put_attributes(
    op: Op, cluster: str | None, attributes: Sequence[Mapping[str, Any]]
) -> list[Attribute]:
    for attr in attributes:
        _check(attr)
    out: list[Attribute] = []
    with op.store.transaction() as tx:
        cluster_arn = get_active(op, tx, cluster).arn
        for attr in attributes:
            target_arn = _target(op, tx, cluster_arn, attr)
            key = _key(cluster_arn, target_arn, attr["name"])
            if tx.get("attributes", key) is None:
                have = sum(1 for _ in tx.scan("attributes", prefix=f"{cluster_arn}|{target_arn}|"))
                if have >= MAX_CUSTOM:
                    raise AttributeLimitExceededException(
                        f"You can have at most {MAX_CUSTOM} custom attributes per resource."
                    )
            doc = {
                "cluster": cluster_arn,
                "targetId": target_arn,
                "name": attr["name"],
                "value": attr.get("value"),
            }
            tx.put("attributes", key, doc)
            out.append(_shape(doc))
    return out


def delete_attributes(
    op: Op, cluster: str | None, attributes: Sequence[Mapping[str, Any]]
) -> list[Attribute]:
    for attr in attributes:
        _check({**attr, "value": None})
    out: list[Attribute] = []
    with op.store.transaction() as tx:
        cluster_arn = get_active(op, tx, cluster).arn
        for attr in attributes:
            target_arn = _target(op, tx, cluster_arn, attr)
            tx.delete("attributes", _key(cluster_arn, target_arn, attr["name"]))
            out.append(
                _shape({"name": attr["name"], "targetId": target_arn, "value": attr.get("value")})
            )
    return out


def list_attributes(
    op: Op,
    cluster: str | None,
    target_type: str,
    *,
    name: str | None = None,
    value: str | None = None,
    max_results: int | None = None,
    next_token: str | None = None,
) -> tuple[list[Attribute], str | None]:
    if target_type != TARGET_TYPE:
        raise InvalidParameterException(f"Invalid target type: {target_type}")
    if value is not None and name is None:
        raise InvalidParameterException("attributeValue can only be given with attributeName.")
    limit = check_max_results(max_results)
    after = decode_token(next_token)
    with op.store.read() as tx:
        cluster_arn = get_active(op, tx, cluster).arn
        rows: list[tuple[str, dict[str, Any]]] = []
        # The agent's own attributes (ecs.os-type, capabilities...) count as much as custom
        # ones: ListAttributes is how users find, say, every Linux instance in a cluster.
        for inst_arn, inst in tx.scan("container_instances", where={"cluster": cluster_arn}):
            if inst.get("fargate") or inst.get("status") == InstanceStatus.INACTIVE:
                continue
            for attr in inst.get("attributes") or ():
                rows.append(
                    (
                        _key(cluster_arn, inst_arn, attr["name"]),
                        {"name": attr["name"], "value": attr.get("value"), "targetId": inst_arn},
                    )
                )
        rows += list(tx.scan("attributes", prefix=f"{cluster_arn}|"))
    rows = sorted(
        (k, d)
        for k, d in rows
        if k > after
        and (name is None or d["name"] == name)
        and (value is None or d.get("value") == value)
    )
    page = rows[:limit]
    token = encode_token(page[-1][0]) if len(rows) > limit else None
    return [_shape(d) for _, d in page], token
