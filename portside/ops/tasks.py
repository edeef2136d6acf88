"""Tasks as the store holds them, and their operations that are not starts: StopTask,
DescribeTasks, ListTasks. Starts are ops/launch.py's; what agents report, task_reports.py's."""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from portside.errors import InvalidParameterException, ServiceNotFoundException
from portside.model import arn as arns
from portside.model.cluster import Cluster
from portside.model.doc import to_doc
from portside.model.requests import TaskQuery
from portside.model.states import ContainerStatus, InstanceStatus, TaskStatus
from portside.model.task import Task
from portside.ops import instances as inst_ops
from portside.ops import records, service_targets, task_enis
from portside.ops.clusters import describe_members, get_active
from portside.ops.context import Op
from portside.ops.describing import Failure, RefLimits
from portside.ops.paging import check_max_results, decode_token, keys_page
from portside.ops.tags import Tag, get_tags
from portside.servicediscovery import registrations
from portside.store.base import Tx

TABLE = "tasks"
# Stop codes (ECS's): who asked a task to stop.
USER = "UserInitiated"
SCHEDULER = "ServiceSchedulerInitiated"
FINALISED_WHEN_AGENT_GONE = frozenset({SCHEDULER})
DESCRIBE_LIMITS = RefLimits(100, "Tasks cannot be empty.", "You can describe at most 100 tasks.")


@dataclass(frozen=True, slots=True)
class TaskView:
    task: Task
    tags: list[Tag]


def load(tx: Tx, arn: str) -> Task | None:
    return records.load(tx, TABLE, Task, arn)


def save(tx: Tx, task: Task) -> None:
    """Store `task`; the store gives it its next version."""
    records.save(tx, TABLE, task)


def create(tx: Tx, task: Task) -> None:
    """Store a task just made, as built: its first version, no stored one to read."""
    tx.put(TABLE, task.arn, to_doc(task), bump=False)


UNSTOPPED = frozenset(s for s in TaskStatus if s != TaskStatus.STOPPED)


def of_group(
    tx: Tx,
    cluster_arn: str,
    group: str,
    *,
    stopped_since: float | None = None,
    started_by: Collection[str] = (),
) -> list[tuple[str, dict[str, Any]]]:
    """A group's tasks (a service's: "service:NAME") in key order: those not STOPPED, and
    with `stopped_since` the STOPPED ones started by one of `started_by` (deployment ids)
    that stopped at or after it. Through the (cluster, group, status, startedBy, stoppedAt)
    index: no other stopped task of the group is read, however many the store keeps (an
    hour of them), so the cost follows the live tasks, not the churn behind them."""
    where: dict[str, Any] = {"cluster": cluster_arn, "grp": group}
    found = list(tx.scan(TABLE, where={**where, "status": UNSTOPPED}))
    if stopped_since is None or not started_by:
        return found
    # One read per deployment: with `IN` and this order SQLite prefers the (status,
    # stoppedAt) index, every group's stopped tasks.
    for deployment in sorted(set(started_by)):
        rows = tx.select(
            TABLE,
            order=["stopped_at"],
            where={**where, "status": TaskStatus.STOPPED, "started_by": deployment},
            after=[math.nextafter(stopped_since, -math.inf)],  # `after` is exclusive
        )
        for key, _ in rows:
            doc = tx.get(TABLE, key)
            if doc is not None:
                found.append((key, doc))
    found.sort(key=lambda item: item[0])
    return found


def task_arn(op: Op, cluster_arn: str, ref: str) -> str:
    """The ARN a task reference (ID or ARN) names within a cluster."""
    return arns.in_cluster(op.region, op.account, "task", cluster_arn, ref)


def find(op: Op, tx: Tx, cluster: Cluster, ref: str) -> tuple[str, Task | None]:
    """The ARN a task reference names in `cluster`, and the task: None unless it is one of
    the cluster's."""
    arn = task_arn(op, cluster.arn, ref)
    task = load(tx, arn)
    return arn, (task if task is not None and task.cluster_arn == cluster.arn else None)


def release(tx: Tx, task: Task) -> None:
    """Give a stopped task's reservation back to its instance, its address to its subnet."""
    task_enis.detach(tx, task)
    inst = inst_ops.load(tx, task.instance_arn)
    if inst is None or inst.fargate:
        return
    res = task.reservation
    inst.release(task.group or "", res.cpu, res.memory, res.ports_tcp, res.ports_udp)
    inst_ops.save(tx, inst, bump=False)  # reservations: no new version of the instance


def agent_gone(tx: Tx, task: Task) -> bool:
    """No agent will report this task again: its instance is gone or INACTIVE, or the
    instance's agent is disconnected."""
    inst = inst_ops.load(tx, task.instance_arn)
    return inst is None or not inst.agent_connected or inst.status == InstanceStatus.INACTIVE


def stop(tx: Tx, task: Task, *, code: str, reason: str, now: float) -> bool:
    """Ask `task` to stop, in `tx`: the one way a task is asked to stop (StopTask, the service
    scheduler; an agent reporting STOPPED is task_reports.py's). False when it was asked
    before; the first stop's code, reason and stoppingAt stay.

    The agent carries the stop out and reports STOPPED. A stop by the service scheduler
    (SCHEDULER) of a task whose agent is gone (`agent_gone`) is finalised here instead — the
    task and its containers STOPPED, its reservation released — because no report will come
    and the service replaces the task now. A user's stop waits for the agent even then: the
    container may still run on that host, and its agent stops it when it reconnects."""
    if task.desired_status == TaskStatus.STOPPED:
        return False
    task.desired_status = TaskStatus.STOPPED
    task.stop_code = task.stop_code or code
    task.stopped_reason = task.stopped_reason or reason
    task.stopping_at = task.stopping_at or now
    finalise = code in FINALISED_WHEN_AGENT_GONE and agent_gone(tx, task)
    if (task.group or "").startswith("service:"):
        # Its load balancer targets go first; the container serves what is in flight
        # through the deregistration delay (controllers/targets.py ends the wait).
        serving = not finalise and task.last_status == TaskStatus.RUNNING
        drain = service_targets.on_stop(tx, task.arn, now, can_hold=serving)
        # Its Cloud Map instances go now: its name is gone before its containers stop.
        registrations.deregister_task(tx, task.arn)
        if drain > 0:
            task.last_status = TaskStatus.DEACTIVATING
            task.stop_held_until = now + drain
    if finalise:
        task.last_status = TaskStatus.STOPPED
        task.stopped_at = now
        task.execution_stopped_at = task.execution_stopped_at or now
        for c in task.containers:
            c.last_status = ContainerStatus.STOPPED
    save(tx, task)
    if finalise:
        release(tx, task)
    return True


def stop_task(op: Op, cluster: str | None, ref: str, reason: str | None) -> TaskView:
    if reason is not None and len(reason) > 255:
        raise InvalidParameterException("reason can be at most 255 characters.")
    with op.store.transaction() as tx:
        _, task = find(op, tx, get_active(op, tx, cluster), ref)
        if task is None:
            raise InvalidParameterException("The referenced task was not found.")
        stop(tx, task, code=USER, reason=reason or "Task stopped by user", now=op.now())
        return TaskView(task, get_tags(tx, task.arn))


def describe_tasks(
    op: Op, cluster: str | None, refs: Sequence[str]
) -> tuple[list[TaskView], list[Failure]]:
    return describe_members(op, cluster, refs, DESCRIBE_LIMITS, partial(find, op), _with_tags)


def _with_tags(tx: Tx, task: Task) -> TaskView:
    return TaskView(task, get_tags(tx, task.arn))


def _service_name(op: Op, tx: Tx, cluster: Cluster, ref: str) -> str:
    """The name of the cluster's service a ListTasks `serviceName` names (name or ARN)."""
    name = ref.rsplit("/", 1)[1] if arns.is_arn(ref) else ref
    arn = arns.ecs(op.region, op.account, f"service/{cluster.name}/{name}")
    if tx.get("services", arn) is None:
        raise ServiceNotFoundException("Service not found.")
    return name


def list_tasks(op: Op, query: TaskQuery) -> tuple[list[str], str | None]:
    limit = check_max_results(query.max_results)
    after = decode_token(query.next_token)
    with op.store.read() as tx:
        cluster = get_active(op, tx, query.cluster)
        where: dict[str, Any] = {"cluster": cluster.arn}
        where["desired"] = query.desired_status or TaskStatus.RUNNING
        if query.started_by:
            where["started_by"] = query.started_by
        if query.service_name:
            service = _service_name(op, tx, cluster, query.service_name)
            where["grp"] = f"service:{service}"
        if query.container_instance:
            where["instance"] = inst_ops.instance_arn(op, cluster.arn, query.container_instance)
        family = query.family
        launch_type = query.launch_type

        def listed(doc: dict[str, Any]) -> bool:
            if family and doc["taskDefinitionArn"].rsplit("/", 1)[1].rsplit(":", 1)[0] != family:
                return False
            return not launch_type or doc.get("launchType") == launch_type

        return keys_page(tx.scan(TABLE, where=where, after=after), limit, listed)
