"""Applying a reconciler's plan to one service, in the service's transaction: the rollback
deployment, events, stops (ops/tasks.stop), starts (ops/launch.launch_tasks, with the
deployment's Launch), the deployments' counts and states. What to do was decided by
replica.py or daemon.py; this only does it."""

from __future__ import annotations

from collections.abc import Mapping

from portside.controllers.services import service_events as words
from portside.controllers.services.facts import Plan
from portside.controllers.services.service_facts import group
from portside.errors import PortsideError
from portside.model.cluster import Cluster
from portside.model.launch import AwsVpc, Launch, strategy_of
from portside.model.service import (
    DAEMON,
    DEPLOYMENT_ACTIVE,
    DEPLOYMENT_INACTIVE,
    PRIMARY,
    Deployment,
    Service,
)
from portside.model.states import InstanceStatus, TaskStatus
from portside.ops import instances as inst_ops
from portside.ops import launch as launches
from portside.ops import task_definitions as taskdefs
from portside.ops import tasks as task_ops
from portside.ops.context import Op
from portside.ops.services import new_deployment_id
from portside.ops.tags import get_tags
from portside.scheduler import strategies
from portside.store.base import Tx

REPEAT_AFTER = 300.0  # an identical event is not repeated within this many seconds
_DEPLOYMENT_FIELDS = (
    "status",
    "rollout_state",
    "rollout_state_reason",
    "failed_tasks",
    "running_count",
    "pending_count",
    "desired_count",  # DAEMON: the instances it runs on
)


def event(op: Op, service: Service, now: float, message: str) -> None:
    recent = service.events[0] if service.events else None
    if recent and recent.message == message and now - recent.created_at < REPEAT_AFTER:
        return
    raw = op.world.new_id()
    # ECS's event ids are UUIDs; the id source gives 32 hex digits.
    event_id = "-".join((raw[:8], raw[8:12], raw[12:16], raw[16:20], raw[20:32]))
    service.add_event(event_id, now, message)


def apply(op: Op, tx: Tx, cluster: Cluster, service: Service, plan: Plan, now: float) -> None:
    if plan.rollback is not None:
        _roll_back(op, service, plan.rollback, now)
    for message in plan.events:
        event(op, service, now, message)
    if plan.desired_count is not None and service.scheduling_strategy == DAEMON:
        service.desired_count = plan.desired_count
    stopped = _stop(tx, plan, now)
    if stopped:
        event(op, service, now, words.stopped(service.name, stopped))
    unplaced: dict[str, int] = {}
    for start in plan.start:
        placed = _start(
            op, tx, cluster, service, start.deployment_id, start.count, start.instances, now
        )
        if service.scheduling_strategy != DAEMON:
            # The REPLICA plan counts its starts as pending; a task that could not be
            # placed was never created and is no PENDING task (ECS's pendingCount).
            unplaced[start.deployment_id] = (
                unplaced.get(start.deployment_id, 0) + start.count - placed
            )
    _update_deployments(service, plan, unplaced, now)
    service.running_count = plan.running_count
    service.pending_count = max(0, plan.pending_count - sum(unplaced.values()))
    if plan.steady is not None:
        service.steady = plan.steady
    if plan.launch_backoff_until is not None:
        service.launch_backoff_until = plan.launch_backoff_until
    if plan.launch_failures is not None:
        service.launch_failures = plan.launch_failures


def _update_deployments(
    service: Service, plan: Plan, unplaced: Mapping[str, int], now: float
) -> None:
    by_id = {d.id: d for d in service.deployments}
    for update in plan.deployments:
        d = by_id.get(update.id)
        if d is None:
            continue
        if update.pending_count is not None:
            update.pending_count = max(0, update.pending_count - unplaced.get(d.id, 0))
        for field in _DEPLOYMENT_FIELDS:
            value = getattr(update, field)
            if value is not None and getattr(d, field) != value:
                setattr(d, field, value)
                d.updated_at = now


def _roll_back(op: Op, service: Service, rollback: tuple[str, str], now: float) -> None:
    task_definition, reason = rollback
    old = service.primary
    old.status = DEPLOYMENT_ACTIVE
    old.updated_at = now
    new = Deployment(
        id=new_deployment_id(op.world),
        status=PRIMARY,
        task_definition=task_definition,
        desired_count=service.desired_count,
        created_at=now,
        updated_at=now,
        launch_type=old.launch_type,
        capacity_provider_strategy=list(old.capacity_provider_strategy),
        network_configuration=old.network_configuration,
        platform_version=old.platform_version,
        rollback_of=old.id,
        rollout_state_reason=reason,
        sources=[d.id for d in service.deployments if d.status != DEPLOYMENT_INACTIVE],
    )
    service.deployments.insert(0, new)
    service.task_definition = task_definition


def _stop(tx: Tx, plan: Plan, now: float) -> list[str]:
    done: list[str] = []
    for stop in plan.stop:
        task = task_ops.load(tx, stop.task_arn)
        if task is None:
            continue
        if task_ops.stop(tx, task, code=task_ops.SCHEDULER, reason=stop.reason, now=now):
            done.append(task.arn)
    return done


def deployment_launch(tx: Tx, service: Service, dep: Deployment) -> Launch:
    """What a deployment's tasks are started with: the service's placement, group and tags,
    the deployment's capacity, network and definition."""
    tags = tuple(get_tags(tx, service.arn)) if service.propagate_tags == "SERVICE" else ()
    return Launch(
        task_definition=dep.task_definition,
        cluster=service.cluster_arn,
        launch_type=dep.launch_type,
        capacity_provider_strategy=strategy_of(dep.capacity_provider_strategy),
        placement_constraints=tuple(service.placement_constraints),
        placement_strategy=tuple(service.placement_strategy),
        network=AwsVpc.of(dep.network_configuration),
        tags=tags,
        started_by=dep.id,
        group=group(service),
        enable_execute_command=service.enable_execute_command,
        propagate_tags="TASK_DEFINITION" if service.propagate_tags == "TASK_DEFINITION" else None,
    )


def _start(
    op: Op,
    tx: Tx,
    cluster: Cluster,
    service: Service,
    deployment_id: str,
    count: int,
    on: tuple[str, ...],
    now: float,
) -> int:
    """Start up to `count` tasks of the deployment (one on each of `on`, when given); how
    many were placed."""
    dep = next((d for d in service.deployments if d.id == deployment_id), None)
    if dep is None or count <= 0:
        return 0
    td = taskdefs.find(op, tx, dep.task_definition)
    if td is None:
        event(op, service, now, words.definition_missing(service.name, dep.task_definition))
        return 0
    launch = deployment_launch(tx, service, dep)
    already = _by_provider(tx, service) if launch.capacity_provider_strategy else None
    plan = launches.slots(launch.launch_type, launch.capacity_provider_strategy, count, already)
    pinned = None
    if on:
        pinned = [i for a in on if (i := inst_ops.load(tx, a)) is not None]
        plan = plan[: len(pinned)]
    try:
        views, failures = launches.launch_tasks(
            op,
            tx,
            cluster,
            td,
            launch,
            plan,
            pinned=pinned,
            default_strategy=strategies.SERVICE_DEFAULT,
        )
    except PortsideError as exc:
        if "No Container Instances" in exc.message:
            event(op, service, now, words.unable_to_place(service.name, []))
        else:
            event(op, service, now, words.unable_to_place_because(service.name, exc.message))
        return 0
    if views:
        event(op, service, now, words.started(service.name, [v.task.arn for v in views]))
    if failures and len(views) < len(plan) and not _stopping(tx, service):
        event(op, service, now, words.unable_to_place(service.name, failures))
    return len(views)


def _by_provider(tx: Tx, service: Service) -> dict[str, int]:
    """The service's unstopped tasks per capacity provider: a strategy splits over the
    service's lifetime."""
    already: dict[str, int] = {}
    for _, doc in task_ops.of_group(tx, service.cluster_arn, group(service)):
        if doc.get("capacityProviderName"):
            name = doc["capacityProviderName"]
            already[name] = already.get(name, 0) + 1
    return already


def _stopping(tx: Tx, service: Service) -> bool:
    """Some of the service's tasks are stopping on a connected instance: their resources
    come free when they report STOPPED, and that report brings another pass. A start that
    waits for them (a rolling deployment on a full cluster) is not "unable to place"."""
    for _, doc in task_ops.of_group(tx, service.cluster_arn, group(service)):
        if doc.get("desiredStatus") != TaskStatus.STOPPED:
            continue
        inst = inst_ops.load(tx, str(doc.get("instanceArn") or ""))
        if inst is not None and inst.agent_connected and inst.status != InstanceStatus.INACTIVE:
            return True
    return False
