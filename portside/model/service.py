"""A service: keeps desiredCount tasks of a task definition running, and rolls deployments."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from portside.model.deployment import DeploymentConfiguration
from portside.model.load_balancer import LoadBalancer
from portside.model.placement import PlacementConstraint, PlacementStrategy

ACTIVE = "ACTIVE"
DRAINING = "DRAINING"
INACTIVE = "INACTIVE"

REPLICA = "REPLICA"
DAEMON = "DAEMON"

# Deployment status and rollout state (ECS's words).
PRIMARY = "PRIMARY"
DEPLOYMENT_ACTIVE = "ACTIVE"
DEPLOYMENT_INACTIVE = "INACTIVE"
IN_PROGRESS = "IN_PROGRESS"
COMPLETED = "COMPLETED"
FAILED = "FAILED"

MAX_EVENTS = 100


@dataclass(slots=True)
class Deployment:
    id: str  # "ecs-svc/1234567890123456789"
    status: str  # PRIMARY | ACTIVE | INACTIVE
    task_definition: str  # ARN
    desired_count: int
    created_at: float
    updated_at: float
    rollout_state: str = IN_PROGRESS
    rollout_state_reason: str = ""
    failed_tasks: int = 0
    # Counts the controller writes back each pass, as DescribeServices shows them.
    running_count: int = 0
    pending_count: int = 0
    launch_type: str | None = None
    capacity_provider_strategy: list[dict[str, Any]] = field(default_factory=list)
    network_configuration: dict[str, Any] | None = None
    platform_version: str | None = None
    # The deployment this one rolls back from, when the circuit breaker made it.
    rollback_of: str | None = None
    # The deployments (ids) that were PRIMARY or ACTIVE when this one started: the source
    # service revisions of its ServiceDeployment.
    sources: list[str] = field(default_factory=list)
    # Service Connect as this deployment runs it (serviceconnect/config.py): the configuration
    # ECS shows and the Cloud Map services it registers tasks in.
    service_connect: dict[str, Any] | None = None
    service_connect_resources: list[dict[str, str]] = field(default_factory=list)
    # ECS's native blue/green, linear and canary (controllers/native_deployments/): the stage
    # DescribeServiceDeployments shows, the lifecycle hooks met so far ({"hookId", "status",
    # "action"...}; ContinueServiceDeployment writes "action"), and the engine's own state.
    lifecycle_stage: str | None = None
    lifecycle_hooks: list[dict[str, Any]] = field(default_factory=list)
    native: dict[str, Any] | None = None


@dataclass(slots=True)
class ServiceEvent:
    id: str
    created_at: float
    message: str


@dataclass(slots=True)
class Service:
    arn: str
    name: str
    cluster_arn: str
    task_definition: str  # ARN of the PRIMARY deployment's task definition
    desired_count: int
    created_at: float
    created_by: str
    status: str = ACTIVE
    scheduling_strategy: str = REPLICA
    launch_type: str | None = None
    capacity_provider_strategy: list[dict[str, Any]] = field(default_factory=list)
    platform_version: str | None = None
    deployment_configuration: DeploymentConfiguration = field(
        default_factory=DeploymentConfiguration
    )
    deployment_controller: dict[str, str] = field(default_factory=lambda: {"type": "ECS"})
    placement_constraints: list[PlacementConstraint] = field(default_factory=list)
    placement_strategy: list[PlacementStrategy] = field(default_factory=list)
    network_configuration: dict[str, Any] | None = None
    health_check_grace_period_seconds: int | None = None
    # Stored as given (ENABLED when CreateService left it out); None: a service made before
    # Portside kept it, which ECS treats as DISABLED. Tasks are not rebalanced yet (README).
    availability_zone_rebalancing: str | None = None
    enable_execute_command: bool = False
    enable_ecs_managed_tags: bool = False
    propagate_tags: str | None = None
    load_balancers: list[LoadBalancer] = field(default_factory=list)
    service_registries: list[dict[str, Any]] = field(default_factory=list)
    # gatewayConnectors as given (ops/gateway_routes.py; their target groups are among
    # `load_balancers`, marked with their route).
    gateway_connectors: list[dict[str, Any]] = field(default_factory=list)
    # serviceConnectConfiguration as checked (serviceconnect/config.py); None: not in one.
    service_connect: dict[str, Any] | None = None
    service_connect_resources: list[dict[str, str]] = field(default_factory=list)
    role_arn: str | None = None
    # CreateService's idempotency: the caller's clientToken and a digest of the request.
    client_token: str | None = None
    create_digest: str | None = None
    deployments: list[Deployment] = field(default_factory=list)
    events: list[ServiceEvent] = field(default_factory=list)  # newest first, at most 100
    # Controller bookkeeping.
    running_count: int = 0
    pending_count: int = 0
    launch_backoff_until: float = 0.0  # no new tasks before this (tasks keep failing)
    launch_failures: int = 0  # consecutive tasks that failed to start
    # Failed starts of tasks that stopped at or before this do not count: UpdateService sets
    # it to now when it resets the throttle (launch_failures, launch_backoff_until).
    launch_failures_since: float = 0.0
    steady: bool = False  # the last "reached a steady state" event still holds
    deleted_at: float | None = None
    version: int = 1

    @property
    def primary(self) -> Deployment:
        return next(d for d in self.deployments if d.status == PRIMARY)

    def add_event(self, event_id: str, now: float, message: str) -> None:
        self.events.insert(0, ServiceEvent(event_id, now, message))
        del self.events[MAX_EVENTS:]
