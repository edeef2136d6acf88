"""The service controller's pass for a service the native engine runs (rules.is_native):
controllers/services/service.py hands it the service, its task facts and instances, in the
service's transaction.

A deployment with nothing to shift (the service's first, or one whose shift is over) is the
REPLICA reconciler's (replica.compute: scaling, replacing failed tasks), with a rollback's
adopted tasks counted as its own. A deployment in its stages is engine.decide's: green
started, blue kept, then stopped; the listener rules set (routing.py); the stage and hook
records written on the deployment; a failure or a hook's ROLLBACK makes a rollback
deployment (ops/service_deployments.roll_back, as StopServiceDeployment does), whose state
says to adopt blue's tasks.

PORTSIDE_CODEDEPLOY_WAIT_SCALE multiplies every wait here too (the bake times, the linear
and canary steps, the hooks' timeouts): 0 makes them immediate.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from portside.controllers.blue_green.loop import wait_scale
from portside.controllers.native_deployments import engine, routing, rules
from portside.controllers.services import circuit_breaker as cb
from portside.controllers.services import replica
from portside.controllers.services import service_events as words
from portside.controllers.services.apply import apply
from portside.controllers.services.facts import (
    DeploymentUpdate,
    InstanceFact,
    Plan,
    StartTasks,
    StopTask,
    TaskFact,
)
from portside.controllers.services.rolling import counts_healthy, failed_health
from portside.model.cluster import Cluster
from portside.model.service import (
    ACTIVE,
    COMPLETED,
    DEPLOYMENT_INACTIVE,
    Deployment,
    Service,
)
from portside.ops.context import Op
from portside.ops.service_deployments import roll_back
from portside.store.base import Tx


def runs(service: Service) -> bool:
    return rules.is_native(service) and service.scheduling_strategy == "REPLICA"


def run(
    op: Op,
    tx: Tx,
    cluster: Cluster,
    service: Service,
    tasks: Sequence[TaskFact],
    instances: Mapping[str, InstanceFact],
    now: float,
    lost_grace: float,
) -> Plan:
    primary = service.primary
    state = ensure_state(service, primary)
    adopted = set(state.get("adopts") or ())
    if adopted:
        tasks = [
            replace(t, deployment_id=primary.id) if t.deployment_id in adopted else t for t in tasks
        ]
    if state["stage"] == engine.DONE or service.status != ACTIVE:
        # Nothing to shift, or a deleted service (every task stops).
        plan = replica.compute(service, tasks, instances, now, lost_grace=lost_grace)
        apply(op, tx, cluster, service, plan, now)
        return plan
    return _stages(op, tx, cluster, service, primary, state, tasks, now)


def ensure_state(service: Service, primary: Deployment) -> dict[str, Any]:
    """The PRIMARY deployment's engine state, made on its first pass: a rollback of a native
    deployment adopts blue; a deployment with a blue revision running starts its stages;
    the service's first deployment has nothing to shift."""
    if primary.native is not None:
        return primary.native
    by_id = {d.id: d for d in service.deployments}
    base = routing.base_groups(service.load_balancers)
    failed = by_id.get(primary.rollback_of or "")
    prior = (failed.native or {}) if failed is not None else {}
    if prior.get("blue"):
        blue = by_id.get(str(prior["blue"]))
        adopts = [prior["blue"], *((blue.native or {}).get("adopts") or [] if blue else [])]
        primary.native = {
            "stage": engine.ROLLBACK,
            "groups": list(prior.get("blueGroups") or base),
            "adopts": adopts,
        }
        return primary.native
    blue = _blue_of(service, primary)
    if blue is None:
        primary.native = {"stage": engine.DONE, "groups": base}
        return primary.native
    blue_groups = list((blue.native or {}).get("groups") or base)
    if len(blue_groups) != len(base):
        blue_groups = base
    primary.native = {
        "stage": engine.RECONCILE_SERVICE,
        "groups": routing.other_groups(service.load_balancers, blue_groups),
        "blueGroups": blue_groups,
        "blue": blue.id,
        "adopts": [],
    }
    return primary.native


def _blue_of(service: Service, primary: Deployment) -> Deployment | None:
    """The revision production runs on: the newest completed other deployment still up,
    else the newest other one still up."""
    up = [d for d in service.deployments if d is not primary and d.status != DEPLOYMENT_INACTIVE]
    done = [d for d in up if d.rollout_state == COMPLETED]
    return max(done or up, key=lambda d: d.created_at, default=None)


def _settings(service: Service) -> engine.Settings:
    config = service.deployment_configuration
    return engine.Settings(
        routing=rules.routing(config),
        bake_minutes=float(config.bake_time_in_minutes or 0),
        hooks=tuple(config.lifecycle_hooks or ()),
        scale=wait_scale(),
    )


def _stages(
    op: Op,
    tx: Tx,
    cluster: Cluster,
    service: Service,
    primary: Deployment,
    state: dict[str, Any],
    tasks: Sequence[TaskFact],
    now: float,
) -> Plan:
    plan = Plan()
    live = [t for t in tasks if t.live]
    grace = float(service.health_check_grace_period_seconds or 0)
    stops: dict[str, StopTask] = {}
    mine = [t for t in live if t.deployment_id == primary.id]
    blue = state.get("blue")
    for task in mine:
        if failed_health(task, grace, now):
            reason, message = words.health_failure(service.name, task)
            stops[task.arn] = StopTask(task.arn, reason)
            plan.events.append(message)
    for task in live:
        # A deployment replaced before it finished: its tasks go at once (not blue's).
        if task.deployment_id not in (primary.id, blue):
            stops.setdefault(task.arn, StopTask(task.arn, words.scaling(primary.id)))
    kept = [t for t in mine if t.arn not in stops]
    others = [t for t in live if t.deployment_id != primary.id]
    verdict = cb.evaluate(service, primary, tasks, now)
    failed = (
        state["stage"] != engine.ROLLBACK
        and verdict is not None
        and verdict.failed_tasks >= verdict.threshold
    )
    facts = engine.Facts(
        desired=service.desired_count,
        mine_live=len(kept),
        mine_ready=sum(counts_healthy(t, now) for t in kept),
        others_live=len(others),
        failed=failed,
    )
    decision = engine.decide(state, facts, _settings(service), primary.lifecycle_hooks, now)
    if decision.rollback is not None:
        return _roll_back(op, tx, cluster, service, primary, decision, verdict, now)
    if decision.stop_others:
        for task in others:
            stops.setdefault(task.arn, StopTask(task.arn, words.scaling(primary.id)))
    plan.stop = list(stops.values())
    if decision.start:
        plan.start.append(StartTasks(primary.id, decision.start))
    _counts(service, primary, plan, live, stops, decision, verdict)
    apply(op, tx, cluster, service, plan, now)
    state.update(decision.notes)
    state["stage"] = decision.stage
    primary.lifecycle_hooks = decision.records
    stage = engine.shown(decision.stage)
    if stage is not None:
        primary.lifecycle_stage = stage
    routing.route(
        tx, service.load_balancers, state["groups"], decision.green_share, decision.test_to_mine
    )
    if decision.wake_at is not None:
        plan.recheck_in = max(0.05, decision.wake_at - now)
    elif not decision.complete:
        plan.recheck_in = 1.0  # health and registrations come through the feed; a safety net
    return plan


def _counts(
    service: Service,
    primary: Deployment,
    plan: Plan,
    live: Sequence[TaskFact],
    stops: Mapping[str, StopTask],
    decision: engine.Decision,
    verdict: cb.Verdict | None,
) -> None:
    after = [t for t in live if t.arn not in stops]
    for d in service.deployments:
        update = DeploymentUpdate(id=d.id)
        update.running_count = sum(t.running for t in after if t.deployment_id == d.id)
        update.pending_count = sum(not t.running for t in after if t.deployment_id == d.id)
        if d is primary:
            update.pending_count += decision.start
            if verdict is not None:
                update.failed_tasks = verdict.failed_tasks
            if decision.complete:
                update.rollout_state = COMPLETED
                update.rollout_state_reason = f"ECS deployment {d.id} completed."
        elif decision.complete:
            update.status = DEPLOYMENT_INACTIVE
        plan.deployments.append(update)
    if decision.complete:
        plan.events.append(words.deployment_completed(service.name, primary.id))
    plan.running_count = sum(t.running for t in after)
    plan.pending_count = sum(not t.running for t in after) + decision.start
    plan.steady = False if not decision.complete else None


def _roll_back(
    op: Op,
    tx: Tx,
    cluster: Cluster,
    service: Service,
    primary: Deployment,
    decision: engine.Decision,
    verdict: cb.Verdict | None,
    now: float,
) -> Plan:
    """The failed deployment FAILED and a rollback deployment to blue's revision, which
    adopts blue's tasks (its first pass is the next one)."""
    by_id = {d.id: d for d in service.deployments}
    blue = by_id.get(str((primary.native or {}).get("blue") or ""))
    primary.lifecycle_hooks = decision.records
    plan = Plan(
        events=[
            f"(service {service.name}) (deployment {primary.id}) deployment failed: "
            f"{decision.rollback}"
        ],
        running_count=service.running_count,
        pending_count=service.pending_count,
    )
    if verdict is not None:
        primary.failed_tasks = verdict.failed_tasks
    if blue is not None:
        roll_back(op, service, primary, blue, now)
        primary.rollout_state_reason = (
            f"ECS deployment {primary.id} rolled back: {decision.rollback}"
        )
        ensure_state(service, service.primary)
    plan.recheck_in = 0.05
    apply(op, tx, cluster, service, plan, now)
    return plan
