"""ECS container instance actions: wire <-> ops."""

from __future__ import annotations

from typing import Any

from portside.api.ecs.describing import describe_members
from portside.api.ecs.registry import action
from portside.model.container_instance import InstanceResources
from portside.ops import instances
from portside.ops.context import Op
from portside.wire.ecs_shapes import shape_instance as shape
from portside.wire.replies import page


@action("RegisterContainerInstance")
def register_container_instance(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    view = instances.register(
        op,
        cluster=p.get("cluster"),
        total_resources=InstanceResources.of(p.get("totalResources")),
        version_info=p.get("versionInfo"),
        attributes=p.get("attributes") or (),
        identity_document=p.get("instanceIdentityDocument"),
        existing_arn=p.get("containerInstanceArn"),
        tags=p.get("tags") or (),
    )
    return {"containerInstance": shape(view)}


describe_members("DescribeContainerInstances", "containerInstances", instances.describe, shape)


@action("ListContainerInstances")
def list_container_instances(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    keys, token = instances.list_arns(
        op,
        p.get("cluster"),
        status=p.get("status"),
        filter_=p.get("filter"),
        max_results=p.get("maxResults"),
        next_token=p.get("nextToken"),
    )
    return page("containerInstanceArns", keys, token)


@action("DeregisterContainerInstance")
def deregister_container_instance(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    view = instances.deregister(
        op, p.get("cluster"), p["containerInstance"], force=bool(p.get("force"))
    )
    return {"containerInstance": shape(view)}


@action("UpdateContainerInstancesState")
def update_container_instances_state(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    views, failures = instances.update_state(
        op, p.get("cluster"), p["containerInstances"], p["status"]
    )
    return {"containerInstances": [shape(v) for v in views], "failures": failures}
