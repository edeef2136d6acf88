"""Prometheus HTTP service discovery of the exporters in ECS tasks: which ports of a running
task are scrape targets, where Prometheus reaches them, and the labels they carry. Pure: a
task document, its task definition's spec and its instance's address in, target groups out.

The convention is the CloudWatch agent's ECS service discovery (docker label mode): a
container definition whose `dockerLabels` hold `PROMETHEUS_EXPORTER_PORT` exports on that
container port; `PROMETHEUS_EXPORTER_PATH` is its metrics path (`__metrics_path__`,
/metrics by default) and `PROMETHEUS_EXPORTER_JOB_NAME` its job. Portside also takes the
port by its portMappings `name` (the label's value, or a `port_name` the request asks for).

Where a port is reached, as ECS registers a load balancer target: awsvpc, the task's ENI
address and the container port; bridge, the instance's address and the host port Docker
bound (a port not published is not reachable from outside: no target); host, the instance's
address and the container port.

The document is `http_sd_configs`' format: a list of {"targets": ["host:port"], "labels":
{...}}, every label value a string.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

PORT_LABEL = "PROMETHEUS_EXPORTER_PORT"
PATH_LABEL = "PROMETHEUS_EXPORTER_PATH"
JOB_LABEL = "PROMETHEUS_EXPORTER_JOB_NAME"
DEFAULT_PATH = "/metrics"


@dataclass(frozen=True, slots=True)
class Ask:
    """What a discovery request selects: clusters (names or ARNs; empty: every cluster),
    services (names; empty: every task) and a portMappings name every container exports on."""

    clusters: frozenset[str] = frozenset()
    services: frozenset[str] = frozenset()
    port_name: str | None = None

    def wants_cluster(self, cluster_arn: str) -> bool:
        return not self.clusters or bool({cluster_arn, _name(cluster_arn)} & self.clusters)

    def wants_service(self, service: str) -> bool:
        return not self.services or service in self.services


def targets(
    task: Mapping[str, Any],
    spec: Mapping[str, Any],
    instance_address: str | None,
    ask: Ask = Ask(),
) -> list[dict[str, Any]]:
    """The target groups of one RUNNING task: one per exporting container port."""
    group = str(task.get("group") or "")
    service = group[len("service:") :] if group.startswith("service:") else ""
    if not ask.wants_cluster(str(task.get("clusterArn") or "")) or not ask.wants_service(service):
        return []
    mode = network_mode(spec, str(task.get("launchType") or ""))
    running = {str(c.get("name")): c for c in task.get("containers") or ()}
    found = []
    for definition in spec.get("containerDefinitions") or ():
        name = str(definition.get("name") or "")
        container = running.get(name)
        if container is None or container.get("lastStatus") != "RUNNING":
            continue
        labels = {str(k): str(v) for k, v in (definition.get("dockerLabels") or {}).items()}
        for port in exporter_ports(definition, labels, ask.port_name):
            address = reach(mode, port, task, container, instance_address)
            if address is None:
                continue
            found.append(
                {
                    "targets": [address],
                    "labels": _labels(task, service, name, mode, port, labels),
                }
            )
    return found


def document(groups: Iterable[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """Every task's groups as one SD document, in a stable order (by target)."""
    flat = [g for groups_of_task in groups for g in groups_of_task]
    return sorted(flat, key=lambda g: (g["targets"][0], g["labels"].get("__metrics_path__", "")))


def network_mode(spec: Mapping[str, Any], launch_type: str) -> str:
    """The task definition's network mode; ECS's default on Linux is bridge (FARGATE's is
    awsvpc, the only mode it accepts)."""
    given = spec.get("networkMode")
    if given:
        return str(given)
    return "awsvpc" if launch_type == "FARGATE" else "bridge"


def exporter_ports(
    definition: Mapping[str, Any], labels: Mapping[str, str], port_name: str | None
) -> list[int]:
    """The container ports a container exports metrics on: its PROMETHEUS_EXPORTER_PORT
    (a number, or a portMappings name) and the mapping named `port_name`."""
    mappings = [m for m in definition.get("portMappings") or () if m.get("containerPort")]
    wanted: list[int] = []
    given = labels.get(PORT_LABEL, "").strip()
    if given.isdigit():
        wanted.append(int(given))
    elif given:
        wanted += [int(m["containerPort"]) for m in mappings if m.get("name") == given]
    if port_name:
        wanted += [int(m["containerPort"]) for m in mappings if m.get("name") == port_name]
    return sorted(set(p for p in wanted if 0 < p < 65536))


def reach(
    mode: str,
    port: int,
    task: Mapping[str, Any],
    container: Mapping[str, Any],
    instance_address: str | None,
) -> str | None:
    """ "host:port" where Prometheus reaches a container port, or None while it cannot be
    said (no ENI address yet, the port not published)."""
    if mode == "awsvpc":
        address = private_ip(task, container)
        return f"{address}:{port}" if address else None
    if not instance_address:
        return None
    if mode == "host":
        return _join(instance_address, port)
    bound = [
        b
        for b in container.get("networkBindings") or ()
        if b.get("containerPort") == port
        and b.get("hostPort")
        and (b.get("protocol") or "tcp") == "tcp"
    ]
    # Docker may bind IPv4 and IPv6 to different host ports: the instance is reached on IPv4.
    bound.sort(key=lambda b: ":" in str(b.get("bindIP") or ""))
    return _join(instance_address, int(bound[0]["hostPort"])) if bound else None


def private_ip(task: Mapping[str, Any], container: Mapping[str, Any]) -> str | None:
    """An awsvpc task's address: its container's interface, else the ENI attachment's."""
    for nic in container.get("networkInterfaces") or ():
        if nic.get("privateIpv4Address"):
            return str(nic["privateIpv4Address"])
    for attachment in task.get("attachments") or ():
        for detail in attachment.get("details") or ():
            if detail.get("name") == "privateIPv4Address" and detail.get("value"):
                return str(detail["value"])
    return None


def _labels(
    task: Mapping[str, Any],
    service: str,
    container: str,
    mode: str,
    port: int,
    docker_labels: Mapping[str, str],
) -> dict[str, str]:
    family, revision = _family_revision(str(task.get("taskDefinitionArn") or ""))
    labels = {
        "__metrics_path__": docker_labels.get(PATH_LABEL) or DEFAULT_PATH,
        "__meta_ecs_cluster": _name(str(task.get("clusterArn") or "")),
        "__meta_ecs_cluster_arn": str(task.get("clusterArn") or ""),
        "__meta_ecs_service": service,
        "__meta_ecs_task_arn": str(task.get("arn") or ""),
        "__meta_ecs_task_group": str(task.get("group") or ""),
        "__meta_ecs_task_definition_family": family,
        "__meta_ecs_task_definition_revision": revision,
        "__meta_ecs_container_name": container,
        "__meta_ecs_container_port": str(port),
        "__meta_ecs_launch_type": str(task.get("launchType") or ""),
        "__meta_ecs_availability_zone": str(task.get("availabilityZone") or ""),
        "__meta_ecs_network_mode": mode,
    }
    instance = str(task.get("instanceArn") or "")
    if instance and task.get("launchType") != "FARGATE":  # FARGATE's capacity is hidden
        labels["__meta_ecs_container_instance_arn"] = instance
    job = docker_labels.get(JOB_LABEL)
    if job:
        labels["job"] = job
    for key, value in docker_labels.items():
        labels["__meta_ecs_container_label_" + _label_name(key)] = value
    return labels


def _family_revision(arn: str) -> tuple[str, str]:
    tail = arn.rsplit("/", 1)[-1]
    family, _, revision = tail.rpartition(":")
    return (family, revision) if family else (tail, "")


def _name(arn: str) -> str:
    return arn.rsplit("/", 1)[-1]


def _join(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _label_name(key: str) -> str:
    """A docker label's key as a Prometheus label name: anything but [a-zA-Z0-9_] is `_`."""
    return "".join(ch if ch.isascii() and (ch.isalnum() or ch == "_") else "_" for ch in key)


def parse_ask(clusters: Sequence[str], services: Sequence[str], port_name: str | None) -> Ask:
    """An `Ask` from the request's query (`cluster` and `service` may repeat or be
    comma-separated)."""

    def split(values: Sequence[str]) -> frozenset[str]:
        return frozenset(v.strip() for value in values for v in value.split(",") if v.strip())

    return Ask(split(clusters), split(services), (port_name or "").strip() or None)
