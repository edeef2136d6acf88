"""Service operations: CreateService, UpdateService, DeleteService, DescribeServices,
ListServices, ListServiceDeployments, DescribeServiceDeployments.

These only write desired state: the service, its deployments (newest first, one PRIMARY)
and its tags. The service controller (controllers/service.py) starts and stops the tasks,
writes the counts back and marks a DRAINING service INACTIVE once its tasks are gone.

Service deployments (the API's ServiceDeployment) are our Deployment records seen whole:

    Deployment                               ServiceDeployment
    ecs-svc/<19 digits>                      service-deployment/CLUSTER/SERVICE/<19 digits>
    (the configuration it runs)              service-revision/CLUSTER/SERVICE/<19 digits>
    rolloutState IN_PROGRESS, PRIMARY        IN_PROGRESS
    rolloutState IN_PROGRESS, replaced       STOPPED (a newer deployment took over)
    rolloutState COMPLETED                   SUCCESSFUL
    rolloutState FAILED, no rollback         STOPPED
    FAILED, rolled back by deployment R      ROLLBACK_IN_PROGRESS | ROLLBACK_SUCCESSFUL |
                                             ROLLBACK_FAILED, after R's rollout state
    sources (ids live when it started)       sourceServiceRevisions

A deployment the circuit breaker made to roll back (`rollback_of`) is no service deployment
of its own: ECS reports the rollback inside the failed one (`rollback`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from portside.errors import (
    ClientException,
    InvalidParameterException,
    ServiceNotActiveException,
    ServiceNotFoundException,
)
from portside.model import arn as arns
from portside.model.cluster import Cluster
from portside.model.doc import from_doc, to_doc
from portside.model.service import (
    ACTIVE,
    COMPLETED,
    DAEMON,
    DEPLOYMENT_ACTIVE,
    DEPLOYMENT_INACTIVE,
    DRAINING,
    FAILED,
    IN_PROGRESS,
    INACTIVE,
    PRIMARY,
    REPLICA,
    Deployment,
    Service,
)
from portside.model.task_definition import ACTIVE as TD_ACTIVE
from portside.model.task_definition import TaskDefinition
from portside.ops import service_validation as sv
from portside.ops.clusters import get_active
from portside.ops.context import Op, World
from portside.ops.paging import check_max_results, decode_token, encode_token
from portside.ops.tags import Tag, get_tags, set_tags, validate_tags
from portside.ops.task_definitions import find as find_task_definition
from portside.store.base import Tx

TABLE = "services"
MAX_DESCRIBE = 10
MAX_DESCRIBE_DEPLOYMENTS = 20
# Replaced deployments kept for ListServiceDeployments (ECS keeps 90 days of history).
HISTORY_SECONDS = 90 * 86400.0
HISTORY_MAX = 100


@dataclass(frozen=True, slots=True)
class ServiceView:
    service: Service
    tags: list[Tag]


@dataclass(frozen=True, slots=True)
class ServiceDeploymentView:
    """One ServiceDeployment: the deployment that made it, mapped as the module says."""

    service: Service
    deployment: Deployment
    status: str
    reason: str
    finished_at: float | None = None
    stopped_at: float | None = None
    rollback: Deployment | None = None  # the deployment that rolled it back


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
    doc = tx.get(TABLE, arn)
    return from_doc(Service, doc) if doc else None


def save(tx: Tx, service: Service) -> None:
    tx.put(TABLE, service.arn, to_doc(service))


def _find(op: Op, tx: Tx, cluster: Cluster, ref: str) -> Service | None:
    found = load(tx, service_arn(op, cluster, ref))
    return found if found is not None and found.cluster_arn == cluster.arn else None


def _require(op: Op, tx: Tx, cluster: Cluster, ref: str) -> Service:
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
    td = find_task_definition(op, tx, ref)
    if td is None:
        raise ClientException("TaskDefinition not found.")
    if td.status != TD_ACTIVE:
        raise ClientException("TaskDefinition is inactive")
    return td


def _digest(params: Mapping[str, Any]) -> str:
    return hashlib.sha256(orjson.dumps(dict(params), option=orjson.OPT_SORT_KEYS)).hexdigest()


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


def create_service(op: Op, params: Mapping[str, Any]) -> ServiceView:
    name = params["serviceName"]
    sv.check_name(name)
    token = params.get("clientToken")
    sv.check_client_token(token)
    sv.check_controller(params.get("deploymentController"))
    sv.check_unsupported(params)
    scheduling = params.get("schedulingStrategy") or REPLICA
    desired = sv.desired_count(scheduling, params.get("desiredCount"))
    config = sv.deployment_configuration(params.get("deploymentConfiguration"), scheduling)
    grace = sv.check_grace_period(params.get("healthCheckGracePeriodSeconds"))
    tags = validate_tags(params.get("tags") or ())
    digest = _digest(params)
    with op.store.transaction() as tx:
        cluster = get_active(op, tx, params.get("cluster"))
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
        td = _runnable(op, tx, params.get("taskDefinition"))
        launch_type, strategy = sv.launch(
            cluster, params.get("launchType"), params.get("capacityProviderStrategy"), scheduling
        )
        kinds = sv.launch_types(launch_type, strategy)
        load_balancers = [dict(i) for i in params.get("loadBalancers") or ()]
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
            platform_version=sv.platform_version(params.get("platformVersion"), kinds),
            deployment_configuration=config,
            placement_constraints=[dict(i) for i in params.get("placementConstraints") or ()],
            placement_strategy=[dict(i) for i in params.get("placementStrategy") or ()],
            network_configuration=sv.network(params.get("networkConfiguration")),
            health_check_grace_period_seconds=grace,
            enable_execute_command=bool(params.get("enableExecuteCommand")),
            enable_ecs_managed_tags=bool(params.get("enableECSManagedTags")),
            propagate_tags=params.get("propagateTags") or "NONE",
            load_balancers=load_balancers,
            service_registries=[dict(i) for i in params.get("serviceRegistries") or ()],
            role_arn=sv.role_arn(params.get("role"), load_balancers, td, op.account),
            client_token=token,
            create_digest=digest,
        )
        sv.check_against(td, service)
        service.deployments = [_new_deployment(op, service, service.created_at)]
        save(tx, service)
        set_tags(tx, arn, tags)
        return ServiceView(service, tags)


# -- UpdateService --------------------------------------------------------------------------


def update_service(op: Op, params: Mapping[str, Any]) -> ServiceView:
    if params.get("deploymentController") is not None:
        sv.check_controller(params["deploymentController"])
    sv.check_unsupported(params)
    grace = sv.check_grace_period(params.get("healthCheckGracePeriodSeconds"))
    with op.store.transaction() as tx:
        cluster = get_active(op, tx, params.get("cluster"))
        service = _require(op, tx, cluster, params["service"])
        if service.status != ACTIVE:
            # ECS's words (remind101/empire matches on them).
            raise ServiceNotActiveException("Service was not ACTIVE.")
        now = op.now()
        redeploy = bool(params.get("forceNewDeployment"))
        if params.get("desiredCount") is not None:
            if service.scheduling_strategy == DAEMON:
                raise InvalidParameterException(sv.DAEMON_DESIRED_COUNT)
            service.desired_count = sv.check_count(params["desiredCount"])
        td = find_task_definition(op, tx, service.task_definition)
        if params.get("taskDefinition"):
            td = _runnable(op, tx, params["taskDefinition"])
            redeploy |= td.arn != service.task_definition
            service.task_definition = td.arn
        if params.get("capacityProviderStrategy") is not None:
            launch = sv.new_launch(service, cluster, params["capacityProviderStrategy"])
            if launch != (service.launch_type, service.capacity_provider_strategy):
                if not params.get("forceNewDeployment"):
                    raise InvalidParameterException(sv.FORCE_FOR_STRATEGY)
                service.launch_type, service.capacity_provider_strategy = launch
        kinds = sv.launch_types(service.launch_type, service.capacity_provider_strategy)
        if params.get("platformVersion") is not None:
            version = sv.platform_version(params["platformVersion"], kinds)
            redeploy |= version != service.platform_version
            service.platform_version = version
        elif "FARGATE" not in kinds or service.platform_version is None:
            service.platform_version = sv.platform_version(None, kinds)
        # The API reference: each of these "triggers a new service deployment" (when it
        # changes anything).
        changes: dict[str, Any] = {}
        if params.get("networkConfiguration") is not None:
            changes["network_configuration"] = sv.network(params["networkConfiguration"])
        if params.get("loadBalancers") is not None:
            changes["load_balancers"] = [dict(i) for i in params["loadBalancers"]]
        if params.get("serviceRegistries") is not None:
            changes["service_registries"] = [dict(i) for i in params["serviceRegistries"]]
        for attr, value in changes.items():
            redeploy |= value != getattr(service, attr)
            setattr(service, attr, value)
        if params.get("placementConstraints") is not None:
            service.placement_constraints = [dict(i) for i in params["placementConstraints"]]
        if params.get("placementStrategy") is not None:
            service.placement_strategy = [dict(i) for i in params["placementStrategy"]]
        if params.get("deploymentConfiguration") is not None:
            service.deployment_configuration = sv.deployment_configuration(
                params["deploymentConfiguration"],
                service.scheduling_strategy,
                service.deployment_configuration,
            )
        if grace is not None:
            service.health_check_grace_period_seconds = grace
        for key, attr in (
            ("enableExecuteCommand", "enable_execute_command"),
            ("enableECSManagedTags", "enable_ecs_managed_tags"),
            ("propagateTags", "propagate_tags"),
        ):
            if params.get(key) is not None:
                setattr(service, attr, params[key])
        if td is None:
            raise ClientException("TaskDefinition not found.")
        sv.check_against(td, service)
        # "Amazon ECS resumes normal scheduling" after an UpdateService (developer guide,
        # service throttle logic): the launch back-off starts over.
        service.launch_failures = 0
        service.launch_backoff_until = 0.0
        service.launch_failures_since = now
        if redeploy:
            _redeploy(op, service, now)
        else:
            service.primary.desired_count = service.desired_count
            service.primary.updated_at = now
        service.version += 1
        save(tx, service)
        return ServiceView(service, get_tags(tx, service.arn))


# -- DeleteService --------------------------------------------------------------------------


def delete_service(op: Op, cluster_ref: str | None, ref: str, force: bool) -> ServiceView:
    with op.store.transaction() as tx:
        cluster = get_active(op, tx, cluster_ref)
        service = _require(op, tx, cluster, ref)
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
        service.version += 1
        save(tx, service)
        # "When a service is deleted, the tags are deleted as well." (API reference)
        set_tags(tx, service.arn, [])
        return ServiceView(service, [])


# -- DescribeServices, ListServices ----------------------------------------------------------


def describe_services(
    op: Op, cluster_ref: str | None, refs: Sequence[str]
) -> tuple[list[ServiceView], list[dict[str, str]]]:
    # wording: ours
    if not refs:
        raise InvalidParameterException("Services cannot be empty.")
    if len(refs) > MAX_DESCRIBE:
        raise InvalidParameterException(
            f"At most {MAX_DESCRIBE} services can be described at a time; {len(refs)} were given."
        )
    found: list[ServiceView] = []
    failures: list[dict[str, str]] = []
    with op.store.read() as tx:
        cluster = get_active(op, tx, cluster_ref)
        for ref in refs:
            service = _find(op, tx, cluster, ref)
            if service is None:
                failures.append({"arn": service_arn(op, cluster, ref), "reason": "MISSING"})
            else:
                found.append(ServiceView(service, get_tags(tx, service.arn)))
    return found, failures


def list_services(op: Op, params: Mapping[str, Any]) -> tuple[list[str], str | None]:
    """ACTIVE services only: DRAINING and INACTIVE ones are "no longer visible in the
    ListServices API operation" (API reference, DeleteService). 10 a page unless asked."""
    limit = check_max_results(params.get("maxResults"), default=10)
    after = decode_token(params.get("nextToken"))
    launch_type = params.get("launchType")
    scheduling = params.get("schedulingStrategy")
    keys: list[str] = []
    more = False
    with op.store.read() as tx:
        cluster = get_active(op, tx, params.get("cluster"))
        if params.get("resourceManagementType") == "ECS":
            return [], None  # every Portside service is managed by its customer
        where = {"cluster": cluster.arn, "status": ACTIVE}
        for key, doc in tx.scan(TABLE, where=where, after=after):
            if launch_type and doc.get("launchType") != launch_type:
                continue
            if scheduling and doc.get("schedulingStrategy") != scheduling:
                continue
            if len(keys) == limit:
                more = True
                break
            keys.append(key)
    return keys, (encode_token(keys[-1]) if more else None)


# -- service deployments --------------------------------------------------------------------


def _digits(deployment_id: str) -> str:
    return deployment_id.removeprefix("ecs-svc/")


def _derived_arn(service: Service, kind: str, deployment_id: str) -> str:
    prefix, _, path = service.arn.partition(":service/")
    return f"{prefix}:{kind}/{path}/{_digits(deployment_id)}"


def service_deployment_arn(service: Service, deployment_id: str) -> str:
    return _derived_arn(service, "service-deployment", deployment_id)


def service_revision_arn(service: Service, deployment_id: str) -> str:
    return _derived_arn(service, "service-revision", deployment_id)


def current_deployment(service: Service) -> Deployment | None:
    """The deployment whose ServiceDeployment is the service's current one."""
    primary = next((d for d in service.deployments if d.status == PRIMARY), None)
    if primary is not None and primary.rollback_of:
        return next((d for d in service.deployments if d.id == primary.rollback_of), primary)
    return primary


_ROLLBACK = {
    IN_PROGRESS: "ROLLBACK_IN_PROGRESS",
    COMPLETED: "ROLLBACK_SUCCESSFUL",
    FAILED: "ROLLBACK_FAILED",
}


def _view(service: Service, d: Deployment) -> ServiceDeploymentView:
    rollback = next((r for r in service.deployments if r.rollback_of == d.id), None)
    if rollback is not None:
        done = rollback.rollout_state != IN_PROGRESS
        return ServiceDeploymentView(
            service,
            d,
            _ROLLBACK.get(rollback.rollout_state, "ROLLBACK_IN_PROGRESS"),
            d.rollout_state_reason,
            finished_at=rollback.updated_at if done else None,
            rollback=rollback,
        )
    if d.rollout_state == COMPLETED:
        return ServiceDeploymentView(
            service, d, "SUCCESSFUL", d.rollout_state_reason, finished_at=d.updated_at
        )
    if d.rollout_state == FAILED:
        return ServiceDeploymentView(
            service,
            d,
            "STOPPED",
            d.rollout_state_reason,
            finished_at=d.updated_at,
            stopped_at=d.updated_at,
        )
    if d.status != PRIMARY:
        newer = [x.created_at for x in service.deployments if x.created_at > d.created_at]
        when = min(newer) if newer else d.updated_at
        return ServiceDeploymentView(
            service,
            d,
            "STOPPED",
            f"ECS deployment {d.id} was replaced by a newer deployment.",  # wording: ours
            finished_at=when,
            stopped_at=when,
        )
    return ServiceDeploymentView(service, d, "IN_PROGRESS", d.rollout_state_reason)


def history(service: Service) -> list[ServiceDeploymentView]:
    """The service's deployments as ServiceDeployments, newest first. ECS deletes a deleted
    service's service deployments (developer guide): an INACTIVE service has none."""
    if service.status == INACTIVE:
        return []
    ordered = sorted(service.deployments, key=lambda d: d.created_at, reverse=True)
    return [_view(service, d) for d in ordered if not d.rollback_of]


def list_service_deployments(
    op: Op, params: Mapping[str, Any]
) -> tuple[list[ServiceDeploymentView], str | None]:
    limit = check_max_results(params.get("maxResults"), default=20)
    after = decode_token(params.get("nextToken"))
    statuses = set(params.get("status") or ())
    window = params.get("createdAt") or {}
    with op.store.read() as tx:
        cluster = get_active(op, tx, params.get("cluster"))
        service = _require(op, tx, cluster, params["service"])
    views = [
        v
        for v in history(service)
        if (not statuses or v.status in statuses)
        and (window.get("after") is None or v.deployment.created_at >= window["after"])
        and (window.get("before") is None or v.deployment.created_at <= window["before"])
    ]
    if after:
        ids = [v.deployment.id for v in views]
        if after not in ids:
            raise InvalidParameterException("Invalid token " + params["nextToken"][:64])
        views = views[ids.index(after) + 1 :]
    page = views[:limit]
    token = encode_token(page[-1].deployment.id) if len(views) > limit else None
    return page, token


def describe_service_deployments(
    op: Op, refs: Sequence[str]
) -> tuple[list[ServiceDeploymentView], list[dict[str, str]]]:
    # wording: ours
    if not refs:
        raise InvalidParameterException("serviceDeploymentArns cannot be empty.")
    if len(refs) > MAX_DESCRIBE_DEPLOYMENTS:
        raise InvalidParameterException(
            f"At most {MAX_DESCRIBE_DEPLOYMENTS} service deployments can be described at a "
            f"time; {len(refs)} were given."
        )
    found: list[ServiceDeploymentView] = []
    failures: list[dict[str, str]] = []
    with op.store.read() as tx:
        for ref in refs:
            view = _lookup_deployment(op, tx, ref)
            if view is None:
                failures.append({"arn": ref, "reason": "MISSING"})
            else:
                found.append(view)
    return found, failures


def _lookup_deployment(op: Op, tx: Tx, ref: str) -> ServiceDeploymentView | None:
    parsed = arns.parse(ref)
    if (
        parsed is None
        or parsed.kind != "service-deployment"
        or (parsed.region, parsed.account) != (op.region, op.account)
    ):
        return None
    parts = parsed.path.split("/")
    if len(parts) != 3:
        return None
    cluster_name, name, digits = parts
    service = load(tx, arns.ecs(op.region, op.account, f"service/{cluster_name}/{name}"))
    if service is None:
        return None
    return next((v for v in history(service) if _digits(v.deployment.id) == digits), None)
