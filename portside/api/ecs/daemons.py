"""ECS Managed Daemons: wire <-> ops (ops/daemons.py, daemons_taskdefs.py, daemons_views.py).

The daemon task definition is shown in the DaemonTaskDefinition shape: the stored spec's
members that shape names, so defaults the task definition rules fill in (a container's
`essential`, `cpu`...) show as they do for a task definition and nothing the daemon kind does
not have (networkMode, compatibilities) leaks through.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import botocore.session

from portside.api.ecs.registry import action
from portside.errors import InvalidParameterException
from portside.ops import daemons, daemons_taskdefs, daemons_views
from portside.ops.context import Op
from portside.ops.daemons import DaemonRequest


@cache
def _members(shape: str) -> frozenset[str]:
    model = botocore.session.get_session().get_service_model("ecs")
    return frozenset(model.shape_for(shape).members)


def _definition(doc: dict[str, Any]) -> dict[str, Any]:
    spec = doc.get("spec") or {}
    keep = _members("DaemonContainerDefinition")
    volume_keep = _members("DaemonVolume")
    out: dict[str, Any] = {
        "daemonTaskDefinitionArn": doc["taskDefinitionArn"],
        "family": doc["family"],
        "revision": doc["revision"],
    }
    for key in ("taskRoleArn", "executionRoleArn"):
        if spec.get(key):
            out[key] = spec[key]
    out["containerDefinitions"] = [
        {k: v for k, v in c.items() if k in keep} for c in spec.get("containerDefinitions") or ()
    ]
    out["volumes"] = [
        {k: v for k, v in vol.items() if k in volume_keep} for vol in spec.get("volumes") or ()
    ]
    for key in ("cpu", "memory"):
        if spec.get(key) is not None:
            out[key] = spec[key]
    out["status"] = doc.get("status")
    out["registeredAt"] = doc.get("registeredAt")
    out["registeredBy"] = doc.get("registeredBy")
    if doc.get("deleteRequestedAt") is not None:
        out["deleteRequestedAt"] = doc["deleteRequestedAt"]
    out.update(doc.get("daemonModes") or {})
    return out


@action("RegisterDaemonTaskDefinition")
def register_daemon_task_definition(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    return {"daemonTaskDefinitionArn": daemons_taskdefs.register(op, p)}


@action("DescribeDaemonTaskDefinition")
def describe_daemon_task_definition(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    return {
        "daemonTaskDefinition": _definition(
            daemons_taskdefs.describe(op, p["daemonTaskDefinition"])
        )
    }


@action("DeleteDaemonTaskDefinition")
def delete_daemon_task_definition(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    doc = daemons_taskdefs.delete(op, p["daemonTaskDefinition"])
    return {"daemonTaskDefinitionArn": doc["taskDefinitionArn"]}


@action("ListDaemonTaskDefinitions")
def list_daemon_task_definitions(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    found, token = daemons_taskdefs.list_summaries(
        op,
        family_prefix=p.get("familyPrefix"),
        family=p.get("family"),
        revision=p.get("revision"),
        status=p.get("status"),
        sort=p.get("sort"),
        max_results=p.get("maxResults"),
        next_token=p.get("nextToken"),
    )
    out: dict[str, Any] = {"daemonTaskDefinitions": found}
    if token:
        out["nextToken"] = token
    return out


def _request(p: dict[str, Any]) -> DaemonRequest:
    return DaemonRequest(
        task_definition=p["daemonTaskDefinitionArn"],
        capacity_providers=tuple(p.get("capacityProviderArns") or ()),
        deployment_configuration=p.get("deploymentConfiguration"),
        propagate_tags=p.get("propagateTags"),
        enable_ecs_managed_tags=p.get("enableECSManagedTags"),
        enable_execute_command=p.get("enableExecuteCommand"),
        critical=p.get("critical"),
    )


@action("CreateDaemon")
def create_daemon(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    d = daemons.create(
        op,
        name=p["daemonName"],
        cluster=p.get("clusterArn"),
        request=_request(p),
        tags=p.get("tags") or (),
        client_token=p.get("clientToken"),
    )
    return {
        "daemonArn": d.arn,
        "status": d.status,
        "createdAt": d.created_at,
        "deploymentArn": d.deployment_arn,
    }


@action("UpdateDaemon")
def update_daemon(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    d = daemons.update(op, p["daemonArn"], _request(p))
    return {
        "daemonArn": d.arn,
        "status": d.status,
        "createdAt": d.created_at,
        "updatedAt": d.updated_at,
        "deploymentArn": d.deployment_arn,
    }


@action("DeleteDaemon")
def delete_daemon(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    d = daemons.delete(op, p["daemonArn"])
    return {
        "daemonArn": d.arn,
        "status": d.status,
        "createdAt": d.created_at,
        "updatedAt": d.updated_at,
        "deploymentArn": d.deployment_arn,
    }


@action("DescribeDaemon")
def describe_daemon(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    return {"daemon": daemons_views.describe_daemon(op, p["daemonArn"])}


@action("ListDaemons")
def list_daemons(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    found, token = daemons.list_daemons(
        op,
        cluster=p.get("clusterArn"),
        capacity_providers=p.get("capacityProviderArns") or (),
        max_results=p.get("maxResults"),
        next_token=p.get("nextToken"),
    )
    out: dict[str, Any] = {
        "daemonSummariesList": [
            {
                "daemonArn": d.arn,
                "status": d.status,
                "createdAt": d.created_at,
                "updatedAt": d.updated_at,
            }
            for d in found
        ]
    }
    if token:
        out["nextToken"] = token
    return out


def _arns(p: dict[str, Any], member: str) -> list[str]:
    refs = list(p.get(member) or ())
    if not refs:
        raise InvalidParameterException(f"{member} must not be empty.")  # wording: ours
    return refs


@action("DescribeDaemonDeployments")
def describe_daemon_deployments(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    found, failures = daemons_views.describe_deployments(op, _arns(p, "daemonDeploymentArns"))
    return {"failures": failures, "daemonDeployments": found}


@action("ListDaemonDeployments")
def list_daemon_deployments(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    created = p.get("createdAt") or {}
    found, token = daemons_views.list_deployments(
        op,
        p["daemonArn"],
        status=p.get("status") or (),
        created_after=created.get("after"),
        created_before=created.get("before"),
        max_results=p.get("maxResults"),
        next_token=p.get("nextToken"),
    )
    out: dict[str, Any] = {"daemonDeployments": found}
    if token:
        out["nextToken"] = token
    return out


@action("DescribeDaemonRevisions")
def describe_daemon_revisions(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    found, failures = daemons_views.describe_revisions(op, _arns(p, "daemonRevisionArns"))
    return {"daemonRevisions": found, "failures": failures}
