"""Service tasks in their load balancers' target groups (ECS's load balancer integration).

A service task is registered in each of its service's target groups once it is RUNNING and
wanted RUNNING, as ECS registers it:

- bridge: the container instance's EC2 instance id, and the host port Docker bound to the
  load balancer's containerName/containerPort (the container's networkBindings);
- host: the instance, and the container port;
- awsvpc: the task's private IP address (its ENI), and the container port (`ip` groups).

Which task registered which target is kept in `service_targets` (ops/service_targets.py). A
task's stop deregisters its targets in the stop's own transaction (ops/tasks.stop) and holds
the container's stop while they drain; this loop tells the service (ECS's events), ends the
hold once the deregistration delay has passed, deregisters the targets of tasks that stopped
without being asked (a container that exited) and of services deleted, and copies each
target's ELB health into its row, where the service scheduler reads it.

`plan` decides (pure); `TargetsLoop.step` reads the store, plans and applies, in one
transaction so a stop cannot slip between what was read and what is written.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from portside.controllers.loop import Loop, Loops
from portside.controllers.native_deployments import routing as native_routing
from portside.elb import registrations
from portside.elb.registrations import Target
from portside.model.doc import from_doc
from portside.model.service import INACTIVE, Service
from portside.model.states import TaskStatus
from portside.ops import service_targets
from portside.ops import tasks as task_ops
from portside.ops.context import World
from portside.ops.service_targets import Row
from portside.ops.services import save as save_service
from portside.ops.task_sets import task_set_balancers
from portside.store.base import Tx

log = logging.getLogger("portside.targets")

# What can change a registration, a hold or a target's health.
_WATCHED = (
    "tasks",
    "services",
    "service_targets",
    "elb_target_health",
    "elb_targets",
    "elb_target_groups",
    "elb_rules",
    "ecs_task_sets",
)
_FEED_PAGE = 20000


# -- the decision (pure) --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Wanted:
    """A RUNNING service task and the targets it should be registered as."""

    task_arn: str
    service_arn: str
    targets: tuple[Target, ...]
    zone: str


@dataclass(slots=True)
class Plan:
    register: list[tuple[Row, str]] = field(default_factory=list)  # (row, availability zone)
    deregister: list[Row] = field(default_factory=list)  # deregister now, forget the row
    forget: list[Row] = field(default_factory=list)  # the row only
    update: list[Row] = field(default_factory=list)
    release: list[str] = field(default_factory=list)  # tasks whose held stop goes on now
    events: list[tuple[str, str]] = field(default_factory=list)  # (service ARN, message)
    due: float | None = None  # the next hold to end

    def empty(self) -> bool:
        return not (
            self.register
            or self.deregister
            or self.forget
            or self.update
            or self.release
            or self.events
        )


def service_name(service_arn: str) -> str:
    return service_arn.rsplit("/", 1)[-1]


def registered_event(service: str, count: int, group: str) -> str:
    return f"(service {service}) registered {count} targets in (target-group {group})"


def deregistered_event(service: str, count: int, group: str) -> str:
    return f"(service {service}) deregistered {count} targets in (target-group {group})"


def draining_event(service: str, count: int) -> str:
    return f"(service {service}) has begun draining connections on {count} tasks."


def plan(
    wanted: Sequence[Wanted],
    rows: Sequence[Row],
    health: Mapping[Target, str],
    now: float,
) -> Plan:
    """What to register, deregister and say, from the tasks that should be registered, the
    rows held, and each registered target's ELB state."""
    out = Plan()
    live = {(r.task_arn, r.target): r for r in rows if not r.deregistered}
    want = {(w.task_arn, t): w for w in wanted for t in w.targets}
    registered: dict[tuple[str, str], int] = {}
    deregistered: dict[tuple[str, str], int] = {}
    draining: dict[str, set[str]] = {}

    for (task, target), w in sorted(want.items()):
        held = live.get((task, target))
        if held is None:
            out.register.append((Row(task, w.service_arn, target), w.zone))
            key = (w.service_arn, target.group)
            registered[key] = registered.get(key, 0) + 1
        elif held.health != health.get(target, held.health):
            out.update.append(replace(held, health=health.get(target)))
    for (task, target), row in sorted(live.items()):
        if (task, target) not in want:
            out.deregister.append(row)
            key = (row.service_arn, target.group)
            deregistered[key] = deregistered.get(key, 0) + 1

    releases: set[str] = set()
    for row in sorted((r for r in rows if r.deregistered), key=lambda r: r.key):
        holding = row.hold_until is not None and row.hold_until > now
        if not row.announced:
            key = (row.service_arn, row.target.group)
            deregistered[key] = deregistered.get(key, 0) + 1
            if row.hold_until is not None:
                draining.setdefault(row.service_arn, set()).add(row.task_arn)
        if holding:
            if not row.announced:
                out.update.append(replace(row, announced=True))
            assert row.hold_until is not None
            out.due = row.hold_until if out.due is None else min(out.due, row.hold_until)
        else:
            out.forget.append(row)
            if row.hold_until is not None:
                releases.add(row.task_arn)
    out.release = sorted(releases)

    services = sorted({s for s, _ in registered} | {s for s, _ in deregistered} | set(draining))
    for service in services:
        name = service_name(service)
        for (s, group), n in sorted(registered.items()):
            if s == service:
                out.events.append((service, registered_event(name, n, group)))
        for (s, group), n in sorted(deregistered.items()):
            if s == service:
                out.events.append((service, deregistered_event(name, n, group)))
        if draining.get(service):
            out.events.append((service, draining_event(name, len(draining[service]))))
    return out


# -- where a task is reached ----------------------------------------------------------------


def target_of(
    task: Mapping[str, Any],
    network_mode: str,
    ec2_instance_id: str | None,
    group: registrations.Group,
    container_name: str,
    container_port: int,
) -> Target | None:
    """The target a RUNNING task is registered as in `group` for one of its service's load
    balancers; None while it cannot be said yet (no host port bound, no IP) or ever (the
    group's target type does not fit the network mode)."""
    container = next(
        (c for c in task.get("containers") or () if c.get("name") == container_name), None
    )
    if container is None:
        return None
    if network_mode == "awsvpc":
        if group.target_type != "ip":
            return None
        address = _private_ip(task, container)
        return Target(group.arn, address, container_port) if address else None
    if group.target_type != "instance" or not ec2_instance_id:
        return None
    if network_mode == "host":
        return Target(group.arn, ec2_instance_id, container_port)
    bound = [
        b
        for b in container.get("networkBindings") or ()
        if b.get("containerPort") == container_port
        and b.get("hostPort")
        and (b.get("protocol") or "tcp") == "tcp"
    ]
    # Docker may bind IPv4 and IPv6 to different host ports: the instance is reached on IPv4.
    bound.sort(key=lambda b: ":" in str(b.get("bindIP") or ""))
    return Target(group.arn, ec2_instance_id, int(bound[0]["hostPort"])) if bound else None


def _private_ip(task: Mapping[str, Any], container: Mapping[str, Any]) -> str | None:
    for nic in container.get("networkInterfaces") or ():
        if nic.get("privateIpv4Address"):
            return str(nic["privateIpv4Address"])
    for attachment in task.get("attachments") or ():
        for detail in attachment.get("details") or ():
            if detail.get("name") == "privateIPv4Address" and detail.get("value"):
                return str(detail["value"])
    return None


# -- the loop -------------------------------------------------------------------------------


class TargetsLoop:
    def __init__(self, world: World) -> None:
        self.world = world
        self._after = world.store.last_seq()
        self._due: float | None = None
        self._first = True
        self._modes: dict[str, str] = {}

    def register(self, loops: Loops) -> Loop:
        return loops.add("targets", self.step, interval=0.0, retry_after=1.0, log=log)

    def step(self) -> float:
        """Wait up to 1 s for a change that matters (or a hold to end), then one pass."""
        store = self.world.store
        store.wait(self._after, 1.0, tables=_WATCHED)
        upto = store.last_seq()
        changes = store.changes_raw(self._after, limit=_FEED_PAGE, tables=_WATCHED, upto=upto)
        self._after = changes[-1].seq if len(changes) == _FEED_PAGE else max(self._after, upto)
        now = self.world.clock()
        due = self._due is not None and now >= self._due
        if changes or due or self._first:
            self._first = False
            self.run_once()
        return 0.0

    def run_once(self) -> Plan:
        """Plan on a read; when there is something to do, plan again and apply in one write
        transaction (most passes find nothing, and take no writer's lock for it)."""
        now = self.world.clock()
        with self.world.store.read() as tx:
            found = self._plan(tx, now)
        if not found.empty():
            with self.world.store.transaction() as tx:
                found = self._plan(tx, now)
                if not found.empty():
                    self._apply(tx, found, now)
        self._due = found.due
        return found

    def _plan(self, tx: Tx, now: float) -> Plan:
        rows = service_targets.every(tx)
        targets = {r.target for r in rows if not r.deregistered}
        return plan(self._wanted(tx), rows, registrations.states(tx, targets, now), now)

    # -- reading ---------------------------------------------------------------------------

    def _network_mode(self, tx: Tx, definition: str) -> str:
        mode = self._modes.get(definition)
        if mode is None:
            doc = tx.get("task_definitions", definition)
            mode = str(((doc or {}).get("spec") or {}).get("networkMode") or "bridge")
            if doc is not None:
                self._modes[definition] = mode
        return mode

    def _wanted(self, tx: Tx) -> list[Wanted]:
        out: list[Wanted] = []
        groups: dict[str, registrations.Group | None] = {}
        instances: dict[str, str | None] = {}
        for arn, doc in tx.scan("services"):
            balancers = [lb for lb in doc.get("loadBalancers") or () if lb.get("targetGroupArn")]
            # EXTERNAL and CODE_DEPLOY: a task registers in its task set's groups.
            per_set = task_set_balancers(tx, arn, doc)
            if per_set is None:  # ECS's native blue/green: a deployment's groups
                per_set = native_routing.balancers_by_deployment(doc)
            if not (balancers or per_set) or doc.get("status") == INACTIVE:
                continue
            where = {
                "cluster": doc["clusterArn"],
                "grp": f"service:{doc['name']}",
                "status": TaskStatus.RUNNING,
            }
            for task_arn, task in tx.scan("tasks", where=where):
                if task.get("desiredStatus") != TaskStatus.RUNNING:
                    continue
                mode = self._network_mode(tx, task["taskDefinitionArn"])
                instance = str(task.get("instanceArn") or "")
                if instance not in instances:
                    inst = tx.get("container_instances", instance)
                    instances[instance] = (inst or {}).get("ec2InstanceId")
                found: list[Target] = []
                if per_set is not None:
                    balancers = per_set.get(str(task.get("startedBy") or ""), [])
                for lb in balancers:
                    tg = lb["targetGroupArn"]
                    if tg not in groups:
                        groups[tg] = registrations.group(tx, tg)
                    group = groups[tg]
                    if group is None:
                        continue
                    target = target_of(
                        task,
                        mode,
                        instances[instance],
                        group,
                        str(lb.get("containerName")),
                        int(lb.get("containerPort") or 0),
                    )
                    if target is not None:
                        found.append(target)
                zone = task.get("availabilityZone") or f"{arn.split(':')[3]}a"
                out.append(Wanted(task_arn, arn, tuple(found), zone))
        return out

    # -- writing ---------------------------------------------------------------------------

    def _apply(self, tx: Tx, found: Plan, now: float) -> None:
        for row, zone in found.register:
            registrations.register(tx, [row.target], now, zone)
        service_targets.put(tx, [row for row, _ in found.register])
        registrations.deregister(tx, [r.target for r in found.deregister], now)
        service_targets.delete(tx, [*found.deregister, *found.forget])
        service_targets.put(tx, found.update)
        for task_arn in found.release:
            task = task_ops.load(tx, task_arn)
            if task is not None and task.stop_held_until is not None:
                task.stop_held_until = None
                task_ops.save(tx, task)
        self._tell(tx, found.events, now)

    def _tell(self, tx: Tx, events: Iterable[tuple[str, str]], now: float) -> None:
        by_service: dict[str, list[str]] = {}
        for service_arn, message in events:
            by_service.setdefault(service_arn, []).append(message)
        for service_arn, messages in by_service.items():
            doc = tx.get("services", service_arn)
            if doc is None:
                continue
            service = from_doc(Service, doc)
            for message in messages:
                raw = self.world.new_id()
                event_id = "-".join((raw[:8], raw[8:12], raw[12:16], raw[16:20], raw[20:32]))
                service.add_event(event_id, now, message)
            save_service(tx, service)
