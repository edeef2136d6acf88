"""Service tasks in their Cloud Map services (ECS's `serviceRegistries`).

A service task is registered as an instance of its service's registry once it is RUNNING,
wanted RUNNING and, when its task definition has container health checks, HEALTHY (then its
container health is kept as the instance's: `plan`); with
the attributes ECS gives (`attributes`): AWS_INSTANCE_IPV4 (awsvpc: the task's ENI address;
bridge and host: the container instance's address), AWS_INSTANCE_PORT (the registry's port
or containerPort; bridge: the host port Docker bound to containerName/containerPort),
AVAILABILITY_ZONE, AWS_INIT_HEALTH_STATUS, ECS_CLUSTER_NAME, ECS_SERVICE_NAME,
ECS_TASK_DEFINITION_FAMILY, REGION and, on an instance, EC2_INSTANCE_ID. The instance id is
the task id.

A task's stop deregisters it in the stop's own transaction (ops/tasks.stop), so its name
goes before its containers stop; this loop deregisters tasks that stopped without being
asked, tasks of deleted services or of a registry the service no longer names.

`plan` decides (pure); `RegistriesLoop.step` reads, plans and applies in one transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from portside.controllers.loop import Loop, Loops
from portside.ec2.host_view import instance_address
from portside.errors import RequestError
from portside.model.service import INACTIVE
from portside.model.states import TaskStatus
from portside.ops.context import World
from portside.servicediscovery import registrations
from portside.store.base import Tx

log = logging.getLogger("portside.registries")

_WATCHED = ("tasks", "services", "sd_services", "sd_instances")
_FEED_PAGE = 20000


@dataclass(frozen=True, slots=True)
class Wanted:
    """A RUNNING service task, its registry and what it would be registered with."""

    task_arn: str
    registry_arn: str
    attributes: Mapping[str, str]
    health: str | None = None  # its container health (None: no container health checks)
    custom: bool = False  # the registry keeps a custom health status (HealthCheckCustomConfig)


@dataclass(slots=True)
class Plan:
    register: list[Wanted] = field(default_factory=list)
    deregister: list[tuple[str, str]] = field(default_factory=list)  # (task, registry)
    health: list[tuple[str, str, str]] = field(default_factory=list)  # (task, registry, state)

    def empty(self) -> bool:
        return not (self.register or self.deregister or self.health)


def plan(wanted: Sequence[Wanted], held: Mapping[str, Mapping[str, str]]) -> Plan:
    """What to register, deregister and mark, from the tasks that could be registered and
    the instances held (task -> registry -> instance health).

    A task with container health checks is registered once HEALTHY; when it turns
    UNHEALTHY its instance is marked so (a registry with a custom health status) or
    deregistered (one without), and it is marked HEALTHY again when it recovers. What is
    held and no longer wanted (stopped, its service gone or no longer naming the registry)
    is deregistered."""
    out = Plan()
    want = {(w.task_arn, w.registry_arn): w for w in wanted}
    for (task, registry), w in sorted(want.items()):
        state = held.get(task, {}).get(registry)
        if state is None:
            if w.health in (None, "HEALTHY"):
                out.register.append(w)
        elif w.health == "UNHEALTHY" and not w.custom:
            out.deregister.append((task, registry))
        elif w.custom and w.health in ("HEALTHY", "UNHEALTHY") and state != w.health:
            out.health.append((task, registry, w.health))
    for task, registries in sorted(held.items()):
        for registry in sorted(registries):
            if (task, registry) not in want:
                out.deregister.append((task, registry))
    return out


def _container(task: Mapping[str, Any], name: str | None) -> Mapping[str, Any] | None:
    for c in task.get("containers") or ():
        if name is None or c.get("name") == name:
            return c
    return None


def _task_address(task: Mapping[str, Any]) -> str | None:
    for attachment in task.get("attachments") or ():
        for detail in attachment.get("details") or ():
            if detail.get("name") == "privateIPv4Address" and detail.get("value"):
                return str(detail["value"])
    return None


def attributes(
    task: Mapping[str, Any],
    item: Mapping[str, Any],
    mode: str,
    instance: Mapping[str, Any] | None,
    service_name: str,
    needs_port: bool,
) -> dict[str, str] | None:
    """The instance attributes ECS registers a task with; None while they cannot be said
    (no address, no bound host port yet)."""
    arn = task["taskArn"]
    region = arn.split(":")[3]
    if mode == "awsvpc":
        address = _task_address(task)
    else:
        address = (instance_address(instance) if instance else None) or "127.0.0.1"
    if not address:
        return None
    out = {
        "AWS_INSTANCE_IPV4": address,
        "AWS_INIT_HEALTH_STATUS": "HEALTHY",
        "AVAILABILITY_ZONE": str(task.get("availabilityZone") or f"{region}a"),
        "ECS_CLUSTER_NAME": task["clusterArn"].rsplit("/", 1)[-1],
        "ECS_SERVICE_NAME": service_name,
        "ECS_TASK_DEFINITION_FAMILY": task["taskDefinitionArn"]
        .rsplit("/", 1)[-1]
        .rsplit(":", 1)[0],
        "REGION": region,
    }
    if instance and instance.get("ec2InstanceId") and mode != "awsvpc":
        out["EC2_INSTANCE_ID"] = str(instance["ec2InstanceId"])
    port: int | None = item.get("port")
    container_port = item.get("containerPort")
    if container_port is not None:
        port = int(container_port)
        if mode == "bridge":
            container = _container(task, item.get("containerName"))
            bound = [
                b
                for b in (container or {}).get("networkBindings") or ()
                if b.get("containerPort") == port and b.get("hostPort")
            ]
            bound.sort(key=lambda b: ":" in str(b.get("bindIP") or ""))
            if not bound:
                return None
            port = int(bound[0]["hostPort"])
    if port is not None and needs_port:
        out["AWS_INSTANCE_PORT"] = str(port)
    return out


class RegistriesLoop:
    def __init__(self, world: World) -> None:
        self.world = world
        self._after = world.store.last_seq()
        self._first = True
        self._specs: dict[str, dict[str, Any]] = {}

    def register(self, loops: Loops) -> Loop:
        return loops.add("registries", self.step, interval=0.0, retry_after=1.0, log=log)

    def step(self) -> float:
        """Wait up to 1 s for a change that matters, then one pass."""
        store = self.world.store
        store.wait(self._after, 1.0, tables=_WATCHED)
        upto = store.last_seq()
        changes = store.changes_raw(self._after, limit=_FEED_PAGE, tables=_WATCHED, upto=upto)
        self._after = changes[-1].seq if len(changes) == _FEED_PAGE else max(self._after, upto)
        if changes or self._first:
            self._first = False
            self.run_once()
        return 0.0

    def run_once(self) -> Plan:
        with self.world.store.read() as tx:
            found = self._plan(tx)
        if not found.empty():
            with self.world.store.transaction() as tx:
                found = self._plan(tx)
                self._apply(tx, found)
        return found

    def _plan(self, tx: Tx) -> Plan:
        return plan(self._wanted(tx), registrations.registered_tasks(tx))

    def _spec(self, tx: Tx, definition: str) -> dict[str, Any]:
        spec = self._specs.get(definition)
        if spec is None:
            doc = tx.get("task_definitions", definition)
            spec = dict((doc or {}).get("spec") or {})
            if doc is not None:
                self._specs[definition] = spec
        return spec

    def _wanted(self, tx: Tx) -> list[Wanted]:
        out: list[Wanted] = []
        kinds: dict[str, registrations.Registry | None] = {}
        for _, doc in tx.scan("services"):
            items = [i for i in doc.get("serviceRegistries") or () if i.get("registryArn")]
            if not items or doc.get("status") == INACTIVE:
                continue
            where = {
                "cluster": doc["clusterArn"],
                "grp": f"service:{doc['name']}",
                "status": TaskStatus.RUNNING,
            }
            for task_arn, task in tx.scan("tasks", where=where):
                if task.get("desiredStatus") != TaskStatus.RUNNING:
                    continue
                spec = self._spec(tx, task["taskDefinitionArn"])
                checked = any(c.get("healthCheck") for c in spec.get("containerDefinitions") or ())
                health = str(task.get("healthStatus") or "UNKNOWN") if checked else None
                mode = str(spec.get("networkMode") or "bridge")
                instance = tx.get("container_instances", str(task.get("instanceArn") or ""))
                for item in items:
                    arn = item["registryArn"]
                    if arn not in kinds:
                        kinds[arn] = registrations.registry(tx, arn)
                    registry = kinds[arn]
                    if registry is None:
                        continue
                    attrs = attributes(
                        {**task, "taskArn": task_arn},
                        item,
                        mode,
                        instance,
                        doc["name"],
                        "SRV" in registry.record_types,
                    )
                    if attrs is not None:
                        out.append(Wanted(task_arn, arn, attrs, health, registry.custom_health))
        return out

    def _apply(self, tx: Tx, found: Plan) -> None:
        for w in found.register:
            account = w.registry_arn.split(":")[4]
            try:
                registrations.register_task(
                    tx, w.registry_arn, w.task_arn, dict(w.attributes), account
                )
            except RequestError as exc:  # the registry's records need what the task lacks
                log.warning("task %s not registered in %s: %s", w.task_arn, w.registry_arn, exc)
        for task, registry in found.deregister:
            registrations.deregister_task_from(tx, registry, task)
        for task, registry, health in found.health:
            registrations.set_task_health(tx, registry, task, health)
