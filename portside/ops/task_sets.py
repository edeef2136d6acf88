"""ECS task sets: CreateTaskSet, DescribeTaskSets, UpdateTaskSet, DeleteTaskSet,
UpdateServicePrimaryTaskSet, for services whose deploymentController is EXTERNAL or
CODE_DEPLOY.

A task set is one revision of such a service: a task definition, its launch settings and at
most one load balancer, run at `scale` percent of the service's desiredCount. These
operations only write desired state (table `ecs_task_sets`, one document per task set in
ECS's own shape, keyed by its ARN); the service controller
(controllers/services/task_sets.py) starts and stops the tasks, writes the counts and the
stabilityStatus back, and removes a DRAINING task set once its tasks are gone.

CodeDeploy's blue/green engine (controllers/blue_green/) makes and scales task sets through
the same functions (`create_in`, `scale_in_tx`, `make_primary_in`, `drain_in`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from portside.errors import (
    ClientException,
    InvalidParameterException,
    NamedError,
    ServiceNotActiveException,
    ServiceNotFoundException,
)
from portside.model import arn as arns
from portside.model.cluster import Cluster
from portside.model.load_balancer import LoadBalancer
from portside.model.service import ACTIVE, Service
from portside.ops import service_validation as sv
from portside.ops.clusters import get_active
from portside.ops.context import Op
from portside.ops.services import load as load_service
from portside.ops.services import new_deployment_id, service_arn
from portside.ops.services import save as save_service
from portside.ops.tags import Tag, get_tags, set_tags, validate_tags
from portside.ops.task_definitions import require_active
from portside.store.base import Tx

TABLE = "ecs_task_sets"
EXTERNAL = "EXTERNAL"
CODE_DEPLOY = "CODE_DEPLOY"
CONTROLLERS = ("ECS", EXTERNAL, CODE_DEPLOY)
# Task set status (ECS's words).
PRIMARY = "PRIMARY"
SET_ACTIVE = "ACTIVE"
DRAINING = "DRAINING"
STEADY_STATE = "STEADY_STATE"
STABILIZING = "STABILIZING"
# "5 deployments exist on the service. Unable to create new TaskSet since this exceeds the
# maximum limit." (aws-samples/ecs-bg-external-controller#6, pipe-cd/pipecd#4692)
MAX_TASK_SETS = 5
# ECS's words for a service of the ECS controller (hashicorp/terraform-provider-aws#30347).
NOT_EXTERNAL = (
    "Amazon ECS only supports task set management on services configured to use external "
    "deployment controllers."
)
NOT_FOUND = "The specified task set does not exist."  # wording: ours


def task_set_not_found() -> NamedError:
    return NamedError("TaskSetNotFoundException", NOT_FOUND)


@dataclass(frozen=True, slots=True)
class CreateTaskSet:
    service: str
    cluster: str | None
    task_definition: str
    external_id: str | None = None
    network_configuration: dict[str, Any] | None = None
    load_balancers: tuple[LoadBalancer, ...] = ()
    service_registries: tuple[dict[str, Any], ...] = ()
    launch_type: str | None = None
    capacity_provider_strategy: tuple[dict[str, Any], ...] | None = None
    platform_version: str | None = None
    scale: dict[str, Any] | None = None
    client_token: str | None = None
    tags: tuple[Mapping[str, Any], ...] = ()
    started_by: str | None = None  # CODE_DEPLOY when CodeDeploy makes it


@dataclass(frozen=True, slots=True)
class TaskSetView:
    doc: dict[str, Any]
    tags: list[Tag] = field(default_factory=list)


# -- the controller type --------------------------------------------------------------------


def controller_of(service: Service) -> str:
    return str((service.deployment_controller or {}).get("type") or "ECS")


def has_task_sets(service: Service) -> bool:
    return controller_of(service) in (EXTERNAL, CODE_DEPLOY)


def check_controller(kind: str | None) -> None:
    """The deployment controllers Portside runs: ECS (rolling), EXTERNAL and CODE_DEPLOY."""
    if (kind or "ECS") not in CONTROLLERS:
        raise InvalidParameterException(
            f"Invalid deployment controller type {kind}. Valid values are: "
            + ", ".join(CONTROLLERS)
        )  # wording: ours (the model's enum)


# -- storage --------------------------------------------------------------------------------


def of_service(tx: Tx, arn: str) -> list[dict[str, Any]]:
    """The service's task sets, newest first."""
    docs = [doc for _, doc in tx.scan(TABLE, where={"service": arn})]
    docs.sort(key=lambda d: (-float(d["createdAt"]), d["id"]))
    return docs


def save(tx: Tx, doc: dict[str, Any]) -> None:
    tx.put(TABLE, doc["taskSetArn"], doc)


def remove(tx: Tx, doc: Mapping[str, Any]) -> None:
    tx.delete(TABLE, str(doc["taskSetArn"]))
    set_tags(tx, str(doc["taskSetArn"]), [])


def computed_count(desired: int, scale: Mapping[str, Any]) -> int:
    """The service's desiredCount times the scale, rounded up (API reference, TaskSet
    computedDesiredCount)."""
    value = float(scale.get("value", 0))
    return max(0, math.ceil(desired * value / 100 - 1e-9))


def _find(tx: Tx, service: Service, ref: str) -> dict[str, Any] | None:
    for doc in of_service(tx, service.arn):
        if ref in (doc["id"], doc["taskSetArn"]):
            return doc
    return None


def _require(tx: Tx, service: Service, ref: str) -> dict[str, Any]:
    doc = _find(tx, service, ref)
    if doc is None:
        raise task_set_not_found()
    return doc


def _service(op: Op, tx: Tx, cluster_ref: str | None, ref: str) -> tuple[Cluster, Service]:
    cluster = get_active(op, tx, cluster_ref)
    service = load_service(tx, service_arn(op, cluster, ref))
    if service is None or service.cluster_arn != cluster.arn:
        raise ServiceNotFoundException("Service not found.")
    if service.status != ACTIVE:
        raise ServiceNotActiveException("Service was not ACTIVE.")
    if not has_task_sets(service):
        raise InvalidParameterException(NOT_EXTERNAL)
    return cluster, service


def check_scale(scale: Mapping[str, Any] | None) -> dict[str, Any]:
    if scale is None:
        return {"value": 100.0, "unit": "PERCENT"}
    value = float(scale.get("value", 0.0))
    if not 0 <= value <= 100:
        # wording: ours (the API reference: "between 0 and 100")
        raise InvalidParameterException("Scale value must be between 0 and 100.")
    return {"value": value, "unit": scale.get("unit") or "PERCENT"}


# -- CreateTaskSet --------------------------------------------------------------------------


def create(op: Op, request: CreateTaskSet) -> TaskSetView:
    tags = validate_tags(request.tags)
    with op.store.transaction() as tx:
        cluster, service = _service(op, tx, request.cluster, request.service)
        doc = create_in(op, tx, cluster, service, request)
        set_tags(tx, doc["taskSetArn"], tags)
        return TaskSetView(doc, tags)


def create_in(
    op: Op, tx: Tx, cluster: Cluster, service: Service, request: CreateTaskSet
) -> dict[str, Any]:
    """A new ACTIVE task set of `service` (the first one of the service is PRIMARY), in `tx`."""
    token = request.client_token
    existing = of_service(tx, service.arn)
    if token:
        same = next((d for d in existing if d.get("clientToken") == token), None)
        if same is not None:
            return same
    live = [d for d in existing if d["status"] != DRAINING]
    if len(live) >= MAX_TASK_SETS:
        raise InvalidParameterException(
            f"{len(live)} deployments exist on the service. Unable to create new TaskSet "
            "since this exceeds the maximum limit."
        )
    td = require_active(op, tx, request.task_definition)
    if len(request.load_balancers) > 1:
        # wording: ours (ECS: a task set takes one load balancer)
        raise InvalidParameterException("A task set can have only one load balancer.")
    sv.check_target_groups(tx, request.load_balancers, td)
    launch_type = request.launch_type
    strategy = request.capacity_provider_strategy
    if launch_type is None and strategy is None:
        launch_type = service.launch_type
        strategy = tuple(service.capacity_provider_strategy)
    network = request.network_configuration or service.network_configuration
    if network is not None:
        network = sv.network(network)
    now = op.now()
    set_id = new_deployment_id(op.world)
    arn = arns.ecs(op.region, op.account, f"task-set/{cluster.name}/{service.name}/{set_id}")
    scale = check_scale(request.scale)
    doc: dict[str, Any] = {
        "id": set_id,
        "taskSetArn": arn,
        "serviceArn": service.arn,
        "clusterArn": cluster.arn,
        "status": SET_ACTIVE if live else PRIMARY,
        "taskDefinition": td.arn,
        "computedDesiredCount": computed_count(service.desired_count, scale),
        "pendingCount": 0,
        "runningCount": 0,
        "createdAt": now,
        "updatedAt": now,
        "loadBalancers": [lb.to_doc() for lb in request.load_balancers],
        "serviceRegistries": [dict(r) for r in request.service_registries],
        "scale": scale,
        "stabilityStatus": STABILIZING,
        "stabilityStatusAt": now,
    }
    if request.started_by:
        doc["startedBy"] = request.started_by
    if request.external_id:
        doc["externalId"] = request.external_id
    if launch_type:
        doc["launchType"] = launch_type
    if strategy:
        doc["capacityProviderStrategy"] = [dict(i) for i in strategy]
    if launch_type == "FARGATE" or any(
        i.get("capacityProvider") in ("FARGATE", "FARGATE_SPOT") for i in strategy or ()
    ):
        doc["platformVersion"] = request.platform_version or "LATEST"
        doc["platformFamily"] = "Linux"
    if network is not None:
        doc["networkConfiguration"] = network
    if token:
        doc["clientToken"] = token
    save(tx, doc)
    if doc["status"] == PRIMARY:
        _follow_primary(tx, service, doc)
    return doc


def _follow_primary(tx: Tx, service: Service, primary: Mapping[str, Any]) -> None:
    """A CODE_DEPLOY service shows its PRIMARY task set's definition; an EXTERNAL one shows
    none (Terraform's provider reads no taskDefinition back for it)."""
    if controller_of(service) == CODE_DEPLOY:
        service.task_definition = str(primary["taskDefinition"])
        save_service(tx, service)


# -- DescribeTaskSets -----------------------------------------------------------------------


def describe(
    op: Op, cluster_ref: str | None, ref: str, wanted: Sequence[str] | None
) -> tuple[list[TaskSetView], list[dict[str, str]]]:
    with op.store.read() as tx:
        _, service = _service(op, tx, cluster_ref, ref)
        docs = [d for d in of_service(tx, service.arn) if not d.get("deleted")]
        if wanted is None:
            return [TaskSetView(d, get_tags(tx, d["taskSetArn"])) for d in docs], []
        found: list[TaskSetView] = []
        failures: list[dict[str, str]] = []
        for given in wanted:
            doc = next((d for d in docs if given in (d["id"], d["taskSetArn"])), None)
            if doc is None:
                failures.append({"arn": given, "reason": "MISSING"})
            else:
                found.append(TaskSetView(doc, get_tags(tx, doc["taskSetArn"])))
        return found, failures


# -- UpdateTaskSet, UpdateServicePrimaryTaskSet, DeleteTaskSet ------------------------------


def update_scale(
    op: Op, cluster_ref: str | None, ref: str, task_set: str, scale: Mapping[str, Any]
) -> TaskSetView:
    with op.store.transaction() as tx:
        _, service = _service(op, tx, cluster_ref, ref)
        doc = _require(tx, service, task_set)
        scale_in_tx(op, tx, service, doc, scale)
        return TaskSetView(doc, get_tags(tx, doc["taskSetArn"]))


def scale_in_tx(
    op: Op, tx: Tx, service: Service, doc: dict[str, Any], scale: Mapping[str, Any]
) -> None:
    if doc["status"] == DRAINING:
        raise InvalidParameterException("The task set is being deleted.")  # wording: ours
    doc["scale"] = check_scale(scale)
    _recount(op, service, doc)
    save(tx, doc)


def _recount(op: Op, service: Service, doc: dict[str, Any]) -> None:
    _recount_at(service, doc, op.now())


def _recount_at(service: Service, doc: dict[str, Any], now: float) -> None:
    count = computed_count(service.desired_count, doc["scale"])
    if count != doc["computedDesiredCount"]:
        doc["computedDesiredCount"] = count
        doc["stabilityStatus"] = STABILIZING
        doc["stabilityStatusAt"] = now
    doc["updatedAt"] = now


def make_primary(op: Op, cluster_ref: str | None, ref: str, task_set: str) -> TaskSetView:
    with op.store.transaction() as tx:
        _, service = _service(op, tx, cluster_ref, ref)
        doc = _require(tx, service, task_set)
        make_primary_in(op, tx, service, doc)
        return TaskSetView(doc, get_tags(tx, doc["taskSetArn"]))


def make_primary_in(op: Op, tx: Tx, service: Service, doc: dict[str, Any]) -> None:
    if doc["status"] == DRAINING:
        raise InvalidParameterException("The task set is being deleted.")  # wording: ours
    now = op.now()
    for other in of_service(tx, service.arn):
        if other["status"] == PRIMARY and other["id"] != doc["id"]:
            other["status"] = SET_ACTIVE
            other["updatedAt"] = now
            save(tx, other)
    doc["status"] = PRIMARY
    doc["updatedAt"] = now
    save(tx, doc)
    _follow_primary(tx, service, doc)


def delete(op: Op, cluster_ref: str | None, ref: str, task_set: str, force: bool) -> TaskSetView:
    with op.store.transaction() as tx:
        _, service = _service(op, tx, cluster_ref, ref)
        doc = _require(tx, service, task_set)
        # `force` is accepted and changes nothing: the task set drains either way (ECS
        # deletes a scaled task set without it too; Terraform's provider relies on that).
        del force
        drain_in(op, tx, doc)
        return TaskSetView(doc, get_tags(tx, doc["taskSetArn"]))


def drain_in(op: Op, tx: Tx, doc: dict[str, Any]) -> None:
    """DRAINING: its tasks stop, then the controller removes it."""
    now = op.now()
    doc["status"] = DRAINING
    doc["computedDesiredCount"] = 0
    doc["scale"] = {"value": 0.0, "unit": doc["scale"].get("unit", "PERCENT")}
    doc["stabilityStatus"] = STABILIZING
    doc["stabilityStatusAt"] = now
    doc["updatedAt"] = now
    save(tx, doc)


def recount_all(op: Op, tx: Tx, service: Service) -> None:
    """The service's desiredCount changed: every task set's computed count follows."""
    recount_at(tx, service, op.now())


def recount_at(tx: Tx, service: Service, now: float) -> None:
    """recount_all for callers without an Op (Application Auto Scaling's)."""
    for doc in of_service(tx, service.arn):
        if doc["status"] != DRAINING:
            before = dict(doc)
            _recount_at(service, doc, now)
            if doc["computedDesiredCount"] != before["computedDesiredCount"]:
                save(tx, doc)


def first_task_set(op: Op, tx: Tx, cluster: Cluster, service: Service) -> None:
    """CreateService with the CODE_DEPLOY controller: ECS makes the first (PRIMARY) task set
    from the service's own definition, load balancers and network, at 100 %."""
    if not service.task_definition:
        raise ClientException("TaskDefinition not found.")
    create_in(
        op,
        tx,
        cluster,
        service,
        CreateTaskSet(
            service=service.arn,
            cluster=cluster.arn,
            task_definition=service.task_definition,
            load_balancers=tuple(service.load_balancers),
            service_registries=tuple(dict(r) for r in service.service_registries),
            launch_type=service.launch_type,
            capacity_provider_strategy=tuple(service.capacity_provider_strategy),
            platform_version=service.platform_version,
            network_configuration=service.network_configuration,
            started_by="CODE_DEPLOY",
        ),
    )


# -- services of these controllers ----------------------------------------------------------


def external_service(op: Op, request: Any, tx: Tx, cluster: Cluster, arn: str) -> Service:
    """CreateService with the EXTERNAL controller and no taskDefinition (the task sets carry
    it): the service alone, with ECS's defaults; its placeholder deployment is never shown."""
    from portside.model.service import COMPLETED, PRIMARY, REPLICA, Deployment

    now = op.now()
    launch_type, strategy = sv.launch(
        cluster,
        request.launch_type,
        request.capacity_provider_strategy,
        request.scheduling_strategy or REPLICA,
    )
    if request.load_balancers:
        raise InvalidParameterException(  # wording: ours
            "loadBalancers are given on the task sets of a service with the EXTERNAL "
            "deployment controller."
        )
    service = Service(
        arn=arn,
        name=request.name,
        cluster_arn=cluster.arn,
        task_definition="",
        desired_count=sv.desired_count(REPLICA, request.desired_count),
        created_at=now,
        created_by=op.caller.principal_arn,
        launch_type=launch_type,
        capacity_provider_strategy=strategy,
        deployment_configuration=sv.deployment_configuration(
            request.deployment_configuration, REPLICA
        ),
        deployment_controller={"type": EXTERNAL},
        placement_constraints=list(request.placement_constraints),
        placement_strategy=list(request.placement_strategy),
        network_configuration=sv.network(request.network_configuration),
        health_check_grace_period_seconds=sv.check_grace_period(request.health_check_grace_period),
        availability_zone_rebalancing=request.availability_zone_rebalancing or "DISABLED",
        enable_execute_command=request.enable_execute_command,
        enable_ecs_managed_tags=request.enable_ecs_managed_tags,
        propagate_tags=request.propagate_tags or "NONE",
        role_arn=None,
        client_token=request.client_token,
        create_digest=request.digest,
    )
    service.deployments = [
        Deployment(
            id=new_deployment_id(op.world),
            status=PRIMARY,
            task_definition="",
            desired_count=service.desired_count,
            created_at=now,
            updated_at=now,
            rollout_state=COMPLETED,
        )
    ]
    return service


# UpdateService members a service with task sets takes (the rest belong to its task sets).
_CODE_DEPLOY_TEXT = (
    "Unable to update task definition on services with a CODE_DEPLOY deployment controller. "
    "Use AWS CodeDeploy to trigger a new deployment."
)


def update_service_in(op: Op, tx: Tx, service: Service, request: Any) -> None:
    """UpdateService of a service with task sets: desiredCount (the task sets follow),
    the grace period, placement and the settings kept as given; a new definition, network,
    load balancers or launch settings belong to a new task set (or to CodeDeploy)."""
    kind = controller_of(service)
    if request.task_definition or request.force_new_deployment:
        if kind == CODE_DEPLOY:
            # ECS's words (aws/aws-cli and CDK users quote them).
            raise InvalidParameterException(_CODE_DEPLOY_TEXT)
        raise InvalidParameterException(  # wording: ours, after ECS's CODE_DEPLOY text
            "Unable to update task definition on services with an EXTERNAL deployment "
            "controller. Create a new task set instead."
        )
    for given, name in (
        (request.network_configuration, "networkConfiguration"),
        (request.load_balancers, "loadBalancers"),
        (request.capacity_provider_strategy, "capacityProviderStrategy"),
        (request.platform_version, "platformVersion"),
        (request.service_registries, "serviceRegistries"),
    ):
        if given is not None:
            raise InvalidParameterException(  # wording: ours
                f"{name} cannot be updated on a service with the {kind} deployment "
                "controller; it is set on the task sets."
            )
    if request.desired_count is not None:
        service.desired_count = sv.check_count(request.desired_count)
        service.primary.desired_count = service.desired_count
    grace = sv.check_grace_period(request.health_check_grace_period)
    if grace is not None:
        service.health_check_grace_period_seconds = grace
    if request.deployment_configuration is not None:
        service.deployment_configuration = sv.deployment_configuration(
            request.deployment_configuration,
            service.scheduling_strategy,
            service.deployment_configuration,
        )
    if request.placement_constraints is not None:
        service.placement_constraints = list(request.placement_constraints)
    if request.placement_strategy is not None:
        service.placement_strategy = list(request.placement_strategy)
    for attr in ("availability_zone_rebalancing", "enable_execute_command", "propagate_tags"):
        value = getattr(request, attr, None)
        if value is not None:
            setattr(service, attr, value)
    save_service(tx, service)
    recount_all(op, tx, service)


def has_kind(kind: str | None) -> bool:
    return kind in (EXTERNAL, CODE_DEPLOY)


def shown(tx: Tx, service: Service) -> tuple[dict[str, Any], ...]:
    """The task sets DescribeServices shows for a service (none for the ECS controller)."""
    if not has_task_sets(service):
        return ()
    return tuple(of_service(tx, service.arn))


def task_set_balancers(
    tx: Tx, arn: str, service_doc: Mapping[str, Any]
) -> dict[str, list[dict[str, Any]]] | None:
    """For the targets loop: task set id -> its load balancers, for a service with task sets;
    None for a service of the ECS controller (its tasks use the service's)."""
    kind = str((service_doc.get("deploymentController") or {}).get("type") or "ECS")
    if not has_kind(kind):
        return None
    return {
        d["id"]: [lb for lb in d.get("loadBalancers") or () if lb.get("targetGroupArn")]
        for d in of_service(tx, arn)
    }
