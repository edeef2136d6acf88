"""The service controller's part for services with task sets (deploymentController EXTERNAL
or CODE_DEPLOY): each task set runs computedDesiredCount tasks (its scale of the service's
desiredCount), started with its own definition, launch settings and network, its tasks'
startedBy its id; a task the load balancer or its container finds unhealthy is replaced; a
DRAINING task set's tasks stop and it is removed once they have. The deployment itself (which
set takes traffic) is the EXTERNAL caller's or CodeDeploy's (controllers/blue_green/).

`compute` decides (pure); `run` reads the facts, computes and applies in the service
controller's transaction (service.py calls it instead of the REPLICA reconciler).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from portside.controllers.services import service_events as words
from portside.controllers.services.apply import event
from portside.controllers.services.facts import Plan, StartTasks, StopTask, TaskFact
from portside.controllers.services.service_facts import group
from portside.errors import PortsideError
from portside.model.cluster import Cluster
from portside.model.launch import AwsVpc, Launch, strategy_of
from portside.model.service import DRAINING as SERVICE_DRAINING
from portside.model.service import Service
from portside.model.states import TASK_STATUS
from portside.ops import launch as launches
from portside.ops import service_targets, task_sets
from portside.ops import task_definitions as taskdefs
from portside.ops import tasks as task_ops
from portside.ops.context import Op
from portside.ops.tags import get_tags
from portside.scheduler import strategies
from portside.store.base import Tx

ORPHAN_REASON = "Task set deleted"  # wording: ours


@dataclass(frozen=True, slots=True)
class SetFact:
    id: str
    status: str
    desired: int
    groups: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class SetState:
    running: int
    pending: int
    steady: bool


@dataclass(slots=True)
class SetPlan:
    start: list[StartTasks] = field(default_factory=list)
    stop: list[StopTask] = field(default_factory=list)
    states: dict[str, SetState] = field(default_factory=dict)
    remove: list[str] = field(default_factory=list)  # DRAINING sets with no task left
    events: list[str] = field(default_factory=list)
    recheck_in: float | None = None


def compute(
    service_name: str,
    sets: Sequence[SetFact],
    tasks: Sequence[TaskFact],
    now: float,
    grace: float = 0.0,
) -> SetPlan:
    """What each task set needs now: the tasks to start and stop, its counts and whether it
    is steady."""
    out = SetPlan()
    ids = {s.id for s in sets}
    live = [t for t in tasks if t.live]
    for task in live:
        if task.deployment_id not in ids:
            out.stop.append(StopTask(task.arn, ORPHAN_REASON))
    for s in sets:
        mine = [t for t in live if t.deployment_id == s.id]
        keep: list[TaskFact] = []
        for task in mine:
            started = task.started_at or now
            sick = task.health_status == "UNHEALTHY" or task.unhealthy_in is not None
            if sick and task.running and now - started >= grace:
                reason, message = words.health_failure(service_name, task)
                out.stop.append(StopTask(task.arn, reason))
                out.events.append(message)
            else:
                keep.append(task)
            if sick and task.running and now - started < grace:
                wait = grace - (now - started)
                out.recheck_in = wait if out.recheck_in is None else min(out.recheck_in, wait)
        if len(keep) > s.desired:
            # Tasks not yet running go first, then the newest.
            keep.sort(key=lambda t: (t.running, -(t.started_at or now)))
            for task in keep[: len(keep) - s.desired]:
                out.stop.append(StopTask(task.arn, words.scaling(s.id)))
            keep = keep[len(keep) - s.desired :]
        missing = s.desired - len(keep)
        if missing > 0:
            out.start.append(StartTasks(s.id, missing))
        running = [t for t in keep if t.running]
        healthy = all(t.targets_healthy for t in running) if s.groups else True
        steady = missing <= 0 and len(running) == s.desired and healthy
        out.states[s.id] = SetState(len(running), len(keep) - len(running) + max(0, missing),
                                    steady)  # fmt: skip
        if s.status == task_sets.DRAINING and not mine:
            out.remove.append(s.id)
    return out


# -- reading and applying -------------------------------------------------------------------


def _facts(tx: Tx, service: Service, docs: Sequence[Mapping[str, Any]]) -> list[TaskFact]:
    groups = {d["id"]: _groups(d) for d in docs}
    health = {
        (row.task_arn, row.target.group): row.health
        for row in service_targets.of_service(tx, service.arn)
        if not row.deregistered
    }
    out = []
    for _, doc in task_ops.of_group(tx, service.cluster_arn, group(service)):
        set_groups = groups.get(str(doc.get("startedBy") or ""), ())
        states = [health.get((doc["arn"], g)) for g in set_groups]
        out.append(
            TaskFact(
                arn=doc["arn"],
                deployment_id=str(doc.get("startedBy") or ""),
                last_status=TASK_STATUS[doc["lastStatus"]],
                desired_status=TASK_STATUS[doc["desiredStatus"]],
                health_status=doc.get("healthStatus") or "UNKNOWN",
                has_health_check=False,
                instance_arn=doc.get("instanceArn"),
                zone=doc.get("availabilityZone"),
                started_at=doc.get("startedAt"),
                load_balanced=bool(set_groups),
                targets_healthy=all(s == "healthy" for s in states),
                unhealthy_in=next(
                    (g for g, s in zip(set_groups, states, strict=True) if s == "unhealthy"),
                    None,
                ),
            )
        )
    return out


def _groups(doc: Mapping[str, Any]) -> tuple[str, ...]:
    return tuple(
        str(lb["targetGroupArn"])
        for lb in doc.get("loadBalancers") or ()
        if lb.get("targetGroupArn")
    )


def run(op: Op, tx: Tx, cluster: Cluster, service: Service, now: float) -> Plan:
    """One pass for a service with task sets, applied in `tx`. The Plan returned says what
    the service controller needs to know: whether tasks were started, when to look again,
    the counts."""
    docs = task_sets.of_service(tx, service.arn)
    # A deleted service's task sets drain and go with it (a new service of the name starts
    # with none).
    gone = service.status == SERVICE_DRAINING
    sets = [
        SetFact(
            d["id"],
            task_sets.DRAINING if gone else d["status"],
            0 if gone else int(d["computedDesiredCount"]),
            _groups(d),
        )
        for d in docs
    ]
    tasks = _facts(tx, service, docs)
    grace = float(service.health_check_grace_period_seconds or 0)
    plan = compute(service.name, sets, tasks, now, grace)
    for message in plan.events:
        event(op, service, now, message)
    stopped = []
    for stop in plan.stop:
        task = task_ops.load(tx, stop.task_arn)
        if task is not None and task_ops.stop(
            tx, task, code=task_ops.SCHEDULER, reason=stop.reason, now=now
        ):
            stopped.append(task.arn)
    if stopped:
        event(op, service, now, words.stopped(service.name, stopped))
    by_id = {d["id"]: d for d in docs}
    unplaced = 0
    for start in plan.start:
        placed = _start(op, tx, cluster, service, by_id[start.deployment_id], start.count, now)
        unplaced += start.count - placed
    for doc in docs:
        state = plan.states.get(doc["id"])
        if doc["id"] in plan.remove:
            task_sets.remove(tx, doc)
            continue
        if state is None:
            continue
        changed = dict(doc)
        changed["runningCount"] = state.running
        changed["pendingCount"] = state.pending
        status = task_sets.STEADY_STATE if state.steady else task_sets.STABILIZING
        if status != doc["stabilityStatus"]:
            changed["stabilityStatus"] = status
            changed["stabilityStatusAt"] = now
        if changed != doc:
            changed["updatedAt"] = now
            task_sets.save(tx, changed)
    service.running_count = sum(s.running for s in plan.states.values())
    service.pending_count = max(0, sum(s.pending for s in plan.states.values()) - unplaced)
    return Plan(start=plan.start, recheck_in=plan.recheck_in)


def _start(
    op: Op, tx: Tx, cluster: Cluster, service: Service, doc: Mapping[str, Any], count: int,
    now: float,
) -> int:  # fmt: skip
    td = taskdefs.find(op, tx, str(doc["taskDefinition"]))
    if td is None:
        event(op, service, now, words.definition_missing(service.name, doc["taskDefinition"]))
        return 0
    tags = tuple(get_tags(tx, service.arn)) if service.propagate_tags == "SERVICE" else ()
    launch = Launch(
        task_definition=td.arn,
        cluster=service.cluster_arn,
        launch_type=doc.get("launchType"),
        capacity_provider_strategy=strategy_of(doc.get("capacityProviderStrategy")),
        placement_constraints=tuple(service.placement_constraints),
        placement_strategy=tuple(service.placement_strategy),
        network=AwsVpc.of(doc.get("networkConfiguration")),
        tags=tags,
        started_by=str(doc["id"]),
        group=group(service),
        enable_execute_command=service.enable_execute_command,
        propagate_tags="TASK_DEFINITION" if service.propagate_tags == "TASK_DEFINITION" else None,
    )
    plan = launches.slots(launch.launch_type, launch.capacity_provider_strategy, count)
    try:
        views, failures = launches.launch_tasks(
            op, tx, cluster, td, launch, plan, default_strategy=strategies.SERVICE_DEFAULT
        )
    except PortsideError as exc:
        event(op, service, now, words.unable_to_place_because(service.name, exc.message))
        return 0
    if views:
        event(op, service, now, words.started(service.name, [v.task.arn for v in views]))
    if failures and len(views) < len(plan):
        event(op, service, now, words.unable_to_place(service.name, failures))
    return len(views)
