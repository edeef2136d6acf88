"""Task volumes on Docker (ECS agent: agent/api/task/task.go initializeDockerVolumes,
initializeDockerLocalVolumes): what each task definition volume becomes (pure), and creating
and removing the Docker volumes.

- `host.sourcePath` -> a bind mount of that host path.
- neither `host.sourcePath` nor `dockerVolumeConfiguration` -> a task-scoped Docker volume
  (the ECS agent makes one too, with the local driver).
- `dockerVolumeConfiguration` scope task -> a Docker volume made by setup_task and removed
  with the task; scope shared -> the volume of that name, kept; created when `autoprovision`
  is set, else it must exist.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import docker.errors

from portside.agent.driver import LABEL_TASK_ARN, DriverError, TaskSpec


@dataclass(frozen=True, slots=True)
class VolumePlan:
    """One task definition volume, resolved: a host path to bind, or a Docker volume."""

    name: str  # the task definition's volume name
    kind: str  # bind | docker
    source: str  # host path | Docker volume name
    scope: str = "task"  # task | shared
    autoprovision: bool = False
    driver: str = "local"
    driver_opts: dict[str, str] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)


def plan_volumes(task: TaskSpec, labels: Mapping[str, str]) -> list[VolumePlan]:
    """The task definition's volumes. A volume with neither `host.sourcePath` nor
    `dockerVolumeConfiguration` gets a task-scoped Docker volume named like the ECS agent's
    (`ecs-<family>-<revision>-<volume>-<unique>`, agent: initializeDockerLocalVolumes);
    `labels` (ownership) go on the task-scoped volumes Portside creates."""
    plans = []
    for vol in task.definition.get("volumes") or ():
        name = str(vol["name"])
        unsupported = [
            k
            for k in ("efsVolumeConfiguration", "fsxWindowsFileServerVolumeConfiguration")
            if vol.get(k)
        ]
        if unsupported:
            raise DriverError(
                f"ResourceInitializationError: volume {name}: {unsupported[0]} is not "
                "supported by Portside"
            )
        task_volume = f"ecs-{task.family}-{task.revision}-{name}-{task.task_id}"
        dvc = vol.get("dockerVolumeConfiguration")
        source_path = (vol.get("host") or {}).get("sourcePath")
        if source_path:
            plans.append(VolumePlan(name, "bind", str(source_path)))
        elif dvc:
            shared = dvc.get("scope") == "shared"
            plans.append(
                VolumePlan(
                    name,
                    "docker",
                    name if shared else task_volume,  # ECS: a shared volume keeps its name
                    scope="shared" if shared else "task",
                    autoprovision=bool(dvc.get("autoprovision")),
                    driver=str(dvc.get("driver") or "local"),
                    driver_opts=_str_map(dvc.get("driverOpts")),
                    labels={**_str_map(dvc.get("labels")), **({} if shared else labels)},
                )
            )
        else:
            plans.append(VolumePlan(name, "docker", task_volume, labels=dict(labels)))
    return plans


def ensure_volume(client: Any, plan: VolumePlan) -> None:
    """Create the plan's Docker volume unless it exists (ECS_SHARED_VOLUME_MATCH_FULL_CONFIG
    off, the ECS default: an existing shared volume is used whatever its options)."""
    try:
        client.volumes.get(plan.source)
        return
    except docker.errors.NotFound:
        if plan.scope == "shared" and not plan.autoprovision:
            raise DriverError(
                "ResourceInitializationError: initialize volume: volume detection failed, "
                f"volume '{plan.source}' does not exist and autoprovision is set to false"
            ) from None
    try:
        client.volumes.create(
            plan.source, driver=plan.driver, driver_opts=plan.driver_opts, labels=plan.labels
        )
    except docker.errors.APIError as exc:
        raise DriverError(
            f"ResourceInitializationError: create volume {plan.source}: "
            f"Error response from daemon: {exc.explanation or exc}"
        ) from exc


def remove_task_volumes(client: Any, task_arn: str) -> None:
    """Remove the task's own volumes; one still mounted by a container stays (and goes when
    the task's last container is removed)."""
    for vol in client.volumes.list(filters={"label": f"{LABEL_TASK_ARN}={task_arn}"}):
        with contextlib.suppress(docker.errors.APIError):
            vol.remove()


def _str_map(value: Any) -> dict[str, str]:
    return {str(k): str(v) for k, v in (value or {}).items()}
