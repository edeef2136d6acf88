"""What Fargate cannot run: its cpu/memory table, and the parameters it refuses.

`fargate_problem` gives the first reason a task definition cannot run on Fargate, in ECS's
words, or None. RegisterTaskDefinition refuses the definition with that reason when
requiresCompatibilities names FARGATE, and leaves FARGATE out of `compatibilities` otherwise.
"""

from __future__ import annotations

from typing import Any

from portside.model.units import fargate_cpus, is_fargate_size

Json = dict[str, Any]

_FARGATE_LOG_DRIVERS = ("awslogs", "splunk", "awsfirelens")
_FARGATE_STOP_TIMEOUT = 120
_TROUBLESHOOTING = (
    "For more information, see the Troubleshooting section of the Amazon ECS Developer Guide."
)


def invalid_task_setting(kind: str) -> str:
    """ECS's words for a task `cpu` or `memory` it cannot use, on Fargate or anywhere."""
    return f"Invalid '{kind}' setting for task. {_TROUBLESHOOTING}"


def fargate_problem(
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
        return invalid_task_setting("cpu")
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
