"""ECS task actions: wire <-> ops."""

from __future__ import annotations

from typing import Any

from portside.api.ecs.registry import action
from portside.model.task import Container, Task
from portside.ops import tasks
from portside.ops.context import Op
from portside.ops.tasks import TaskView


def _drop_none(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None}


def shape_container(task: Task, c: Container) -> dict[str, Any]:
    return _drop_none(
        {
            "containerArn": c.arn,
            "taskArn": task.arn,
            "name": c.name,
            "image": c.image,
            "imageDigest": c.image_digest,
            "runtimeId": c.runtime_id,
            "lastStatus": c.last_status,
            "exitCode": c.exit_code,
            "reason": c.reason,
            "networkBindings": c.network_bindings,
            "networkInterfaces": c.network_interfaces,
            # ECS shows UNKNOWN for a container without a health check.
            "healthStatus": c.health_status or "UNKNOWN",
            "managedAgents": c.managed_agents or None,
            "cpu": c.cpu,
            "memory": c.memory,
            "memoryReservation": c.memory_reservation,
        }
    )


def shape(view: TaskView, include_tags: bool = True) -> dict[str, Any]:
    t = view.task
    return _drop_none(
        {
            "taskArn": t.arn,
            "clusterArn": t.cluster_arn,
            "taskDefinitionArn": t.task_definition_arn,
            "containerInstanceArn": None if t.launch_type == "FARGATE" else t.instance_arn,
            "overrides": t.overrides,
            "lastStatus": t.last_status,
            "desiredStatus": t.desired_status,
            "cpu": t.cpu,
            "memory": t.memory,
            "containers": [shape_container(t, c) for c in t.containers],
            "startedBy": t.started_by,
            "version": t.version,
            "stoppedReason": t.stopped_reason,
            "stopCode": t.stop_code,
            "connectivity": t.connectivity,
            "connectivityAt": t.connectivity_at,
            "pullStartedAt": t.pull_started_at,
            "pullStoppedAt": t.pull_stopped_at,
            "executionStoppedAt": t.execution_stopped_at,
            "createdAt": t.created_at,
            "startedAt": t.started_at,
            "stoppingAt": t.stopping_at,
            "stoppedAt": t.stopped_at,
            "group": t.group,
            "launchType": t.launch_type,
            "capacityProviderName": t.capacity_provider_name,
            "platformVersion": t.platform_version,
            "platformFamily": t.platform_family,
            "attachments": t.attachments,
            "attributes": t.attributes or None,
            "availabilityZone": t.availability_zone,
            "healthStatus": t.health_status,
            "tags": view.tags if include_tags else [],
            "enableExecuteCommand": t.enable_execute_command,
        }
    )


def _failures(items: list[dict[str, str]]) -> list[dict[str, str]]:
    return [
        _drop_none({"arn": f.get("arn"), "reason": f["reason"], "detail": f.get("detail")})
        for f in items
    ]


@action("RunTask")
def run_task(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    views, failures = tasks.run_task(op, p)
    return {"tasks": [shape(v) for v in views], "failures": _failures(failures)}


@action("StartTask")
def start_task(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    views, failures = tasks.start_task(op, p)
    return {"tasks": [shape(v) for v in views], "failures": _failures(failures)}


@action("StopTask")
def stop_task(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    return {"task": shape(tasks.stop_task(op, p.get("cluster"), p["task"], p.get("reason")))}


@action("DescribeTasks")
def describe_tasks(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    views, failures = tasks.describe_tasks(op, p.get("cluster"), p["tasks"])
    include_tags = "TAGS" in (p.get("include") or ())
    return {
        "tasks": [shape(v, include_tags) for v in views],
        "failures": _failures(failures),
    }


@action("ListTasks")
def list_tasks(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    keys, token = tasks.list_tasks(op, p)
    out: dict[str, Any] = {"taskArns": keys}
    if token:
        out["nextToken"] = token
    return out
