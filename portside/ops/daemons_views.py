"""What DescribeDaemon, DescribeDaemonDeployments, ListDaemonDeployments and
DescribeDaemonRevisions show: counts read from the daemon's tasks and instances as they are
now, per revision and capacity provider.

A task counts for the revision its scheduler deployment runs (`Daemon.revision_of`): RUNNING
tasks are `runningCount` / `runningInstanceCount`; a task asked to stop and not yet stopped
is an instance being drained of that revision. An ACTIVE instance of the daemon's capacity
providers with no daemon task is `withoutDaemonCount` of the daemon's newest revision.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from portside.errors import InvalidParameterException, NamedError
from portside.model import arn as arns
from portside.model.container_instance import ACTIVE as INSTANCE_ACTIVE
from portside.model.container_instance import ContainerInstance
from portside.model.doc import from_doc
from portside.ops import capacity_providers as providers
from portside.ops import daemons as daemon_ops
from portside.ops import daemons_scheduler as scheduler
from portside.ops import tasks as task_ops
from portside.ops.context import Op
from portside.ops.daemons_model import (
    DEPLOYMENTS,
    REVISIONS,
    Daemon,
    DaemonDeployment,
    DaemonRevision,
)
from portside.ops.paging import check_max_results, decode_token, encode_token
from portside.store.base import Tx


@dataclass
class Counts:
    """Per capacity provider ARN: instances running the revision, without the daemon, being
    drained of it."""

    running: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    without: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    draining: dict[str, int] = field(default_factory=lambda: defaultdict(int))


def counts(op: Op, tx: Tx, daemon: Daemon) -> dict[str, Counts]:
    """Revision ARN -> its counts."""
    provider_arn = {
        arn.rpartition("/")[2]: arn for arn in daemon.capacity_provider_arns
    }  # name -> ARN
    out: dict[str, Counts] = defaultdict(Counts)
    covered: set[str] = set()
    group = scheduler.group_of(daemon.name)
    for _, doc in task_ops.of_group(tx, daemon.cluster_arn, group):
        revision = daemon.revision_of.get(str(doc.get("startedBy") or ""))
        if revision is None:
            continue
        cp = doc.get("capacityProviderName") or ""
        cp_arn = provider_arn.get(cp) or arns.ecs(op.region, op.account, f"capacity-provider/{cp}")
        if doc.get("desiredStatus") == "STOPPED":
            out[revision].draining[cp_arn] += 1
            continue
        covered.add(str(doc.get("instanceArn") or ""))
        if doc.get("lastStatus") == "RUNNING":
            out[revision].running[cp_arn] += 1
    if daemon.status == daemon_ops.ACTIVE:
        instances = [
            (inst, {a["name"]: a.get("value") for a in inst.attributes})
            for _, doc in tx.scan("container_instances", where={"cluster": daemon.cluster_arn})
            if not (inst := from_doc(ContainerInstance, doc)).fargate
            and inst.status == INSTANCE_ACTIVE
        ]
        owner = scheduler.provider_names(
            tx, daemon.cluster_arn, instances, providers.load_active(op, tx)
        )
        for inst, _ in instances:
            name = owner.get(inst.arn) or ""
            if name in provider_arn and inst.arn not in covered:
                out[daemon.revision_arn].without[provider_arn[name]] += 1
    return out


def _providers(daemon: Daemon, c: Counts, keys: Sequence[str]) -> list[dict[str, Any]]:
    arns_seen = list(daemon.capacity_provider_arns)
    for table in (c.running, c.without, c.draining):
        arns_seen += [a for a in table if a not in arns_seen]
    out = []
    for a in arns_seen:
        values = (c.running.get(a, 0), c.without.get(a, 0), c.draining.get(a, 0))
        row: dict[str, Any] = {"arn": a}
        for key, value in zip(keys, values, strict=False):
            row[key] = value
        out.append(row)
    return out


def describe_daemon(op: Op, ref: str) -> dict[str, Any]:
    with op.store.read() as tx:
        daemon = daemon_ops.load(op, tx, ref)
        table = counts(op, tx, daemon)
    older = sorted(
        r for r, c in table.items() if r != daemon.revision_arn and any(c.running.values())
    )
    shown = [daemon.revision_arn, *older]
    revisions = []
    for rev in shown:
        c = table.get(rev) or Counts()
        revisions.append(
            {
                "arn": rev,
                "capacityProviders": _providers(daemon, c, ("runningCount", "withoutDaemonCount")),
                "totalRunningCount": sum(c.running.values()),
                "totalWithoutDaemonCount": sum(c.without.values()),
            }
        )
    return {
        "daemonArn": daemon.arn,
        "clusterArn": daemon.cluster_arn,
        "status": daemon.status,
        "currentRevisions": revisions,
        "deploymentArn": daemon.deployment_arn,
        "createdAt": daemon.created_at,
        "updatedAt": daemon.updated_at,
    }


def _revision_detail(daemon: Daemon, rev: str, table: dict[str, Counts]) -> dict[str, Any]:
    c = table.get(rev) or Counts()
    return {
        "arn": rev,
        "capacityProviders": _providers(
            daemon,
            c,
            ("runningInstanceCount", "withoutDaemonInstanceCount", "drainingInstanceCount"),
        ),
        "totalRunningInstanceCount": sum(c.running.values()),
        "totalWithoutDaemonInstanceCount": sum(c.without.values()),
        "totalDrainingInstanceCount": sum(c.draining.values()),
    }


def _deployment(daemon: Daemon | None, d: DaemonDeployment, table: dict[str, Counts]) -> Any:
    out: dict[str, Any] = {
        "daemonDeploymentArn": d.arn,
        "clusterArn": d.cluster_arn,
        "status": d.status,
    }
    if d.status_reason:
        out["statusReason"] = d.status_reason
    if daemon is not None:
        out["targetDaemonRevision"] = _revision_detail(daemon, d.target_revision_arn, table)
        out["sourceDaemonRevisions"] = [
            _revision_detail(daemon, r, table) for r in d.source_revision_arns
        ]
    else:
        out["targetDaemonRevision"] = {"arn": d.target_revision_arn}
        out["sourceDaemonRevisions"] = [{"arn": r} for r in d.source_revision_arns]
    out["circuitBreaker"] = {
        "failureCount": d.failure_count,
        "status": d.circuit_breaker_status,
        "threshold": d.threshold,
    }
    alarms = (d.deployment_configuration.get("alarms") or {}) if d.deployment_configuration else {}
    out["alarms"] = {
        # Deployment alarms are not watched yet (nor for services): never MONITORING.
        "status": "DISABLED",
        "alarmNames": list(alarms.get("alarmNames") or ()),
        "triggeredAlarmNames": [],
    }
    if d.rollback:
        out["rollback"] = d.rollback
    out["deploymentConfiguration"] = d.deployment_configuration
    out["createdAt"] = d.created_at
    for key, value in (
        ("startedAt", d.started_at),
        ("stoppedAt", d.stopped_at),
        ("finishedAt", d.finished_at),
    ):
        if value is not None:
            out[key] = value
    return out


def _mine(op: Op, arn: str, kind: str) -> bool:
    parsed = arns.parse(arn)
    return (
        parsed is not None
        and parsed.kind == kind
        and (parsed.region, parsed.account) == (op.region, op.account)
    )


def describe_deployments(
    op: Op, refs: Sequence[str]
) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
    found: list[dict[str, Any]] = []
    failures: list[dict[str, str]] = []
    with op.store.read() as tx:
        daemons: dict[str, tuple[Daemon | None, dict[str, Counts]]] = {}
        for ref in refs:
            doc = tx.get(DEPLOYMENTS, ref) if _mine(op, ref, "daemon-deployment") else None
            if doc is None:
                failures.append({"arn": ref, "reason": "MISSING"})
                continue
            d = DaemonDeployment.from_doc(doc)
            if d.daemon_arn not in daemons:
                ddoc = tx.get("daemons", d.daemon_arn)
                daemon = Daemon.from_doc(ddoc) if ddoc else None
                daemons[d.daemon_arn] = (daemon, counts(op, tx, daemon) if daemon else {})
            daemon, table = daemons[d.daemon_arn]
            found.append(_deployment(daemon, d, table))
    return found, failures


def list_deployments(
    op: Op,
    daemon_ref: str,
    *,
    status: Sequence[str] = (),
    created_after: float | None = None,
    created_before: float | None = None,
    max_results: int | None = None,
    next_token: str | None = None,
) -> tuple[list[dict[str, Any]], str | None]:
    """Newest first."""
    limit = check_max_results(max_results)
    after = decode_token(next_token)
    with op.store.read() as tx:
        try:
            daemon = daemon_ops.load(op, tx, daemon_ref)
        except NamedError:
            # ListDaemonDeployments declares no DaemonNotFoundException.
            raise InvalidParameterException("The specified daemon does not exist.") from None
        rows = [DaemonDeployment.from_doc(doc) for _, doc in tx.scan(
            DEPLOYMENTS, where={"daemon": daemon.arn}
        )]  # fmt: skip
    rows = [
        d
        for d in rows
        if (not status or d.status in status)
        and (created_after is None or d.created_at >= created_after)
        and (created_before is None or d.created_at <= created_before)
    ]
    rows.sort(key=lambda d: (-d.created_at, d.arn))
    keys = [d.arn for d in rows]
    start = keys.index(after) + 1 if after and after in keys else (len(keys) if after else 0)
    page = rows[start : start + limit]
    token = encode_token(page[-1].arn) if start + limit < len(rows) else None
    out = []
    for d in page:
        row: dict[str, Any] = {
            "daemonDeploymentArn": d.arn,
            "daemonArn": d.daemon_arn,
            "clusterArn": d.cluster_arn,
            "status": d.status,
            "targetDaemonRevisionArn": d.target_revision_arn,
            "createdAt": d.created_at,
        }
        if d.status_reason:
            row["statusReason"] = d.status_reason
        for key, value in (
            ("startedAt", d.started_at),
            ("stoppedAt", d.stopped_at),
            ("finishedAt", d.finished_at),
        ):
            if value is not None:
                row[key] = value
        out.append(row)
    return out, token


def describe_revisions(
    op: Op, refs: Sequence[str]
) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
    found: list[dict[str, Any]] = []
    failures: list[dict[str, str]] = []
    with op.store.read() as tx:
        for ref in refs:
            doc = tx.get(REVISIONS, ref) if _mine(op, ref, "daemon-revision") else None
            if doc is None:
                failures.append({"arn": ref, "reason": "MISSING"})
                continue
            r = DaemonRevision.from_doc(doc)
            found.append(
                {
                    "daemonRevisionArn": r.arn,
                    "clusterArn": r.cluster_arn,
                    "daemonArn": r.daemon_arn,
                    "daemonTaskDefinitionArn": r.daemon_task_definition_arn,
                    "createdAt": r.created_at,
                    "containerImages": r.container_images,
                    "propagateTags": r.propagate_tags,
                    "enableECSManagedTags": r.enable_ecs_managed_tags,
                    "enableExecuteCommand": r.enable_execute_command,
                    "critical": r.critical,
                }
            )
    return found, failures
