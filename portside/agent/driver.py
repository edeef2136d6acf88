"""The agent's driver interface. It knows nothing of Docker: the Docker driver
(agent/docker/) and the simulated driver (agent/simulated.py) implement it.

Every method is blocking and may be called from any worker thread; a driver must be safe to
call concurrently for different tasks. Errors a user should see (a pull that fails, a
command not found) are raised as DriverError with ECS's wording in `reason`; a runtime that
does not answer at all, as RuntimeUnavailable.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from portside.gateway.protocol.secrets import NO_SECRETS, ContainerSecrets, RegistryAuth

# Labels every managed container carries (ECS's own, plus ours for re-adoption).
LABEL_CLUSTER = "com.amazonaws.ecs.cluster"
LABEL_TASK_ARN = "com.amazonaws.ecs.task-arn"
LABEL_CONTAINER = "com.amazonaws.ecs.container-name"
LABEL_FAMILY = "com.amazonaws.ecs.task-definition-family"
LABEL_VERSION = "com.amazonaws.ecs.task-definition-version"
LABEL_MANAGED = "io.portside.managed"  # "true" on everything Portside creates
LABEL_INSTANCE = "io.portside.instance-arn"
LABEL_ROLE = "io.portside.role"  # "container" | "pause"


class DriverError(Exception):
    """A failure to report to the user; `reason` is ECS's wording, e.g.
    'CannotPullContainerError: ...', 'CannotStartContainerError: ...'."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class RuntimeUnavailable(Exception):
    """The container runtime did not answer (its daemon is down, its socket gone): nothing
    was done, and the same call may succeed once it is back. Not a DriverError: no task
    fails for it, the agent tries again later. The driver logs the outage (agent/outage.py),
    so its callers need not."""


@dataclass(frozen=True, slots=True)
class TaskSpec:
    """What the driver needs to prepare a task before its containers: network, cgroup,
    task-scoped volumes."""

    task_arn: str
    task_id: str
    cluster: str  # cluster name
    instance_arn: str
    family: str
    revision: int
    definition: Mapping[str, Any]  # the task definition (ECS document shape)
    cpu: str | None  # task-level CPU units, after overrides
    memory: str | None  # task-level MiB, after overrides
    attachment: Mapping[str, Any] | None = None  # the awsvpc ENI attachment, if any


@dataclass(slots=True)
class TaskResources:
    """What setup_task made; given back to teardown_task and to every create."""

    network_mode: str  # bridge | host | none | awsvpc
    pause_id: str | None = None  # awsvpc: the container holding the network namespace
    network_name: str | None = None  # awsvpc: the task's dedicated bridge network
    ip_address: str | None = None  # awsvpc: the task's private IP
    mac_address: str | None = None
    gateway: str | None = None  # the address containers reach the agent's endpoints on
    cgroup_parent: str | None = None  # task-level cgroup, when task cpu/memory are set
    volume_paths: dict[str, str] = field(default_factory=dict)  # task volume name -> source
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ContainerSpec:
    task: TaskSpec
    name: str
    definition: Mapping[str, Any]  # the container definition, overrides already applied
    resources: TaskResources
    environment: Mapping[str, str]  # extra variables (metadata URIs...), added to the definition's
    labels: Mapping[str, str]  # ECS's labels plus ours, added to dockerLabels
    # runtime ids of containers named in volumesFrom, by container name
    volumes_from: Mapping[str, str] = field(default_factory=dict)
    # the values of the definition's `secrets` and log `secretOptions`, resolved at the
    # task's start: for the container's environment and log options only, never its labels
    secrets: ContainerSecrets = field(default=NO_SECRETS, repr=False)


@dataclass(slots=True)
class ContainerState:
    runtime_id: str
    status: str  # created | running | exited | missing
    exit_code: int | None = None
    oom_killed: bool = False
    error: str | None = None  # the engine's error starting it, if any
    health: str | None = None  # HEALTHY | UNHEALTHY | UNKNOWN, when it has a health check
    started_at: float | None = None
    finished_at: float | None = None
    image_digest: str | None = None
    # ECS networkBindings: bindIP, containerPort, hostPort, protocol
    network_bindings: list[dict[str, Any]] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class DriverEvent:
    """Something changed for a container: the agent re-inspects it."""

    runtime_id: str
    kind: str  # die | oom | health | start | destroy


class ExecProcess(Protocol):
    """A command running in a container (ECS Exec). Output and input may be used from two
    threads at once: one reading `output()`, the other writing, resizing or killing."""

    def output(self) -> Iterator[tuple[int, bytes]]:
        """(1 for stdout | 2 for stderr, data) until the process's output ends; with a TTY
        everything is stdout."""

    def write(self, data: bytes) -> None:
        """Bytes for the process's stdin."""

    def close_input(self) -> None:
        """End of stdin."""

    def resize(self, rows: int, cols: int) -> None:
        """The terminal's new size (with a TTY; ignored otherwise)."""

    def wait(self) -> int:
        """The exit code, once `output()` has ended."""

    def kill(self) -> None:
        """End the process (its client went away). Idempotent."""


class Driver(Protocol):
    name: str

    def pull(self, image: str, auth: RegistryAuth | None = None) -> str | None:
        """Make the image available (per the pull behaviour) and return its digest if known;
        `auth`: the registry credentials of the container's repositoryCredentials."""

    def setup_task(self, task: TaskSpec) -> TaskResources:
        """Prepare what the task's containers share: network (awsvpc pause container on a
        dedicated bridge network), task cgroup, task-scoped volumes."""

    def teardown_task(self, task: TaskSpec, resources: TaskResources) -> None:
        """Undo setup_task. Idempotent."""

    def create(self, spec: ContainerSpec) -> str:
        """Create (not start) a container; return its runtime id."""

    def start(self, runtime_id: str) -> None:
        """Start a created container; DriverError('CannotStartContainerError: ...') if it can't."""

    def stop(self, runtime_id: str, timeout: float) -> None:
        """SIGTERM (or the image's stop signal), SIGKILL after `timeout` seconds. Idempotent."""

    def inspect(self, runtime_id: str) -> ContainerState:
        """The container's state now; status 'missing' when it no longer exists."""

    def remove(self, runtime_id: str) -> None:
        """Remove a stopped container. Idempotent."""

    def list_managed(self, instance_arn: str) -> list[ContainerState]:
        """Every container Portside made for this instance (by label), for re-adoption."""

    def events(self, stop: threading.Event) -> Iterator[DriverEvent]:
        """Container events until `stop` is set (may yield nothing for long stretches)."""

    def stats(self, runtime_id: str) -> dict[str, Any]:
        """One sample of the container's stats in Docker's format (for the metadata endpoint)."""

    def host_resources(self) -> tuple[int, int]:
        """(CPU units = 1024 per core, memory MiB) this host offers."""

    def exec(
        self, runtime_id: str, command: list[str], tty: bool, size: tuple[int, int] | None
    ) -> ExecProcess:
        """Start `command` in a running container (ECS Exec), with a TTY of `size` (rows,
        cols) when `tty`; DriverError if it cannot start."""
