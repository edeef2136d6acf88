"""ECS container instance actions: wire <-> ops."""

from __future__ import annotations

from typing import Any

from portside.api.ecs.registry import action
from portside.ops import instances
from portside.ops.context import Op
from portside.ops.instances import InstanceView


def _int(name: str, value: int) -> dict[str, Any]:
    return {
        "name": name,
        "type": "INTEGER",
        "doubleValue": 0.0,
        "longValue": 0,
        "integerValue": value,
    }


def _ports(name: str, ports: list[int]) -> dict[str, Any]:
    return {
        "name": name,
        "type": "STRINGSET",
        "doubleValue": 0.0,
        "longValue": 0,
        "integerValue": 0,
        "stringSetValue": [str(p) for p in sorted(ports)],
    }


def shape(view: InstanceView, include_tags: bool = True) -> dict[str, Any]:
    i = view.instance
    out: dict[str, Any] = {
        "containerInstanceArn": i.arn,
        "ec2InstanceId": i.ec2_instance_id,
        "version": i.version,
        "versionInfo": i.version_info,
        "remainingResources": [
            _int("CPU", i.cpu - i.used_cpu),
            _int("MEMORY", i.memory - i.used_memory),
            _ports("PORTS", sorted(set(i.reserved_ports_tcp) | set(i.used_ports_tcp))),
            _ports("PORTS_UDP", sorted(set(i.reserved_ports_udp) | set(i.used_ports_udp))),
        ],
        "registeredResources": [
            _int("CPU", i.cpu),
            _int("MEMORY", i.memory),
            _ports("PORTS", i.reserved_ports_tcp),
            _ports("PORTS_UDP", i.reserved_ports_udp),
        ],
        "status": i.status,
        "agentConnected": i.agent_connected,
        "runningTasksCount": i.running_tasks,
        "pendingTasksCount": i.pending_tasks,
        "attributes": [{k: v for k, v in a.items() if v is not None} for a in i.attributes]
        + [{k: v for k, v in a.items() if k in ("name", "value")} for a in view.custom_attributes],
        "registeredAt": i.registered_at,
        "attachments": [],
        "tags": view.tags if include_tags else [],
    }
    if i.status_reason:
        out["statusReason"] = i.status_reason
    if i.capacity_provider_name:
        out["capacityProviderName"] = i.capacity_provider_name
    return out


@action("RegisterContainerInstance")
def register_container_instance(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    view = instances.register(
        op,
        cluster=p.get("cluster"),
        total_resources=p.get("totalResources") or (),
        version_info=p.get("versionInfo"),
        attributes=p.get("attributes") or (),
        identity_document=p.get("instanceIdentityDocument"),
        existing_arn=p.get("containerInstanceArn"),
        tags=p.get("tags") or (),
    )
    return {"containerInstance": shape(view)}


@action("DescribeContainerInstances")
def describe_container_instances(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    views, failures = instances.describe(op, p.get("cluster"), p["containerInstances"])
    include_tags = "TAGS" in (p.get("include") or ())
    return {"containerInstances": [shape(v, include_tags) for v in views], "failures": failures}


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
    out: dict[str, Any] = {"containerInstanceArns": keys}
    if token:
        out["nextToken"] = token
    return out


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
