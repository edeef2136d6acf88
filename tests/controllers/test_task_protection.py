"""Task scale-in protection in the REPLICA reconciler: protected tasks are never chosen for a
scale-in, and a deployment waits for an old protected task until its protection ends."""

from __future__ import annotations

from dataclasses import replace

from test_replica import (
    NEW,
    NOW,
    OLD,
    deployment,
    instances,
    rolling_deployments,
    service,
    started,
    stopped,
    task,
)

from portside.controllers.services import protection
from portside.controllers.services.replica import compute
from portside.model.service import COMPLETED, DEPLOYMENT_ACTIVE, IN_PROGRESS

LATER = NOW + 3600


def test_expiry_is_a_time_not_a_flag() -> None:
    t = task(1, protected_until=NOW + 60)
    assert protection.is_protected(t, NOW)
    assert not protection.is_protected(t, NOW + 60)
    assert not protection.is_protected(task(2), NOW)
    assert protection.next_expiry([t, task(2, protected_until=NOW + 10)], NOW) == 10
    assert protection.next_expiry([task(3, protected_until=NOW - 1)], NOW) is None


def test_scale_in_skips_protected_tasks() -> None:
    tasks = [task(n, protected_until=LATER if n < 3 else None) for n in range(5)]
    plan = compute(service(desired=2, low=0), tasks, instances(), NOW)
    # Three must go; only two are unprotected: both go, the three protected stay.
    assert stopped(plan) == {tasks[3].arn, tasks[4].arn}
    assert started(plan) == 0
    assert plan.recheck_in is not None and plan.recheck_in <= LATER - NOW


def test_scale_in_prefers_unprotected_regardless_of_zone_balance() -> None:
    # Every task is in zone "a" but the protected ones; the pick is still the unprotected one.
    tasks = [task(n, zone="a", protected_until=LATER if n != 2 else None) for n in range(4)]
    plan = compute(service(desired=3, low=0), tasks, instances(), NOW)
    assert stopped(plan) == {tasks[2].arn}


def test_expired_protection_no_longer_holds() -> None:
    tasks = [task(n, protected_until=NOW - 1) for n in range(3)]
    plan = compute(service(desired=1, low=0), tasks, instances(), NOW)
    assert len(stopped(plan)) == 2


def test_scale_to_zero_keeps_protected_tasks() -> None:
    tasks = [task(0, protected_until=LATER), task(1)]
    plan = compute(service(desired=0), tasks, instances(), NOW)
    assert stopped(plan) == {tasks[1].arn}


def test_deployment_waits_for_protected_old_task_then_proceeds() -> None:
    svc = service(desired=1, low=100, high=200, deployments=rolling_deployments())
    old = task(0, OLD, protected_until=LATER)
    new = task(1, NEW, started=NOW - 300)
    plan = compute(svc, [old, new], instances(), NOW)
    assert stopped(plan) == set()
    assert started(plan) == 0
    primary = next((d for d in plan.deployments if d.id == NEW), None)
    assert primary is None or primary.rollout_state in (None, IN_PROGRESS)
    assert plan.recheck_in is not None and plan.recheck_in <= LATER - NOW

    # Protection removed (or expired): the old task goes and the deployment completes.
    plan = compute(svc, [replace(old, protected_until=None), new], instances(), NOW)
    assert stopped(plan) == {old.arn}
    plan = compute(svc, [replace(old, protected_until=None), new], instances(), LATER + 1)
    assert stopped(plan) == {old.arn}


def test_deployment_starts_new_tasks_beside_protected_old_ones() -> None:
    svc = service(
        desired=2,
        low=100,
        high=200,
        deployments=[
            deployment(NEW),
            deployment(OLD, DEPLOYMENT_ACTIVE, COMPLETED, "td:1", NOW - 5000),
        ],
    )
    olds = [task(n, OLD, protected_until=LATER) for n in range(2)]
    plan = compute(svc, olds, instances(), NOW)
    assert started(plan) == 2
    assert stopped(plan) == set()


def test_protected_old_task_failing_health_checks_is_replaced() -> None:
    svc = service(desired=1, low=0, high=200, deployments=rolling_deployments())
    sick = task(0, OLD, health="UNHEALTHY", protected_until=LATER)
    plan = compute(svc, [sick], instances(), NOW)
    assert stopped(plan) == {sick.arn}
