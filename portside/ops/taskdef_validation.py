"""RegisterTaskDefinition: refuse what ECS refuses, and shape what ECS stores.

`validate_task_definition` is pure: a request body in (camelCase, already checked against
botocore's model for JSON types, required members and enums), the stored task definition out,
or a `ClientException` / `InvalidParameterException` worded like ECS's.

Every rule here is a registration-time rule: real ECS refuses the RegisterTaskDefinition call.
Some documented limits are not checked here because ECS registers the definition and the failure
comes when a task starts, from the agent or Docker; the runtime side must report those:
container memory or memoryReservation below 6 MiB (a task starts and stops with
CannotCreateContainerError "Minimum memory limit allowed is 6MB" on Docker 20.10+). Likewise left
to run time, as we found no sign that ECS refuses them at registration: a ulimit soft limit above
its hard limit, awslogs-stream-prefix missing on Fargate, environment files not named `.env`.

Where ECS's exact message is known (issues, AWS docs, moto's tests run against AWS) it is copied,
quirks included ("Cannot depend on container + 'x' ...", the curly quotes around awsvpc). Messages
marked `# wording: ours` are rules ECS documents whose exact text we could not find.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable
from typing import Any

from portside.errors import ClientException, InvalidParameterException
from portside.ops.units import (
    MAX_TASK_CPU,
    MIN_TASK_CPU,
    fargate_cpus,
    is_fargate_size,
    parse_cpu,
    parse_memory,
)

Json = dict[str, Any]

_NAME_RE = re.compile(r"^[A-Za-z0-9_-]+$")
_MAX_NAME = 255
_MAX_CONTAINERS = 10
_MAX_TAGS = 50
_ECR_IMAGE_RE = re.compile(r"^\d{12}\.dkr\.ecr(-fips)?\.[a-z0-9-]+\.amazonaws\.com(\.cn)?/")

# (field, lowest, highest, default ECS fills in); bounds from the HealthCheck API reference.
_HEALTH_BOUNDS = (
    ("interval", 5, 300, 30),
    ("timeout", 2, 60, 5),
    ("retries", 1, 10, 3),
    ("startPeriod", 0, 300, None),
)
_FARGATE_LOG_DRIVERS = ("awslogs", "splunk", "awsfirelens")
_FARGATE_STOP_TIMEOUT = 120
_TROUBLESHOOTING = (
    "For more information, see the Troubleshooting section of the Amazon ECS Developer Guide."
)


def validate_task_definition(request: dict[str, Any]) -> dict[str, Any]:
    """Check a RegisterTaskDefinition request as ECS does and return the task definition
    body as ECS stores and describes it (without taskDefinitionArn, revision, status,
    registeredAt, registeredBy: the caller adds those)."""
    request = copy.deepcopy(request)
    _check_tags(request.get("tags") or [])
    family = _check_family(request.get("family"))
    containers: list[Json] = request.get("containerDefinitions") or []
    _check_container_list(containers)
    names = [c["name"] for c in containers]
    mode: str = request.get("networkMode") or "bridge"
    requires: list[str] = request.get("requiresCompatibilities") or []
    cpu = _task_units(request.get("cpu"), "cpu")
    memory = _task_units(request.get("memory"), "memory")
    if cpu is not None and not MIN_TASK_CPU <= cpu <= MAX_TASK_CPU:
        raise ClientException(f"Invalid 'cpu' setting for task. {_TROUBLESHOOTING}")
    volumes: list[Json] = request.get("volumes") or []
    volume_names = _check_volumes(volumes)
    execution_role = request.get("executionRoleArn") or None

    taken_ports: list[tuple[int, int, str]] = []
    used_port_names: set[str] = set()
    for container in containers:
        _fill_container_defaults(container)
        _check_memory(container, memory)
        _check_ports(container, mode, taken_ports, used_port_names)
        _check_network_mode_settings(container, mode, names)
        _check_mounts(container, names, volume_names)
        _check_health_check(container)
        _check_logging(container)
        if container.get("secrets") and not execution_role:
            raise ClientException(
                "When you are specifying container secrets, you must also specify a value "
                "for 'executionRoleArn'"
            )
    _check_dependencies(containers)
    _check_task_sums(containers, cpu, memory)
    _check_task_options(request, names)

    fargate_problem = _fargate_problem(request, containers, mode, cpu, memory)
    if "FARGATE" in requires and fargate_problem:
        raise ClientException(fargate_problem)
    external_problem = _external_problem(request, containers, mode)
    if "EXTERNAL" in requires and external_problem:
        raise ClientException(external_problem)

    body: Json = {"family": family, "containerDefinitions": containers}
    for key in ("taskRoleArn", "executionRoleArn", "networkMode"):
        if request.get(key):  # ECS drops an empty role ARN ("taskRoleArn": "" in its examples)
            body[key] = request[key]
    body["volumes"] = volumes
    body["placementConstraints"] = request.get("placementConstraints") or []
    if requires:
        body["requiresCompatibilities"] = requires
    body["compatibilities"] = _compatibilities(requires, fargate_problem, external_problem)
    attributes = _required_attributes(request, containers, mode)
    if attributes:
        body["requiresAttributes"] = [{"name": name} for name in attributes]
    if cpu is not None:
        body["cpu"] = str(cpu)
    if memory is not None:
        body["memory"] = str(memory)
    for key in (
        "pidMode",
        "ipcMode",
        "proxyConfiguration",
        "inferenceAccelerators",
        "ephemeralStorage",
        "runtimePlatform",
        "enableFaultInjection",
        "trustedExecutionConfiguration",
    ):
        if key in request and request[key] is not None:
            body[key] = request[key]
    return body


# -- task-level names, counts, units -------------------------------------------------------


def _check_tags(tags: list[Json]) -> None:
    # wording: ours (ECS documents the limits; its exact messages for them were not found)
    if len(tags) > _MAX_TAGS:
        raise InvalidParameterException(f"A resource can have at most {_MAX_TAGS} tags.")
    seen: set[str] = set()
    for tag in tags:
        key = tag.get("key") or ""
        value = tag.get("value") or ""
        if not 1 <= len(key) <= 128:
            raise InvalidParameterException("Tag keys must be between 1 and 128 characters.")
        if len(value) > 256:
            raise InvalidParameterException("Tag values must be at most 256 characters.")
        if key.lower().startswith("aws:"):
            raise InvalidParameterException(
                f"Invalid tag key '{key}'. The prefix 'aws:' is reserved for AWS use."
            )
        if key in seen:
            raise InvalidParameterException(f"Duplicate tag key '{key}'.")
        seen.add(key)


def _check_family(family: Any) -> str:
    if not family:
        raise ClientException("Family can not be blank.")
    if len(family) > _MAX_NAME or not _NAME_RE.match(family):
        raise ClientException("Family contains invalid characters.")
    return str(family)


def _check_container_list(containers: list[Json]) -> None:
    if not containers:
        raise ClientException("Container list cannot be empty.")
    if len(containers) > _MAX_CONTAINERS:
        raise ClientException("Too many containers.")
    seen: set[str] = set()
    for container in containers:
        name = container.get("name")
        if not name:
            raise ClientException("Container.name should not be null or empty.")
        if len(name) > _MAX_NAME or not _NAME_RE.match(name):
            raise ClientException("Container.name contains invalid characters.")
        if name in seen:
            raise ClientException("Container names must be unique within a task definition.")
        seen.add(name)
        if not container.get("image"):
            raise ClientException("Container.image should not be null or empty.")
    if not any(container.get("essential") is not False for container in containers):
        raise ClientException("Task definition doesn't have any essential container.")


def _task_units(value: Any, kind: str) -> int | None:
    """Task cpu (units) or memory (MiB) as an int; None when not given."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    amount = parse_cpu(str(value)) if kind == "cpu" else parse_memory(str(value))
    if amount is None or amount <= 0:
        raise ClientException(f"Invalid '{kind}' setting for task. {_TROUBLESHOOTING}")
    return amount


def _check_volumes(volumes: list[Json]) -> set[str]:
    names: set[str] = set()
    for volume in volumes:
        name = volume.get("name")
        if not name:
            # wording: ours
            raise ClientException("Volume name should not be null or empty.")
        if name in names:
            # wording: ours
            raise ClientException(f"Volume names must be unique. Duplicate volume name '{name}'.")
        names.add(name)
    return names


# -- one container ------------------------------------------------------------------------


def _fill_container_defaults(container: Json) -> None:
    """The members DescribeTaskDefinition always shows, with the values ECS fills in."""
    if container.get("cpu") is None:
        container["cpu"] = 0
    if container.get("essential") is None:
        container["essential"] = True
    for key in ("portMappings", "environment", "mountPoints", "volumesFrom"):
        if container.get(key) is None:
            container[key] = []


def _check_memory(container: Json, task_memory: int | None) -> None:
    name = container["name"]
    hard = container.get("memory")
    soft = container.get("memoryReservation")
    for key, value in (("memory", hard), ("memoryReservation", soft)):
        if value is not None and value <= 0:
            # wording: ours (after "Invalid 'containerPort' setting for container 'x'.")
            raise ClientException(f"Invalid '{key}' setting for container '{name}'.")
    if task_memory is None and hard is None and soft is None:
        raise ClientException(
            f"Invalid setting for container '{name}'. "
            "At least one of 'memory' or 'memoryReservation' must be specified."
        )
    if hard is not None and soft is not None and hard < soft:
        raise ClientException(
            f"Invalid setting for container '{name}'. "
            "'memory' must be greater than or equal to 'memoryReservation'."
        )
    if task_memory is not None:
        for key, value in (("memory", hard), ("memoryReservation", soft)):
            if value is not None and value > task_memory:
                raise ClientException(
                    f"The '{key}' setting for container '{name}' is greater than for the task."
                )


def _check_ports(
    container: Json,
    mode: str,
    taken: list[tuple[int, int, str]],
    used_names: set[str],
) -> None:
    """Port mappings: ranges, host/container agreement, and no port used twice.

    `taken` collects (first, last, protocol) across containers when the containers share one
    network namespace (awsvpc, host), where two containers cannot listen on one port."""
    name = container["name"]
    mappings: list[Json] = container["portMappings"]
    if mappings and mode == "none":
        # wording: ours (after "Links are not supported when networkMode=awsvpc")
        raise ClientException("Port mappings are not supported when networkMode=none")
    own: list[tuple[int, int, str]] = []
    for mapping in mappings:
        protocol = mapping.setdefault("protocol", "tcp")
        first, last = _mapping_ports(mapping, name, mode)
        for low, high, proto in (*own, *(taken if mode in ("awsvpc", "host") else ())):
            if proto == protocol and first <= high and low <= last:
                # ECS's words for overlapping port ranges; the prefix is ours
                raise ClientException(
                    f"Invalid port mappings for container '{name}': "
                    "container port is used multiple times in task"
                )
        own.append((first, last, protocol))
        port_name = mapping.get("name")
        if port_name:
            if port_name in used_names:
                raise ClientException("port mapping name is already used")
            used_names.add(port_name)
    taken.extend(own)


def _mapping_ports(mapping: Json, name: str, mode: str) -> tuple[int, int]:
    port_range = mapping.get("containerPortRange")
    if port_range is not None:
        if "containerPort" in mapping or "hostPort" in mapping:
            raise ClientException("cannot specify both single port and port range")
        bounds = port_range.split("-")
        if (
            mode not in ("bridge", "awsvpc")
            or len(bounds) != 2
            or not all(b.strip().isdigit() for b in bounds)
            or not 1 <= int(bounds[0]) < int(bounds[1]) <= 65535
        ):
            raise ClientException(f"Invalid 'containerPortRange' setting for container '{name}'.")
        return int(bounds[0]), int(bounds[1])
    container_port = mapping.get("containerPort")
    if container_port is None or not 1 <= container_port <= 65535:
        raise ClientException(f"Invalid 'containerPort' setting for container '{name}'.")
    host_port = mapping.get("hostPort")
    if host_port is not None and not 0 <= host_port <= 65535:
        # wording: ours, as ECS words a bad containerPort
        raise ClientException(f"Invalid 'hostPort' setting for container '{name}'.")
    if mode in ("awsvpc", "host"):
        if host_port is None:
            mapping["hostPort"] = container_port
        elif host_port != container_port:
            raise ClientException(
                f"When networkMode={mode}, the host ports and container ports in port "
                "mappings must match."
            )
    return container_port, container_port


def _check_network_mode_settings(container: Json, mode: str, names: list[str]) -> None:
    links = container.get("links") or []
    if links and mode != "bridge":
        # ECS's message for awsvpc; host and none are refused the same way
        raise ClientException(f"Links are not supported when networkMode={mode}")
    for link in links:
        target = link.split(":", 1)[0]
        if target not in names or target == container["name"]:
            # wording: ours
            raise ClientException(
                f"Invalid 'links' setting for container '{container['name']}'. "
                f"Container '{target}' does not exist in the task definition."
            )
    if mode != "awsvpc":
        return
    # ECS's awsvpc messages share one shape ("DNS servers are not supported on container
    # when networkMode=awsvpc"); hostname, extra hosts and search domains follow it.
    unsupported = (
        ("disableNetworking", "Disable Networking is"),
        ("dnsServers", "DNS servers are"),
        ("dnsSearchDomains", "DNS search domains are"),
        ("extraHosts", "Extra hosts are"),
        ("hostname", "Hostname is"),
    )
    for key, subject in unsupported:
        if container.get(key):
            raise ClientException(f"{subject} not supported on container when networkMode=awsvpc")


def _check_mounts(container: Json, names: list[str], volume_names: set[str]) -> None:
    for mount in container["mountPoints"]:
        source = mount.get("sourceVolume")
        if source not in volume_names:
            raise ClientException(f"Unknown volume '{source}'.")
    for volume_from in container["volumesFrom"]:
        source = volume_from.get("sourceContainer")
        if source not in names or source == container["name"]:
            # wording: ours
            raise ClientException(
                f"Invalid 'volumesFrom' setting for container '{container['name']}'. "
                f"Container '{source}' does not exist in the task definition."
            )


def _check_health_check(container: Json) -> None:
    check = container.get("healthCheck")
    if check is None:
        return
    name = container["name"]
    command = check.get("command") or []
    if not command or command[0] not in ("CMD", "CMD-SHELL"):
        # wording: ours (the HealthCheck reference: "must start with CMD ... or CMD-SHELL")
        raise ClientException(
            f"Invalid 'healthCheck' setting for container '{name}'. "
            "The command must start with CMD or CMD-SHELL."
        )
    for key, low, high, default in _HEALTH_BOUNDS:
        value = check.get(key)
        if value is None:
            if default is not None:
                check[key] = default
            continue
        if value > high:
            raise ClientException(
                f"Health check {key} must be less than or equal to the maximum allowed "
                f"value {high} for container '{name}'"
            )
        if value < low:
            # wording: ours, mirroring ECS's "maximum allowed value" message
            raise ClientException(
                f"Health check {key} must be greater than or equal to the minimum allowed "
                f"value {low} for container '{name}'"
            )


def _check_logging(container: Json) -> None:
    config = container.get("logConfiguration")
    if not config or config.get("logDriver") != "awslogs":
        return
    options = config.get("options") or {}
    missing = [key for key in ("awslogs-region", "awslogs-group") if not options.get(key)]
    if missing:
        raise ClientException(f"Log driver awslogs requires options: {', '.join(missing)}")


# -- across containers and task-level options ---------------------------------------------


def _check_dependencies(containers: list[Json]) -> None:
    by_name = {c["name"]: c for c in containers}
    for container in containers:
        for dependency in container.get("dependsOn") or []:
            target = dependency.get("containerName")
            if target not in by_name:
                # ECS's message, stray " + " included.
                raise ClientException(
                    f"Cannot depend on container + '{target}' because it does not exist"
                )
            if target == container["name"]:
                # wording: ours
                raise ClientException(f"Container '{target}' cannot depend on itself.")
            condition = dependency.get("condition")
            if condition in ("SUCCESS", "COMPLETE") and by_name[target]["essential"]:
                raise ClientException(
                    "A dependency container with SUCCESS or COMPLETE condition cannot be an "
                    "essential container"
                )
            if condition == "HEALTHY" and not by_name[target].get("healthCheck"):
                # wording: ours
                raise ClientException(
                    "A dependency container with HEALTHY condition must have a health check "
                    f"configured. Container '{target}' has none."
                )
    cycle = _dependency_cycle(containers)
    if cycle:
        # wording: ours
        raise ClientException(f"Container dependencies contain a cycle: {' -> '.join(cycle)}.")


def _dependency_cycle(containers: list[Json]) -> list[str]:
    edges = {c["name"]: [d["containerName"] for d in c.get("dependsOn") or []] for c in containers}
    done: set[str] = set()

    def visit(name: str, path: list[str]) -> list[str]:
        if name in path:
            return [*path[path.index(name) :], name]
        if name in done:
            return []
        for target in edges[name]:
            found = visit(target, [*path, name])
            if found:
                return found
        done.add(name)
        return []

    for name in edges:
        found = visit(name, [])
        if found:
            return found
    return []


def _check_task_sums(containers: list[Json], cpu: int | None, memory: int | None) -> None:
    if cpu is not None and sum(c["cpu"] for c in containers) > cpu:
        raise ClientException(
            "The sum of all container 'cpu' values cannot be greater than the value of the "
            "task 'cpu'."
        )
    if memory is None:
        return
    # What a container reserves is its soft limit when it has one, else its hard limit.
    reserved = sum(c.get("memoryReservation") or c.get("memory") or 0 for c in containers)
    if reserved > memory:
        key = (
            "memoryReservation"
            if any(c.get("memoryReservation") for c in containers)
            else "memory"  # wording: ours for this variant
        )
        raise ClientException(
            f"The sum of all container '{key}' values cannot be greater than the value of the "
            "task 'memory'."
        )


def _check_task_options(request: Json, names: list[str]) -> None:
    proxy = request.get("proxyConfiguration")
    if proxy and proxy.get("containerName") not in names:
        raise ClientException(f"Proxy container [{proxy.get('containerName')}] does not exist")
    storage = request.get("ephemeralStorage")
    if storage is not None and not 21 <= storage.get("sizeInGiB", 0) <= 200:
        # wording: ours (limits from the EphemeralStorage reference)
        raise ClientException(
            "Invalid 'ephemeralStorage' setting for task. The size must be between 21 and 200 GiB."
        )


# -- compatibilities ----------------------------------------------------------------------


def _fargate_problem(
    request: Json, containers: list[Json], mode: str, cpu: int | None, memory: int | None
) -> str | None:
    """Why this definition cannot run on Fargate (the first reason), or None if it can.

    Both the refusal (FARGATE in requiresCompatibilities, even next to EC2) and the computed
    `compatibilities` use it, so the two can never disagree."""
    if mode != "awsvpc":
        return "Fargate only supports network mode \u2018awsvpc\u2019."
    if cpu is None:
        return "Fargate requires that 'cpu' be defined at the task level."
    if memory is None:
        return "Fargate requires that 'memory' be defined at the task level."  # as for 'cpu'
    if cpu not in fargate_cpus():
        return f"Invalid 'cpu' setting for task. {_TROUBLESHOOTING}"
    family = (request.get("runtimePlatform") or {}).get("operatingSystemFamily") or "LINUX"
    if not is_fargate_size(cpu, memory, windows=family.startswith("WINDOWS")):
        return (
            f"No Fargate configuration exists for given values: {cpu} CPU, {memory} memory. "
            "See the Amazon ECS documentation for the valid values."
        )
    if request.get("pidMode") == "host":
        return (
            "Tasks using the Fargate launch type do not support pidMode 'host'. "
            "The supported value for pidMode is 'task'."
        )
    task_params = ("ipcMode", "placementConstraints", "inferenceAccelerators")
    for key in task_params:
        if request.get(key):
            return _fargate_unsupported(key)
    for volume in request.get("volumes") or []:
        if volume.get("dockerVolumeConfiguration"):
            return _fargate_unsupported("dockerVolumeConfiguration")
        if (volume.get("host") or {}).get("sourcePath"):
            return _fargate_unsupported("sourcePath")
    for container in containers:
        problem = _fargate_container_problem(container, request.get("executionRoleArn"))
        if problem:
            return problem
    return None


def _fargate_container_problem(container: Json, execution_role: str | None) -> str | None:
    if container.get("privileged"):
        return "Fargate requires that the 'privileged' setting be 'false'"
    if container.get("dockerSecurityOptions"):
        return _fargate_unsupported("dockerSecurityOptions")
    for requirement in container.get("resourceRequirements") or []:
        if requirement.get("type") == "GPU":
            return "Tasks using the Fargate launch type do not support GPU resource requirements"
    linux = container.get("linuxParameters") or {}
    for key in ("devices", "sharedMemorySize", "tmpfs", "maxSwap", "swappiness"):
        if linux.get(key) not in (None, []):
            return _fargate_unsupported(key)
    for capability in (linux.get("capabilities") or {}).get("add") or []:
        if capability != "SYS_PTRACE":
            return f"{capability} is not allowed on Fargate."
    stop_timeout = container.get("stopTimeout")
    if stop_timeout is not None and stop_timeout > _FARGATE_STOP_TIMEOUT:
        # wording: ours (the 120 s limit is in the ContainerDefinition reference)
        return (
            f"Invalid 'stopTimeout' setting for container '{container['name']}'. "
            f"Fargate allows at most {_FARGATE_STOP_TIMEOUT} seconds."
        )
    driver = (container.get("logConfiguration") or {}).get("logDriver")
    if driver is not None and driver not in _FARGATE_LOG_DRIVERS:
        allowed = ", ".join(_FARGATE_LOG_DRIVERS)
        return f"{driver} is not a valid log driver. Must be one of [{allowed}]"
    if driver == "awslogs" and not execution_role:
        return (
            "Fargate requires task definition to have execution role ARN to support log "
            "driver awslogs."
        )
    return None


def _fargate_unsupported(param: str) -> str:
    # ECS's shape, seen for ipcMode, dockerSecurityOptions, dockerVolumeConfiguration and
    # sourcePath; the other Fargate-invalid parameters are reported the same way.
    return f"Fargate compatible task definitions do not support {param}"


def _external_problem(request: Json, containers: list[Json], mode: str) -> str | None:
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


def _compatibilities(
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


def _required_attributes(request: Json, containers: list[Json], mode: str) -> list[str]:
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
