"""Cluster operations: create, describe, list, update, capacity providers, delete."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from portside.errors import (
    ClusterContainsContainerInstancesException,
    ClusterContainsServicesException,
    ClusterContainsTasksException,
    ClusterNotFoundException,
    InvalidParameterException,
    ResourceInUseException,
)
from portside.model import arn as arns
from portside.model.cluster import ACTIVE, INACTIVE, Cluster, ClusterCounts, ClusterSetting
from portside.model.launch import CapacityItem, strategy_document
from portside.model.states import InstanceStatus, TaskStatus
from portside.ops import capacity, settings
from portside.ops.context import Op
from portside.ops.describing import Failure, Found, RefLimits, View, found_or_missing
from portside.ops.paging import check_max_results, decode_token, keys_page
from portside.ops.tags import Tag, get_tags, set_tags, validate_tags
from portside.store.base import Tally, Tx

DEFAULT = "default"
# A deleted cluster stays discoverable, INACTIVE, to ListClusters and DescribeClusters for
# this long (ECS: "for a period of time", unspecified; Portside's choice), then is MISSING.
INACTIVE_VISIBLE = 3600.0
_NAME = re.compile(r"^[A-Za-z0-9_-]{1,255}$")
_INSIGHTS_VALUES = ("enabled", "disabled", "enhanced")


@dataclass(frozen=True, slots=True)
class ClusterView:
    cluster: Cluster
    counts: ClusterCounts
    tags: list[Tag]


def cluster_arn(op: Op, ref: str | None) -> str:
    """The ARN a cluster reference (name, ARN or None for `default`) points at."""
    ref = ref or DEFAULT
    if arns.is_arn(ref):
        return ref
    return arns.cluster(op.region, op.account, ref)


def _lookup(op: Op, tx: Tx, arn: str) -> dict[str, Any] | None:
    # Clusters are regional: an ARN of another region or account names none of the caller's.
    parsed = arns.parse(arn)
    if parsed is None or (parsed.region, parsed.account) != (op.region, op.account):
        return None
    return tx.get("clusters", arn)


def get_active(op: Op, tx: Tx, ref: str | None) -> Cluster:
    """The ACTIVE cluster a reference names, or ClusterNotFoundException."""
    doc = _lookup(op, tx, cluster_arn(op, ref))
    if doc is None or doc["status"] != ACTIVE:
        raise ClusterNotFoundException("Cluster not found.")
    return Cluster.from_doc(doc)


def describe_members(
    op: Op,
    cluster_ref: str | None,
    refs: Sequence[str],
    limits: RefLimits,
    find: Callable[[Tx, Cluster, str], tuple[str, Found | None]],
    view: Callable[[Tx, Found], View],
) -> tuple[list[View], list[Failure]]:
    """A Describe* of the ACTIVE cluster's own resources (its tasks, instances, services):
    `find` gives the ARN a reference stands for in the cluster and the resource, None when it
    is none of the cluster's (a MISSING failure); `view`, what the call answers with."""
    limits.check(refs)
    with op.store.read() as tx:
        cluster = get_active(op, tx, cluster_ref)
        return found_or_missing(refs, partial(find, tx, cluster), partial(view, tx))


def _check_settings(items: Sequence[ClusterSetting]) -> list[dict[str, str]]:
    out: dict[str, str] = {}
    for item in items:
        name, value = item.name, item.value
        if name != "containerInsights":
            raise InvalidParameterException(f"Unknown cluster setting: {name}")
        if value not in _INSIGHTS_VALUES:
            raise InvalidParameterException(
                f"Invalid value '{value}' for cluster setting containerInsights. "
                f"Valid values are {', '.join(_INSIGHTS_VALUES)}."
            )
        out[name] = value
    return [{"name": k, "value": v} for k, v in out.items()]


def _check_configuration(config: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if config is None:
        return None
    exec_cfg = config.get("executeCommandConfiguration")
    if exec_cfg is not None:
        logging = exec_cfg.get("logging", "DEFAULT")
        has_log_cfg = bool(exec_cfg.get("logConfiguration"))
        if logging == "OVERRIDE" and not has_log_cfg:
            raise InvalidParameterException(
                "logConfiguration must be provided when logging is set to OVERRIDE."
            )
        if logging != "OVERRIDE" and has_log_cfg:
            # ECS's wording (terraform-aws-modules/terraform-aws-ecs#84).
            raise InvalidParameterException(
                "You must set logging to 'OVERRIDE' when you supply a log configuration."
            )
    return dict(config)


def create_cluster(
    op: Op,
    *,
    name: str | None = None,
    tags: Sequence[Mapping[str, Any]] = (),
    settings_: Sequence[ClusterSetting] | None = None,
    configuration: Mapping[str, Any] | None = None,
    capacity_providers: Sequence[str] | None = None,
    default_strategy: Sequence[CapacityItem] = (),
    service_connect_defaults: Mapping[str, str] | None = None,
) -> ClusterView:
    name = DEFAULT if name is None else name
    if not _NAME.match(name):
        raise InvalidParameterException(
            "Cluster name can have at most 255 characters: letters (uppercase and lowercase), "
            "numbers, underscores and hyphens."
        )
    checked_tags = validate_tags(tags)
    checked_settings = _check_settings(settings_ or ())
    checked_config = _check_configuration(configuration)
    arn = arns.cluster(op.region, op.account, name)
    with op.store.transaction() as tx:
        existing = tx.get("clusters", arn)
        if existing is not None and existing["status"] == ACTIVE:
            # CreateCluster is idempotent by name: the cluster that exists is the answer.
            cluster = Cluster.from_doc(existing)
            return ClusterView(cluster, count(tx, cluster), get_tags(tx, arn))
        providers = capacity.check_cluster_providers(op, tx, capacity_providers or ())
        strategy = strategy_document(capacity.check_strategy(default_strategy, providers))
        if not checked_settings:
            insights = settings.effective_value(op, tx, "containerInsights") or "disabled"
            checked_settings = [{"name": "containerInsights", "value": insights}]
        connect = _connect_defaults(op, tx, service_connect_defaults)
        cluster = Cluster(
            arn=arn,
            name=name,
            settings=checked_settings,
            configuration=checked_config,
            capacity_providers=providers,
            default_strategy=strategy,
            service_connect_defaults=connect or None,
            created_at=op.now(),
        )
        tx.put("clusters", arn, cluster.to_doc())
        set_tags(tx, arn, checked_tags)
        return ClusterView(cluster, ClusterCounts(), checked_tags)


_TASK_STATS = (
    ("EC2", "EC2"),
    ("FARGATE", "Fargate"),
    ("EXTERNAL", "External"),
)


def count(tx: Tx, cluster: Cluster, *, statistics: bool = False) -> ClusterCounts:
    """The counts DescribeClusters reports, read from the store."""
    where = {"cluster": cluster.arn}
    # Only the states counted: the cluster's hour of STOPPED tasks is never read.
    counted = {"cluster": cluster.arn, "status": {TaskStatus.RUNNING, TaskStatus.PENDING}}
    states, active, members = tx.tallies(
        [
            Tally("tasks", ("status",), counted),
            Tally("services", (), {**where, "status": "ACTIVE"}),
            Tally("container_instances", ("status", "fargate"), where),
        ]
    )
    running = states.get((TaskStatus.RUNNING,), 0)
    pending = states.get((TaskStatus.PENDING,), 0)
    services = active.get((), 0)
    # The Fargate capacity `portside up` registers is no container instance to ECS's callers.
    instances = sum(
        n
        for (status, fargate), n in members.items()
        if status != InstanceStatus.INACTIVE and not fargate
    )
    stats: list[tuple[str, int]] = []
    if statistics:
        per: dict[str, int] = {}
        for _, task in tx.scan("tasks", where=counted):
            kind = next((s for lt, s in _TASK_STATS if lt == task.get("launchType")), "EC2")
            state = task.get("lastStatus")
            if state == TaskStatus.RUNNING:
                per[f"running{kind}TasksCount"] = per.get(f"running{kind}TasksCount", 0) + 1
            elif state == TaskStatus.PENDING:
                per[f"pending{kind}TasksCount"] = per.get(f"pending{kind}TasksCount", 0) + 1
        for _, svc in tx.scan("services", where=where):
            kind = next((s for lt, s in _TASK_STATS if lt == svc.get("launchType")), "EC2")
            state = {"ACTIVE": "active", "DRAINING": "draining"}.get(svc.get("status", ""))
            if state:
                name = f"{state}{kind}ServiceCount"
                per[name] = per.get(name, 0) + 1
        for _, label in _TASK_STATS:
            for name in (
                f"running{label}TasksCount",
                f"pending{label}TasksCount",
                f"active{label}ServiceCount",
                f"draining{label}ServiceCount",
            ):
                stats.append((name, per.get(name, 0)))
    return ClusterCounts(instances, running, pending, services, tuple(stats))


def describe_clusters(
    op: Op, refs: Sequence[str] | None, *, statistics: bool = False, tags: bool = True
) -> tuple[list[ClusterView], list[Failure]]:
    now = op.now()
    with op.store.read() as tx:

        def stored(ref: str) -> tuple[str, Cluster | None]:
            arn = cluster_arn(op, ref)
            doc = _lookup(op, tx, arn)
            shown = doc is not None and discoverable(doc, now)
            return arn, (Cluster.from_doc(doc) if doc is not None and shown else None)

        def view(cluster: Cluster) -> ClusterView:
            return ClusterView(
                cluster,
                count(tx, cluster, statistics=statistics),
                get_tags(tx, cluster.arn) if tags else [],
            )

        return found_or_missing(refs or [DEFAULT], stored, view)


def list_clusters(
    op: Op, *, max_results: int | None = None, next_token: str | None = None
) -> tuple[list[str], str | None]:
    limit = check_max_results(max_results)
    after = decode_token(next_token)
    prefix = arns.prefix(op.region, op.account, "cluster")
    now = op.now()
    with op.store.read() as tx:
        rows = tx.scan("clusters", prefix=prefix, after=after)
        return keys_page(rows, limit, lambda doc: discoverable(doc, now))


def discoverable(doc: Mapping[str, Any], now: float) -> bool:
    """ACTIVE, or deleted within INACTIVE_VISIBLE seconds."""
    if doc.get("status") != INACTIVE:
        return True
    deleted = doc.get("deleted_at")
    return deleted is not None and now - float(deleted) < INACTIVE_VISIBLE


def _update(op: Op, ref: str, change: Any) -> ClusterView:
    with op.store.transaction() as tx:
        cluster = get_active(op, tx, ref)
        change(tx, cluster)
        tx.put("clusters", cluster.arn, cluster.to_doc())
        return ClusterView(cluster, count(tx, cluster), get_tags(tx, cluster.arn))


def update_cluster(
    op: Op,
    ref: str,
    *,
    settings_: Sequence[ClusterSetting] | None = None,
    configuration: Mapping[str, Any] | None = None,
    service_connect_defaults: Mapping[str, str] | None = None,
) -> ClusterView:
    checked_settings = _check_settings(settings_) if settings_ is not None else None
    checked_config = _check_configuration(configuration)

    def change(tx: Tx, cluster: Cluster) -> None:
        if checked_settings is not None:
            merged = {s["name"]: s["value"] for s in cluster.settings}
            merged.update({s["name"]: s["value"] for s in checked_settings})
            cluster.settings = [{"name": k, "value": v} for k, v in merged.items()]
        if checked_config is not None:
            cluster.configuration = {**(cluster.configuration or {}), **checked_config}
        connect = _connect_defaults(op, tx, service_connect_defaults)
        if connect is not None:
            cluster.service_connect_defaults = connect or None

    return _update(op, ref, change)


def _connect_defaults(op: Op, tx: Tx, given: Mapping[str, str] | None) -> dict[str, str] | None:
    """serviceConnectDefaults as ECS keeps them: the namespace's ARN, an HTTP namespace made
    for a new name (serviceconnect/config.py); {} removes them, None leaves them."""
    from portside.serviceconnect.config import cluster_defaults  # it imports ops

    return cluster_defaults(op, tx, given)


def put_capacity_providers(
    op: Op, ref: str, providers: Sequence[str], strategy: Sequence[CapacityItem]
) -> ClusterView:
    def change(tx: Tx, cluster: Cluster) -> None:
        checked = capacity.check_cluster_providers(op, tx, providers)
        removed = set(cluster.capacity_providers) - set(checked)
        for _, svc in tx.scan("services", where={"cluster": cluster.arn, "status": "ACTIVE"}):
            used = {i.get("capacityProvider") for i in svc.get("capacityProviderStrategy") or ()}
            if used & removed:
                raise ResourceInUseException(
                    "The specified capacity provider is in use and cannot be removed."
                )
        cluster.capacity_providers = checked
        cluster.default_strategy = strategy_document(capacity.check_strategy(strategy, checked))

    return _update(op, ref, change)


def delete_cluster(op: Op, ref: str) -> ClusterView:
    with op.store.transaction() as tx:
        cluster = get_active(op, tx, ref)
        where = {"cluster": cluster.arn}
        counts = count(tx, cluster)
        if counts.registered_instances:
            raise ClusterContainsContainerInstancesException(
                "The Cluster cannot be deleted while Container Instances are active or draining."
            )
        if counts.active_services or tx.count("services", where={**where, "status": "DRAINING"}):
            raise ClusterContainsServicesException(
                "The Cluster cannot be deleted while Services are active."
            )
        live_tasks = tx.count("tasks", where=where) - tx.count(
            "tasks", where={**where, "status": TaskStatus.STOPPED}
        )
        if live_tasks:
            raise ClusterContainsTasksException(
                "The Cluster cannot be deleted while Tasks are active."
            )
        cluster.status = INACTIVE
        cluster.deleted_at = op.now()
        tx.put("clusters", cluster.arn, cluster.to_doc())
        return ClusterView(cluster, counts, get_tags(tx, cluster.arn))
