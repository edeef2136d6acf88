"""A service's load balancer (ECS's LoadBalancer): the target group or Classic Load Balancer
its tasks' container port is registered with.

The edge parses the request's (api/ecs/requests_services.py), ops/service_validation.py checks
it against the task definition, and the service stores it and shows it back as given (`to_doc`
leaves out the members not given).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from portside.model.doc import GivenMembers


@dataclass(frozen=True, slots=True)
class LoadBalancer(GivenMembers):
    target_group_arn: str | None = None  # an Application or Network Load Balancer's group
    load_balancer_name: str | None = None  # a Classic Load Balancer
    container_name: str | None = None
    container_port: int | None = None
    advanced_configuration: Mapping[str, Any] | None = None  # blue/green: kept as given
    # Set on the target groups a gateway connector made (ops/gateway_routes.py): the route's
    # ARN. Registered like any other, never shown as the service's loadBalancers: a member
    # of Portside's own (`internal`), stored with the service, in no ECS shape.
    gateway_route: str | None = field(default=None, metadata={"internal": True})

    @property
    def shown(self) -> bool:
        return self.gateway_route is None
