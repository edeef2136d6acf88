"""Reading a service's world from the store as the reconcilers' facts."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from portside.controllers.native_deployments import routing as native_routing
from portside.controllers.services.facts import InstanceFact, TaskFact
from portside.model.container_instance import INACTIVE, ContainerInstance
from portside.model.doc import from_doc
from portside.model.service import IN_PROGRESS, PRIMARY, REPLICA, Service
from portside.model.service import INACTIVE as GONE
from portside.model.states import TASK_STATUS, TaskStatus
from portside.model.task_definition import TaskDefinition
from portside.ops import service_targets
from portside.ops import tasks as task_ops
from portside.scheduler import constraints
from portside.scheduler.constraints.member_of import MemberOf
from portside.scheduler.query import InstanceFacts
from portside.store.base import Tx


def group(service: Service) -> str:
    return f"service:{service.name}"


def has_health_check(spec: Mapping[str, Any]) -> bool:
    return any(
        c.get("healthCheck") and c.get("essential", True)
        for c in spec.get("containerDefinitions") or ()
    )


def task_facts(tx: Tx, service: Service, checks: Mapping[str, bool], now: float) -> list[TaskFact]:
    """The service's live tasks, and the stopped ones the circuit breaker and the launch
    back-off still count: those of deployments in progress, and the PRIMARY's that stopped
    within the last FACTS_WINDOW seconds."""
    from portside.controllers.services.circuit_breaker import FACTS_WINDOW

    in_progress = {d.id for d in service.deployments if d.rollout_state == IN_PROGRESS}
    primary = next((d.id for d in service.deployments if d.status == PRIMARY), "")
    facts: list[TaskFact] = []
    groups = {lb.target_group_arn for lb in service.load_balancers if lb.target_group_arn}
    targets = _target_health(tx, service.arn) if groups else {}
    # ECS's native blue/green: a deployment's tasks register in its own groups.
    per_deployment = native_routing.groups_by_deployment(service) or {}
    # Through the group's index: its other stopped tasks (an hour of them kept) are never
    # read, so a reconcile costs what the service runs, not its churn.
    docs = task_ops.of_group(
        tx,
        service.cluster_arn,
        group(service),
        stopped_since=now - FACTS_WINDOW,
        started_by={d for d in (primary, *in_progress) if d},
    )
    for _, doc in docs:
        last = TASK_STATUS[doc["lastStatus"]]
        stopped = last == TaskStatus.STOPPED
        deployment = str(doc.get("startedBy") or "")
        in_groups = per_deployment.get(deployment, groups)
        recent = now - float(doc.get("stoppedAt") or 0) <= FACTS_WINDOW
        if stopped and not (recent and (deployment in in_progress or deployment == primary)):
            continue
        facts.append(
            TaskFact(
                arn=doc["arn"],
                deployment_id=deployment,
                last_status=last,
                desired_status=TASK_STATUS[doc["desiredStatus"]],
                health_status=doc.get("healthStatus") or "UNKNOWN",
                has_health_check=checks.get(doc["taskDefinitionArn"], False),
                # None: FARGATE, or a task waiting PROVISIONING for managed scaling's instances
                instance_arn=None
                if doc.get("launchType") == "FARGATE"
                else (doc.get("instanceArn") or None),
                zone=doc.get("availabilityZone"),
                started_at=doc.get("startedAt"),
                stopped_at=doc.get("stoppedAt"),
                stop_code=doc.get("stopCode"),
                failed_to_start=stopped and doc.get("startedAt") is None,
                stopped_reason=doc.get("stoppedReason"),
                load_balanced=bool(groups),
                targets_healthy=bool(in_groups)
                and all(targets.get((doc["arn"], g)) == "healthy" for g in in_groups),
                unhealthy_in=next(
                    (g for g in sorted(in_groups) if targets.get((doc["arn"], g)) == "unhealthy"),
                    None,
                ),
                protected_until=doc.get("protectedUntil"),
            )
        )
    return facts


def _target_health(tx: Tx, service_arn: str) -> dict[tuple[str, str], str | None]:
    """(task ARN, target group ARN) -> the ELB state of the target the task registered."""
    return {
        (row.task_arn, row.target.group): row.health
        for row in service_targets.of_service(tx, service_arn)
        if not row.deregistered
    }


def health_checks(tx: Tx, service: Service) -> dict[str, bool]:
    out: dict[str, bool] = {}
    for d in service.deployments:
        if d.task_definition not in out:
            doc = tx.get("task_definitions", d.task_definition)
            out[d.task_definition] = doc is not None and has_health_check(
                TaskDefinition.from_doc(doc).spec
            )
    return out


def _replica_groups(tx: Tx, cluster_arn: str) -> set[str]:
    return {
        f"service:{doc['name']}"
        for _, doc in tx.scan("services", where={"cluster": cluster_arn})
        if doc.get("schedulingStrategy", REPLICA) == REPLICA and doc.get("status") != GONE
    }


class ParsedInstances:
    """Container instances parsed once per stored text: a reconcile reads every instance of
    its service's cluster, and most have not changed since the last one. (The text, not the
    stored `version`, says which: reservations are written without a new version.) One per
    controller; not shared between threads."""

    def __init__(self) -> None:
        self._held: dict[str, tuple[str, ContainerInstance, dict[str, str | None]]] = {}

    def of_cluster(
        self, tx: Tx, cluster_arn: str
    ) -> list[tuple[ContainerInstance, dict[str, str | None]]]:
        """The cluster's instances with their registered attributes, as stored now."""
        out = []
        for key, text in tx.scan_raw("container_instances", where={"cluster": cluster_arn}):
            held = self._held.get(key)
            if held is None or held[0] != text:
                inst = from_doc(ContainerInstance, orjson.loads(text))
                held = (text, inst, {a["name"]: a.get("value") for a in inst.attributes})
                self._held[key] = held
            out.append((held[1], held[2]))
        if len(self._held) > 2 * len(out) + 1000:  # forget instances long gone
            seen = {inst.arn for inst, _ in out}
            self._held = {k: v for k, v in self._held.items() if k in seen}
        return out


def instance_facts(
    tx: Tx, service: Service, parsed: ParsedInstances | None = None
) -> dict[str, InstanceFact]:
    # The service's constraints were checked when it was created or updated.
    queries = [
        rule.predicate
        for rule in constraints.parse(service.placement_constraints)
        if isinstance(rule, MemberOf)
    ]
    custom: dict[str, dict[str, str | None]] = {}
    for _, doc in tx.scan("attributes", prefix=f"{service.cluster_arn}|"):
        custom.setdefault(doc["targetId"], {})[doc["name"]] = doc.get("value")
    replica_groups = _replica_groups(tx, service.cluster_arn)
    out: dict[str, InstanceFact] = {}
    for inst, registered in (parsed or ParsedInstances()).of_cluster(tx, service.cluster_arn):
        if inst.fargate or inst.status == INACTIVE:
            continue
        attrs = {**registered, **custom.get(inst.arn, {})}
        view = InstanceFacts(
            attributes=attrs,
            ec2_instance_id=inst.ec2_instance_id,
            registered_at=inst.registered_at,
            running_tasks_count=sum(inst.group_counts.values()),
            task_groups=frozenset(g for g, n in inst.group_counts.items() if n > 0),
            agent_connected=inst.agent_connected,
            agent_version=inst.version_info.get("agentVersion"),
        )
        out[inst.arn] = InstanceFact(
            arn=inst.arn,
            status=inst.status,
            connected=inst.agent_connected,
            zone=attrs.get("ecs.availability-zone"),
            disconnected_since=inst.disconnected_at,
            eligible=all(q(view) for q in queries),
            replica_tasks=sum(n for g, n in inst.group_counts.items() if g in replica_groups),
        )
    return out
