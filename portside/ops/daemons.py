"""Daemons: CreateDaemon, UpdateDaemon, DeleteDaemon, DescribeDaemon, ListDaemons.

A daemon runs one task of its daemon task definition on every ACTIVE container instance of
its capacity providers (ops/daemons_model.py). These calls write the daemon, a revision and a
deployment in one transaction; the daemon controller (controllers/daemons/) runs the
deployment with the DAEMON service scheduler.

ECS offers daemons on Managed Instances capacity providers only; Portside has none
(ops/capacity_providers.py), so a daemon takes Portside's Auto Scaling group providers, whose
instances are the cluster's instances that name their group (`portside.autoscaling-group`).
FARGATE capacity is refused: a daemon needs instances. Texts marked `# wording: ours` are
refusals whose exact ECS words we did not find.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from portside.errors import (
    ClientException,
    InvalidParameterException,
    NamedError,
)
from portside.model import arn as arns
from portside.model.capacity_provider import ACTIVE as PROVIDER_ACTIVE
from portside.model.cluster import BUILTIN_CAPACITY_PROVIDERS
from portside.model.service import DRAINING
from portside.ops import capacity_providers as providers
from portside.ops import daemons_scheduler as scheduler
from portside.ops import daemons_taskdefs as taskdefs
from portside.ops.clusters import cluster_arn, get_active
from portside.ops.context import Op
from portside.ops.daemons_model import (
    ACTIVE,
    DAEMONS,
    DELETE_IN_PROGRESS,
    DEPLOYMENTS,
    FINISHED,
    REVISIONS,
    STOPPED,
    Daemon,
    DaemonDeployment,
    DaemonRevision,
)
from portside.ops.paging import check_max_results, decode_token, encode_token
from portside.ops.tags import get_tags, set_tags, validate_tags
from portside.store.base import Tx

_NAME = re.compile(r"^[A-Za-z0-9_-]{1,255}$")
_REPLACED = "The deployment was replaced by a new deployment."  # wording: ours


@dataclass(frozen=True, slots=True)
class DaemonRequest:
    """What CreateDaemon and UpdateDaemon say of the daemon (None: not given)."""

    task_definition: str
    capacity_providers: tuple[str, ...]
    deployment_configuration: Mapping[str, Any] | None = None
    propagate_tags: str | None = None
    enable_ecs_managed_tags: bool | None = None
    enable_execute_command: bool | None = None
    critical: bool | None = None


def _uuid(op: Op) -> str:
    raw = op.world.new_id()
    return "-".join((raw[:8], raw[8:12], raw[12:16], raw[16:20], raw[20:32]))


def not_found() -> NamedError:
    return NamedError("DaemonNotFoundException", "The specified daemon does not exist.")


def daemon_arn(op: Op, cluster: str, name: str) -> str:
    cluster_name = cluster.rpartition("/")[2]
    return arns.ecs(op.region, op.account, f"daemon/{cluster_name}/{name}")


def load(op: Op, tx: Tx, ref: str) -> Daemon:
    """The daemon an ARN names, or DaemonNotFoundException (ClusterNotFoundException when
    its cluster is gone)."""
    parsed = arns.parse(ref)
    if parsed is None or parsed.kind != "daemon" or parsed.path.count("/") != 1:
        raise InvalidParameterException(f"Invalid daemon ARN: {ref}")  # wording: ours
    if (parsed.region, parsed.account) != (op.region, op.account):
        raise not_found()
    doc = tx.get(DAEMONS, ref)
    if doc is None:
        cluster = arns.cluster(op.region, op.account, parsed.path.split("/")[0])
        get_active(op, tx, cluster)
        raise not_found()
    return Daemon.from_doc(doc)


def _check_config(given: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if given is None:
        return None
    drain = given.get("drainPercent")
    if drain is not None and not 0 < float(drain) <= 100:
        raise InvalidParameterException(
            "drainPercent must be greater than 0 and at most 100."
        )  # wording: ours
    bake = given.get("bakeTimeInMinutes")
    if bake is not None and not 0 <= int(bake) <= 1440:
        raise InvalidParameterException(
            "bakeTimeInMinutes must be between 0 and 1440."
        )  # wording: ours
    return dict(given)


def _providers(op: Op, tx: Tx, cluster_names: Sequence[str], refs: Sequence[str]) -> list[str]:
    if not refs:
        raise InvalidParameterException("capacityProviderArns must not be empty.")  # ours
    out: list[str] = []
    for ref in refs:
        found = providers.load(op, tx, ref)
        if found is None or found.status != PROVIDER_ACTIVE:
            raise InvalidParameterException(
                f"The specified capacity provider {ref} does not exist."
            )  # wording: ours
        if found.name in BUILTIN_CAPACITY_PROVIDERS:
            raise InvalidParameterException(
                f"The capacity provider {found.name} is not supported for daemons. Specify a "
                "capacity provider of container instances."
            )  # wording: ours
        if found.name not in cluster_names:
            raise InvalidParameterException(
                f"The specified capacity provider {found.name} is not associated with the cluster."
            )  # wording: ours
        if found.arn not in out:
            out.append(found.arn)
    return out


def _definition(op: Op, tx: Tx, ref: str) -> dict[str, Any]:
    doc = taskdefs.require(op, tx, ref)
    if doc.get("status") != ACTIVE:
        raise ClientException("The specified daemon task definition is not ACTIVE.")  # ours
    return doc


def _revision(
    op: Op, daemon: Daemon, td: Mapping[str, Any], req: DaemonRequest, base: DaemonRevision | None
) -> DaemonRevision:
    def pick(value: Any, before: Any, default: Any) -> Any:
        if value is not None:
            return value
        return before if base is not None else default

    cluster_name = daemon.cluster_arn.rpartition("/")[2]
    return DaemonRevision(
        arn=arns.ecs(
            op.region, op.account, f"daemon-revision/{cluster_name}/{daemon.name}/{_uuid(op)}"
        ),
        cluster_arn=daemon.cluster_arn,
        daemon_arn=daemon.arn,
        daemon_task_definition_arn=td["taskDefinitionArn"],
        created_at=op.now(),
        container_images=taskdefs.container_images(td),
        capacity_provider_arns=list(daemon.capacity_provider_arns),
        propagate_tags=pick(req.propagate_tags, base and base.propagate_tags, "NONE"),
        enable_ecs_managed_tags=bool(
            pick(req.enable_ecs_managed_tags, base and base.enable_ecs_managed_tags, False)
        ),
        enable_execute_command=bool(
            pick(req.enable_execute_command, base and base.enable_execute_command, False)
        ),
        critical=bool(pick(req.critical, base and base.critical, True)),
    )


def _deploy(
    op: Op,
    tx: Tx,
    daemon: Daemon,
    revision: DaemonRevision,
    config: dict[str, Any] | None,
    sources: list[str],
) -> DaemonDeployment:
    now = op.now()
    dep_id = scheduler.new_deployment_id(op.world.new_id())
    cluster_name = daemon.cluster_arn.rpartition("/")[2]
    deployment = DaemonDeployment(
        arn=arns.ecs(
            op.region, op.account, f"daemon-deployment/{cluster_name}/{daemon.name}/{dep_id}"
        ),
        daemon_arn=daemon.arn,
        cluster_arn=daemon.cluster_arn,
        target_revision_arn=revision.arn,
        created_at=now,
        source_revision_arns=sources,
        deployment_configuration=scheduler.describe_config(config),
    )
    service = scheduler.load(daemon)
    scheduler.deploy(
        service,
        dep_id,
        revision.daemon_task_definition_arn,
        deployment.deployment_configuration.get("drainPercent"),
        revision.enable_execute_command,
        now,
    )
    scheduler.store(daemon, service)
    live = {d.id for d in service.deployments}
    daemon.deployment_of = {k: v for k, v in daemon.deployment_of.items() if k in live}
    daemon.revision_of = {k: v for k, v in daemon.revision_of.items() if k in live}
    daemon.deployment_of[dep_id] = deployment.arn
    daemon.revision_of[dep_id] = revision.arn
    daemon.deployment_arn = deployment.arn
    daemon.revision_arn = revision.arn
    daemon.updated_at = now
    tx.put(REVISIONS, revision.arn, revision.to_doc())
    tx.put(DEPLOYMENTS, deployment.arn, deployment.to_doc())
    return deployment


def create(
    op: Op,
    *,
    name: str,
    cluster: str | None,
    request: DaemonRequest,
    tags: Sequence[Mapping[str, Any]] = (),
    client_token: str | None = None,
) -> Daemon:
    if not _NAME.match(name):
        raise InvalidParameterException(
            "Name can have up to 255 characters: letters (uppercase and lowercase), numbers, "
            "hyphens and underscores."
        )  # wording: ours, after the developer guide's rule
    config = _check_config(request.deployment_configuration)
    checked_tags = validate_tags(tags)
    with op.store.transaction() as tx:
        found = get_active(op, tx, cluster_arn(op, cluster))
        arn = daemon_arn(op, found.arn, name)
        existing = tx.get(DAEMONS, arn)
        if existing is not None:
            kept = Daemon.from_doc(existing)
            if client_token and kept.client_token == client_token and kept.status == ACTIVE:
                return kept
            raise InvalidParameterException(
                "Creation of daemon was not idempotent: a daemon with this name exists."
            )  # wording: ours, after CreateService's
        td = _definition(op, tx, request.task_definition)
        now = op.now()
        daemon = Daemon(
            arn=arn,
            name=name,
            cluster_arn=found.arn,
            created_at=now,
            updated_at=now,
            capacity_provider_arns=_providers(
                op, tx, found.capacity_providers, request.capacity_providers
            ),
            client_token=client_token,
        )
        scheduler.store(daemon, scheduler.new_service(daemon, op.caller.principal_arn, now))
        revision = _revision(op, daemon, td, request, None)
        _deploy(op, tx, daemon, revision, config, [])
        tx.put(DAEMONS, arn, daemon.to_doc())
        set_tags(tx, arn, checked_tags)
        return daemon


def update(op: Op, ref: str, request: DaemonRequest) -> Daemon:
    config = _check_config(request.deployment_configuration)
    with op.store.transaction() as tx:
        daemon = load(op, tx, ref)
        if daemon.status != ACTIVE:
            raise NamedError(
                "DaemonNotActiveException", "The specified daemon is not active."
            )  # wording: ours
        cluster = get_active(op, tx, daemon.cluster_arn)
        td = _definition(op, tx, request.task_definition)
        daemon.capacity_provider_arns = _providers(
            op, tx, cluster.capacity_providers, request.capacity_providers
        )
        base_doc = tx.get(REVISIONS, daemon.revision_arn)
        base = DaemonRevision.from_doc(base_doc) if base_doc else None
        revision = _revision(op, daemon, td, request, base)
        sources = sorted(set(daemon.revision_of.values()))
        now = op.now()
        for dep_arn in set(daemon.deployment_of.values()):
            doc = tx.get(DEPLOYMENTS, dep_arn)
            if doc is None:
                continue
            old = DaemonDeployment.from_doc(doc)
            if old.status not in FINISHED:
                old.status, old.status_reason = STOPPED, _REPLACED
                old.stopped_at = old.finished_at = now
                tx.put(DEPLOYMENTS, old.arn, old.to_doc())
        _deploy(op, tx, daemon, revision, config, sources)
        tx.put(DAEMONS, daemon.arn, daemon.to_doc())
        return daemon


def delete(op: Op, ref: str) -> Daemon:
    """DELETE_IN_PROGRESS: the controller stops the daemon's tasks, then forgets it."""
    with op.store.transaction() as tx:
        daemon = load(op, tx, ref)
        if daemon.status != ACTIVE:
            raise NamedError("DaemonNotActiveException", "The specified daemon is not active.")
        now = op.now()
        daemon.status = DELETE_IN_PROGRESS
        daemon.updated_at = now
        service = scheduler.load(daemon)
        service.status = DRAINING
        scheduler.store(daemon, service)
        for dep_arn in set(daemon.deployment_of.values()):
            doc = tx.get(DEPLOYMENTS, dep_arn)
            if doc is not None and doc.get("status") not in FINISHED:
                old = DaemonDeployment.from_doc(doc)
                old.status, old.status_reason = STOPPED, "The daemon was deleted."  # ours
                old.stopped_at = old.finished_at = now
                tx.put(DEPLOYMENTS, old.arn, old.to_doc())
        tx.put(DAEMONS, daemon.arn, daemon.to_doc())
        return daemon


def list_daemons(
    op: Op,
    *,
    cluster: str | None,
    capacity_providers: Sequence[str] = (),
    max_results: int | None = None,
    next_token: str | None = None,
) -> tuple[list[Daemon], str | None]:
    limit = check_max_results(max_results)
    after = decode_token(next_token)
    with op.store.read() as tx:
        where: dict[str, Any] = {}
        if cluster is not None:
            where["cluster"] = get_active(op, tx, cluster_arn(op, cluster)).arn
        wanted = set()
        for ref in capacity_providers:
            found = providers.load(op, tx, ref)
            wanted.add(found.arn if found else ref)
        rows = tx.scan(DAEMONS, prefix=arns.prefix(op.region, op.account, "daemon"), where=where)
        out: list[Daemon] = []
        token = None
        for key, doc in rows:
            if key <= after:
                continue
            d = Daemon.from_doc(doc)
            if wanted and not wanted & set(d.capacity_provider_arns):
                continue
            if len(out) == limit:
                token = encode_token(out[-1].arn)
                break
            out.append(d)
    return out, token


def tags_of(op: Op, arn: str) -> list[dict[str, str]]:
    with op.store.read() as tx:
        return get_tags(tx, arn)
