"""The service family's requests, wire -> values (model/requests.py)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import orjson

from portside.model.deployment import DeploymentConfiguration
from portside.model.doc import from_doc
from portside.model.launch import strategy_of
from portside.model.load_balancer import LoadBalancer
from portside.model.placement import constraints_of, strategies_of
from portside.model.requests import CreateService, DeploymentQuery, ServiceQuery, UpdateService

Wire = Mapping[str, Any]
T = TypeVar("T")

# Members Portside does not act on: refused when given, rather than silently dropped.
_UNSUPPORTED = ("volumeConfigurations", "vpcLatticeConfigurations")


def _digest(p: Wire) -> str:
    return hashlib.sha256(orjson.dumps(dict(p), option=orjson.OPT_SORT_KEYS)).hexdigest()


def _controller(p: Wire) -> str | None:
    given = p.get("deploymentController")
    return None if given is None else str(given.get("type", "ECS"))


def _service_connect(p: Wire) -> bool:
    connect = p.get("serviceConnectConfiguration")
    return bool(connect and connect.get("enabled"))


def _unsupported(p: Wire) -> tuple[str, ...]:
    return tuple(key for key in _UNSUPPORTED if p.get(key))


def _items(p: Wire, key: str) -> tuple[Any, ...] | None:
    given = p.get(key)
    return None if given is None else tuple(dict(i) for i in given)


def _given(p: Wire, key: str, parse: Callable[[Any], tuple[T, ...]]) -> tuple[T, ...] | None:
    given = p.get(key)
    return None if given is None else parse(given)


def _deployment_configuration(p: Wire) -> DeploymentConfiguration | None:
    given = p.get("deploymentConfiguration")
    return None if given is None else DeploymentConfiguration.from_doc(given)


def _load_balancers(p: Wire) -> tuple[LoadBalancer, ...] | None:
    given = p.get("loadBalancers")
    return None if given is None else tuple(LoadBalancer.from_doc(i) for i in given)


def create_service(p: Wire) -> CreateService:
    return CreateService(
        name=p["serviceName"],
        task_definition=p.get("taskDefinition"),
        cluster=p.get("cluster"),
        digest=_digest(p),
        client_token=p.get("clientToken"),
        desired_count=p.get("desiredCount"),
        scheduling_strategy=p.get("schedulingStrategy"),
        launch_type=p.get("launchType"),
        capacity_provider_strategy=strategy_of(p.get("capacityProviderStrategy")),
        platform_version=p.get("platformVersion"),
        deployment_controller=_controller(p),
        deployment_configuration=_deployment_configuration(p),
        placement_constraints=constraints_of(p.get("placementConstraints")),
        placement_strategy=strategies_of(p.get("placementStrategy")),
        network_configuration=p.get("networkConfiguration"),
        health_check_grace_period=p.get("healthCheckGracePeriodSeconds"),
        availability_zone_rebalancing=p.get("availabilityZoneRebalancing"),
        load_balancers=_load_balancers(p) or (),
        service_registries=_items(p, "serviceRegistries") or (),
        role=p.get("role"),
        tags=tuple(p.get("tags") or ()),
        enable_execute_command=bool(p.get("enableExecuteCommand")),
        enable_ecs_managed_tags=bool(p.get("enableECSManagedTags")),
        propagate_tags=p.get("propagateTags"),
        unsupported=_unsupported(p),
        service_connect=_service_connect(p),
        service_connect_configuration=p.get("serviceConnectConfiguration"),
        gateway_connectors=tuple(p.get("gatewayConnectors") or ()),
    )


def update_service(p: Wire) -> UpdateService:
    strategy = p.get("capacityProviderStrategy")
    return UpdateService(
        service=p["service"],
        cluster=p.get("cluster"),
        desired_count=p.get("desiredCount"),
        task_definition=p.get("taskDefinition"),
        force_new_deployment=bool(p.get("forceNewDeployment")),
        capacity_provider_strategy=None if strategy is None else strategy_of(strategy),
        platform_version=p.get("platformVersion"),
        deployment_controller=_controller(p),
        deployment_configuration=_deployment_configuration(p),
        placement_constraints=_given(p, "placementConstraints", constraints_of),
        placement_strategy=_given(p, "placementStrategy", strategies_of),
        network_configuration=p.get("networkConfiguration"),
        health_check_grace_period=p.get("healthCheckGracePeriodSeconds"),
        availability_zone_rebalancing=p.get("availabilityZoneRebalancing"),
        load_balancers=_load_balancers(p),
        service_registries=_items(p, "serviceRegistries"),
        enable_execute_command=p.get("enableExecuteCommand"),
        enable_ecs_managed_tags=p.get("enableECSManagedTags"),
        propagate_tags=p.get("propagateTags"),
        unsupported=_unsupported(p),
        service_connect=_service_connect(p),
        service_connect_configuration=p.get("serviceConnectConfiguration"),
        gateway_connectors=_given(p, "gatewayConnectors", tuple),
    )


def service_query(p: Wire) -> ServiceQuery:
    """ListServices: its members are the query's fields, in ECS's names."""
    return from_doc(ServiceQuery, dict(p))


def deployment_query(p: Wire) -> DeploymentQuery:
    window = p.get("createdAt") or {}
    return DeploymentQuery(
        service=p["service"],
        cluster=p.get("cluster"),
        status=frozenset(p.get("status") or ()),
        created_after=window.get("after"),
        created_before=window.get("before"),
        max_results=p.get("maxResults"),
        next_token=p.get("nextToken"),
    )
