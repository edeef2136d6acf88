"""ECS tagging actions."""

from __future__ import annotations

from typing import Any

from portside.api.ecs.registry import action
from portside.ops import tags
from portside.ops.context import Op


@action("TagResource")
def tag_resource(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    tags.tag_resource(op, p["resourceArn"], p["tags"])
    return {}


@action("UntagResource")
def untag_resource(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    tags.untag_resource(op, p["resourceArn"], p["tagKeys"])
    return {}


@action("ListTagsForResource")
def list_tags_for_resource(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    return {"tags": tags.list_tags(op, p["resourceArn"])}
