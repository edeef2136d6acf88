"""The REPLICA reconciler, rule by rule, on hand-made facts."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from typing import Any

import pytest

from portside.controllers.services import circuit_breaker as cb
from portside.controllers.services.facts import InstanceFact, Plan, TaskFact
from portside.controllers.services.replica import LOST_INSTANCE_GRACE, compute
from portside.controllers.services.rolling import Limits, counts_healthy
from portside.model.deployment import (
    CircuitBreaker,
    DeploymentConfiguration,
    ThresholdConfiguration,
)
from portside.model.service import (
    COMPLETED,
    DEPLOYMENT_ACTIVE,
    DEPLOYMENT_INACTIVE,
    DRAINING,
    FAILED,
    IN_PROGRESS,
    PRIMARY,
    Deployment,
    Service,
)

NOW = 10_000.0
OLD, NEW = "ecs-svc/1111", "ecs-svc/2222"
ZONES = ("a", "b", "c")


def deployment(
    id: str = NEW,
    status: str = PRIMARY,
    rollout: str = IN_PROGRESS,
    td: str = "td:2",
    created: float = NOW - 500,
    **kw: Any,
) -> Deployment:
    return Deployment(
        id=id,
        status=status,
        task_definition=td,
        desired_count=4,
        created_at=created,
        updated_at=created,
        rollout_state=rollout,
        **kw,
    )


def rolling_deployments() -> list[Deployment]:
    return [
        deployment(NEW),
        deployment(OLD, DEPLOYMENT_ACTIVE, COMPLETED, "td:1", NOW - 5000),
    ]


def service(
    desired: int = 4,
    low: int | None = 100,
    high: int | None = 200,
    deployments: list[Deployment] | None = None,
    breaker: dict[str, Any] | None = None,
    **kw: Any,
) -> Service:
    config: dict[str, Any] = {}
    if low is not None:
        config["minimumHealthyPercent"] = low
    if high is not None:
        config["maximumPercent"] = high
    if breaker is not None:
        config["deploymentCircuitBreaker"] = breaker
    return Service(
        arn="arn:aws:ecs:us-east-1:000000000000:service/c/web",
        name="web",
        cluster_arn="arn:aws:ecs:us-east-1:000000000000:cluster/c",
        task_definition="td:2",
        desired_count=desired,
        created_at=0.0,
        created_by="me",
        deployment_configuration=DeploymentConfiguration.from_doc(config),
        deployments=deployments if deployments is not None else [deployment()],
        **kw,
    )


def task(
    n: int,
    dep: str = NEW,
    status: str = "RUNNING",
    health: str = "HEALTHY",
    zone: str | None = None,
    host: int | None = None,
    started: float | None = NOW - 300,
    **kw: Any,
) -> TaskFact:
    zone = zone or ZONES[n % 3]
    host = n % 6 if host is None else host
    return TaskFact(
        arn=f"arn:aws:ecs:us-east-1:000000000000:task/c/{dep[-4:]}t{n}",
        deployment_id=dep,
        last_status=status,
        desired_status="RUNNING",
        health_status=health,
        has_health_check=True,
        instance_arn=f"i-{host}",
        zone=zone,
        started_at=started if status == "RUNNING" else None,
        **kw,
    )


def instances(**changes: dict[str, Any]) -> dict[str, InstanceFact]:
    out = {
        f"i-{h}": InstanceFact(arn=f"i-{h}", status="ACTIVE", connected=True, zone=ZONES[h % 3])
        for h in range(6)
    }
    for arn, fields in changes.items():
        out[arn.replace("_", "-")] = replace(out[arn.replace("_", "-")], **fields)
    return out


def run(svc: Service, tasks: list[TaskFact], now: float = NOW, **inst: Any) -> Plan:
    return compute(svc, tasks, instances(**inst), now)


def started(plan: Plan) -> int:
    return sum(s.count for s in plan.start)


def stopped(plan: Plan) -> set[str]:
    return {s.task_arn for s in plan.stop}


def apply(svc: Service, tasks: list[TaskFact], plan: Plan, first: int) -> list[TaskFact]:
    """The loop's part, in brief: stops set desiredStatus STOPPED, starts add PROVISIONING
    tasks, deployment updates land."""
    gone = stopped(plan)
    out = [replace(t, desired_status="STOPPED") if t.arn in gone else t for t in tasks]
    for start in plan.start:
        out += [task(first + i, start.deployment_id, "PROVISIONING") for i in range(start.count)]
    by_id = {d.id: d for d in svc.deployments}
    for update in plan.deployments:
        for name in ("status", "rollout_state", "rollout_state_reason", "failed_tasks"):
            if getattr(update, name) is not None:
                setattr(by_id[update.id], name, getattr(update, name))
    if plan.steady is not None:
        svc.steady = plan.steady
    return out


def come_up(tasks: list[TaskFact], now: float = NOW) -> list[TaskFact]:
    """Every new task is RUNNING and HEALTHY."""
    return [
        replace(t, last_status="RUNNING", health_status="HEALTHY", started_at=now - 60)
        if t.live and t.last_status != "RUNNING"
        else t
        for t in tasks
    ]


def live(tasks: list[TaskFact]) -> list[TaskFact]:
    return [t for t in tasks if t.live]


def healthy(tasks: list[TaskFact]) -> int:
    return sum(counts_healthy(t, NOW) for t in tasks)


def test_limits_round_as_ecs_documents() -> None:
    assert Limits.of(service(4, 50, 100)) == Limits(4, 2, 4)
    assert Limits.of(service(4, 100, 150)) == Limits(4, 4, 6)
    assert Limits.of(service(2, 75, 200)).min_healthy == 2  # 1.5 rounds up
    assert Limits.of(service(3, 100, 125)).max_live == 3  # 3.75 rounds down
    assert Limits.of(service(4, None, None)) == Limits(4, 4, 8)  # REPLICA defaults


@pytest.mark.parametrize(
    ("desired", "expected"), [(1, 3), (6, 3), (7, 4), (25, 13), (400, 200), (800, 200)]
)
def test_circuit_breaker_threshold_is_half_rounded_up_within_3_and_200(
    desired: int, expected: int
) -> None:
    assert cb.threshold(CircuitBreaker(enable=True), desired) == expected


def test_threshold_configuration_types() -> None:
    count = CircuitBreaker.from_doc({"thresholdConfiguration": {"type": "COUNT", "value": 7}})
    unbounded = CircuitBreaker(
        threshold_configuration=ThresholdConfiguration(type="UNBOUNDED_PERCENT", value=10)
    )
    assert cb.threshold(count, 100) == 7
    assert cb.threshold(unbounded, 5) == 1
    assert cb.threshold(unbounded, 4000) == 400


def test_replaces_tasks_that_stopped() -> None:
    svc = service(deployments=[deployment(rollout=COMPLETED)])
    tasks = [task(n) for n in range(3)] + [
        replace(task(3), last_status="STOPPED", desired_status="STOPPED", stopped_at=NOW - 5)
    ]
    plan = run(svc, tasks)
    assert started(plan) == 1 and plan.start[0].deployment_id == NEW
    assert not plan.stop
    assert (plan.running_count, plan.pending_count) == (3, 1)
    assert plan.deployments[0].running_count == 3 and plan.deployments[0].pending_count == 1


def test_rolling_4_tasks_at_50_100_step_by_step() -> None:
    svc = service(4, 50, 100, rolling_deployments())
    tasks = [task(n, OLD) for n in range(4)]
    # 1: no room under 100%: stop two old (4 x 50% = 2 stay healthy), start two new.
    plan = run(svc, tasks)
    assert len(plan.stop) == 2 and started(plan) == 2
    assert {s.reason for s in plan.stop} == {f"Scaling activity initiated by (deployment {NEW})"}
    tasks = apply(svc, tasks, plan, 10)
    assert len(live(tasks)) == 4 and healthy(live(tasks)) == 2
    # 2: the new ones are still starting: nothing may move.
    plan = run(svc, tasks)
    assert not plan.stop and not plan.start
    # 3: they are healthy: the last two old ones go, two more new ones start.
    tasks = come_up(tasks)
    plan = run(svc, tasks)
    assert len(plan.stop) == 2 and started(plan) == 2
    tasks = apply(svc, tasks, plan, 20)
    assert len(live(tasks)) == 4 and healthy(live(tasks)) == 2
    assert all(t.deployment_id == NEW for t in live(tasks))
    # 4: all four new ones healthy: the deployment completes, the old one is INACTIVE.
    tasks = come_up(tasks)
    plan = run(svc, tasks)
    assert not plan.stop and not plan.start
    updates = {u.id: u for u in plan.deployments}
    assert updates[NEW].rollout_state == COMPLETED
    assert updates[NEW].rollout_state_reason == f"ECS deployment {NEW} completed."
    assert updates[OLD].status == DEPLOYMENT_INACTIVE
    assert plan.events == [
        f"(service web) (deployment {NEW}) deployment completed.",
        "(service web) has reached a steady state.",
    ]
    assert plan.steady is True


def test_rolling_4_tasks_at_100_150_step_by_step() -> None:
    svc = service(4, 100, 150, rolling_deployments())
    tasks = [task(n, OLD) for n in range(4)]
    # 1: two new tasks fit under 150% (6); no old one may stop (4 must stay healthy).
    plan = run(svc, tasks)
    assert not plan.stop and started(plan) == 2
    tasks = apply(svc, tasks, plan, 10)
    assert len(live(tasks)) == 6
    plan = run(svc, tasks)
    assert not plan.stop and not plan.start
    # 2: two new healthy (6 healthy): two old go, two new come.
    tasks = come_up(tasks)
    plan = run(svc, tasks)
    assert len(plan.stop) == 2 and started(plan) == 2
    assert all(OLD[-4:] in t for t in stopped(plan))
    tasks = apply(svc, tasks, plan, 20)
    assert len(live(tasks)) == 6 and healthy(live(tasks)) == 4
    # 3: the last two old go, and with them the deployment completes.
    tasks = come_up(tasks)
    plan = run(svc, tasks)
    assert len(plan.stop) == 2 and not plan.start
    tasks = apply(svc, tasks, plan, 30)
    assert len(live(tasks)) == 4 and healthy(live(tasks)) == 4
    assert svc.deployments[0].rollout_state == COMPLETED
    assert svc.deployments[1].status == DEPLOYMENT_INACTIVE


def test_rolling_at_100_200_starts_all_new_tasks_first() -> None:
    svc = service(4, 100, 200, rolling_deployments())
    tasks = [task(n, OLD) for n in range(4)]
    plan = run(svc, tasks)
    assert started(plan) == 4 and not plan.stop
    tasks = come_up(apply(svc, tasks, plan, 10))
    plan = run(svc, tasks)
    assert len(plan.stop) == 4 and not plan.start


def test_rolling_stops_unhealthy_and_pending_old_tasks_first() -> None:
    svc = service(4, 100, 100, rolling_deployments())
    tasks = [task(0, OLD), task(1, OLD), task(2, OLD, health="UNHEALTHY"), task(3, OLD, "PENDING")]
    plan = run(svc, tasks)
    assert stopped(plan) == {tasks[2].arn, tasks[3].arn}
    assert started(plan) == 2


def test_no_room_and_no_healthy_spare_means_waiting() -> None:
    svc = service(4, 100, 100, rolling_deployments())
    plan = run(svc, [task(n, OLD) for n in range(4)])
    assert not plan.stop and not plan.start


def test_unhealthy_task_is_replaced_first_when_maximum_leaves_room() -> None:
    svc = service(deployments=[deployment(rollout=COMPLETED)], steady=True)
    tasks = [task(0), task(1), task(2), task(3, health="UNHEALTHY")]
    plan = run(svc, tasks)
    assert started(plan) == 1 and not plan.stop
    assert plan.steady is False
    tasks = apply(svc, tasks, plan, 10)
    assert not run(svc, tasks).stop  # the replacement is not healthy yet
    tasks = come_up(tasks)
    plan = run(svc, tasks)
    assert [(s.task_arn, s.reason) for s in plan.stop] == [
        (tasks[3].arn, "Task failed container health checks")
    ]
    assert (
        plan.events[0]
        == f"(service web) (task {tasks[3].arn.rsplit('/', 1)[-1]}) failed container health checks."
    )
    assert not plan.start


def test_unhealthy_tasks_stop_one_at_a_time_when_maximum_leaves_no_room() -> None:
    svc = service(deployments=[deployment(rollout=COMPLETED)], low=50, high=100)
    tasks = [task(0), task(1), task(2, health="UNHEALTHY"), task(3, health="UNHEALTHY")]
    plan = run(svc, tasks)
    assert len(plan.stop) == 1 and started(plan) == 1
    tasks = apply(svc, tasks, plan, 10)
    # The replacement is still coming up: the second unhealthy task waits for it.
    plan = run(svc, tasks)
    assert not plan.stop and not plan.start
    tasks = come_up(tasks)
    plan = run(svc, tasks)
    assert len(plan.stop) == 1 and started(plan) == 1


def test_unhealthy_within_the_grace_period_is_left_alone() -> None:
    svc = service(
        deployments=[deployment(rollout=COMPLETED)], health_check_grace_period_seconds=120
    )
    sick = task(3, health="UNHEALTHY", started=NOW - 100)
    plan = run(svc, [task(0), task(1), task(2), sick])
    assert not plan.stop and not plan.start
    assert plan.recheck_in == pytest.approx(20.0)
    plan = run(svc, [task(0), task(1), task(2), sick], now=NOW + 20)
    assert started(plan) == 1


def test_draining_instance_pending_tasks_stop_at_once_running_ones_are_replaced_first() -> None:
    svc = service(deployments=[deployment(rollout=COMPLETED)])
    tasks = [task(0, host=0), task(1, host=1), task(2, host=2), task(6, host=0)]
    pending = task(12, NEW, "PENDING", host=0)
    drain = {"i_0": {"status": DRAINING}}
    plan = run(svc, [*tasks, pending], **drain)
    assert stopped(plan) == {pending.arn}
    assert plan.stop[0].reason == "Service web: container instance is in DRAINING state"
    assert started(plan) == 2  # for the two on i-0: the pending one was a fifth task
    tasks = come_up(apply(svc, [*tasks, pending], plan, 20))
    plan = run(svc, tasks, **drain)
    assert stopped(plan) == {tasks[0].arn, tasks[3].arn}
    assert not plan.start


def test_draining_with_min_50_max_100_stops_before_starting() -> None:
    svc = service(deployments=[deployment(rollout=COMPLETED)], low=50, high=100)
    tasks = [task(0, host=0), task(1, host=1), task(2, host=2), task(6, host=0)]
    plan = run(svc, tasks, i_0={"status": DRAINING})
    assert stopped(plan) == {tasks[0].arn, tasks[3].arn} and started(plan) == 2


def test_tasks_on_a_lost_instance_are_stopped_and_replaced() -> None:
    svc = service(deployments=[deployment(rollout=COMPLETED)])
    tasks = [task(0, host=0), task(1, host=1), task(2, host=2), task(3, host=3)]
    within = {"connected": False, "disconnected_since": NOW - 100}
    plan = run(svc, tasks, i_0=within)
    assert not plan.stop and not plan.start
    assert plan.recheck_in == pytest.approx(LOST_INSTANCE_GRACE - 100)
    past = {"connected": False, "disconnected_since": NOW - LOST_INSTANCE_GRACE - 1}
    plan = run(svc, tasks, i_0=past)
    assert stopped(plan) == {tasks[0].arn} and started(plan) == 1
    assert "i-0" in plan.stop[0].reason
    # A deregistered instance is no longer in the facts: its tasks are gone too.
    plan = compute(svc, tasks, {k: v for k, v in instances().items() if k != "i-3"}, NOW)
    assert stopped(plan) == {tasks[3].arn}


def test_the_lost_instance_grace_is_the_servers_to_choose() -> None:
    svc = service(deployments=[deployment(rollout=COMPLETED)])
    tasks = [task(0, host=0), task(1, host=1), task(2, host=2), task(3, host=3)]
    silent = instances(i_0={"connected": False, "disconnected_since": NOW - 100})
    assert not compute(svc, tasks, silent, NOW, lost_grace=120).stop
    plan = compute(svc, tasks, silent, NOW, lost_grace=60)
    assert stopped(plan) == {tasks[0].arn} and started(plan) == 1
    assert "more than 60 seconds" in plan.stop[0].reason


def failed_start(n: int, dep: str = NEW, at: float = NOW - 10) -> TaskFact:
    return replace(
        task(n, dep, "STOPPED"),
        desired_status="STOPPED",
        stopped_at=at,
        failed_to_start=True,
    )


def test_circuit_breaker_counts_and_trips_at_the_threshold_with_rollback() -> None:
    svc = service(4, 100, 200, rolling_deployments(), breaker={"enable": True, "rollback": True})
    old = [task(n, OLD) for n in range(4)]
    plan = run(svc, [*old, failed_start(10), failed_start(11)])
    assert plan.deployments[0].failed_tasks == 2
    assert FAILED not in {u.rollout_state for u in plan.deployments}
    plan = run(svc, [*old, failed_start(10), failed_start(11), failed_start(12)])
    update = next(u for u in plan.deployments if u.id == NEW)
    assert (update.rollout_state, update.failed_tasks) == (FAILED, 3)
    assert update.rollout_state_reason == "ECS deployment circuit breaker: tasks failed to start."
    assert plan.rollback == (
        "td:1",
        f"ECS deployment circuit breaker: rolling back to deploymentId {OLD}.",
    )
    assert plan.events[-2:] == [
        f"(service web) (deployment {NEW}) deployment failed: tasks failed to start.",
        f"(service web) rolling back to deployment {OLD}.",
    ]
    assert not plan.start and not plan.stop
    assert (plan.launch_failures, plan.launch_backoff_until) == (0, 0.0)


def test_circuit_breaker_without_rollback_stalls_the_deployment() -> None:
    deps = rolling_deployments()
    svc = service(4, 50, 200, deps, breaker={"enable": True, "rollback": False})
    old = [task(n, OLD) for n in range(4)]
    failures = [failed_start(10 + n) for n in range(3)]
    plan = run(svc, [*old, *failures])
    assert plan.rollback is None
    assert next(u for u in plan.deployments if u.id == NEW).rollout_state == FAILED
    deps[0].rollout_state = FAILED
    plan = run(svc, [*old, *failures], now=NOW + 3600)
    assert not plan.start and not plan.stop  # a FAILED deployment launches nothing


def test_circuit_breaker_needs_a_completed_deployment_to_roll_back_to() -> None:
    deps = [deployment(NEW), deployment(OLD, DEPLOYMENT_ACTIVE, FAILED, "td:1", NOW - 5000)]
    svc = service(4, 100, 200, deps, breaker={"enable": True, "rollback": True})
    plan = run(svc, [failed_start(10 + n) for n in range(3)])
    assert plan.rollback is None
    assert plan.deployments[0].rollout_state == FAILED


def test_a_rollback_deployment_does_not_roll_back_again() -> None:
    deps = rolling_deployments()
    deps[0].rollback_of = "ecs-svc/0000"
    svc = service(4, 100, 200, deps, breaker={"enable": True, "rollback": True})
    plan = run(svc, [failed_start(10 + n) for n in range(3)])
    assert plan.rollback is None


def test_tasks_stopped_for_failing_health_checks_count_as_failures() -> None:
    svc = service(4, 100, 200, rolling_deployments(), breaker={"enable": True})
    sick = replace(
        task(10, health="UNHEALTHY"),
        desired_status="STOPPED",
        stopped_reason="Task failed container health checks",
    )
    plan = run(svc, [task(n, OLD) for n in range(4)] + [sick, failed_start(11)])
    assert plan.deployments[0].failed_tasks == 2


def test_a_task_reaching_healthy_resets_the_failure_count() -> None:
    breaker: dict[str, Any] = {"enable": True}
    good = task(20, started=NOW - 50)
    tasks = [failed_start(10, at=NOW - 200), failed_start(11, at=NOW - 100), good]
    tasks.append(failed_start(12, at=NOW - 20))
    plan = run(service(4, 100, 200, rolling_deployments(), breaker=breaker), tasks)
    assert plan.deployments[0].failed_tasks == 1
    breaker["resetOnHealthyTask"] = False
    plan = run(service(4, 100, 200, rolling_deployments(), breaker=breaker), tasks)
    assert plan.deployments[0].failed_tasks == 3
    assert plan.deployments[0].rollout_state == FAILED


def test_without_the_circuit_breaker_failures_never_fail_the_deployment() -> None:
    svc = service(4, 100, 200, rolling_deployments())
    plan = run(svc, [failed_start(10 + n) for n in range(30)])
    assert plan.deployments[0].failed_tasks == 30
    assert plan.deployments[0].rollout_state is None


def test_throttle_backs_off_after_consecutive_failed_starts() -> None:
    svc = service(deployments=[deployment(rollout=COMPLETED)])
    tasks = [task(0), task(1), task(2)]
    tasks += [failed_start(10, at=NOW - 30), failed_start(11, at=NOW - 20)]
    plan = run(svc, tasks)
    assert plan.launch_failures == 2 and started(plan) == 1 and not plan.events
    tasks.append(failed_start(12, at=NOW - 5))
    plan = run(svc, tasks)
    assert plan.launch_failures == 3
    assert plan.launch_backoff_until == NOW - 5 + cb.THROTTLE_BASE
    assert plan.events == [
        "(service web) is unable to consistently start tasks successfully. For more "
        "information, see the Troubleshooting section of the Amazon ECS Developer Guide."
    ]
    assert not plan.start and plan.recheck_in == pytest.approx(cb.THROTTLE_BASE - 5)
    svc.launch_failures, svc.launch_backoff_until = 3, NOW - 5 + cb.THROTTLE_BASE
    plan = run(svc, tasks, now=NOW + 10)
    assert started(plan) == 1 and not plan.events  # said once per episode
    tasks.append(failed_start(13, at=NOW + 20))
    plan = run(svc, tasks, now=NOW + 21)
    assert plan.launch_backoff_until == NOW + 20 + 2 * cb.THROTTLE_BASE


def test_throttle_delays_double_up_to_27_minutes() -> None:
    assert [cb.delay(n) for n in (2, 3, 4, 5)] == [0.0, 15.0, 30.0, 60.0]
    assert cb.delay(50) == 27 * 60


def test_a_task_reaching_running_ends_the_throttle() -> None:
    svc = service(deployments=[deployment(rollout=COMPLETED)], launch_failures=5)
    tasks = [failed_start(10 + n, at=NOW - 100 + n) for n in range(5)]
    tasks += [task(0, started=NOW - 50)]
    plan = run(svc, tasks)
    assert plan.launch_failures == 0 and plan.launch_backoff_until in (None, 0.0)
    assert started(plan) == 3


def test_stored_failures_hold_when_old_failures_left_the_facts() -> None:
    svc = service(deployments=[deployment(rollout=COMPLETED)], launch_failures=6)
    plan = run(svc, [failed_start(10, at=NOW - 10)])
    assert plan.launch_failures is None  # still 6: no success seen since
    assert not plan.start


def test_update_service_resets_the_throttle() -> None:
    svc = service(deployments=[deployment(rollout=COMPLETED)])
    tasks = [task(0), task(1), task(2)] + [failed_start(10 + n, at=NOW - 9 + n) for n in range(4)]
    assert not run(svc, tasks).start
    # UpdateService: launch_failures 0, no back-off, and earlier failures no longer count.
    svc.launch_failures_since = NOW
    plan = run(svc, tasks, now=NOW + 1)
    assert started(plan) == 1 and plan.launch_failures is None and not plan.events


def test_scale_in_keeps_zones_balanced_and_stops_pending_first() -> None:
    svc = service(4, deployments=[deployment(rollout=COMPLETED)])
    tasks = [
        task(0, zone="a", host=0),
        task(1, zone="a", host=0),
        task(2, zone="a", host=3, status="PENDING"),
        task(3, zone="b", host=1),
        task(4, zone="b", host=4),
        task(5, zone="c", host=2),
        task(6, zone="c", host=5),
    ]
    plan = run(svc, tasks)
    assert tasks[2].arn in stopped(plan)
    kept = Counter(t.zone for t in tasks if t.arn not in stopped(plan))
    assert len(plan.stop) == 3 and max(kept.values()) - min(kept.values()) <= 1
    reasons = {s.reason for s in plan.stop}
    assert reasons == {f"Scaling activity initiated by (deployment {NEW})"}


def test_scale_in_takes_from_the_busiest_instance_of_the_busiest_zone() -> None:
    svc = service(2, deployments=[deployment(rollout=COMPLETED)])
    tasks = [task(0, zone="a", host=0), task(1, zone="a", host=0), task(2, zone="a", host=3)]
    plan = run(svc, tasks)
    assert len(plan.stop) == 1 and plan.stop[0].task_arn in {tasks[0].arn, tasks[1].arn}


@pytest.mark.parametrize("how", ["zero", "draining"])
def test_a_service_at_zero_or_being_deleted_stops_everything(how: str) -> None:
    svc = service(0 if how == "zero" else 4, deployments=[deployment(rollout=COMPLETED)])
    if how == "draining":
        svc.status, svc.desired_count = DRAINING, 0
    tasks = [task(0), task(1, "PENDING"), task(2, OLD)]
    plan = run(svc, tasks)
    assert stopped(plan) == {t.arn for t in tasks} and not plan.start


def test_steady_state_is_announced_once() -> None:
    svc = service(deployments=[deployment(rollout=COMPLETED)])
    tasks = [task(n) for n in range(4)]
    plan = run(svc, tasks)
    assert plan.events == ["(service web) has reached a steady state."] and plan.steady
    svc.steady = True
    plan = run(svc, tasks)
    assert not plan.events and plan.steady is None


def test_tasks_without_health_checks_count_as_healthy_40_seconds_after_running() -> None:
    svc = service(deployments=[deployment()])
    fresh = [replace(task(n, started=NOW - 10), has_health_check=False) for n in range(4)]
    plan = run(svc, fresh)
    assert not plan.deployments or plan.deployments[0].rollout_state != COMPLETED
    assert plan.recheck_in == pytest.approx(30.0)
    plan = run(svc, fresh, now=NOW + 30)
    assert plan.deployments[0].rollout_state == COMPLETED


def test_stopping_tasks_are_not_stopped_again() -> None:
    svc = service(2, deployments=[deployment(rollout=COMPLETED)])
    going = replace(task(0), desired_status="STOPPED")
    plan = run(svc, [going, task(1), task(2), task(3)])
    assert going.arn not in stopped(plan) and len(plan.stop) == 1


def test_a_rollback_primary_drains_the_failed_deployment() -> None:
    deps = [
        deployment("ecs-svc/3333", td="td:1", rollback_of=NEW),
        deployment(NEW, DEPLOYMENT_ACTIVE, FAILED),
        deployment(OLD, DEPLOYMENT_ACTIVE, COMPLETED, "td:1", NOW - 5000),
    ]
    svc = service(4, 50, 100, deps, breaker={"enable": True, "rollback": True})
    tasks = [task(0, OLD), task(1, OLD), task(2, NEW), task(3, NEW, health="UNHEALTHY")]
    plan = run(svc, tasks)
    assert tasks[3].arn in stopped(plan)
    assert all(s.deployment_id == "ecs-svc/3333" for s in plan.start)


def test_nothing_starts_for_an_inactive_deployment() -> None:
    deps = [deployment(rollout=COMPLETED), deployment(OLD, DEPLOYMENT_INACTIVE, COMPLETED)]
    plan = run(service(4, deployments=deps), [task(0, OLD)])
    assert {s.deployment_id for s in plan.start} == {NEW}
    assert not plan.stop  # its one healthy task stays until the new ones are healthy


# -- load balanced services ---------------------------------------------------------------

TG = "arn:aws:elasticloadbalancing:us-east-1:000000000000:targetgroup/web/0123456789abcdef"


def balanced(n: int, healthy: bool = True, **kw: Any) -> TaskFact:
    return task(n, load_balanced=True, targets_healthy=healthy, **kw)


def test_a_load_balanced_task_counts_healthy_only_once_its_targets_are() -> None:
    assert counts_healthy(balanced(0), NOW)
    assert not counts_healthy(balanced(0, healthy=False), NOW)
    # Without a container health check it need not wait 40 s: its targets said so.
    fresh = replace(balanced(0, started=NOW - 1), has_health_check=False, health_status="UNKNOWN")
    assert counts_healthy(fresh, NOW)
    svc = service(desired=2, deployments=rolling_deployments())
    # The new tasks run but their targets are not healthy yet: no old task goes.
    tasks = [balanced(0, dep=OLD), balanced(1, dep=OLD), balanced(2, False), balanced(3, False)]
    assert not run(svc, tasks).stop
    tasks = [balanced(0, dep=OLD), balanced(1, dep=OLD), balanced(2), balanced(3)]
    assert len(run(svc, tasks).stop) == 2


def test_a_failing_target_is_ignored_in_the_grace_period_then_replaced() -> None:
    svc = service(
        desired=1,
        high=100,
        low=0,
        deployments=[deployment(rollout=COMPLETED)],
        health_check_grace_period_seconds=60,
    )
    sick = balanced(0, healthy=False, unhealthy_in=TG, started=NOW - 30)
    plan = run(svc, [sick])
    assert not plan.stop and plan.recheck_in == pytest.approx(30.0)
    plan = run(svc, [sick], now=NOW + 30)
    assert [s.reason for s in plan.stop] == [
        f"Task failed ELB health checks in (target-group {TG})"
    ]
    short = sick.arn.rsplit("/", 1)[1]
    assert (
        f"(service web) (task {short}) is unhealthy in (target-group {TG}) due to (reason "
        "Health checks failed)."
    ) in plan.events
