"""A daemon as the DAEMON service scheduler sees it.

The scheduler (controllers/services/daemon.py) reconciles a `Service`; a daemon hands it one
whose deployments are the daemon's deployments and whose deployment configuration says what
the daemon's does: `drainPercent` of the instances may be without their daemon task at once
(minimumHealthyPercent = 100 - drainPercent; maximumPercent is 100, stop first), and the
circuit breaker is on with rollback, as daemon deployments always roll back on failures
(developer guide, "Daemon deployments").

Its name is `daemon:NAME`, so the daemon's tasks form the group `service:daemon:NAME`: no
service can have that name (ECS service names take no colon), and the scheduler's readers
(`service_facts.group`) find them as they find a service's.
"""

from __future__ import annotations

import math
import string
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from portside.model.capacity_provider import CapacityProvider
from portside.model.container_instance import ContainerInstance
from portside.model.deployment import CircuitBreaker, DeploymentConfiguration
from portside.model.doc import from_doc, to_doc
from portside.model.service import (
    ACTIVE,
    DAEMON,
    DEPLOYMENT_ACTIVE,
    DEPLOYMENT_INACTIVE,
    PRIMARY,
    Deployment,
    Service,
)
from portside.ops.capacity_providers import provider_for_instance
from portside.ops.daemons_model import DEFAULT_DRAIN_PERCENT, Daemon
from portside.store.base import Tx

_ID_ALPHABET = string.ascii_letters + string.digits


def group_of(name: str) -> str:
    return f"service:daemon:{name}"


def name_in_group(grp: str) -> str | None:
    head = "service:daemon:"
    return grp[len(head) :] if grp.startswith(head) else None


def new_deployment_id(raw: str) -> str:
    """A daemon deployment's id, 21 letters and digits as ECS's look, from the injected id
    source's 32 hex digits."""
    n = int(raw[:32], 16)
    out = []
    for _ in range(21):
        n, digit = divmod(n, len(_ID_ALPHABET))
        out.append(_ID_ALPHABET[digit])
    return "".join(out)


def configuration(drain_percent: float | None) -> DeploymentConfiguration:
    drain = DEFAULT_DRAIN_PERCENT if drain_percent is None else float(drain_percent)
    return DeploymentConfiguration(
        deployment_circuit_breaker=CircuitBreaker(enable=True, rollback=True),
        maximum_percent=100,
        minimum_healthy_percent=max(0, 100 - math.ceil(drain)),
    )


def new_service(daemon: Daemon, created_by: str, now: float) -> Service:
    return Service(
        arn=daemon.arn,
        name=f"daemon:{daemon.name}",
        cluster_arn=daemon.cluster_arn,
        task_definition="",
        desired_count=0,
        created_at=now,
        created_by=created_by,
        status=ACTIVE,
        scheduling_strategy=DAEMON,
        launch_type="EC2",
    )


def load(daemon: Daemon) -> Service:
    return from_doc(Service, daemon.scheduler)


def store(daemon: Daemon, service: Service) -> None:
    daemon.scheduler = to_doc(service)


def deploy(
    service: Service,
    deployment_id: str,
    task_definition: str,
    drain_percent: float | None,
    enable_execute_command: bool,
    now: float,
) -> None:
    """A new PRIMARY deployment of `task_definition`; the one it replaces goes on rolling out
    of the instances (ACTIVE), as UpdateService's does."""
    sources = [d.id for d in service.deployments if d.status != DEPLOYMENT_INACTIVE]
    for d in service.deployments:
        if d.status == PRIMARY:
            d.status = DEPLOYMENT_ACTIVE
            d.updated_at = now
    service.deployments.insert(
        0,
        Deployment(
            id=deployment_id,
            status=PRIMARY,
            task_definition=task_definition,
            desired_count=service.desired_count,
            created_at=now,
            updated_at=now,
            launch_type="EC2",
            sources=sources,
        ),
    )
    service.deployments = [d for d in service.deployments if d.status != DEPLOYMENT_INACTIVE]
    service.task_definition = task_definition
    service.deployment_configuration = configuration(drain_percent)
    service.enable_execute_command = enable_execute_command
    service.steady = False
    service.launch_failures = 0
    service.launch_backoff_until = 0.0
    service.launch_failures_since = now


def describe_config(given: dict[str, Any] | None) -> dict[str, Any]:
    """The DaemonDeploymentConfiguration a deployment shows: as given, drainPercent filled."""
    out = dict(given or {})
    out.setdefault("drainPercent", DEFAULT_DRAIN_PERCENT)
    return out


def provider_names(
    tx: Tx,
    cluster_arn: str,
    instances: Iterable[tuple[ContainerInstance, Mapping[str, Any]]],
    providers: Sequence[CapacityProvider],
) -> dict[str, str | None]:
    """Instance ARN -> the capacity provider it belongs to, as placement decides it: the
    ACTIVE provider whose Auto Scaling group its registered or custom attributes name."""
    custom: dict[str, dict[str, Any]] = {}
    for _, doc in tx.scan("attributes", prefix=f"{cluster_arn}|"):
        custom.setdefault(doc["targetId"], {})[doc["name"]] = doc.get("value")
    return {
        inst.arn: provider_for_instance({**registered, **custom.get(inst.arn, {})}, providers)
        for inst, registered in instances
    }
