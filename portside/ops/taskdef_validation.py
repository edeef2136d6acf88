"""RegisterTaskDefinition: refuse what ECS refuses, and shape what ECS stores.

`validate_task_definition` is pure: a request body in (camelCase, already checked against
botocore's model for JSON types, required members and enums), the stored task definition out,
or a `ClientException` / `InvalidParameterException` worded like ECS's. The rules for one
container live in taskdef_containers, Fargate's in taskdef_fargate, tags' in ops.tags; what the
definition needs of its hosts (`compatibilities`, `requiresAttributes`) in taskdef_attributes.

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
from typing import Any

import orjson

from portside.errors import ClientException
from portside.model.units import MAX_TASK_CPU, MIN_TASK_CPU, parse_cpu, parse_memory
from portside.ops.tags import validate_tags
from portside.ops.taskdef_attributes import (
    compatibilities,
    external_problem,
    required_attributes,
)
from portside.ops.taskdef_containers import check_containers
from portside.ops.taskdef_fargate import fargate_problem, invalid_task_setting

Json = dict[str, Any]

_NAME_RE = re.compile(r"^[A-Za-z0-9_-]+$")
_MAX_NAME = 255
_MAX_CONTAINERS = 10


def _copy(request: dict[str, Any]) -> dict[str, Any]:
    """A deep copy of a JSON request (an orjson round trip is ~10x deepcopy's speed)."""
    try:
        copied: dict[str, Any] = orjson.loads(orjson.dumps(request))
    except TypeError:  # not JSON-shaped (a caller in Python): copy it the slow way
        copied = copy.deepcopy(request)
    return copied


def validate_task_definition(request: dict[str, Any]) -> dict[str, Any]:
    """Check a RegisterTaskDefinition request as ECS does and return the task definition
    body as ECS stores and describes it (without taskDefinitionArn, revision, status,
    registeredAt, registeredBy: the caller adds those)."""
    request = _copy(request)
    validate_tags(request.get("tags") or [])
    family = _check_family(request.get("family"))
    containers: list[Json] = request.get("containerDefinitions") or []
    _check_container_list(containers)
    names = [c["name"] for c in containers]
    mode: str = request.get("networkMode") or "bridge"
    requires: list[str] = request.get("requiresCompatibilities") or []
    cpu = _task_units(request.get("cpu"), "cpu")
    memory = _task_units(request.get("memory"), "memory")
    if cpu is not None and not MIN_TASK_CPU <= cpu <= MAX_TASK_CPU:
        raise ClientException(invalid_task_setting("cpu"))
    volumes: list[Json] = request.get("volumes") or []
    volume_names = _check_volumes(volumes)
    execution_role = request.get("executionRoleArn") or None
    check_containers(
        containers,
        mode=mode,
        task_memory=memory,
        volume_names=volume_names,
        execution_role=execution_role,
    )
    _check_dependencies(containers)
    _check_task_sums(containers, cpu, memory)
    _check_task_options(request, names)

    fargate = fargate_problem(request, containers, mode, cpu, memory)
    if "FARGATE" in requires and fargate:
        raise ClientException(fargate)
    external = external_problem(request, containers, mode)
    if "EXTERNAL" in requires and external:
        raise ClientException(external)

    body: Json = {"family": family, "containerDefinitions": containers}
    for key in ("taskRoleArn", "executionRoleArn", "networkMode"):
        if request.get(key):  # ECS drops an empty role ARN ("taskRoleArn": "" in its examples)
            body[key] = request[key]
    body["volumes"] = volumes
    body["placementConstraints"] = request.get("placementConstraints") or []
    if requires:
        body["requiresCompatibilities"] = requires
    body["compatibilities"] = compatibilities(requires, fargate, external)
    attributes = required_attributes(request, containers, mode)
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
        raise ClientException(invalid_task_setting(kind))
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
        efs = volume.get("efsVolumeConfiguration")
        if isinstance(efs, dict) and efs.get("rootDirectory") is None:
            efs["rootDirectory"] = "/"  # as ECS stores it (the file system's root)
    return names


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
