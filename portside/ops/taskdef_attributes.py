"""What a task definition needs of its hosts: `compatibilities` and `requiresAttributes`.

Both are computed at registration and stored with the revision, as ECS shows them in
DescribeTaskDefinition. `compatibilities` lists the launch types that can run the definition
(whatever requiresCompatibilities asked for); `requiresAttributes` lists the container-instance
attributes placement must find on an instance before it starts a task there.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

Json = dict[str, Any]

_ECR_IMAGE_RE = re.compile(r"^\d{12}\.dkr\.ecr(-fips)?\.[a-z0-9-]+\.amazonaws\.com(\.cn)?/")


# -- compatibilities ----------------------------------------------------------------------


def external_problem(request: Json, containers: list[Json], mode: str) -> str | None:
    """Why ECS Anywhere (EXTERNAL) cannot run this definition, or None.

    ECS Anywhere supports bridge, host and none only, and the agent withholds from external
    instances the attributes for App Mesh, Elastic Inference, fault injection, Service Connect
    and EBS/EFS volumes (amazon-ecs-agent, externalUnsupportedCapabilities)."""
    # wording: ours, throughout
    if mode == "awsvpc":
        return "External compatible task definitions do not support networkMode 'awsvpc'."
    for key in ("proxyConfiguration", "inferenceAccelerators", "enableFaultInjection"):
        if request.get(key):
            return f"External compatible task definitions do not support {key}."
    for volume in request.get("volumes") or []:
        for key in ("efsVolumeConfiguration", "fsxWindowsFileServerVolumeConfiguration"):
            if volume.get(key):
                return f"External compatible task definitions do not support {key}."
        if volume.get("configuredAtLaunch"):
            return "External compatible task definitions do not support configuredAtLaunch."
    for container in containers:
        if any(m.get("appProtocol") for m in container["portMappings"]):
            return "External compatible task definitions do not support Service Connect."
    return None


def compatibilities(
    requires: list[str], fargate_problem: str | None, external_problem: str | None
) -> list[str]:
    # ECS lists them in this order: ["EXTERNAL", "EC2"] for a bridge definition,
    # ["EC2", "FARGATE"] for a Fargate-ready awsvpc one.
    found = ["EXTERNAL"] if external_problem is None else []
    found.append("EC2")
    if fargate_problem is None:
        found.append("FARGATE")
    if "MANAGED_INSTANCES" in requires:
        found.append("MANAGED_INSTANCES")
    return found


# -- requiresAttributes -------------------------------------------------------------------


def required_attributes(request: Json, containers: list[Json], mode: str) -> list[str]:
    """The container-instance attributes a task of this definition needs to be placed.

    A documented subset of ECS's computation: attribute names as the ECS agent registers them
    (agent/app/agent_capability.go), tied to the parameter that needs each one as DescribeTask-
    Definition shows in practice and the API reference's "requires version 1.xx of the Docker
    Remote API" notes."""
    legacy = "com.amazonaws.ecs.capability."
    found: dict[str, None] = {}  # an ordered set

    def need(*names: str) -> None:
        found.update(dict.fromkeys(names))

    execution_role = request.get("executionRoleArn")
    if request.get("taskRoleArn"):
        need(legacy + "task-iam-role")
    if mode == "awsvpc":
        need(legacy + "docker-remote-api.1.18", "ecs.capability.task-eni")
    if request.get("pidMode") or request.get("ipcMode"):
        need("ecs.capability.pid-ipc-namespace-sharing")
    if request.get("proxyConfiguration"):
        need("ecs.capability.aws-appmesh")
    if request.get("enableFaultInjection"):
        need("ecs.capability.fault-injection")
    for volume in request.get("volumes") or []:
        efs = volume.get("efsVolumeConfiguration")
        if efs:
            need("ecs.capability.efs")
            if efs.get("authorizationConfig"):
                need("ecs.capability.efsAuth")
    for container in containers:
        need(*_container_attributes(container, execution_role))
    return list(found)


def _container_attributes(container: Json, execution_role: str | None) -> Iterable[str]:
    legacy = "com.amazonaws.ecs.capability."
    if _ECR_IMAGE_RE.match(container["image"]):
        yield legacy + "ecr-auth"
        if execution_role:
            yield "ecs.capability.execution-role-ecr-pull"
    if container.get("repositoryCredentials"):
        yield "ecs.capability.private-registry-authentication.secretsmanager"
    if container.get("memoryReservation") is not None:
        yield legacy + "docker-remote-api.1.21"
    if container.get("dockerLabels") or container.get("ulimits"):
        yield legacy + "docker-remote-api.1.18"
    if (container.get("linuxParameters") or {}).get("initProcessEnabled"):
        yield legacy + "docker-remote-api.1.25"
    if container.get("privileged"):
        yield legacy + "privileged-container"
    if container.get("healthCheck"):
        yield "ecs.capability.container-health-check"
    if container.get("dependsOn") or "startTimeout" in container or "stopTimeout" in container:
        yield "ecs.capability.container-ordering"
    if container.get("environmentFiles"):
        yield "ecs.capability.env-files.s3"
    if (container.get("restartPolicy") or {}).get("enabled"):
        yield "ecs.capability.container-restart-policy"
    if any(m.get("containerPortRange") for m in container["portMappings"]):
        yield "ecs.capability.network.container-port-range"
    firelens = container.get("firelensConfiguration")
    if firelens:
        yield f"ecs.capability.firelens.{firelens['type']}"
    for secret in container.get("secrets") or []:
        yield f"ecs.capability.secrets.{_secret_store(secret)}.environment-variables"
    config = container.get("logConfiguration")
    if config:
        driver = config["logDriver"]
        yield f"{legacy}logging-driver.{driver}"
        if config.get("options"):
            yield legacy + "docker-remote-api.1.19"
        if driver == "awslogs" and execution_role:
            yield "ecs.capability.execution-role-awslogs"
        for secret in config.get("secretOptions") or []:
            yield f"ecs.capability.secrets.{_secret_store(secret)}.bootstrap.log-driver"


def _secret_store(secret: Json) -> str:
    """Which store a secret lives in: asm (a Secrets Manager ARN) or ssm (Parameter Store)."""
    return "asm" if ":secretsmanager:" in str(secret.get("valueFrom", "")) else "ssm"
