"""Both reconcilers with load balanced tasks, on hand-made facts: a DAEMON task whose target
fails its target group's health checks is replaced on its own instance after the grace
period, and neither a DAEMON nor a REPLICA service says it has reached a steady state while a
replacement's targets are not yet healthy (ELB's `initial`)."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from test_daemon import T0, dep, fleet, inst, started_on, stopped, svc
from test_daemon import task as daemon_task
from test_replica import balanced, deployment, service
from test_replica import run as replica_run

from portside.controllers.services import daemon
from portside.controllers.services import service_events as words
from portside.controllers.services.facts import Plan, TaskFact
from portside.model.service import COMPLETED

TG = "arn:aws:elasticloadbalancing:us-east-1:000000000000:targetgroup/web/0123456789abcdef"
ELB_REASON = f"Task failed ELB health checks in (target-group {TG})"
STEADY = "(service web) has reached a steady state."


def lb_task(name: str, on: str, *, healthy: bool = True, sick: bool = False, **kw: Any) -> TaskFact:
    """A DAEMON task behind TG: its target healthy, failing (`sick`), or neither (initial)."""
    return dataclasses.replace(
        daemon_task(name, on, **kw),
        load_balanced=True,
        targets_healthy=healthy and not sick,
        unhealthy_in=TG if sick else None,
    )


def steady_said(plan: Plan) -> bool:
    return plan.steady is True or STEADY in plan.events


# -- DAEMON: a failing target is replaced on its instance ----------------------------------


def test_a_daemon_task_failing_its_target_group_is_replaced_after_the_grace_period() -> None:
    service = svc(dep(rollout=COMPLETED), health_check_grace_period_seconds=60)
    instances = fleet(inst("a"), inst("b"))
    well, sick = lb_task("well", "a"), lb_task("sick", "b", sick=True, started=T0 - 30)

    # In the grace period: nothing goes; the reconciler looks again when it ends.
    plan = daemon.compute(service, [well, sick], instances, T0)
    assert plan.stop == [] and plan.start == []
    assert plan.recheck_in == pytest.approx(30.0)

    # After it: the failing task stops, with ECS's reason and event; the healthy one stays,
    # and the replacement waits for the stop (one task per instance at a time).
    plan = daemon.compute(service, [well, sick], instances, T0 + 30)
    assert stopped(plan) == {"sick": ELB_REASON}
    assert plan.events == [
        f"(service web) (task sick) is unhealthy in (target-group {TG}) due to (reason "
        "Health checks failed)."
    ]
    assert plan.start == [] and plan.steady is not True

    # Asked to stop but still stopping: no second task on the instance, no second stop.
    stopping = dataclasses.replace(sick, desired_status="STOPPED", stopped_reason=ELB_REASON)
    plan = daemon.compute(service, [well, stopping], instances, T0 + 31)
    assert plan.start == [] and plan.stop == []

    # Once STOPPED: one replacement, on the same instance.
    gone = dataclasses.replace(stopping, last_status="STOPPED", stopped_at=T0 + 32)
    plan = daemon.compute(service, [well, gone], instances, T0 + 33)
    assert started_on(plan) == ["ci/b"] and plan.stop == []


def test_a_failing_container_health_check_names_the_container_not_the_target_group() -> None:
    service = svc(dep(rollout=COMPLETED))
    both = dataclasses.replace(
        lb_task("sick", "a", sick=True, checks=True, health="UNHEALTHY"), health_status="UNHEALTHY"
    )
    plan = daemon.compute(service, [both], fleet(inst("a")), T0)
    assert stopped(plan) == {"sick": "Task failed container health checks"}
    assert plan.events == ["(service web) (task sick) failed container health checks."]


def test_health_failure_words_each_cause() -> None:
    sick = lb_task("t1", "a", sick=True)
    assert words.health_failure("web", sick) == (
        ELB_REASON,
        f"(service web) (task t1) is unhealthy in (target-group {TG}) due to (reason Health "
        "checks failed).",
    )
    unwell = dataclasses.replace(sick, health_status="UNHEALTHY")
    assert words.health_failure("web", unwell)[0] == "Task failed container health checks"


# -- the steady state waits for the replacement's targets --------------------------------------


def test_a_daemon_is_steady_only_once_its_replacements_targets_are_healthy() -> None:
    service = svc(dep(rollout=COMPLETED), steady=False)
    instances = fleet(inst("a"), inst("b"))
    well = lb_task("well", "a")
    initial = lb_task("new", "b", healthy=False, started=T0 - 1)
    plan = daemon.compute(service, [well, initial], instances, T0)
    assert not steady_said(plan)
    plan = daemon.compute(
        service, [well, dataclasses.replace(initial, targets_healthy=True)], instances, T0
    )
    assert plan.steady is True and STEADY in plan.events


def test_a_replica_service_is_steady_only_once_its_replacements_targets_are_healthy() -> None:
    # The unhealthy task was stopped (maximumPercent 100) and its replacement now runs, its
    # target still initial: running == desired, nothing pending, yet not steady.
    svc = service(
        desired=1, high=100, low=0, deployments=[deployment(rollout=COMPLETED)], steady=False
    )
    initial = balanced(0, healthy=False)
    assert not steady_said(replica_run(svc, [initial]))
    plan = replica_run(svc, [balanced(0)])
    assert plan.steady is True and STEADY in plan.events
