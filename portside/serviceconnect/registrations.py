"""Service Connect tasks as Cloud Map instances: each task serving a `services[]` entry is an
instance of the entry's discovery service (id: the task id), as ECS registers them, with
AWS_INSTANCE_IPV4 and AWS_INSTANCE_PORT (where the proxy reaches it: `view.serving`) and
ECS's attributes (AVAILABILITY_ZONE, ECS_CLUSTER_NAME, ECS_SERVICE_NAME,
ECS_TASK_DEFINITION_FAMILY, REGION). A task asked to stop, stopped, unhealthy or of a
service no longer naming the entry is deregistered.

The instances are written through `servicediscovery/instances.put` and `remove`, without
the `Task` mark the ECS service-registries loop (controllers/registries.py) keeps for its
own instances: that loop deregisters every marked instance it did not register. The proxy
does not read these instances (view.py reads tasks, so a stop takes effect in its own
commit); they are what DiscoverInstances and ListInstances show. The Cloud Map services
ECS made (`config.MANAGED`) go once no ACTIVE or DRAINING service names them and their
instances are gone, so a namespace is left as it was before (DeleteNamespace then works).

`plan` is pure; `ConnectRegistrations.step` waits for a change, plans, applies in one
transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from portside.controllers.loop import Loop, Loops
from portside.errors import RequestError
from portside.model.service import ACTIVE, DRAINING
from portside.model.states import TaskStatus
from portside.ops.context import World
from portside.serviceconnect.config import MANAGED
from portside.serviceconnect.view import Reader, serving
from portside.servicediscovery import instances as sd_instances
from portside.servicediscovery import records as sd_records
from portside.store.base import Document, Tx

log = logging.getLogger("portside.service-connect")

_WATCHED = ("tasks", "services", "sd_services")
_FEED_PAGE = 20000

Key = tuple[str, str]  # (discovery service ARN, instance id)


@dataclass(slots=True)
class Plan:
    register: dict[Key, dict[str, str]] = field(default_factory=dict)
    deregister: list[Key] = field(default_factory=list)
    delete: list[str] = field(default_factory=list)  # ECS-made Cloud Map services no one names

    def empty(self) -> bool:
        return not (self.register or self.deregister or self.delete)


def plan(wanted: Mapping[Key, dict[str, str]], held: Mapping[Key, dict[str, str]]) -> Plan:
    """Register what is wanted and not held with the same attributes; deregister what is
    held and no longer wanted (pure)."""
    out = Plan()
    for key, attrs in sorted(wanted.items()):
        if held.get(key) != attrs:
            out.register[key] = attrs
    out.deregister = sorted(k for k in held if k not in wanted)
    return out


def attributes(
    task_arn: str, task: Mapping[str, Any], service: Mapping[str, Any], where: tuple[str, int]
) -> dict[str, str]:
    region = task_arn.split(":")[3]
    family = str(task["taskDefinitionArn"]).rsplit("/", 1)[-1].rsplit(":", 1)[0]
    return {
        "AWS_INSTANCE_IPV4": where[0],
        "AWS_INSTANCE_PORT": str(where[1]),
        "AVAILABILITY_ZONE": str(task.get("availabilityZone") or f"{region}a"),
        "ECS_CLUSTER_NAME": str(task["clusterArn"]).rsplit("/", 1)[-1],
        "ECS_SERVICE_NAME": str(service["name"]),
        "ECS_TASK_DEFINITION_FAMILY": family,
        "REGION": region,
    }


def _discovery(tx: Tx, arn: str) -> Document | None:
    m = sd_records.ARN.match(arn)
    if m is None or m[3] != "service":
        return None
    return tx.get(sd_records.SERVICES, sd_records.scope(m[1], m[2]) + m[4])


class ConnectRegistrations:
    def __init__(self, world: World) -> None:
        self.world = world
        self.reader = Reader()
        self._after = world.store.last_seq()
        self._first = True

    def register(self, loops: Loops) -> Loop:
        return loops.add("service-connect", self.step, interval=0.0, retry_after=1.0, log=log)

    def step(self) -> float:
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
        wanted: dict[Key, dict[str, str]] = {}
        named: set[str] = set()  # discovery services an ACTIVE or DRAINING service names
        instances: dict[str, dict[str, Any] | None] = {}
        for _, doc in tx.scan("services"):
            if doc.get("status") not in (ACTIVE, DRAINING):
                continue
            connect = doc.get("serviceConnect") or {}
            resources = {
                r["discoveryName"]: r["discoveryArn"]
                for r in doc.get("serviceConnectResources") or ()
            }
            if not connect.get("enabled") or not resources:
                continue
            named.update(resources.values())
            where = {
                "cluster": doc["clusterArn"],
                "grp": f"service:{doc['name']}",
                "status": TaskStatus.RUNNING,
            }
            for task_arn, task in tx.scan("tasks", where=where):
                spec = self.reader.spec(tx, task["taskDefinitionArn"])
                host = str(task.get("instanceArn") or "")
                if host not in instances:
                    instances[host] = tx.get("container_instances", host) if host else None
                for item in connect.get("services") or ():
                    arn = resources.get(item["discoveryName"])
                    found = serving(task, spec, item["portName"], instances[host])
                    if arn is not None and found is not None:
                        key = (arn, task_arn.rsplit("/", 1)[-1])
                        wanted[key] = attributes(task_arn, task, doc, found)
        held: dict[Key, dict[str, str]] = {}
        out_of_use: list[str] = []
        for _, service in tx.scan(sd_records.SERVICES):
            if service.get("CreatorRequestId") != MANAGED:
                continue
            arn = service["Arn"]
            members = sd_records.instances(tx, service)
            for _, inst in members:
                if not inst.get("Task"):  # (Task: the service-registries loop's)
                    held[(arn, inst["Id"])] = dict(inst.get("Attributes") or {})
            if arn not in named and not any(i.get("Task") for _, i in members):
                out_of_use.append(arn)
        found_plan = plan(wanted, held)
        found_plan.delete = out_of_use
        return found_plan

    def _apply(self, tx: Tx, found: Plan) -> None:
        for (arn, instance_id), attrs in found.register.items():
            service = _discovery(tx, arn)
            if service is None:
                continue
            try:
                sd_instances.put(tx, service, instance_id, attrs, account=arn.split(":")[4])
            except RequestError as exc:
                log.warning("task %s not registered in %s: %s", instance_id, arn, exc)
        for arn, instance_id in found.deregister:
            service = _discovery(tx, arn)
            if service is not None:
                sd_instances.remove(tx, service, instance_id)
        for arn in found.delete:
            service = _discovery(tx, arn)
            if service is not None and not sd_records.instances(tx, service):
                tx.delete(sd_records.SERVICES, sd_records.service_key(service))
