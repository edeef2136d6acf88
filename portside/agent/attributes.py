"""The attributes an agent registers its instance with: ECS's defaults and the capabilities
this agent really supports."""

from __future__ import annotations

import ipaddress
import platform
import socket
from collections.abc import Mapping
from urllib.parse import urlsplit

DOCKER_API_VERSIONS = [f"1.{n}" for n in range(17, 45)]
LOG_DRIVERS = ("json-file", "syslog", "journald", "gelf", "fluentd", "awslogs", "none")
CAPABILITIES = (
    "ecs.capability.task-eni",
    "ecs.capability.container-health-check",
    "ecs.capability.container-ordering",
    "ecs.capability.execution-role-awslogs",
    "ecs.capability.task-cpu-mem-limit",
    "ecs.capability.pid-ipc-namespace-sharing",
    "ecs.capability.docker-plugin.local",
    "ecs.capability.full-sync",
    "ecs.capability.increased-task-cpu-limit",
    "com.amazonaws.ecs.capability.privileged-container",
    "com.amazonaws.ecs.capability.task-iam-role",
    "com.amazonaws.ecs.capability.task-iam-role-network-host",
    "com.amazonaws.ecs.capability.ecr-auth",
    "ecs.capability.execution-role-ecr-pull",
    # secrets, secretOptions and repositoryCredentials, resolved through the control plane
    "ecs.capability.secrets.asm.environment-variables",
    "ecs.capability.secrets.ssm.environment-variables",
    "ecs.capability.secrets.asm.bootstrap.log-driver",
    "ecs.capability.secrets.ssm.bootstrap.log-driver",
    "ecs.capability.private-registry-authentication.secretsmanager",
)


# Where other hosts reach this one (its underlay address: load balancers' targets, subnets
# across hosts), as EC2 gives an instance's private IP: `--attribute ecs.private-ip=ADDRESS`,
# else the address this host reaches its control plane from.
PRIVATE_IP = "ecs.private-ip"


def route_source(endpoint: str) -> str | None:
    """The IPv4 address this host sends from to `endpoint`'s host (no packet is sent: a UDP
    socket's connect picks the route); None for loopback or when there is no route."""
    parts = urlsplit(endpoint)
    try:
        found = socket.getaddrinfo(parts.hostname, parts.port or 80, socket.AF_INET)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.connect(found[0][4])
            address = str(sock.getsockname()[0])
    except (OSError, IndexError, ValueError):
        return None
    return None if ipaddress.ip_address(address).is_loopback else address


def with_private_ip(given: Mapping[str, str], endpoint: str) -> dict[str, str]:
    """The custom attributes with PRIVATE_IP added from the route to the control plane when
    not given (an agent on the control plane's host reaching it through loopback gives none:
    load balancers then reach it at loopback, and no other host can reach it)."""
    out = dict(given)
    if PRIVATE_IP not in out:
        found = route_source(endpoint)
        if found:
            out[PRIVATE_IP] = found
    return out


def architecture() -> str:
    machine = platform.machine().lower()
    return {"aarch64": "arm64", "amd64": "x86_64"}.get(machine, machine)


def default_attributes(
    zone: str, instance_type: str, extra: dict[str, str] | None = None
) -> list[dict[str, str]]:
    attrs: list[dict[str, str]] = [
        {"name": "ecs.os-type", "value": "linux"},
        {"name": "ecs.os-family", "value": "LINUX"},
        {"name": "ecs.cpu-architecture", "value": architecture()},
        {"name": "ecs.availability-zone", "value": zone},
        {"name": "ecs.instance-type", "value": instance_type},
    ]
    attrs += [
        {"name": f"com.amazonaws.ecs.capability.docker-remote-api.{v}"} for v in DOCKER_API_VERSIONS
    ]
    attrs += [{"name": f"com.amazonaws.ecs.capability.logging-driver.{d}"} for d in LOG_DRIVERS]
    attrs += [{"name": c} for c in CAPABILITIES]
    for name, value in (extra or {}).items():
        attrs.append({"name": name, "value": value})
    return attrs
