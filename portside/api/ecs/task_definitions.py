"""ECS task definition actions: wire <-> ops."""

from __future__ import annotations

from typing import Any

from portside.api.ecs.registry import action
from portside.model.task_definition import TaskDefinition
from portside.ops import task_definitions as taskdefs
from portside.ops.context import Op
from portside.wire.replies import page


def shape(td: TaskDefinition) -> dict[str, Any]:
    out: dict[str, Any] = {
        "taskDefinitionArn": td.arn,
        **td.spec,
        "family": td.family,
        "revision": td.revision,
        "status": td.status,
        "registeredAt": td.registered_at,
        "registeredBy": td.registered_by,
    }
    if td.deregistered_at is not None:
        out["deregisteredAt"] = td.deregistered_at
    if td.delete_requested_at is not None:
        out["deleteRequestedAt"] = td.delete_requested_at
    return out


@action("RegisterTaskDefinition")
def register_task_definition(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    td, tags = taskdefs.register(op, p)
    out: dict[str, Any] = {"taskDefinition": shape(td)}
    if tags:
        out["tags"] = tags
    return out


@action("DescribeTaskDefinition")
def describe_task_definition(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    with_tags = "TAGS" in (p.get("include") or ())
    td, tags = taskdefs.describe(op, p["taskDefinition"], with_tags=with_tags)
    out: dict[str, Any] = {"taskDefinition": shape(td)}
    if with_tags:
        out["tags"] = tags
    return out


@action("ListTaskDefinitions")
def list_task_definitions(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    arns, token = taskdefs.list_arns(
        op,
        family=p.get("familyPrefix"),
        status=p.get("status"),
        sort=p.get("sort"),
        max_results=p.get("maxResults"),
        next_token=p.get("nextToken"),
    )
    return page("taskDefinitionArns", arns, token)


@action("ListTaskDefinitionFamilies")
def list_task_definition_families(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    families, token = taskdefs.list_families(
        op,
        family_prefix=p.get("familyPrefix"),
        status=p.get("status"),
        max_results=p.get("maxResults"),
        next_token=p.get("nextToken"),
    )
    return page("families", families, token)


@action("DeregisterTaskDefinition")
def deregister_task_definition(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    return {"taskDefinition": shape(taskdefs.deregister(op, p["taskDefinition"]))}


@action("DeleteTaskDefinitions")
def delete_task_definitions(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    done, failures = taskdefs.delete(op, p["taskDefinitions"])
    return {"taskDefinitions": [shape(td) for td in done], "failures": failures}
