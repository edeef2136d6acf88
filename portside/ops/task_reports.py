"""What agents report about their tasks, applied to the store (the agent's side of
SubmitTaskStateChange). States only move forward; a report that would move one back is
refused for that task and logged, never applied."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from portside.model.states import CONTAINER_STATUS, TASK_STATUS, TaskStatus
from portside.model.task import Container, Task
from portside.ops import task_enis
from portside.ops.context import Op
from portside.ops.given import apply_given
from portside.ops.tasks import load, release, save
from portside.store.base import Tx

log = logging.getLogger("portside.tasks")


# What a report is read for: the agent protocol's TaskReport (gateway/protocol/reports.py)
# matches these by shape, so ops/ reads the typed report without importing the gateway.
class ManagedAgentReport(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def last_status(self) -> str: ...
    @property
    def last_started_at(self) -> float | None: ...


class AttachmentReport(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def type(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def details(self) -> Sequence[tuple[str, Any]]: ...


class ContainerReport(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def last_status(self) -> str: ...
    @property
    def runtime_id(self) -> str | None: ...
    @property
    def image_digest(self) -> str | None: ...
    @property
    def exit_code(self) -> int | None: ...
    @property
    def reason(self) -> str | None: ...
    @property
    def network_bindings(self) -> Sequence[Mapping[str, Any]]: ...
    @property
    def health_status(self) -> str | None: ...
    @property
    def managed_agents(self) -> Sequence[ManagedAgentReport]: ...
    @property
    def private_ipv4(self) -> tuple[str, str] | None: ...


class TaskReport(Protocol):
    @property
    def task_arn(self) -> str: ...
    @property
    def last_status(self) -> str: ...
    @property
    def containers(self) -> Sequence[ContainerReport]: ...
    @property
    def started_at(self) -> float | None: ...
    @property
    def pull_started_at(self) -> float | None: ...
    @property
    def pull_stopped_at(self) -> float | None: ...
    @property
    def execution_stopped_at(self) -> float | None: ...
    @property
    def stopped_at(self) -> float | None: ...
    @property
    def stop_code(self) -> str | None: ...
    @property
    def stopped_reason(self) -> str | None: ...
    @property
    def attachments(self) -> Sequence[AttachmentReport] | None: ...


_TIMES = ("pull_started_at", "pull_stopped_at", "execution_stopped_at")
# A container's members a report carries as they are, when it has them.
_CONTAINER_MEMBERS = ("runtime_id", "image_digest", "exit_code", "reason", "health_status")


def aggregate_health(task: Task) -> str:
    """ECS: UNHEALTHY if an essential container is; HEALTHY when every essential container
    with a health check is HEALTHY; UNKNOWN otherwise."""
    checked = [c for c in task.containers if c.essential and c.health_status is not None]
    if any(c.health_status == "UNHEALTHY" for c in checked):
        return "UNHEALTHY"
    if checked and all(c.health_status == "HEALTHY" for c in checked):
        return "HEALTHY"
    return "UNKNOWN"


def apply_reports(op: Op, reports: Sequence[TaskReport]) -> list[tuple[str, str]]:
    """Apply a batch of task reports in one transaction; return the refusals as
    (task ARN, reason)."""
    refused: list[tuple[str, str]] = []
    with op.store.transaction() as tx:
        for report in reports:
            why = _apply(op, tx, report)
            if why:
                refused.append((report.task_arn, why))
    return refused


def _apply(op: Op, tx: Tx, report: TaskReport) -> str | None:
    task = load(tx, report.task_arn)
    if task is None:
        return "unknown task"
    reported = report.last_status
    new_status = TASK_STATUS.get(reported)
    if new_status is None:
        return f"unknown status {reported}"
    if new_status == TaskStatus.RUNNING and task.last_status == TaskStatus.DEACTIVATING:
        # Its agent runs it on while the load balancer drains its connections: still so.
        new_status = TaskStatus.DEACTIVATING
    if new_status < task.last_status:
        # Expected when an agent comes back from a partition: the control plane finalised
        # its tasks meanwhile (ops/tasks.stop). The agent is told; nothing here is broken.
        log.warning(
            "refused backward report for %s: %s -> %s", task.arn, task.last_status, new_status
        )
        return f"cannot go from {task.last_status} back to {new_status}"
    was_stopped = task.last_status == TaskStatus.STOPPED
    changed = False
    now = op.now()
    if new_status != task.last_status:
        task.last_status = new_status
        changed = True
        if new_status == TaskStatus.RUNNING and task.started_at is None:
            task.started_at = report.started_at or now
        if new_status >= TaskStatus.STOPPING and task.stopping_at is None:
            task.stopping_at = now
        if new_status == TaskStatus.STOPPED:
            task.stopped_at = report.stopped_at or now
            task.desired_status = TaskStatus.STOPPED
    for attr in _TIMES:
        value = getattr(report, attr)
        if value is not None and getattr(task, attr) is None:
            setattr(task, attr, value)
            changed = True
    if report.stop_code and not task.stop_code:
        task.stop_code = report.stop_code
        changed = True
    if report.stopped_reason and not task.stopped_reason:
        task.stopped_reason = report.stopped_reason
        changed = True
    if report.attachments is not None:
        stored = {a.get("id"): a for a in task.attachments}
        task.attachments = [_attachment_doc(a, stored.get(a.id)) for a in report.attachments]
        changed = True
    address = task_enis.allocated_address(task)
    by_name = {c.name: c for c in task.containers}
    for crep in report.containers:
        container = by_name.get(crep.name)
        if container is None:
            continue
        status = CONTAINER_STATUS[crep.last_status]
        if status < container.last_status:
            log.warning("refused backward container report for %s/%s", task.arn, container.name)
            continue
        container.last_status = status
        _apply_container(container, crep, address)
        changed = True
    if not changed:
        return None
    task.health_status = aggregate_health(task)
    save(tx, task)
    if task.last_status == TaskStatus.STOPPED and not was_stopped:
        release(tx, task)
    return None


def _apply_container(container: Container, crep: ContainerReport, address: str | None) -> None:
    """The members the report carries replace the container's; absent ones leave it.
    `address`: the task's ENI address when the control plane allocated it."""
    apply_given(container, crep, _CONTAINER_MEMBERS)
    if crep.network_bindings:
        container.network_bindings = [dict(b) for b in crep.network_bindings]
    if crep.private_ipv4 is not None:
        attachment, reported = crep.private_ipv4
        container.network_interfaces = [
            {"attachmentId": attachment, "privateIpv4Address": address or reported}
        ]
    if crep.managed_agents:
        container.managed_agents = [_managed_agent_doc(a) for a in crep.managed_agents]


# The stored task keeps ECS's document shape for these (DescribeTasks shows them as stored).
def _attachment_doc(a: AttachmentReport, stored: dict[str, Any] | None) -> dict[str, Any]:
    """The reported attachment; the details the control plane gave it (its ENI) stand."""
    return {
        "id": a.id,
        "type": a.type,
        "status": a.status,
        "details": task_enis.merged_details(stored, a.details),
    }


def _managed_agent_doc(a: ManagedAgentReport) -> dict[str, Any]:
    doc: dict[str, Any] = {"name": a.name, "lastStatus": a.last_status}
    if a.last_started_at is not None:
        doc["lastStartedAt"] = a.last_started_at
    return doc
