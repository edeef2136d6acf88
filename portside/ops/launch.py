"""Starting tasks: RunTask, StartTask, and the one path every start takes (`launch_tasks`),
the service controller's and the schedules' included.

A start is a `Launch` (model/launch.py) and a list of slots, (launch type, capacity provider)
per task: `slots` writes that plan, from a launch type or a capacity provider strategy;
`launch_tasks` places the hosted slots (ops/placement.py), builds each task (task_build.py),
reserves on its instance and saves it, in the caller's transaction."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

from portside.errors import InvalidParameterException
from portside.model import arn as arns
from portside.model.cluster import Cluster
from portside.model.container_instance import ContainerInstance
from portside.model.doc import from_doc
from portside.model.launch import CapacityItem, Launch, StartTask, strategy_of
from portside.model.placement import PlacementStrategy
from portside.model.states import InstanceStatus, TaskStatus
from portside.model.task import Task
from portside.model.task_definition import TaskDefinition
from portside.ops import instances as inst_ops
from portside.ops import managed_scaling, placement, task_build, task_enis, task_roles
from portside.ops.capacity import check_strategy
from portside.ops.clusters import get_active
from portside.ops.context import Op
from portside.ops.describing import Failure, found_or_missing
from portside.ops.tags import get_tags, set_tags, validate_tags
from portside.ops.task_definitions import require_active
from portside.ops.tasks import TABLE, TaskView, create
from portside.scheduler import strategies
from portside.scheduler.capacity_split import split
from portside.scheduler.demand import Demand, task_demand
from portside.store.base import Tx

Slot = tuple[str, str | None]  # (launch type, capacity provider) of one task

BOTH_KINDS = "Specifying both a launch type and capacity provider strategy is not supported."


def runnable(op: Op, tx: Tx, ref: str) -> TaskDefinition:
    """The revision RunTask and StartTask launch: it must exist and be ACTIVE. ECS's types and
    wording: ClientException "TaskDefinition not found." (Cloud-CV/EvalAI#2419, for
    CreateService) and InvalidParameterException "TaskDefinition is inactive"
    (DefangLabs/defang#775, for RunTask)."""
    return require_active(op, tx, ref, inactive=InvalidParameterException)


def capacity(cluster: Cluster, launch: Launch) -> tuple[str | None, tuple[CapacityItem, ...]]:
    """RunTask's choice of capacity: the launch type given, or the strategy given, or the
    cluster's default strategy (checked against the cluster's providers), or EC2 (a launch
    type None and no strategy)."""
    if launch.launch_type and launch.capacity_provider_strategy:
        raise InvalidParameterException(BOTH_KINDS)
    if launch.launch_type:
        return launch.launch_type, ()
    strategy = launch.capacity_provider_strategy or strategy_of(cluster.default_strategy)
    if not strategy:
        return None, ()
    return None, tuple(check_strategy(strategy, cluster.capacity_providers))


def slots(
    launch_type: str | None,
    strategy: Sequence[CapacityItem],
    count: int,
    already: Mapping[str, int] | None = None,
) -> list[Slot]:
    """(launch type, capacity provider) for each of `count` tasks. `already`: the tasks each
    provider runs for the group before this start (a service splits over its lifetime)."""
    if launch_type:
        return [(launch_type, None)] * count
    if not strategy:
        return [("EC2", None)] * count
    kind = {i.capacity_provider: i.launch_type for i in strategy}
    return [(kind[name], name) for name in split(strategy, count, already)]


def check(op: Op, tx: Tx, td: TaskDefinition, launch: Launch) -> None:
    """What a launch must satisfy against its definition, whatever its capacity."""
    task_build.check_overrides(td.spec, launch.overrides)
    task_build.check_execute_command(td, launch.enable_execute_command, launch.overrides)
    task_roles.check(op, tx, td, launch.overrides)


def check_capacity(td: TaskDefinition, launch: Launch, launch_types: set[str]) -> None:
    """What a launch must satisfy against its definition for each launch type it uses."""
    for launch_type in sorted(launch_types):
        task_build.check_launch_type(td, launch_type)
        task_build.check_network(td, launch_type, launch.network)


def _check_request(launch: Launch) -> Launch:
    """RunTask's and StartTask's own rules; the launch with its tags checked."""
    task_build.check_started_by(launch.started_by)
    task_build.check_group(launch.group)
    task_build.check_propagate_tags(launch.propagate_tags)
    tags = validate_tags(launch.tags)
    return dataclasses.replace(launch, tags=tuple(tags)) if tags else launch


def run_task(op: Op, launch: Launch) -> tuple[list[TaskView], list[Failure]]:
    count = task_build.check_count(launch.count)
    launch = _check_request(launch)
    with op.store.transaction() as tx:
        cluster = get_active(op, tx, launch.cluster)
        if launch.client_token:
            where = {"cluster": cluster.arn, "token": launch.client_token}
            earlier = [from_doc(Task, d) for _, d in tx.scan(TABLE, where=where)]
            if earlier:
                return [TaskView(t, get_tags(tx, t.arn)) for t in earlier], []
        td = runnable(op, tx, launch.task_definition)
        check(op, tx, td, launch)
        plan = slots(*capacity(cluster, launch), count)
        check_capacity(td, launch, {launch_type for launch_type, _ in plan})
        return launch_tasks(op, tx, cluster, td, launch, plan)


def start_task(op: Op, request: StartTask) -> tuple[list[TaskView], list[Failure]]:
    refs = request.container_instances
    if not 1 <= len(refs) <= 10:
        raise InvalidParameterException("containerInstances must list 1 to 10 instances.")
    launch = _check_request(request.launch)
    with op.store.transaction() as tx:
        cluster = get_active(op, tx, launch.cluster)
        td = runnable(op, tx, launch.task_definition)
        check(op, tx, td, launch)
        check_capacity(td, launch, {"EC2"})
        targets, failures = found_or_missing(
            refs, lambda ref: inst_ops.find(op, tx, cluster, ref), lambda inst: inst
        )
        plan: list[Slot] = [("EC2", None)] * len(targets)
        views, more = launch_tasks(op, tx, cluster, td, launch, plan, pinned=targets)
        return views, failures + more


def _fargate_instances(op: Op, tx: Tx) -> list[ContainerInstance]:
    prefix = arns.prefix(op.region, op.account, "container-instance")
    found = []
    for _, doc in tx.scan(inst_ops.TABLE, prefix=prefix):
        if (
            doc.get("fargate")
            and doc.get("agentConnected")
            and doc.get("status") == InstanceStatus.ACTIVE
        ):
            found.append(from_doc(ContainerInstance, doc))
    return found


def _hosts(
    op: Op,
    tx: Tx,
    cluster: Cluster,
    td: TaskDefinition,
    demand: Demand,
    launch: Launch,
    plan: Sequence[Slot],
    pinned: Sequence[ContainerInstance] | None,
    default_strategy: Sequence[PlacementStrategy],
) -> tuple[list[ContainerInstance | None], list[Failure]]:
    """An instance (or None) for each slot that is not FARGATE, and the placement failures."""
    group = launch.group or f"family:{td.family}"
    rules, strategy = placement.check_rules(
        launch.placement_constraints, launch.placement_strategy, td
    )
    hosted = [n for n, (lt, _) in enumerate(plan) if lt != "FARGATE"]
    hosts: list[ContainerInstance | None] = [None] * len(plan)
    if not hosted:
        return hosts, []
    failures: list[Failure] = []
    if pinned is not None:
        chosen: list[ContainerInstance | None] = []
        for inst in pinned:
            # StartTask: each named instance takes one task if the placer's filters pass.
            one, why = placement.choose(
                op,
                tx,
                cluster,
                td,
                demand,
                [plan[hosted[len(chosen)]]],
                group=group,
                rules=rules,
                strategy=strategy,
                rng=op.world.rng,
                pinned=frozenset({inst.arn}),
            )
            chosen += one
            failures += why
    else:
        chosen, failures = placement.choose(
            op,
            tx,
            cluster,
            td,
            demand,
            [plan[n] for n in hosted],
            group=group,
            rules=rules,
            strategy=strategy,
            default_strategy=default_strategy,
            rng=op.world.rng,
        )
    for n, picked in zip(hosted, chosen, strict=True):
        hosts[n] = picked
    return hosts, failures


def launch_tasks(
    op: Op,
    tx: Tx,
    cluster: Cluster,
    td: TaskDefinition,
    launch: Launch,
    plan: Sequence[Slot],
    *,
    pinned: Sequence[ContainerInstance] | None = None,
    default_strategy: Sequence[PlacementStrategy] = strategies.RUN_TASK_DEFAULT,
) -> tuple[list[TaskView], list[Failure]]:
    """Place and save a task per slot of `plan` (those that fit somewhere), in `tx`. `pinned`:
    StartTask's instances, one task each. The launch's tags are taken as checked."""
    demand = task_demand(td.spec, launch.overrides)
    awsvpc = td.spec.get("networkMode") == "awsvpc"
    subnets = task_enis.subnets(op, tx, launch.network, len(plan)) if awsvpc else []
    hosts, failures = _hosts(op, tx, cluster, td, demand, launch, plan, pinned, default_strategy)
    fargate: list[ContainerInstance] = []
    if any(lt == "FARGATE" for lt, _ in plan):
        fargate = _fargate_instances(op, tx)
        task_build.require_fargate_capacity(bool(fargate))
    tags = {t["key"]: t["value"] for t in launch.tags}
    if launch.propagate_tags == "TASK_DEFINITION":
        tags = {**{t["key"]: t["value"] for t in get_tags(tx, td.arn)}, **tags}
    task_tags = [{"key": k, "value": v} for k, v in tags.items()]
    views: list[TaskView] = []
    touched: dict[str, ContainerInstance] = {}
    # Managed scaling: a task its provider has no room for yet waits PROVISIONING, on no
    # instance, for the instances the provider's group adds (controllers/managed_scaling).
    unplaced = [n for n, (lt, _) in enumerate(plan) if lt != "FARGATE" and hosts[n] is None]
    growing = {p for p in {plan[n][1] for n in unplaced} if managed_scaling.scales(op, tx, p)}
    waiting = {n for n in unplaced if plan[n][1] in growing}
    if waiting and len(waiting) == len(unplaced):
        failures = []  # nothing failed: the rest wait for capacity
    for n, (launch_type, provider) in enumerate(plan):
        if launch_type == "FARGATE":
            # The most recently (re)registered capacity: an agent that went away without
            # deregistering stays "connected" until liveness notices.
            host: ContainerInstance | None = max(fargate, key=lambda i: i.last_heartbeat)
        else:
            host = hosts[n]
            if host is None and n not in waiting:
                continue
            if host is not None:
                touched[host.arn] = host
        task = task_build.build_task(
            region=op.region,
            account=op.account,
            cluster_arn=cluster.arn,
            td=td,
            task_id=op.world.new_id(),
            new_id=op.world.new_id,
            instance_arn=host.arn if host is not None else "",
            launch_type=launch_type,
            now=op.now(),
            demand=demand,
            launch=launch,
            # Only a task placed through a capacity provider names one: "If a task uses a
            # launch type, the capacity it uses isn't counted by any capacity providers"
            # (developer guide, capacity provider concepts).
            capacity_provider=provider,
            availability_zone=host.attribute("ecs.availability-zone") if host else None,
        )
        if host is None:
            task.last_status = TaskStatus.PROVISIONING
        task_enis.attach(op, tx, task, subnets, launch.network, host)
        create(tx, task)
        set_tags(tx, task.arn, [dict(t) for t in task_tags])
        views.append(TaskView(task, [dict(t) for t in task_tags]))
    for inst in touched.values():
        inst_ops.save(tx, inst, bump=False)  # reservations: no new version of the instance
    return views, failures
