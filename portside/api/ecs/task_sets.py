"""ECS task set actions (deploymentController EXTERNAL or CODE_DEPLOY): wire <-> ops
(ops/task_sets.py). A task set is stored in ECS's shape; only Portside's own members are
left out here."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from portside.api.ecs.registry import action
from portside.model.load_balancer import LoadBalancer
from portside.ops import task_sets
from portside.ops.context import Op
from portside.ops.task_sets import CreateTaskSet, TaskSetView

_INTERNAL = ("clientToken",)


def shape_task_set(
    doc: Mapping[str, Any], tags: Sequence[Mapping[str, str]] | None = None
) -> dict[str, Any]:
    out = {k: v for k, v in doc.items() if k not in _INTERNAL}
    if tags is not None:
        out["tags"] = [dict(t) for t in tags]
    return out


def _shown(view: TaskSetView, p: Mapping[str, Any]) -> dict[str, Any]:
    return shape_task_set(view.doc, view.tags if "TAGS" in (p.get("include") or ()) else None)


@action("CreateTaskSet")
def create_task_set(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    strategy = p.get("capacityProviderStrategy")
    request = CreateTaskSet(
        service=p["service"],
        cluster=p["cluster"],
        task_definition=p["taskDefinition"],
        external_id=p.get("externalId"),
        network_configuration=p.get("networkConfiguration"),
        load_balancers=tuple(LoadBalancer.from_doc(i) for i in p.get("loadBalancers") or ()),
        service_registries=tuple(dict(i) for i in p.get("serviceRegistries") or ()),
        launch_type=p.get("launchType"),
        capacity_provider_strategy=None if strategy is None else tuple(strategy),
        platform_version=p.get("platformVersion"),
        scale=p.get("scale"),
        client_token=p.get("clientToken"),
        tags=tuple(p.get("tags") or ()),
    )
    view = task_sets.create(op, request)
    return {"taskSet": shape_task_set(view.doc, view.tags or None)}


@action("DescribeTaskSets")
def describe_task_sets(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    found, failures = task_sets.describe(op, p["cluster"], p["service"], p.get("taskSets"))
    return {"taskSets": [_shown(v, p) for v in found], "failures": failures}


@action("UpdateTaskSet")
def update_task_set(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    view = task_sets.update_scale(op, p["cluster"], p["service"], p["taskSet"], p["scale"])
    return {"taskSet": shape_task_set(view.doc)}


@action("DeleteTaskSet")
def delete_task_set(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    view = task_sets.delete(op, p["cluster"], p["service"], p["taskSet"], bool(p.get("force")))
    return {"taskSet": shape_task_set(view.doc)}


@action("UpdateServicePrimaryTaskSet")
def update_service_primary_task_set(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    view = task_sets.make_primary(op, p["cluster"], p["service"], p["primaryTaskSet"])
    return {"taskSet": shape_task_set(view.doc)}
