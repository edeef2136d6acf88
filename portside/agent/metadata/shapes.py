"""The task metadata endpoint's documents (v4, and v3 for ECS_CONTAINER_METADATA_URI), as
pure functions of the facts the agent knows.

The shapes follow the ECS developer guide ("Amazon ECS task metadata V4 JSON response" and
its examples) and the ECS agent's own response types, including what ECS leaves out: a field
Go marshals with `omitempty` is absent when empty, never null. Key order is the agent's
(Go struct order), so a byte-for-byte diff against a real agent only shows values.

Times are epoch seconds as floats; a float carries microseconds, so timestamps are printed
in Go's RFC 3339-with-nanoseconds form (`2020-10-02T00:43:06.31288465Z`: trailing zeros
trimmed, no fraction when it is zero) at microsecond precision.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

# ECS passes container CPU below 2 units to Docker as 2 shares and reports it so.
MIN_CONTAINER_CPU = 2


@dataclass(frozen=True, slots=True)
class PortMeta:
    container_port: int
    protocol: str = "tcp"
    host_port: int = 0
    host_ip: str = ""


@dataclass(frozen=True, slots=True)
class VolumeMeta:
    docker_name: str = ""  # the Docker volume name; empty for bind mounts
    source: str = ""
    destination: str = ""


@dataclass(frozen=True, slots=True)
class NetworkMeta:
    """One network the container is attached to. `mode` is "awsvpc" for the task's ENI,
    otherwise the Docker network's name ("bridge", "host", a user network)."""

    mode: str
    ipv4_addresses: tuple[str, ...] = ()
    ipv6_addresses: tuple[str, ...] = ()
    # awsvpc only: the ENI's properties.
    mac_address: str = ""
    ipv4_subnet_cidr: str = ""  # "10.0.2.0/24"
    ipv4_gateway: str = ""  # "10.0.2.1" or "10.0.2.1/24"; printed with the subnet's prefix
    private_dns_name: str = ""
    dns_servers: tuple[str, ...] = ()
    dns_search_list: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class HealthMeta:
    status: str = "UNKNOWN"  # HEALTHY | UNHEALTHY | UNKNOWN
    since: float | None = None
    exit_code: int = 0  # of the last failed check
    output: str = ""


@dataclass(frozen=True, slots=True)
class ContainerMeta:
    name: str
    runtime_id: str = ""  # empty until the container is created
    docker_name: str = ""
    image: str = ""
    image_id: str = ""  # the image digest, "sha256:..."
    labels: Mapping[str, str] = field(default_factory=dict)
    desired_status: str = "RUNNING"
    known_status: str = "NONE"  # NONE | PULLED | CREATED | RUNNING | STOPPED
    exit_code: int | None = None  # once it has exited
    cpu_units: int = 0
    memory_mib: int | None = None  # the hard limit
    created_at: float | None = None
    started_at: float | None = None
    finished_at: float | None = None
    type: str = "NORMAL"  # ECS's own containers: CNI_PAUSE, ...
    container_arn: str = ""
    log_driver: str = ""
    log_options: Mapping[str, str] = field(default_factory=dict)
    networks: tuple[NetworkMeta, ...] = ()
    ports: tuple[PortMeta, ...] = ()
    volumes: tuple[VolumeMeta, ...] = ()
    health: HealthMeta | None = None  # None when the definition has no health check
    restart_count: int | None = None  # only when a restart policy is enabled


@dataclass(frozen=True, slots=True)
class TaskMeta:
    task_arn: str
    cluster: str  # short name, what an EC2 agent reports
    cluster_arn: str  # what Fargate reports
    family: str
    revision: int
    desired_status: str = "RUNNING"
    known_status: str = "NONE"
    network_mode: str = "bridge"  # bridge | host | none | awsvpc
    cpu_units: int | None = None  # task-level, 1024 per vCPU
    memory_mib: int | None = None  # task-level
    pull_started_at: float | None = None
    pull_stopped_at: float | None = None
    execution_stopped_at: float | None = None
    availability_zone: str = ""
    launch_type: str = "EC2"  # EC2 | FARGATE | EXTERNAL
    service_name: str = ""
    vpc_id: str = ""
    task_tags: Mapping[str, str] | None = None
    instance_tags: Mapping[str, str] | None = None  # None on Fargate: no instance


def rfc3339_nano(t: float) -> str:
    """Go's time.RFC3339Nano for a UTC epoch time, at microsecond precision."""
    micros = round(t * 1_000_000)
    seconds, micro = divmod(micros, 1_000_000)
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
    if micro:
        stamp += "." + f"{micro * 1000:09d}".rstrip("0")
    return stamp + "Z"


def _number(x: float) -> int | float:
    # Go prints a whole float64 without a fraction ("CPU": 10); keep that for clients that
    # decode the field into an integer.
    return int(x) if x.is_integer() else x


def _put(doc: dict[str, Any], key: str, value: Any) -> None:
    """Set `key` unless `value` is empty: Go's `omitempty` (0 and "" count as empty)."""
    if value:
        doc[key] = value


def _put_time(doc: dict[str, Any], key: str, t: float | None) -> None:
    if t is not None:
        doc[key] = rfc3339_nano(t)


def _gateway(gateway: str, cidr: str) -> str:
    if not gateway or "/" in gateway or "/" not in cidr:
        return gateway
    return f"{gateway}/{cidr.split('/', 1)[1]}"


def _network(n: NetworkMeta, version: int) -> dict[str, Any]:
    doc: dict[str, Any] = {"NetworkMode": n.mode}
    _put(doc, "IPv4Addresses", list(n.ipv4_addresses))
    _put(doc, "IPv6Addresses", list(n.ipv6_addresses))
    if n.mode == "awsvpc" and version >= 4:
        doc["AttachmentIndex"] = 0  # one ENI per task
        _put(doc, "MACAddress", n.mac_address)
        _put(doc, "IPv4SubnetCIDRBlock", n.ipv4_subnet_cidr)
        _put(doc, "DomainNameServers", list(n.dns_servers))
        _put(doc, "DomainNameSearchList", list(n.dns_search_list))
        _put(doc, "PrivateDNSName", n.private_dns_name)
        _put(doc, "SubnetGatewayIpv4Address", _gateway(n.ipv4_gateway, n.ipv4_subnet_cidr))
    return doc


def _port(task: TaskMeta, p: PortMeta, version: int) -> dict[str, Any]:
    doc: dict[str, Any] = {}
    _put(doc, "ContainerPort", p.container_port)
    _put(doc, "Protocol", p.protocol)
    # On an ENI the container port is the port; there is no host mapping.
    _put(doc, "HostPort", p.container_port if task.network_mode == "awsvpc" else p.host_port)
    if version >= 4:
        _put(doc, "HostIp", p.host_ip)
    return doc


def _health(h: HealthMeta) -> dict[str, Any]:
    doc: dict[str, Any] = {}
    _put(doc, "status", "" if h.status == "UNKNOWN" else h.status)
    _put_time(doc, "statusSince", h.since)
    _put(doc, "exitCode", h.exit_code)
    _put(doc, "output", h.output)
    return doc


def container_document(task: TaskMeta, c: ContainerMeta, *, version: int = 4) -> dict[str, Any]:
    """`${ECS_CONTAINER_METADATA_URI_V4}`: one container (also each entry of the task's
    Containers). `version=3` drops what only v4 reports."""
    doc: dict[str, Any] = {
        "DockerId": c.runtime_id,
        "Name": c.name,
        "DockerName": c.docker_name,
        "Image": c.image,
        "ImageID": c.image_id,
    }
    _put(doc, "Ports", [_port(task, p, version) for p in c.ports])
    _put(doc, "Labels", dict(c.labels))
    doc["DesiredStatus"] = c.desired_status
    doc["KnownStatus"] = c.known_status
    if c.exit_code is not None:
        doc["ExitCode"] = c.exit_code
    doc["Limits"] = {
        "CPU": _number(float(max(c.cpu_units, MIN_CONTAINER_CPU))),
        "Memory": c.memory_mib or 0,
    }
    _put_time(doc, "CreatedAt", c.created_at)
    _put_time(doc, "StartedAt", c.started_at)
    _put_time(doc, "FinishedAt", c.finished_at)
    doc["Type"] = c.type
    if c.health is not None:
        doc["Health"] = _health(c.health)
    _put(doc, "Volumes", [_volume(v) for v in c.volumes])
    if version >= 4:
        _put(doc, "LogDriver", c.log_driver)
        _put(doc, "LogOptions", dict(c.log_options))
        _put(doc, "ContainerARN", c.container_arn)
    # Network facts exist once the container does; ECS lists a container that is pulled
    # but not yet created without them.
    if c.runtime_id:
        _put(doc, "Networks", [_network(n, version) for n in c.networks])
    if version >= 4 and c.restart_count is not None:
        doc["RestartCount"] = c.restart_count
    return doc


def _volume(v: VolumeMeta) -> dict[str, Any]:
    doc: dict[str, Any] = {}
    _put(doc, "DockerName", v.docker_name)
    _put(doc, "Source", v.source)
    _put(doc, "Destination", v.destination)
    return doc


def task_document(
    task: TaskMeta, containers: list[ContainerMeta], *, with_tags: bool, version: int = 4
) -> dict[str, Any]:
    """`${ECS_CONTAINER_METADATA_URI_V4}/task` (and `/taskWithTags` when `with_tags`)."""
    doc: dict[str, Any] = {
        "Cluster": task.cluster_arn if task.launch_type == "FARGATE" else task.cluster,
        "TaskARN": task.task_arn,
        "Family": task.family,
        "Revision": str(task.revision),
    }
    _put(doc, "DesiredStatus", task.desired_status)
    doc["KnownStatus"] = task.known_status
    limits: dict[str, Any] = {}
    if task.cpu_units:
        limits["CPU"] = _number(task.cpu_units / 1024)
    _put(limits, "Memory", task.memory_mib)
    _put(doc, "Limits", limits)
    _put_time(doc, "PullStartedAt", task.pull_started_at)
    _put_time(doc, "PullStoppedAt", task.pull_stopped_at)
    _put_time(doc, "ExecutionStoppedAt", task.execution_stopped_at)
    _put(doc, "AvailabilityZone", task.availability_zone)
    if with_tags:
        _put(doc, "TaskTags", dict(task.task_tags or {}))
        _put(doc, "ContainerInstanceTags", dict(task.instance_tags or {}))
    if version >= 4:
        _put(doc, "LaunchType", task.launch_type)
    listed = containers
    if version < 4 and task.network_mode != "awsvpc":
        # v3 skips a container whose network settings it cannot read yet.
        listed = [c for c in containers if c.runtime_id]
    _put(doc, "Containers", [container_document(task, c, version=version) for c in listed])
    if version >= 4:
        _put(doc, "VPCID", task.vpc_id)
        _put(doc, "ServiceName", task.service_name)
        # Portside serves no fault-injection endpoints, so this is always false.
        doc["FaultInjectionEnabled"] = False
    return doc


def container_stats_document(stats: Mapping[str, Any], *, version: int = 4) -> dict[str, Any]:
    """`/stats`: Docker's stats as the agent last read them; `network_rate_stats` (bytes per
    second) only on version 4, as the ECS agent adds it there."""
    doc = dict(stats)
    if version < 4:
        doc.pop("network_rate_stats", None)
    return doc


def task_stats_document(
    stats: Mapping[str, Mapping[str, Any] | None], *, version: int = 4
) -> dict[str, Any]:
    """`/task/stats`: DockerId -> Docker's stats; a container whose stats could not be read
    maps to an empty object, as ECS does."""
    return {
        runtime_id: (container_stats_document(s, version=version) if s is not None else {})
        for runtime_id, s in stats.items()
    }
