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

StopServiceDeployment (ROLLBACK) does by hand what the circuit breaker does: the deployment
is marked FAILED and a new PRIMARY returns the service to the previous service revision
(`rollback_of` it), so the stopped one reads ROLLBACK_IN_PROGRESS, then ROLLBACK_SUCCESSFUL.
ContinueServiceDeployment answers for a deployment paused at a lifecycle hook: the pause is
the deployment's own record (`lifecycle_hooks`, written by the controller that runs the
hooks); the call only writes the caller's decision there for that controller to act on.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from portside.errors import ConflictException, InvalidParameterException, NamedError
from portside.model import arn as arns
from portside.model.requests import DeploymentQuery
from portside.model.service import (
    COMPLETED,
    DEPLOYMENT_ACTIVE,
    DEPLOYMENT_INACTIVE,
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
from portside.ops.services import load, new_deployment_id, require, save
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
    found = _located(op, tx, ref)
    return None if found is None else found[1]


def _located(op: Op, tx: Tx, ref: str) -> tuple[Service, ServiceDeploymentView] | None:
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
    view = next((v for v in history(service) if _digits(v.deployment.id) == digits), None)
    return None if view is None else (service, view)


def _require_located(op: Op, tx: Tx, ref: str) -> tuple[Service, ServiceDeploymentView]:
    found = _located(op, tx, ref)
    if found is None:
        # wording: ours (the model's error shape for an unknown service deployment)
        raise NamedError(
            "ServiceDeploymentNotFoundException", f"The service deployment {ref} does not exist."
        )
    return found


# -- StopServiceDeployment ------------------------------------------------------------------

ROLLBACK = "ROLLBACK"
ABORT = "ABORT"
# The developer guide: a stop asked again while the rollback runs lets it go on.
_ROLLING_BACK = ("ROLLBACK_IN_PROGRESS",)


def stop_service_deployment(op: Op, ref: str, stop_type: str | None) -> str:
    """Roll the IN_PROGRESS deployment `ref` back to the service's previous revision: its
    ARN. The API reference: "The valid values are ROLLBACK" (ABORT is in the model, not
    offered)."""
    kind = stop_type or ROLLBACK
    if kind == ABORT:
        raise NamedError(
            "UnsupportedFeatureException",
            "The ABORT stop type is not supported. Use ROLLBACK.",  # wording: ours
        )
    with op.store.transaction() as tx:
        service, view = _require_located(op, tx, ref)
        if view.status in _ROLLING_BACK:
            return ref
        if view.status != "IN_PROGRESS":
            raise ConflictException(  # wording: ours
                f"The service deployment is {view.status} and cannot be stopped. Only a "
                "service deployment that is in progress can be stopped."
            )
        target = previous_revision(service, view.deployment)
        if target is None:
            raise ConflictException(  # wording: ours
                "The service deployment cannot be rolled back: the service has no previous "
                "service revision."
            )
        roll_back(op, service, view.deployment, target, op.now())
        save(tx, service)
        return ref


def previous_revision(service: Service, deployment: Deployment) -> Deployment | None:
    """What a rollback returns to: the newest COMPLETED deployment before `deployment`, else
    the newest of the revisions it replaced."""
    done = [
        d
        for d in service.deployments
        if d.id != deployment.id and d.rollout_state == COMPLETED and not d.rollback_of
    ]
    if done:
        return max(done, key=lambda d: d.created_at)
    by_id = {d.id: d for d in service.deployments}
    sources = [by_id[i] for i in deployment.sources if i in by_id and i != deployment.id]
    return max(sources, key=lambda d: d.created_at, default=None)


def roll_back(op: Op, service: Service, failed: Deployment, target: Deployment, now: float) -> None:
    """`failed` FAILED (stopped by the user), and a new PRIMARY running `target`'s revision
    that the controller rolls out as any deployment, draining `failed`'s tasks."""
    failed.status = DEPLOYMENT_ACTIVE
    failed.rollout_state = FAILED
    failed.rollout_state_reason = (  # wording: ours
        f"ECS deployment {failed.id} stopped by StopServiceDeployment."
    )
    failed.updated_at = now
    new = Deployment(
        id=new_deployment_id(op.world),
        status=PRIMARY,
        task_definition=target.task_definition,
        desired_count=service.desired_count,
        created_at=now,
        updated_at=now,
        launch_type=target.launch_type,
        capacity_provider_strategy=[dict(i) for i in target.capacity_provider_strategy],
        network_configuration=target.network_configuration,
        platform_version=target.platform_version,
        service_connect=target.service_connect,
        service_connect_resources=[dict(r) for r in target.service_connect_resources],
        rollback_of=failed.id,
        rollout_state_reason=f"ECS deployment rolling back to deploymentId {target.id}.",
        sources=[d.id for d in service.deployments if d.status != DEPLOYMENT_INACTIVE],
    )
    service.deployments.insert(0, new)
    service.task_definition = target.task_definition
    service.launch_type = target.launch_type
    service.capacity_provider_strategy = [dict(i) for i in target.capacity_provider_strategy]
    service.network_configuration = target.network_configuration
    service.steady = False
    # A new deployment launches afresh, as after UpdateService (the failed one's launch
    # back-off is not the rollback's).
    service.launch_failures = 0
    service.launch_backoff_until = 0.0
    service.launch_failures_since = now
    raw = op.world.new_id()
    event_id = "-".join((raw[:8], raw[8:12], raw[12:16], raw[16:20], raw[20:32]))
    service.add_event(
        event_id, now, f"(service {service.name}) rolling back to deployment {target.id}."
    )


# -- ContinueServiceDeployment --------------------------------------------------------------

CONTINUE = "CONTINUE"
HOOK_WAITING = "IN_PROGRESS"


def continue_service_deployment(op: Op, ref: str, hook_id: str, action: str | None) -> str:
    """Record CONTINUE or ROLLBACK for the lifecycle hook `hook_id` the deployment is paused
    at. The hooks are the deployment's `lifecycle_hooks` (dicts: hookId, status, and the
    `action` written here), kept by the controller that runs native blue/green; a deployment
    without one paused there is refused."""
    decision = action or CONTINUE
    with op.store.transaction() as tx:
        service, view = _require_located(op, tx, ref)
        hooks: list[dict[str, str]] = list(getattr(view.deployment, "lifecycle_hooks", None) or [])
        hook = next((h for h in hooks if h.get("hookId") == hook_id), None)
        if view.status != "IN_PROGRESS" or hook is None or hook.get("status") != HOOK_WAITING:
            raise InvalidParameterException(  # wording: ours
                f"The service deployment is not paused at lifecycle hook {hook_id}."
            )
        hook["action"] = decision
        view.deployment.updated_at = op.now()
        save(tx, service)
        return ref
