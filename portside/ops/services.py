"""Service operations: CreateService, UpdateService, DeleteService, DescribeServices,
ListServices. Service deployments (ListServiceDeployments, DescribeServiceDeployments) are
service_deployments.py's.

These only write desired state: the service, its deployments (newest first, one PRIMARY)
and its tags. The service controller (controllers/services/) starts and stops the tasks,
writes the counts back and marks a DRAINING service INACTIVE once its tasks are gone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from portside.controllers.native_deployments import rules as native_rules
from portside.errors import (
    ClientException,
    InvalidParameterException,
    ServiceNotActiveException,
    ServiceNotFoundException,
)
from portside.model import arn as arns
from portside.model.cluster import Cluster
from portside.model.placement import PlacementStrategy
from portside.model.requests import CreateService, ServiceQuery, UpdateService
from portside.model.service import (
    ACTIVE,
    COMPLETED,
    DAEMON,
    DEPLOYMENT_ACTIVE,
    DEPLOYMENT_INACTIVE,
    DRAINING,
    IN_PROGRESS,
    INACTIVE,
    PRIMARY,
    REPLICA,
    Deployment,
    Service,
)
from portside.model.task_definition import TaskDefinition
from portside.ops import network_validation, records, task_roles
from portside.ops import service_validation as sv
from portside.ops.clusters import describe_members, get_active
from portside.ops.context import Op, World
from portside.ops.describing import Failure, RefLimits
from portside.ops.given import apply_given
from portside.ops.paging import check_max_results, decode_token, keys_page
from portside.ops.tags import Tag, get_tags, set_tags, validate_tags
from portside.ops.task_definitions import find as find_task_definition
from portside.ops.task_definitions import require_active
from portside.serviceconnect import config as service_connect
from portside.store.base import Tx

TABLE = "services"
MAX_DESCRIBE = 10
DESCRIBE_LIMITS = RefLimits(  # wording: ours
    MAX_DESCRIBE,
    "Services cannot be empty.",
    f"At most {MAX_DESCRIBE} services can be described at a time; {{given}} were given.",
)
# Replaced deployments kept for ListServiceDeployments (ECS keeps 90 days of history).
HISTORY_SECONDS = 90 * 86400.0
HISTORY_MAX = 100
# UpdateService members that replace the service's as they are when given (no deployment).
_AS_GIVEN = (
    "availability_zone_rebalancing",
    "enable_execute_command",
    "enable_ecs_managed_tags",
    "propagate_tags",
)


@dataclass(frozen=True, slots=True)
class ServiceView:
    service: Service
    tags: list[Tag]
    # EXTERNAL and CODE_DEPLOY services: their task sets, as stored (ops/task_sets.py).
    task_sets: tuple[dict[str, Any], ...] = ()


# -- references and storage -----------------------------------------------------------------


def service_arn(op: Op, cluster: Cluster, ref: str) -> str:
    """The ARN a service reference (name or ARN) names in `cluster`."""
    if arns.is_arn(ref):
        parsed = arns.parse(ref)
        if parsed is not None and parsed.kind == "service" and "/" not in parsed.path:
            ref = parsed.path  # the old ARN format, without the cluster
        else:
            return ref
    return arns.ecs(op.region, op.account, f"service/{cluster.name}/{ref}")


def load(tx: Tx, arn: str) -> Service | None:
    return records.load(tx, TABLE, Service, arn)


def save(tx: Tx, service: Service) -> None:
    """Store `service`; the store gives it its next version."""
    records.save(tx, TABLE, service)


def _find(op: Op, tx: Tx, cluster: Cluster, ref: str) -> Service | None:
    found = load(tx, service_arn(op, cluster, ref))
    return found if found is not None and found.cluster_arn == cluster.arn else None


def require(op: Op, tx: Tx, cluster: Cluster, ref: str) -> Service:
    found = _find(op, tx, cluster, ref)
    if found is None:
        raise ServiceNotFoundException("Service not found.")
    return found


def new_deployment_id(world: World) -> str:
    """ecs-svc/ and 19 digits, from the injected id source."""
    return "ecs-svc/" + str(int(world.new_id()[:16], 16) % 10**19).rjust(19, "0")


def _runnable(op: Op, tx: Tx, ref: str | None) -> TaskDefinition:
    """The revision a service may start: it must exist and be ACTIVE. ECS's words:
    "TaskDefinition not found." (Cloud-CV/EvalAI#2419, CreateService) and "TaskDefinition is
    inactive" (aws/aws-cdk#33195, UpdateService), both ClientException."""
    if not ref:
        # ECS's front end words a missing member "X can not be blank." (api/validation.py).
        raise InvalidParameterException("TaskDefinition can not be blank.")
    return require_active(op, tx, ref)


def _new_deployment(op: Op, service: Service, now: float) -> Deployment:
    dep_id = new_deployment_id(op.world)
    return Deployment(
        id=dep_id,
        status=PRIMARY,
        task_definition=service.task_definition,
        desired_count=service.desired_count,
        created_at=now,
        updated_at=now,
        rollout_state=IN_PROGRESS,
        rollout_state_reason=f"ECS deployment {dep_id} in progress.",
        launch_type=service.launch_type,
        capacity_provider_strategy=[dict(i) for i in service.capacity_provider_strategy],
        network_configuration=dict(service.network_configuration)
        if service.network_configuration
        else None,
        platform_version=sv.resolved_platform(service.platform_version),
        service_connect=service.service_connect,
        service_connect_resources=[dict(r) for r in service.service_connect_resources],
        sources=[d.id for d in service.deployments if d.status in (PRIMARY, DEPLOYMENT_ACTIVE)],
    )


def _redeploy(op: Op, service: Service, now: float) -> None:
    """A new PRIMARY deployment of the service as it now stands; the old PRIMARY becomes
    ACTIVE and the controller drains it."""
    new = _new_deployment(op, service, now)
    for d in service.deployments:
        if d.status == PRIMARY:
            d.status = DEPLOYMENT_ACTIVE
            d.updated_at = now
    service.deployments.insert(0, new)
    service.steady = False
    kept: list[Deployment] = []
    for d in service.deployments:
        if d.status == DEPLOYMENT_INACTIVE and (
            now - d.created_at > HISTORY_SECONDS or len(kept) >= HISTORY_MAX
        ):
            continue
        kept.append(d)
    service.deployments = kept


# -- CreateService --------------------------------------------------------------------------


def create_service(op: Op, request: CreateService) -> ServiceView:
    name = request.name
    sv.check_name(name)
    token = request.client_token
    sv.check_client_token(token)
    from portside.ops import task_sets  # EXTERNAL and CODE_DEPLOY: their task sets

    task_sets.check_controller(request.deployment_controller)
    sv.check_unsupported(request.unsupported, request.service_connect)
    scheduling = request.scheduling_strategy or REPLICA
    desired = sv.desired_count(scheduling, request.desired_count)
    config = sv.deployment_configuration(request.deployment_configuration, scheduling)
    grace = sv.check_grace_period(request.health_check_grace_period)
    tags = validate_tags(request.tags)
    digest = request.digest
    with op.store.transaction() as tx:
        cluster = get_active(op, tx, request.cluster)
        arn = arns.ecs(op.region, op.account, f"service/{cluster.name}/{name}")
        existing = load(tx, arn)
        if existing is not None and existing.status == ACTIVE:
            # Idempotent only for a retry: the same clientToken with the same parameters
            # (API reference, "Ensuring idempotency").
            if token and existing.client_token == token and existing.create_digest == digest:
                return ServiceView(existing, get_tags(tx, arn))
            raise InvalidParameterException(sv.NOT_IDEMPOTENT)
        if existing is not None and existing.status == DRAINING:
            raise InvalidParameterException(sv.STILL_DRAINING)
        if request.deployment_controller == task_sets.EXTERNAL and not request.task_definition:
            service = task_sets.external_service(op, request, tx, cluster, arn)
            save(tx, service)
            set_tags(tx, arn, tags)
            return ServiceView(service, tags)
        td = _runnable(op, tx, request.task_definition)
        task_roles.check(op, tx, td)
        launch_type, strategy = sv.launch(
            cluster, request.launch_type, request.capacity_provider_strategy, scheduling
        )
        kinds = sv.launch_types(launch_type, strategy)
        load_balancers = [*request.load_balancers, *request.gateway_load_balancers]
        service = Service(
            arn=arn,
            name=name,
            cluster_arn=cluster.arn,
            task_definition=td.arn,
            desired_count=desired,
            created_at=op.now(),
            created_by=op.caller.principal_arn,
            scheduling_strategy=scheduling,
            launch_type=launch_type,
            capacity_provider_strategy=strategy,
            platform_version=sv.platform_version(request.platform_version, kinds),
            deployment_configuration=config,
            placement_constraints=list(request.placement_constraints),
            placement_strategy=list(request.placement_strategy),
            network_configuration=sv.network(request.network_configuration),
            health_check_grace_period_seconds=grace,
            availability_zone_rebalancing=request.availability_zone_rebalancing
            or _rebalancing_default(scheduling, request.placement_strategy),
            enable_execute_command=request.enable_execute_command,
            enable_ecs_managed_tags=request.enable_ecs_managed_tags,
            propagate_tags=request.propagate_tags or "NONE",
            load_balancers=load_balancers,
            gateway_connectors=[dict(c) for c in request.gateway_connectors],
            service_registries=[dict(i) for i in request.service_registries],
            role_arn=sv.role_arn(request.role, load_balancers, td, op.account),
            client_token=token,
            create_digest=digest,
        )
        sv.check_against(td, service)
        network_validation.check_service(op, tx, td, service.network_configuration)
        sv.check_target_groups(tx, service.load_balancers, td)
        sv.check_registries(tx, service.service_registries, td)
        service.service_connect, service.service_connect_resources = service_connect.resolve(
            op, tx, request.service_connect_configuration, td, _connect_default(cluster)
        )
        service.deployments = [_new_deployment(op, service, service.created_at)]
        if task_sets.has_kind(request.deployment_controller):
            service.deployment_controller = {"type": str(request.deployment_controller)}
            service.primary.rollout_state = COMPLETED
        native_rules.check_service(tx, service)
        save(tx, service)
        set_tags(tx, arn, tags)
        if request.deployment_controller == task_sets.CODE_DEPLOY:
            task_sets.first_task_set(op, tx, cluster, service)
        return ServiceView(service, tags, task_sets.shown(tx, service))


def _rebalancing_default(scheduling: str, strategy: Sequence[PlacementStrategy]) -> str:
    """ENABLED for a new service that can be rebalanced; DISABLED for what cannot (DAEMON,
    binpack first: ECS's notice of 2025-06-30 on the new default)."""
    if scheduling == DAEMON or (strategy and strategy[0].type == "binpack"):
        return "DISABLED"
    return "ENABLED"


def _connect_default(cluster: Cluster) -> str | None:
    """The cluster's serviceConnectDefaults namespace, if it has one."""
    return (cluster.service_connect_defaults or {}).get("namespace") or None


# -- UpdateService --------------------------------------------------------------------------


def update_service(op: Op, request: UpdateService) -> ServiceView:
    from portside.ops import task_sets  # EXTERNAL and CODE_DEPLOY: their task sets

    if request.deployment_controller is not None:
        task_sets.check_controller(request.deployment_controller)
    sv.check_unsupported(request.unsupported, request.service_connect)
    grace = sv.check_grace_period(request.health_check_grace_period)
    with op.store.transaction() as tx:
        cluster = get_active(op, tx, request.cluster)
        service = require(op, tx, cluster, request.service)
        if service.status != ACTIVE:
            # ECS's words (remind101/empire matches on them).
            raise ServiceNotActiveException("Service was not ACTIVE.")
        if request.deployment_controller not in (None, task_sets.controller_of(service)):
            # wording: ours (ECS changes a controller only between ECS and CODE_DEPLOY)
            raise InvalidParameterException("Portside cannot change a deployment controller.")
        if task_sets.has_task_sets(service):
            task_sets.update_service_in(op, tx, service, request)
            return ServiceView(service, get_tags(tx, service.arn), task_sets.shown(tx, service))
        now = op.now()
        redeploy = request.force_new_deployment
        if request.desired_count is not None:
            if service.scheduling_strategy == DAEMON:
                raise InvalidParameterException(sv.DAEMON_DESIRED_COUNT)
            service.desired_count = sv.check_count(request.desired_count)
        td = find_task_definition(op, tx, service.task_definition)
        if request.task_definition:
            td = _runnable(op, tx, request.task_definition)
            task_roles.check(op, tx, td)
            redeploy |= td.arn != service.task_definition
            service.task_definition = td.arn
        if request.capacity_provider_strategy is not None:
            launch = sv.new_launch(service, cluster, request.capacity_provider_strategy)
            if launch != (service.launch_type, service.capacity_provider_strategy):
                if not request.force_new_deployment:
                    raise InvalidParameterException(sv.FORCE_FOR_STRATEGY)
                service.launch_type, service.capacity_provider_strategy = launch
        kinds = sv.launch_types(service.launch_type, service.capacity_provider_strategy)
        if request.platform_version is not None:
            version = sv.platform_version(request.platform_version, kinds)
            redeploy |= version != service.platform_version
            service.platform_version = version
        elif "FARGATE" not in kinds or service.platform_version is None:
            service.platform_version = sv.platform_version(None, kinds)
        # The API reference: each of these "triggers a new service deployment" (when it
        # changes anything).
        changes: dict[str, Any] = {}
        if request.network_configuration is not None:
            changes["network_configuration"] = sv.network(request.network_configuration)
        if request.load_balancers is not None or request.gateway_connectors is not None:
            shown = [lb for lb in service.load_balancers if lb.shown]
            routed = [lb for lb in service.load_balancers if not lb.shown]
            if request.load_balancers is not None:
                shown = list(request.load_balancers)
            if request.gateway_connectors is not None:
                routed = list(request.gateway_load_balancers)
                changes["gateway_connectors"] = [dict(c) for c in request.gateway_connectors]
            changes["load_balancers"] = [*shown, *routed]
        if request.service_registries is not None:
            changes["service_registries"] = [dict(i) for i in request.service_registries]
        for attr, value in changes.items():
            redeploy |= value != getattr(service, attr)
            setattr(service, attr, value)
        if request.placement_constraints is not None:
            service.placement_constraints = list(request.placement_constraints)
        if request.placement_strategy is not None:
            service.placement_strategy = list(request.placement_strategy)
        if request.deployment_configuration is not None:
            service.deployment_configuration = sv.deployment_configuration(
                request.deployment_configuration,
                service.scheduling_strategy,
                service.deployment_configuration,
            )
        if grace is not None:
            service.health_check_grace_period_seconds = grace
        apply_given(service, request, _AS_GIVEN)
        if td is None:
            raise ClientException("TaskDefinition not found.")
        sv.check_against(td, service)
        if request.network_configuration is not None:
            network_validation.check_service(op, tx, td, service.network_configuration)
        sv.check_target_groups(tx, service.load_balancers, td)
        sv.check_registries(tx, service.service_registries, td)
        connect = request.service_connect_configuration
        if connect is not None or (redeploy and service.service_connect):
            given = service.service_connect if connect is None else connect
            found = service_connect.resolve(op, tx, given, td, _connect_default(cluster))
            redeploy |= found != (service.service_connect, service.service_connect_resources)
            service.service_connect, service.service_connect_resources = found
        # "Amazon ECS resumes normal scheduling" after an UpdateService (developer guide,
        # service throttle logic): the launch back-off starts over.
        service.launch_failures = 0
        service.launch_backoff_until = 0.0
        service.launch_failures_since = now
        native_rules.check_service(tx, service)
        if redeploy:
            _redeploy(op, service, now)
        else:
            service.primary.desired_count = service.desired_count
            service.primary.updated_at = now
        save(tx, service)
        return ServiceView(service, get_tags(tx, service.arn))


@dataclass(frozen=True, slots=True)
class ScalingFacts:
    """What Application Auto Scaling reads of a service before it scales it."""

    desired_count: int
    deploying: bool  # a deployment is in progress: more than one, or the primary rolling out


def scaling_facts(tx: Tx, service_arn: str) -> ScalingFacts | None:
    """None when the service does not exist or is not ACTIVE (nothing to scale)."""
    service = load(tx, service_arn)
    if service is None or service.status != ACTIVE or service.scheduling_strategy != REPLICA:
        return None
    deploying = len(service.deployments) > 1 or service.primary.rollout_state == IN_PROGRESS
    return ScalingFacts(service.desired_count, deploying)


def set_desired_count_by_scaling(
    world: World, tx: Tx, service_arn: str, count: int, now: float, message: str
) -> int | None:
    """Application Auto Scaling's way to move a service: desiredCount set as UpdateService
    sets it (no deployment), with `message` as the service event (what the ECS console shows
    for a scaling activity: "Message: Successfully set desired count to 4. Change
    successfully fulfilled by ecs. Cause: monitor alarm ..."), from which the change feed
    makes the SERVICE_DESIRED_COUNT_UPDATED service action (never for a manual
    UpdateService). In the caller's transaction; returns the count before, or None when
    there is no ACTIVE REPLICA service."""
    service = load(tx, service_arn)
    if service is None or service.status != ACTIVE or service.scheduling_strategy != REPLICA:
        return None
    before = service.desired_count
    service.desired_count = sv.check_count(count)
    service.primary.desired_count = service.desired_count
    service.primary.updated_at = now
    from portside.ops import task_sets  # a CODE_DEPLOY service scales its task sets

    task_sets.recount_at(tx, service, now)
    raw = world.new_id()
    event_id = "-".join((raw[:8], raw[8:12], raw[12:16], raw[16:20], raw[20:32]))
    service.add_event(event_id, now, message)
    save(tx, service)
    return before


# -- DeleteService --------------------------------------------------------------------------


def delete_service(op: Op, cluster_ref: str | None, ref: str, force: bool) -> ServiceView:
    with op.store.transaction() as tx:
        cluster = get_active(op, tx, cluster_ref)
        service = require(op, tx, cluster, ref)
        if service.status == INACTIVE:
            raise ServiceNotFoundException("Service not found.")
        if service.status == DRAINING:
            return ServiceView(service, [])
        if service.scheduling_strategy == REPLICA and service.desired_count > 0 and not force:
            raise InvalidParameterException(sv.SCALED_ABOVE_ZERO)
        now = op.now()
        service.desired_count = 0
        service.primary.desired_count = 0
        service.primary.updated_at = now
        service.status = DRAINING
        service.deleted_at = now
        save(tx, service)
        # "When a service is deleted, the tags are deleted as well." (API reference)
        set_tags(tx, service.arn, [])
        return ServiceView(service, [])


# -- DescribeServices, ListServices ----------------------------------------------------------


def describe_services(
    op: Op, cluster_ref: str | None, refs: Sequence[str]
) -> tuple[list[ServiceView], list[Failure]]:
    def find(tx: Tx, cluster: Cluster, ref: str) -> tuple[str, Service | None]:
        return service_arn(op, cluster, ref), _find(op, tx, cluster, ref)

    return describe_members(op, cluster_ref, refs, DESCRIBE_LIMITS, find, _with_tags)


def _with_tags(tx: Tx, service: Service) -> ServiceView:
    from portside.ops import task_sets

    return ServiceView(service, get_tags(tx, service.arn), task_sets.shown(tx, service))


def list_services(op: Op, query: ServiceQuery) -> tuple[list[str], str | None]:
    """ACTIVE services only: DRAINING and INACTIVE ones are "no longer visible in the
    ListServices API operation" (API reference, DeleteService). 10 a page unless asked."""
    limit = check_max_results(query.max_results, default=10)
    after = decode_token(query.next_token)
    launch_type = query.launch_type
    scheduling = query.scheduling_strategy

    managed = query.resource_management_type

    def listed(doc: dict[str, Any]) -> bool:
        if launch_type and doc.get("launchType") != launch_type:
            return False
        if managed and _ecs_managed(tx, doc["arn"]) != (managed == "ECS"):
            return False
        return not scheduling or doc.get("schedulingStrategy") == scheduling

    with op.store.read() as tx:
        cluster = get_active(op, tx, query.cluster)
        where = {"cluster": cluster.arn, "status": ACTIVE}
        return keys_page(tx.scan(TABLE, where=where, after=after), limit, listed)


def _ecs_managed(tx: Tx, arn: str) -> bool:
    """Made by ECS itself (an Express service: portside/express marks it with this tag)."""
    return any(t["key"] == "AmazonECSManaged" and t["value"] == "true" for t in get_tags(tx, arn))
