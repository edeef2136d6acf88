"""What agents report about their tasks, applied to the store (the agent's side of
SubmitTaskStateChange). States only move forward; a report that would move one back is
refused for that task and logged, never applied."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from portside.model.states import CONTAINER_STATUS, TASK_STATUS, TaskStatus
from portside.model.task import Task
from portside.ops.context import Op
from portside.ops.tasks import load, release, save
from portside.store.base import Tx

log = logging.getLogger("portside.tasks")

_CONTAINER_FIELDS = {
    "runtimeId": "runtime_id",
    "imageDigest": "image_digest",
    "exitCode": "exit_code",
    "reason": "reason",
    "networkBindings": "network_bindings",
    "networkInterfaces": "network_interfaces",
    "healthStatus": "health_status",
    "managedAgents": "managed_agents",
}
_TIMES = {
    "pullStartedAt": "pull_started_at",
    "pullStoppedAt": "pull_stopped_at",
    "executionStoppedAt": "execution_stopped_at",
    "connectivityAt": "connectivity_at",
}


def aggregate_health(task: Task) -> str:
    """ECS: UNHEALTHY if an essential container is; HEALTHY when every essential container
    with a health check is HEALTHY; UNKNOWN otherwise."""
    checked = [c for c in task.containers if c.essential and c.health_status is not None]
    if any(c.health_status == "UNHEALTHY" for c in checked):
        return "UNHEALTHY"
    if checked and all(c.health_status == "HEALTHY" for c in checked):
        return "HEALTHY"
    return "UNKNOWN"


def apply_reports(op: Op, reports: Sequence[Mapping[str, Any]]) -> list[dict[str, str]]:
    """Apply a batch of task reports in one transaction; return per-report refusals."""
    refused: list[dict[str, str]] = []
    with op.store.transaction() as tx:
        for report in reports:
            why = _apply(op, tx, report)
            if why:
                refused.append({"taskArn": str(report.get("taskArn")), "reason": why})
    return refused


def _apply(op: Op, tx: Tx, report: Mapping[str, Any]) -> str | None:
    task = load(tx, str(report.get("taskArn")))
    if task is None:
        return "unknown task"
    reported = report.get("lastStatus", task.last_status)
    new_status = TASK_STATUS.get(reported)
    if new_status is None:
        return f"unknown status {reported}"
    if new_status < task.last_status:
        log.error(
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
            task.started_at = report.get("startedAt") or now
        if new_status >= TaskStatus.STOPPING and task.stopping_at is None:
            task.stopping_at = now
        if new_status == TaskStatus.STOPPED:
            task.stopped_at = report.get("stoppedAt") or now
            task.desired_status = TaskStatus.STOPPED
    for key, attr in _TIMES.items():
        if report.get(key) is not None and getattr(task, attr) is None:
            setattr(task, attr, report[key])
            changed = True
    if report.get("stopCode") and not task.stop_code:
        task.stop_code = report["stopCode"]
        changed = True
    if report.get("stoppedReason") and not task.stopped_reason:
        task.stopped_reason = report["stoppedReason"]
        changed = True
    if report.get("attachments") is not None:
        task.attachments = list(report["attachments"])
        changed = True
    if report.get("connectivity"):
        task.connectivity = report["connectivity"]
        changed = True
    by_name = {c.name: c for c in task.containers}
    for crep in report.get("containers") or ():
        container = by_name.get(crep.get("name", ""))
        if container is None:
            continue
        status = CONTAINER_STATUS[crep.get("lastStatus", container.last_status)]
        if status < container.last_status:
            log.error("refused backward container report for %s/%s", task.arn, container.name)
            continue
        container.last_status = status
        for key, attr in _CONTAINER_FIELDS.items():
            if key in crep:
                setattr(container, attr, crep[key])
        changed = True
    if not changed:
        return None
    task.health_status = aggregate_health(task)
    save(tx, task)
    if task.last_status == TaskStatus.STOPPED and not was_stopped:
        release(tx, task)
    return None
