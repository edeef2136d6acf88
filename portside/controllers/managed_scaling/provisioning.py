"""Tasks that wait PROVISIONING for managed scaling's instances, placed once some fit.

RunTask and the service scheduler (ops/launch.py) keep a task for a managed-scaling provider
that fits none of its instances as PROVISIONING on no instance. Each pass of the
`managed-scaling` loop offers a cluster's waiting tasks to the placer again, grouped by what
they ask (definition, group, provider, reservation), with the placement rules they were
started with (a service's constraints and strategy, or RunTask's default) and the
definition's constraints: a task placed takes its instance, zone and reservation and goes on
as a new task does (PENDING; an awsvpc task stays PROVISIONING until its agent attaches its
ENI). A waiting task asked to stop has no agent to stop it: it is STOPPED here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from portside.errors import PortsideError
from portside.model.cluster import Cluster
from portside.model.container_instance import ContainerInstance
from portside.model.doc import from_doc
from portside.model.placement import PlacementConstraint, PlacementStrategy
from portside.model.states import ContainerStatus, TaskStatus
from portside.model.task import Task
from portside.ops import instances as inst_ops
from portside.ops import placement
from portside.ops import services as service_ops
from portside.ops import task_definitions as taskdefs
from portside.ops import tasks as task_ops
from portside.ops.context import Op
from portside.scheduler import strategies
from portside.scheduler.demand import Demand
from portside.store.base import Tx

WAITING = {"instance": "", "status": TaskStatus.PROVISIONING.value}
# Seconds a new instance is left alone before waiting tasks go to it: none. (A simulated
# fleet reopens its agent session to add an instance; agent/session.py keeps a long poll of
# the old session from moving the new one's feed position, so the new instance's tasks reach
# it whenever they are placed.)
SETTLE = 0.0


def waiting(tx: Tx, cluster_arn: str) -> list[Task]:
    """The cluster's tasks waiting PROVISIONING on no instance."""
    rows = tx.scan(task_ops.TABLE, where={"cluster": cluster_arn, **WAITING})
    return [from_doc(Task, doc) for _, doc in rows]


def _demand(task: Task) -> Demand:
    r = task.reservation
    return Demand(r.cpu, r.memory, tuple(r.ports_tcp), tuple(r.ports_udp))


def _rules(
    op: Op, tx: Tx, cluster: Cluster, group: str
) -> tuple[list[PlacementConstraint], list[PlacementStrategy], Sequence[PlacementStrategy]]:
    """(constraints, strategy, default strategy) the group's tasks are placed with."""
    if group.startswith("service:"):
        arn = service_ops.service_arn(op, cluster, group.split(":", 1)[1])
        service = service_ops.load(tx, arn)
        if service is not None:
            return (
                list(service.placement_constraints),
                list(service.placement_strategy),
                strategies.SERVICE_DEFAULT,
            )
        return [], [], strategies.SERVICE_DEFAULT
    return [], [], strategies.RUN_TASK_DEFAULT


def _settled(tx: Tx, cluster_arn: str, now: float) -> frozenset[str]:
    """The cluster's ACTIVE instances registered at least SETTLE seconds ago."""
    rows = tx.scan(inst_ops.TABLE, where={"cluster": cluster_arn, "status": "ACTIVE"})
    return frozenset(
        arn
        for arn, doc in rows
        if not doc.get("fargate") and now - float(doc.get("registeredAt") or 0) >= SETTLE
    )


def _stop_waiting(tx: Tx, task: Task, now: float) -> None:
    task.last_status = TaskStatus.STOPPED
    task.stopped_at = task.stopped_at or now
    task.execution_stopped_at = task.execution_stopped_at or now
    for c in task.containers:
        c.last_status = ContainerStatus.STOPPED
    task_ops.save(tx, task)
    task_ops.release(tx, task)  # its ENI, if it has one


def place_waiting(op: Op, tx: Tx, cluster: Cluster, tasks: Sequence[Task]) -> int:
    """Place what can be placed of `tasks` (the cluster's waiting ones); how many were."""
    now = op.now()
    batches: dict[tuple[Any, ...], list[Task]] = {}
    for task in tasks:
        if task.desired_status == TaskStatus.STOPPED:
            _stop_waiting(tx, task, now)
            continue
        d = _demand(task)
        key = (task.task_definition_arn, task.group or "", task.capacity_provider_name,
               task.launch_type or "EC2", d)  # fmt: skip
        batches.setdefault(key, []).append(task)
    ready = _settled(tx, cluster.arn, now)
    placed = 0
    touched: dict[str, ContainerInstance] = {}
    if not ready:
        return 0
    for (td_arn, group, provider, launch_type, demand), batch in batches.items():
        td = taskdefs.find(op, tx, td_arn)
        if td is None:
            continue
        constraints, strategy, default = _rules(op, tx, cluster, group)
        try:
            rules, strategy = placement.check_rules(constraints, strategy, td)
            chosen, _ = placement.choose(
                op,
                tx,
                cluster,
                td,
                demand,
                [(launch_type, provider)] * len(batch),
                group=group,
                rules=rules,
                strategy=strategy,
                default_strategy=default,
                rng=op.world.rng,
                pinned=ready,
            )
        except PortsideError:
            continue  # the provider stopped scaling, or has no instance: they wait on
        for task, inst in zip(batch, chosen, strict=True):
            if inst is None:
                continue
            touched[inst.arn] = inst
            task.instance_arn = inst.arn
            task.availability_zone = inst.attribute("ecs.availability-zone")
            if (td.spec.get("networkMode") or "bridge") != "awsvpc":
                task.last_status = TaskStatus.PENDING
            task_ops.save(tx, task)
            placed += 1
    for inst in touched.values():
        inst_ops.save(tx, inst, bump=False)  # reservations: no new version of the instance
    return placed
