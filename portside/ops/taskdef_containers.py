"""RegisterTaskDefinition's rules for one container: memory, port mappings, the settings a
network mode forbids, mount points, health checks and logging; and the defaults ECS fills in.

`check_containers` fills in each container's defaults in place (the caller passes its own copy
of the request) and raises a `ClientException` worded like ECS's for the first rule broken.
"""

from __future__ import annotations

from typing import Any

from portside.errors import ClientException

Json = dict[str, Any]

# (field, lowest, highest, default ECS fills in); bounds from the HealthCheck API reference.
_HEALTH_BOUNDS = (
    ("interval", 5, 300, 30),
    ("timeout", 2, 60, 5),
    ("retries", 1, 10, 3),
    ("startPeriod", 0, 300, None),
)


def check_containers(
    containers: list[Json],
    *,
    mode: str,
    task_memory: int | None,
    volume_names: set[str],
    execution_role: str | None,
) -> None:
    """Fill in every container's defaults and check it against the task around it."""
    names = [c["name"] for c in containers]
    taken_ports: list[tuple[int, int, str]] = []
    used_port_names: set[str] = set()
    for container in containers:
        _fill_container_defaults(container)
        _check_memory(container, task_memory)
        _check_ports(container, mode, taken_ports, used_port_names)
        _check_network_mode_settings(container, mode, names)
        _check_mounts(container, names, volume_names)
        _check_health_check(container)
        _check_logging(container)
        if container.get("secrets") and not execution_role:
            raise ClientException(
                "When you are specifying container secrets, you must also specify a value "
                "for 'executionRoleArn'."
            )


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
