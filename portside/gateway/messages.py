"""The agent's messages built from what the store holds: the gateway's half of the typed
protocol (gateway/protocol/).

These read the stored documents (model.doc's camelCase of the model's fields) directly rather
than through `from_doc(Task, ...)`: a sync builds one message per changed task, and the
model's full conversion cost ~20 µs a task against ~3 µs for the few members an agent needs.
tests/gateway/test_protocol.py holds the two readings together.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from portside.gateway.protocol import (
    AgentInstance,
    AgentTask,
    Attachment,
    TaskContainer,
    TaskOverrides,
)
from portside.gateway.protocol.tasks import opt_str

Document = Mapping[str, Any]


def agent_task(doc: Document, definition: Mapping[str, Any]) -> AgentTask:
    """A stored task (model.task.Task's document) and its task definition's spec."""
    return AgentTask(
        arn=doc["arn"],
        cluster_arn=doc["clusterArn"],
        task_definition_arn=doc["taskDefinitionArn"],
        instance_arn=doc["instanceArn"],
        last_status=doc["lastStatus"],
        # A stop held for connection draining (ops/tasks.stop): keep serving until it ends.
        desired_status="RUNNING" if doc.get("stopHeldUntil") else doc["desiredStatus"],
        version=int(doc.get("version") or 1),
        definition=definition,
        launch_type=doc.get("launchType") or "EC2",
        cpu=opt_str(doc.get("cpu")),
        memory=opt_str(doc.get("memory")),
        availability_zone=doc.get("availabilityZone"),
        group=doc.get("group"),
        enable_execute_command=bool(doc.get("enableExecuteCommand")),
        containers=tuple(TaskContainer(c["name"], c["arn"]) for c in doc.get("containers") or ()),
        attachments=tuple(Attachment.from_wire(a) for a in doc.get("attachments") or ()),
        overrides=TaskOverrides.from_wire(doc.get("overrides") or {}),
        task_role_arn=task_role(doc, definition),
        execution_role_arn=execution_role(doc, definition),
    )


def task_role(doc: Document, definition: Mapping[str, Any]) -> str | None:
    """The role a stored task runs as: RunTask's override, else its definition's (as
    gateway/credentials.py assumes it)."""
    overrides = doc.get("overrides") or {}
    return str(overrides.get("taskRoleArn") or definition.get("taskRoleArn") or "") or None


def execution_role(doc: Document, definition: Mapping[str, Any]) -> str | None:
    """The role the agent acts as for a stored task: RunTask's override, else its
    definition's (as iam/enforce/execution.py checks it)."""
    overrides = doc.get("overrides") or {}
    return (
        str(overrides.get("executionRoleArn") or definition.get("executionRoleArn") or "") or None
    )


def agent_instance(doc: Document) -> AgentInstance:
    """A stored container instance (model.container_instance.ContainerInstance's document)."""
    return AgentInstance(
        arn=doc["arn"],
        status=doc.get("status", "ACTIVE"),
        agent_connected=bool(doc.get("agentConnected", True)),
        version=int(doc.get("version") or 1),
        agent_update_status=doc.get("agentUpdateStatus"),
    )
