"""What one host's Service Connect proxy must serve: its client tasks and, for each namespace
they are in, every name (dnsName and port) with the tasks that answer it.

- A client is a task on the host's instances of an ACTIVE service with Service Connect
  enabled, not asked to stop (wanted RUNNING).
- An endpoint is a `services[]` entry of a service in the namespace: each client alias
  (dnsName, port), or with none the discoveryName and the container port.
- Its servers are the entry's service tasks that would be registered in Cloud Map:
  RUNNING, wanted RUNNING, HEALTHY when their definition has container health checks; at
  the task's address and the container port (awsvpc), or the host's address and the bound
  host port (bridge). A task asked to stop leaves at once, in the stop's own commit: the
  proxy takes it out before its containers are signalled.

Read straight from tasks, not from Cloud Map's instances, so a stop is seen in the commit
that asks for it (the instances follow through `registrations.py`). `host_view` reads;
`digest` versions the result.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from portside.ec2.host_view import instance_address
from portside.model.service import ACTIVE
from portside.model.states import TaskStatus
from portside.store.base import Tx

WATCHED = ("services", "tasks")


@dataclass(frozen=True, slots=True)
class Endpoint:
    """A name clients reach (`dns_name`:`port`) and the (address, port, task) serving it."""

    namespace: str
    dns_name: str
    port: int
    target: str  # "<service ARN>#<discoveryName>": the backend's identity
    servers: tuple[tuple[str, int, str], ...]


@dataclass(slots=True)
class HostView:
    clients: dict[str, str] = field(default_factory=dict)  # task ARN -> namespace ARN
    endpoints: list[Endpoint] = field(default_factory=list)

    def version(self) -> str:
        return digest(self)


def digest(view: HostView) -> str:
    body = orjson.dumps(
        [sorted(view.clients.items()), [_row(e) for e in view.endpoints]],
        option=orjson.OPT_SORT_KEYS,
    )
    return hashlib.sha256(body).hexdigest()[:16]


def _row(e: Endpoint) -> list[Any]:
    return [e.namespace, e.dns_name, e.port, e.target, [list(s) for s in e.servers]]


def task_address(task: Mapping[str, Any]) -> str | None:
    for attachment in task.get("attachments") or ():
        for detail in attachment.get("details") or ():
            if detail.get("name") == "privateIPv4Address" and detail.get("value"):
                return str(detail["value"])
    return None


def _named_ports(spec: Mapping[str, Any]) -> dict[str, tuple[str, int]]:
    out: dict[str, tuple[str, int]] = {}
    for container in spec.get("containerDefinitions") or ():
        for mapping in container.get("portMappings") or ():
            if mapping.get("name") and mapping.get("containerPort") is not None:
                out[str(mapping["name"])] = (str(container["name"]), int(mapping["containerPort"]))
    return out


def serving(
    task: Mapping[str, Any],
    spec: Mapping[str, Any],
    port_name: str,
    instance: Mapping[str, Any] | None,
) -> tuple[str, int] | None:
    """Where a task answers its port `port_name`, or None while it does not (pure)."""
    if task.get("lastStatus") != TaskStatus.RUNNING:
        return None
    if task.get("desiredStatus") != TaskStatus.RUNNING:
        return None
    checked = any(c.get("healthCheck") for c in spec.get("containerDefinitions") or ())
    if checked and task.get("healthStatus") != "HEALTHY":
        return None
    named = _named_ports(spec).get(port_name)
    if named is None:
        return None
    container_name, port = named
    if str(spec.get("networkMode") or "bridge") == "awsvpc":
        address = task_address(task)
        return (address, port) if address else None
    host = instance_address(instance) if instance else None
    for c in task.get("containers") or ():
        if c.get("name") != container_name:
            continue
        for b in c.get("networkBindings") or ():
            if (
                b.get("containerPort") == port
                and b.get("hostPort")
                and ":" not in str(b.get("bindIP") or "")
            ):
                return (host or "127.0.0.1", int(b["hostPort"]))
    return None


def endpoints_of(
    service: Mapping[str, Any], servers: Mapping[str, list[tuple[str, int, str]]]
) -> list[Endpoint]:
    """A service's names: each `services[]` entry's aliases with `servers[portName]` (pure)."""
    connect = service.get("serviceConnect") or {}
    out = []
    for item in connect.get("services") or ():
        target = f"{service['serviceArn']}#{item['discoveryName']}"
        found = tuple(sorted(servers.get(item["portName"]) or ()))
        aliases = item.get("clientAliases") or ()
        if not aliases:
            continue  # no alias: nothing for clients to call it by
        for alias in aliases:
            out.append(
                Endpoint(connect["namespace"], alias["dnsName"], int(alias["port"]), target, found)
            )
    return out


class Reader:
    """Builds host views, keeping task definitions' specs (they never change)."""

    def __init__(self) -> None:
        self._specs: dict[str, dict[str, Any]] = {}

    def spec(self, tx: Tx, arn: str) -> dict[str, Any]:
        spec = self._specs.get(arn)
        if spec is None:
            doc = tx.get("task_definitions", arn)
            spec = dict((doc or {}).get("spec") or {})
            if doc is not None:
                self._specs[arn] = spec
        return spec

    def host_view(self, tx: Tx, instance_arns: Iterable[str]) -> HostView:
        mine = set(instance_arns)
        connected: dict[tuple[str, str], dict[str, Any]] = {}  # (cluster, name) -> service
        for arn, doc in tx.scan("services", where={"status": ACTIVE}):
            connect = doc.get("serviceConnect") or {}
            if connect.get("enabled"):
                connected[(doc["clusterArn"], doc["name"])] = {**doc, "serviceArn": arn}
        view = HostView()
        if not connected:
            return view
        for instance in sorted(mine):
            where = {"instance": instance, "desired": TaskStatus.RUNNING}
            for task_arn, task in tx.scan("tasks", where=where):
                if task.get("desiredStatus") != TaskStatus.RUNNING:
                    continue
                group = str(task.get("group") or "")
                if not group.startswith("service:"):
                    continue
                service = connected.get((task["clusterArn"], group[len("service:") :]))
                if service is not None:
                    view.clients[task_arn] = service["serviceConnect"]["namespace"]
        namespaces = set(view.clients.values())
        instances: dict[str, dict[str, Any] | None] = {}
        for (cluster, name), service in sorted(connected.items()):
            connect = service["serviceConnect"]
            if connect["namespace"] not in namespaces or not connect.get("services"):
                continue
            servers: dict[str, list[tuple[str, int, str]]] = {}
            where = {"cluster": cluster, "grp": f"service:{name}", "status": TaskStatus.RUNNING}
            for task_arn, task in tx.scan("tasks", where=where):
                spec = self.spec(tx, task["taskDefinitionArn"])
                host = str(task.get("instanceArn") or "")
                if host not in instances:
                    instances[host] = tx.get("container_instances", host) if host else None
                for item in connect["services"]:
                    found = serving(task, spec, item["portName"], instances[host])
                    if found is not None:
                        servers.setdefault(item["portName"], []).append((*found, task_arn))
            view.endpoints.extend(endpoints_of(service, servers))
        view.endpoints.sort(key=lambda e: (e.namespace, e.dns_name, e.port, e.target))
        return view
