"""A task: one placement of a task definition, with its containers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from portside.model.states import ContainerStatus, TaskStatus


@dataclass(slots=True)
class Container:
    arn: str
    name: str
    image: str
    last_status: ContainerStatus = ContainerStatus.PENDING
    runtime_id: str | None = None
    image_digest: str | None = None
    exit_code: int | None = None
    reason: str | None = None
    network_bindings: list[dict[str, Any]] = field(default_factory=list)
    network_interfaces: list[dict[str, Any]] = field(default_factory=list)
    health_status: str | None = None
    cpu: str = "0"
    memory: str | None = None
    memory_reservation: str | None = None
    managed_agents: list[dict[str, Any]] = field(default_factory=list)
    essential: bool = True


@dataclass(slots=True)
class Reservation:
    """What a task holds on its instance, released when it stops."""

    cpu: int = 0
    memory: int = 0
    ports_tcp: list[int] = field(default_factory=list)
    ports_udp: list[int] = field(default_factory=list)


@dataclass(slots=True)
class Task:
    arn: str
    cluster_arn: str
    task_definition_arn: str
    instance_arn: str  # where it runs (for Fargate, hidden capacity: not shown to users)
    launch_type: str
    last_status: TaskStatus
    desired_status: TaskStatus
    created_at: float
    version: int = 1
    cpu: str | None = None
    memory: str | None = None
    containers: list[Container] = field(default_factory=list)
    capacity_provider_name: str | None = None
    availability_zone: str | None = None
    started_by: str | None = None
    group: str | None = None
    overrides: dict[str, Any] = field(default_factory=dict)
    attachments: list[dict[str, Any]] = field(default_factory=list)
    attributes: list[dict[str, Any]] = field(default_factory=list)
    network_configuration: dict[str, Any] | None = None
    enable_execute_command: bool = False
    health_status: str = "UNKNOWN"
    connectivity: str | None = None
    connectivity_at: float | None = None
    pull_started_at: float | None = None
    pull_stopped_at: float | None = None
    started_at: float | None = None
    stopping_at: float | None = None
    execution_stopped_at: float | None = None
    stopped_at: float | None = None
    stop_code: str | None = None
    stopped_reason: str | None = None
    platform_version: str | None = None
    platform_family: str | None = None
    client_token: str | None = None
    reservation: Reservation = field(default_factory=Reservation)
    # A service task's stop waits until then for its load balancer targets to drain: its
    # agent is told RUNNING meanwhile (gateway/messages.py), DescribeTasks shows DEACTIVATING.
    stop_held_until: float | None = None
    # Scale-in protection (UpdateTaskProtection) lasts until then; None: not protected.
    protected_until: float | None = None

    @property
    def id(self) -> str:
        return self.arn.rsplit("/", 1)[1]

    @property
    def cluster_name(self) -> str:
        return self.cluster_arn.rsplit("/", 1)[1]
