"""An Express service's configuration: the request's members with ECS Express Mode's
defaults filled in, checked, and turned into what the other services are asked for (the
task definition, the target group's health check, the scaling policy). Pure.

Defaults (developer guide, "Resources created by Amazon ECS Express Mode services"; API
reference, ExpressGatewayScalingTarget): 1 vCPU (1024) and 2 GB (2048), X86_64, the
container on port 80, health checks on /ping, 1 to 20 tasks scaled on average CPU at 60 %,
logs to a log group of the service's own with the stream prefix `ecs`.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field, replace
from typing import Any

from portside.errors import InvalidParameterException

DEFAULT_CPU = "1024"
DEFAULT_MEMORY = "2048"
DEFAULT_ARCH = "X86_64"
DEFAULT_PORT = 80
DEFAULT_HEALTH_PATH = "/ping"
DEFAULT_MIN_TASKS = 1
DEFAULT_MAX_TASKS = 20
DEFAULT_METRIC = "AVERAGE_CPU"
DEFAULT_TARGET_VALUE = 60
CONTAINER_NAME = "Main"  # wording: ours

# ExpressGatewayServiceScalingMetric -> Application Auto Scaling's predefined metric.
METRICS = {
    "AVERAGE_CPU": "ECSServiceAverageCPUUtilization",
    "AVERAGE_MEMORY": "ECSServiceAverageMemoryUtilization",
    "REQUEST_COUNT_PER_TARGET": "ALBRequestCountPerTarget",
}
# Fargate's task sizes (cpu -> memory range in MiB, step): what an Express task may ask for.
_SIZES = {
    256: (512, 2048, 1024),
    512: (1024, 4096, 1024),
    1024: (2048, 8192, 1024),
    2048: (4096, 16384, 1024),
    4096: (8192, 30720, 1024),
    8192: (16384, 61440, 4096),
    16384: (32768, 122880, 8192),
}
_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_-]{0,254}$")
_PATH = re.compile(r"^/[\x21-\x7e]{0,1023}$")

Json = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Scaling:
    min_tasks: int = DEFAULT_MIN_TASKS
    max_tasks: int = DEFAULT_MAX_TASKS
    metric: str = DEFAULT_METRIC
    target_value: int = DEFAULT_TARGET_VALUE

    def to_doc(self) -> Json:
        return {
            "minTaskCount": self.min_tasks,
            "maxTaskCount": self.max_tasks,
            "autoScalingMetric": self.metric,
            "autoScalingTargetValue": self.target_value,
        }


@dataclass(frozen=True, slots=True)
class ExpressConfig:
    """What one service revision of an Express service runs."""

    primary_container: Json  # as ExpressGatewayContainer, defaults filled in
    execution_role: str | None = None
    task_role: str | None = None
    cpu: str = DEFAULT_CPU
    memory: str = DEFAULT_MEMORY
    arch: str = DEFAULT_ARCH
    health_check_path: str = DEFAULT_HEALTH_PATH
    subnets: tuple[str, ...] = ()
    security_groups: tuple[str, ...] = ()
    scaling: Scaling = field(default_factory=Scaling)

    @property
    def port(self) -> int:
        return int(self.primary_container.get("containerPort") or DEFAULT_PORT)

    @property
    def log_group(self) -> str:
        return str(self.primary_container["awsLogsConfiguration"]["logGroup"])


def service_name(p: Json, image: str) -> str:
    """The name asked for, else one made from the image's name (as the console offers)."""
    given = p.get("serviceName")
    if given:
        if not _NAME.match(given):
            raise InvalidParameterException(
                "Name can have at most 255 characters: letters (uppercase and lowercase), "
                "numbers, underscores and hyphens, starting with a letter or a number."
            )
        return str(given)
    base = image.rsplit("/", 1)[-1].split("@")[0].split(":")[0]
    base = re.sub(r"[^a-zA-Z0-9_-]", "-", base).strip("-_") or "service"
    return f"{base[:40]}-{hashlib.sha256(image.encode()).hexdigest()[:6]}"


def short_id(service_arn: str) -> str:
    """A stable id for the names of the service's resources (ELB names are 32 at most)."""
    return hashlib.sha256(service_arn.encode()).hexdigest()[:12]


def log_group_default(cluster: str, service: str) -> str:
    return f"/aws/ecs/{cluster}/{service}"  # wording: ours


def _check_size(cpu: str, memory: str) -> None:
    try:
        units, mib = int(cpu), int(memory)
    except ValueError:
        raise InvalidParameterException("cpu and memory must be numbers.") from None
    size = _SIZES.get(units)
    if size is None or not size[0] <= mib <= size[1] or (mib - size[0]) % size[2]:
        raise InvalidParameterException(  # wording: ours, after Fargate's task sizes
            f"The cpu {cpu} and memory {memory} are not a valid task size for an Express service."
        )


def _check_scaling(given: Json | None, base: Scaling) -> Scaling:
    g = given or {}
    out = Scaling(
        g.get("minTaskCount", base.min_tasks),
        g.get("maxTaskCount", base.max_tasks),
        g.get("autoScalingMetric") or base.metric,
        g.get("autoScalingTargetValue", base.target_value),
    )
    if out.min_tasks < 0 or out.max_tasks < 1 or out.min_tasks > out.max_tasks:
        raise InvalidParameterException(  # wording: ours
            "minTaskCount must be 0 or more and at most maxTaskCount, which must be 1 or more."
        )
    if out.target_value <= 0:
        raise InvalidParameterException("autoScalingTargetValue must be greater than 0.")
    return out


def _container(given: Json, cluster: str, service: str, region: str) -> Json:
    out = dict(given)
    port = out.get("containerPort")
    if port is not None and not 1 <= port <= 65535:
        raise InvalidParameterException("containerPort must be between 1 and 65535.")
    out.setdefault("containerPort", DEFAULT_PORT)
    logs = dict(out.get("awsLogsConfiguration") or {})
    logs.setdefault("logGroup", log_group_default(cluster, service))
    logs.setdefault("logStreamPrefix", "ecs")
    out["awsLogsConfiguration"] = logs
    return out


def parse(p: Json, cluster: str, service: str, region: str) -> ExpressConfig:
    """CreateExpressGatewayService's members as a configuration."""
    network = p.get("networkConfiguration") or {}
    config = ExpressConfig(
        primary_container=_container(p["primaryContainer"], cluster, service, region),
        execution_role=p.get("executionRoleArn"),
        task_role=p.get("taskRoleArn"),
        cpu=p.get("cpu") or DEFAULT_CPU,
        memory=p.get("memory") or DEFAULT_MEMORY,
        arch=p.get("cpuArchitecture") or DEFAULT_ARCH,
        health_check_path=p.get("healthCheckPath") or DEFAULT_HEALTH_PATH,
        subnets=tuple(network.get("subnets") or ()),
        security_groups=tuple(network.get("securityGroups") or ()),
        scaling=_check_scaling(p.get("scalingTarget"), Scaling()),
    )
    check(config)
    return config


def updated(old: ExpressConfig, p: Json, cluster: str, service: str, region: str) -> ExpressConfig:
    """UpdateExpressGatewayService: the members given replace the revision's."""
    changes: Json = {}
    if p.get("primaryContainer") is not None:
        changes["primary_container"] = _container(p["primaryContainer"], cluster, service, region)
    for member, attr in (
        ("executionRoleArn", "execution_role"),
        ("taskRoleArn", "task_role"),
        ("cpu", "cpu"),
        ("memory", "memory"),
        ("cpuArchitecture", "arch"),
        ("healthCheckPath", "health_check_path"),
    ):
        if p.get(member) is not None:
            changes[attr] = p[member]
    network = p.get("networkConfiguration")
    if network is not None:
        changes["subnets"] = tuple(network.get("subnets") or ())
        changes["security_groups"] = tuple(network.get("securityGroups") or ())
    if p.get("scalingTarget") is not None:
        changes["scaling"] = _check_scaling(p["scalingTarget"], old.scaling)
    config = replace(old, **changes)
    check(config)
    return config


def check(config: ExpressConfig) -> None:
    _check_size(config.cpu, config.memory)
    if not _PATH.match(config.health_check_path):
        raise InvalidParameterException(  # wording: ours
            "healthCheckPath must start with / and have at most 1024 printable characters."
        )


def task_definition(config: ExpressConfig, family: str, region: str) -> Json:
    """RegisterTaskDefinition's request for the revision (awsvpc, Linux, awslogs)."""
    c = config.primary_container
    logs = c["awsLogsConfiguration"]
    container: Json = {
        "name": CONTAINER_NAME,
        "image": c["image"],
        "essential": True,
        "portMappings": [{"containerPort": config.port, "protocol": "tcp"}],
        "logConfiguration": {
            "logDriver": "awslogs",
            "options": {
                "awslogs-group": logs["logGroup"],
                "awslogs-region": region,
                "awslogs-stream-prefix": logs["logStreamPrefix"],
            },
        },
    }
    for member in ("command", "environment", "secrets", "repositoryCredentials"):
        if c.get(member):
            container[member] = c[member]
    out: Json = {
        "family": family,
        "networkMode": "awsvpc",
        "cpu": config.cpu,
        "memory": config.memory,
        "runtimePlatform": {"operatingSystemFamily": "LINUX", "cpuArchitecture": config.arch},
        "containerDefinitions": [container],
    }
    if config.execution_role:
        out["executionRoleArn"] = config.execution_role
    if config.task_role:
        out["taskRoleArn"] = config.task_role
    if fargate_ready(config):
        out["requiresCompatibilities"] = ["EC2", "FARGATE"]
    return out


def fargate_ready(config: ExpressConfig) -> bool:
    """Whether the service's definition may run on Fargate: its awslogs needs an execution
    role there."""
    return bool(config.execution_role)


def from_task_definition(
    spec: Json,
    health_path: str,
    subnets: tuple[str, ...],
    groups: tuple[str, ...],
    scaling: Scaling,
) -> ExpressConfig:
    """A revision's configuration read back from what it runs."""
    (c, *_) = spec["containerDefinitions"]
    options = (c.get("logConfiguration") or {}).get("options") or {}
    container: Json = {
        "image": c["image"],
        "containerPort": (c.get("portMappings") or [{}])[0].get("containerPort", DEFAULT_PORT),
        "awsLogsConfiguration": {
            "logGroup": options.get("awslogs-group", ""),
            "logStreamPrefix": options.get("awslogs-stream-prefix", "ecs"),
        },
    }
    for member in ("command", "environment", "secrets", "repositoryCredentials"):
        if c.get(member):
            container[member] = c[member]
    platform = spec.get("runtimePlatform") or {}
    return ExpressConfig(
        primary_container=container,
        execution_role=spec.get("executionRoleArn"),
        task_role=spec.get("taskRoleArn"),
        cpu=str(spec.get("cpu") or DEFAULT_CPU),
        memory=str(spec.get("memory") or DEFAULT_MEMORY),
        arch=platform.get("cpuArchitecture") or DEFAULT_ARCH,
        health_check_path=health_path,
        subnets=subnets,
        security_groups=groups,
        scaling=scaling,
    )


def shown(config: ExpressConfig) -> Json:
    """An ExpressGatewayServiceConfiguration's members (the caller adds the revision's ARN,
    its ingress paths and its creation time)."""
    out: Json = {
        "cpu": config.cpu,
        "memory": config.memory,
        "cpuArchitecture": config.arch,
        "networkConfiguration": {
            "securityGroups": list(config.security_groups),
            "subnets": list(config.subnets),
        },
        "healthCheckPath": config.health_check_path,
        "primaryContainer": config.primary_container,
        "scalingTarget": config.scaling.to_doc(),
    }
    if config.execution_role:
        out["executionRoleArn"] = config.execution_role
    if config.task_role:
        out["taskRoleArn"] = config.task_role
    return out
