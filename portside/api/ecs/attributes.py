"""ECS attribute actions."""

from __future__ import annotations

from typing import Any

from portside.api.ecs.registry import action
from portside.ops import attributes
from portside.ops.context import Op
from portside.wire.replies import page


@action("PutAttributes")
def put_attributes(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    return {"attributes": attributes.put_attributes(op, p.get("cluster"), p["attributes"])}


@action("DeleteAttributes")
def delete_attributes(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    return {"attributes": attributes.delete_attributes(op, p.get("cluster"), p["attributes"])}


@action("ListAttributes")
def list_attributes(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    found, token = attributes.list_attributes(
        op,
        p.get("cluster"),
        p["targetType"],
        name=p.get("attributeName"),
        value=p.get("attributeValue"),
        max_results=p.get("maxResults"),
        next_token=p.get("nextToken"),
    )
    return page("attributes", found, token)
