"""Service deployments: ListServiceDeployments, DescribeServiceDeployments, and the ARNs and
states DescribeServices shows of them.

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

from collections.abc import Sequence
from dataclasses import dataclass

from portside.errors import InvalidParameterException
from portside.model import arn as arns
from portside.model.requests import DeploymentQuery
from portside.model.service import (
    COMPLETED,
    FAILED,
    IN_PROGRESS,
    INACTIVE,
    PRIMARY,
    Deployment,
    Service,
)
from portside.ops.clusters import get_active
from portside.ops.context import Op
from portside.ops.describing import Failure, RefLimits, found_or_missing
from portside.ops.paging import check_max_results, decode_token, encode_token
from portside.ops.services import load, require
from portside.store.base import Tx

MAX_DESCRIBE_DEPLOYMENTS = 20
DESCRIBE_LIMITS = RefLimits(  # wording: ours
    MAX_DESCRIBE_DEPLOYMENTS,
    "serviceDeploymentArns cannot be empty.",
    f"At most {MAX_DESCRIBE_DEPLOYMENTS} service deployments can be described at a time; "
    "{given} were given.",
)


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
    op: Op, query: DeploymentQuery
) -> tuple[list[ServiceDeploymentView], str | None]:
    limit = check_max_results(query.max_results, default=20)
    after = decode_token(query.next_token)
    with op.store.read() as tx:
        cluster = get_active(op, tx, query.cluster)
        service = require(op, tx, cluster, query.service)
    views = [
        v
        for v in history(service)
        if (not query.status or v.status in query.status)
        and (query.created_after is None or v.deployment.created_at >= query.created_after)
        and (query.created_before is None or v.deployment.created_at <= query.created_before)
    ]
    if after:
        ids = [v.deployment.id for v in views]
        if after not in ids:
            raise InvalidParameterException("Invalid token " + (query.next_token or "")[:64])
        views = views[ids.index(after) + 1 :]
    page = views[:limit]
    token = encode_token(page[-1].deployment.id) if len(views) > limit else None
    return page, token


def describe_service_deployments(
    op: Op, refs: Sequence[str]
) -> tuple[list[ServiceDeploymentView], list[Failure]]:
    DESCRIBE_LIMITS.check(refs)
    with op.store.read() as tx:
        return found_or_missing(
            refs, lambda ref: (ref, _lookup_deployment(op, tx, ref)), lambda view: view
        )


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
