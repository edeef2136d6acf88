"""The attributes an agent registers its instance with: ECS's defaults and the capabilities
this agent really supports."""

from __future__ import annotations

import platform

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
