"""What to start: one `Launch` value serves RunTask, StartTask, the service controller and the
schedules, so a task is launched one way whoever asks.

The edge (wire/task_requests.py) turns ECS's wire members into these fields; the service
controller builds its Launch from a deployment; the schedules go through the edge's parser
(a schedule's target is a RunTask request). `overrides` is model/overrides.py's value, the
placement rules model/placement.py's: a task definition's own placementConstraints, in its
`spec` (model/task_definition.py), join them as such values, and scheduler/constraints and
scheduler/strategies turn both into their filters and rankers and explain failures in them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from portside.model.overrides import TaskOverrides
from portside.model.placement import PlacementConstraint, PlacementStrategy

FARGATE_PROVIDERS = ("FARGATE", "FARGATE_SPOT")

Tag = dict[str, str]  # {"key": ..., "value": ...}, as ECS's tag lists hold them


@dataclass(frozen=True, slots=True)
class CapacityItem:
    """One entry of a capacity provider strategy. Field names follow ECS's members, so a
    stored strategy is `to_doc`/`from_doc` of these (model/doc.py)."""

    capacity_provider: str
    weight: int = 0
    base: int = 0

    @property
    def launch_type(self) -> str:
        """The launch type of the provider's tasks: an Auto Scaling group provider's tasks are
        EC2 tasks on its instances."""
        return "FARGATE" if self.capacity_provider in FARGATE_PROVIDERS else "EC2"


def strategy_of(items: Iterable[Mapping[str, Any]] | None) -> tuple[CapacityItem, ...]:
    """A capacity provider strategy document (the wire's, or a stored cluster's, service's or
    deployment's: the same shape) as values."""
    return tuple(
        CapacityItem(
            str(i.get("capacityProvider", "")), int(i.get("weight", 0)), int(i.get("base", 0))
        )
        for i in items or ()
    )


def strategy_document(items: Iterable[CapacityItem]) -> list[dict[str, Any]]:
    """A strategy as clusters, services and deployments store and show it: every member."""
    return [
        {"capacityProvider": i.capacity_provider, "weight": i.weight, "base": i.base} for i in items
    ]


@dataclass(frozen=True, slots=True)
class AwsVpc:
    """networkConfiguration.awsvpcConfiguration (the only member networkConfiguration has).
    `None` members were not given: a task stores only what was given."""

    subnets: tuple[str, ...] | None = None
    security_groups: tuple[str, ...] | None = None
    assign_public_ip: str | None = None  # ENABLED | DISABLED

    @property
    def empty(self) -> bool:
        return (
            self.subnets is None and self.security_groups is None and self.assign_public_ip is None
        )

    @classmethod
    def of(cls, network_configuration: Mapping[str, Any] | None) -> AwsVpc | None:
        """From a networkConfiguration document (the wire's, or a stored deployment's: the
        same shape); None when there is none (absent or `{}`)."""
        if not network_configuration:
            return None
        given = network_configuration.get("awsvpcConfiguration") or {}
        subnets, groups = given.get("subnets"), given.get("securityGroups")
        return cls(
            subnets=None if subnets is None else tuple(subnets),
            security_groups=None if groups is None else tuple(groups),
            assign_public_ip=given.get("assignPublicIp"),
        )

    def document(self) -> dict[str, Any]:
        """The networkConfiguration document a task stores: the members given."""
        inner: dict[str, Any] = {}
        if self.subnets is not None:
            inner["subnets"] = list(self.subnets)
        if self.security_groups is not None:
            inner["securityGroups"] = list(self.security_groups)
        if self.assign_public_ip is not None:
            inner["assignPublicIp"] = self.assign_public_ip
        return {"awsvpcConfiguration": inner}


@dataclass(frozen=True, slots=True)
class Launch:
    """The tasks to start and how. None (or empty) members were not given."""

    task_definition: str  # family, family:revision or ARN
    cluster: str | None = None  # name or ARN; None: the default cluster
    count: int | None = None  # RunTask: 1 to 10, 1 when not given
    launch_type: str | None = None
    capacity_provider_strategy: tuple[CapacityItem, ...] = ()
    placement_constraints: tuple[PlacementConstraint, ...] = ()
    placement_strategy: tuple[PlacementStrategy, ...] = ()
    network: AwsVpc | None = None
    overrides: TaskOverrides | None = None
    tags: tuple[Tag, ...] = ()
    started_by: str | None = None
    group: str | None = None  # None: family:<family>
    enable_execute_command: bool = False
    propagate_tags: str | None = None  # TASK_DEFINITION | NONE (SERVICE: services only)
    reference_id: str | None = None  # accepted, not acted on
    client_token: str | None = None  # RunTask's idempotency


@dataclass(frozen=True, slots=True)
class StartTask:
    """StartTask: a launch on named container instances (1 to 10, IDs or ARNs)."""

    launch: Launch
    container_instances: tuple[str, ...]
