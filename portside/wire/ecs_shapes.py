"""ECS's shapes of a task and a container instance: what DescribeTasks and
DescribeContainerInstances answer (botocore's `Task` and `ContainerInstance`), and what the
"ECS Task State Change" and "ECS Container Instance State Change" events carry as `detail`.

Here rather than in api/ecs/ because two edges show them: the API (api/ecs/tasks.py and
instances.py) and the event bus (events/envelope.py), which must not import the API. Not in
model/ because a model type knows nothing of the wire (DESIGN.md rule 5).

A view is anything with the resource and its tags (ops' TaskView and InstanceView are).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from portside.model.container_instance import ContainerInstance
from portside.model.task import Container, Task
from portside.wire.replies import drop_none

Json = dict[str, Any]


class TaskLike(Protocol):
    @property
    def task(self) -> Task: ...
    @property
    def tags(self) -> list[dict[str, str]]: ...


class InstanceLike(Protocol):
    @property
    def instance(self) -> ContainerInstance: ...
    @property
    def custom_attributes(self) -> list[dict[str, Any]]: ...
    @property
    def tags(self) -> list[dict[str, str]]: ...


def shape_container(task: Task, c: Container) -> Json:
    return drop_none(
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


def shape_task(view: TaskLike, include_tags: bool = True) -> Json:
    return task_document(view.task, view.tags if include_tags else [])


def task_document(t: Task, tags: list[dict[str, str]]) -> Json:
    return drop_none(
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
            "attachments": [_shown_attachment(a) for a in t.attachments],
            "attributes": t.attributes or None,
            "availabilityZone": t.availability_zone,
            "healthStatus": t.health_status,
            "tags": tags,
            "enableExecuteCommand": t.enable_execute_command,
        }
    )


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


def shape_instance(view: InstanceLike, include_tags: bool = True) -> Json:
    tags = view.tags if include_tags else []
    return instance_document(view.instance, view.custom_attributes, tags)


def instance_document(
    i: ContainerInstance, custom_attributes: list[dict[str, Any]], tags: list[dict[str, str]]
) -> Json:
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
        "attributes": [drop_none(a) for a in i.attributes]
        + [{k: v for k, v in a.items() if k in ("name", "value")} for a in custom_attributes],
        "registeredAt": i.registered_at,
        "attachments": [],
        "tags": tags,
    }
    if i.status_reason:
        out["statusReason"] = i.status_reason
    if i.capacity_provider_name:
        out["capacityProviderName"] = i.capacity_provider_name
    if i.agent_update_status:
        out["agentUpdateStatus"] = i.agent_update_status
    return out


# What the control plane tells the agent about a task's ENI and ECS does not show its callers.
_AGENT_ONLY_DETAILS = frozenset({"subnetGatewayIpv4Address"})


def _shown_attachment(attachment: Mapping[str, Any]) -> dict[str, Any]:
    details = attachment.get("details")
    if not details:
        return dict(attachment)
    shown = [d for d in details if d.get("name") not in _AGENT_ONLY_DETAILS]
    return {**attachment, "details": shown}
