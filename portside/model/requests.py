"""ECS requests as values: what api/ecs/requests_*.py make of the wire, and what ops/ takes.
Starting tasks is model/launch.py's `Launch`.

None means "not given" (UpdateService changes only what is given). The deployment
configuration, load balancers and placement rules are values (model/deployment.py,
model/load_balancer.py, model/placement.py) that give back the document the service stores.
Service registries and the network configuration keep ECS's document shape, as a task
definition's `spec` does (model/task_definition.py). `unsupported` names the members given
that Portside does not act on, so the operation refuses them rather than drop them silently.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from portside.model.deployment import DeploymentConfiguration
from portside.model.launch import CapacityItem, Tag
from portside.model.load_balancer import LoadBalancer
from portside.model.placement import PlacementConstraint, PlacementStrategy

Document = Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class TaskQuery:
    """ListTasks."""

    cluster: str | None = None
    container_instance: str | None = None
    family: str | None = None
    started_by: str | None = None
    service_name: str | None = None
    desired_status: str | None = None  # RUNNING unless given
    launch_type: str | None = None
    max_results: int | None = None
    next_token: str | None = None


@dataclass(frozen=True, slots=True)
class ExecuteCommand:
    cluster: str | None
    task: str
    command: str
    interactive: bool  # True only when the request said true
    container: str | None = None


@dataclass(frozen=True, slots=True)
class CreateService:
    name: str
    task_definition: str | None
    cluster: str | None = None
    digest: str = ""  # of the request as sent: a retry with the same clientToken must match
    client_token: str | None = None
    desired_count: int | None = None
    scheduling_strategy: str | None = None  # REPLICA unless given
    launch_type: str | None = None
    capacity_provider_strategy: tuple[CapacityItem, ...] = ()
    platform_version: str | None = None
    deployment_controller: str | None = None  # its type
    deployment_configuration: DeploymentConfiguration | None = None
    placement_constraints: tuple[PlacementConstraint, ...] = ()
    placement_strategy: tuple[PlacementStrategy, ...] = ()
    network_configuration: Document | None = None
    health_check_grace_period: int | None = None
    availability_zone_rebalancing: str | None = None  # ENABLED | DISABLED
    load_balancers: tuple[LoadBalancer, ...] = ()
    service_registries: tuple[Document, ...] = ()
    role: str | None = None
    tags: tuple[Tag, ...] = ()
    enable_execute_command: bool = False
    enable_ecs_managed_tags: bool = False
    propagate_tags: str | None = None
    unsupported: tuple[str, ...] = ()
    service_connect: bool = False  # serviceConnectConfiguration enabled
    service_connect_configuration: Document | None = None  # as given
    gateway_connectors: tuple[Document, ...] = ()  # as given
    # The target groups ops/gateway_routes.py made for them, marked with their routes.
    gateway_load_balancers: tuple[LoadBalancer, ...] = ()


@dataclass(frozen=True, slots=True)
class UpdateService:
    service: str
    cluster: str | None = None
    desired_count: int | None = None
    task_definition: str | None = None
    force_new_deployment: bool = False
    capacity_provider_strategy: tuple[CapacityItem, ...] | None = None  # (): a launch type
    platform_version: str | None = None
    deployment_controller: str | None = None
    deployment_configuration: DeploymentConfiguration | None = None
    placement_constraints: tuple[PlacementConstraint, ...] | None = None
    placement_strategy: tuple[PlacementStrategy, ...] | None = None
    network_configuration: Document | None = None
    health_check_grace_period: int | None = None
    availability_zone_rebalancing: str | None = None  # ENABLED | DISABLED
    load_balancers: tuple[LoadBalancer, ...] | None = None
    service_registries: tuple[Document, ...] | None = None
    enable_execute_command: bool | None = None
    enable_ecs_managed_tags: bool | None = None
    propagate_tags: str | None = None
    unsupported: tuple[str, ...] = ()
    service_connect: bool = False
    service_connect_configuration: Document | None = None  # as given; None: unchanged
    gateway_connectors: tuple[Document, ...] | None = None  # None: unchanged
    gateway_load_balancers: tuple[LoadBalancer, ...] = ()  # with gateway_connectors


@dataclass(frozen=True, slots=True)
class ServiceQuery:
    """ListServices."""

    cluster: str | None = None
    launch_type: str | None = None
    scheduling_strategy: str | None = None
    resource_management_type: str | None = None
    max_results: int | None = None
    next_token: str | None = None


@dataclass(frozen=True, slots=True)
class DeploymentQuery:
    """ListServiceDeployments."""

    service: str
    cluster: str | None = None
    status: frozenset[str] = frozenset()
    created_after: float | None = None
    created_before: float | None = None
    max_results: int | None = None
    next_token: str | None = None
