"""The DAEMON reconciler: unit tests per rule on hand-made facts, then properties checked with
a tiny simulator that applies plans the way the service loop does, over random instance churn
and task failures."""

from __future__ import annotations

import dataclasses
import itertools
import math
import random
from collections.abc import Sequence
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from portside.controllers.services import circuit_breaker as cb
from portside.controllers.services import daemon
from portside.controllers.services import service_events as words
from portside.controllers.services.daemon import FACTS_WINDOW, compute
from portside.controllers.services.facts import DeploymentUpdate, InstanceFact, Plan, TaskFact
from portside.model.deployment import CircuitBreaker, DeploymentConfiguration
from portside.model.service import (
    COMPLETED,
    DAEMON,
    DEPLOYMENT_ACTIVE,
    DEPLOYMENT_INACTIVE,
    DRAINING,
    FAILED,
    IN_PROGRESS,
    PRIMARY,
    Deployment,
    Service,
)

T0 = 1000.0
UP = T0 - 100  # started long enough ago to count as healthy
SCALING = "Scaling activity initiated by (deployment d2)"
DRAINED = "Service web: container instance is in DRAINING state"


def dep(
    id: str = "d2",
    status: str = PRIMARY,
    td: str = "td:2",
    created: float = T0,
    rollout: str = IN_PROGRESS,
) -> Deployment:
    return Deployment(id, status, td, 0, created, created, rollout_state=rollout)


def svc(*deployments: Deployment, **kw: Any) -> Service:
    deps = list(deployments) or [dep()]
    return Service(
        arn="arn:aws:ecs:us-east-1:000000000000:service/c/web",
        name="web",
        cluster_arn="arn:aws:ecs:us-east-1:000000000000:cluster/c",
        task_definition=deps[0].task_definition,
        desired_count=0,
        created_at=T0,
        created_by="me",
        scheduling_strategy=DAEMON,
        deployments=deps,
        **kw,
    )


def inst(name: str, status: str = "ACTIVE", **kw: Any) -> InstanceFact:
    return InstanceFact(arn=f"ci/{name}", status=status, connected=kw.pop("connected", True), **kw)


def fleet(*instances: InstanceFact) -> dict[str, InstanceFact]:
    return {i.arn: i for i in instances}


def task(
    name: str,
    on: str | None,
    deployment: str = "d2",
    last: str = "RUNNING",
    desired: str = "RUNNING",
    health: str = "UNKNOWN",
    checks: bool = False,
    started: float | None = UP,
    stopped: float | None = None,
    stop_code: str | None = None,
    reason: str | None = None,
) -> TaskFact:
    return TaskFact(
        arn=f"task/c/{name}",
        deployment_id=deployment,
        last_status=last,
        desired_status=desired,
        health_status=health,
        has_health_check=checks,
        instance_arn=None if on is None else f"ci/{on}",
        zone=None,
        started_at=None if last in ("PROVISIONING", "PENDING") else started,
        stopped_at=stopped,
        stop_code=stop_code,
        failed_to_start=last == "STOPPED" and started is None,
        stopped_reason=reason,
    )


def failed_start(name: str, on: str, at: float, deployment: str = "d2") -> TaskFact:
    return task(
        name, on, deployment, "STOPPED", "STOPPED", started=None, stopped=at,
        stop_code="TaskFailedToStart",
    )  # fmt: skip


def started_on(plan: Plan) -> list[str]:
    return [i for s in plan.start for i in s.instances]


def stopped(plan: Plan) -> dict[str, str]:
    return {s.task_arn.rsplit("/", 1)[-1]: s.reason for s in plan.stop}


def update(plan: Plan, deployment_id: str) -> DeploymentUpdate:
    return next(u for u in plan.deployments if u.id == deployment_id)


# -- following the instances ----------------------------------------------------------------


def test_one_task_on_each_active_connected_eligible_instance() -> None:
    instances = fleet(
        inst("a"),
        inst("b"),
        inst("drained", "DRAINING"),
        inst("silent", connected=False),
        inst("other", eligible=False),
        inst("busy"),
    )
    plan = compute(svc(), [task("t1", "busy")], instances, T0)
    assert plan.start[0].deployment_id == "d2"
    assert plan.start[0].count == 2
    assert started_on(plan) == ["ci/a", "ci/b"]
    assert plan.desired_count == 3
    assert plan.stop == []


def test_a_registering_instance_gets_a_task_and_nothing_else_moves() -> None:
    tasks = [task("t1", "a"), task("t2", "b")]
    plan = compute(svc(), tasks, fleet(inst("a"), inst("b"), inst("new")), T0)
    assert started_on(plan) == ["ci/new"]
    assert plan.stop == [] and plan.desired_count == 3
    assert (plan.running_count, plan.pending_count) == (2, 0)


def test_no_start_while_the_instance_still_holds_a_stopping_task() -> None:
    tasks = [task("old", "a", last="RUNNING", desired="STOPPED")]
    plan = compute(svc(), tasks, fleet(inst("a")), T0)
    assert plan.start == [] and plan.stop == []


def test_draining_stops_the_daemon_task_only_after_the_replica_tasks() -> None:
    tasks = [task("t1", "a")]
    waiting = compute(svc(), tasks, fleet(inst("a", "DRAINING", replica_tasks=2)), T0)
    assert waiting.stop == [] and waiting.start == []
    assert waiting.recheck_in == daemon.WAIT_RECHECK
    assert waiting.steady is None and waiting.desired_count == 0
    gone = compute(svc(), tasks, fleet(inst("a", "DRAINING", replica_tasks=0)), T0)
    assert stopped(gone) == {"t1": DRAINED}


def test_draining_stops_a_pending_daemon_task_at_once() -> None:
    tasks = [task("t1", "a", last="PENDING")]
    plan = compute(svc(), tasks, fleet(inst("a", "DRAINING", replica_tasks=3)), T0)
    assert stopped(plan) == {"t1": DRAINED}


def test_a_task_on_an_instance_the_constraints_no_longer_admit_is_stopped() -> None:
    plan = compute(svc(), [task("t1", "a")], fleet(inst("a", eligible=False)), T0)
    assert stopped(plan) == {"t1": daemon.CONSTRAINTS}
    assert plan.start == []


def test_tasks_of_deregistered_instances_are_left_alone_and_not_counted() -> None:
    tasks = [task("orphan", "gone"), task("fargate", None), task("t1", "a")]
    plan = compute(svc(), tasks, fleet(inst("a")), T0)
    assert plan.stop == [] and plan.start == []
    assert plan.running_count == 1


def test_a_disconnected_instance_keeps_its_task_and_gets_none() -> None:
    instances = fleet(inst("a", connected=False), inst("b", connected=False))
    plan = compute(svc(), [task("t1", "a")], instances, T0)
    assert plan.stop == [] and plan.start == []
    assert plan.desired_count == 0 and plan.running_count == 1


def test_two_tasks_on_one_instance_keep_the_primary_healthy_one() -> None:
    tasks = [
        task("old", "a", deployment="d1"),
        task("new", "a", checks=True, health="HEALTHY"),
        task("sick", "a", checks=True, health="UNHEALTHY"),
    ]
    d1 = dep("d1", DEPLOYMENT_ACTIVE, "td:1", T0 - 100, COMPLETED)
    plan = compute(svc(dep(), d1), tasks, fleet(inst("a")), T0)
    assert stopped(plan) == {"old": SCALING, "sick": SCALING}
    assert plan.start == []


def test_of_two_primary_tasks_the_running_one_stays() -> None:
    tasks = [task("late", "a", last="PENDING"), task("up", "a", started=T0 - 5)]
    plan = compute(svc(), tasks, fleet(inst("a")), T0)
    assert stopped(plan) == {"late": SCALING}


def test_a_deleted_service_stops_everything_and_starts_nothing() -> None:
    tasks = [task("t1", "a"), task("t2", "b", last="PENDING"), task("orphan", "gone")]
    plan = compute(svc(status=DRAINING), tasks, fleet(inst("a"), inst("b"), inst("c")), T0)
    assert set(stopped(plan)) == {"t1", "t2", "orphan"}
    assert plan.start == [] and plan.desired_count == 0
    assert (plan.running_count, plan.pending_count) == (0, 0)


# -- deployments -----------------------------------------------------------------------------


def rollout(minimum: int | None) -> tuple[Service, list[TaskFact], dict[str, InstanceFact]]:
    config = DeploymentConfiguration(minimum_healthy_percent=minimum)
    d1 = dep("d1", DEPLOYMENT_ACTIVE, "td:1", T0 - 100, COMPLETED)
    service = svc(dep(), d1, deployment_configuration=config)
    names = ["a", "b", "c", "d"]
    return service, [task(f"o{n}", n, "d1") for n in names], fleet(*(inst(n) for n in names))


def test_with_minimum_0_every_old_task_stops_first_then_the_new_ones_start() -> None:
    service, tasks, instances = rollout(None)
    first = compute(service, tasks, instances, T0)
    assert set(stopped(first)) == {"oa", "ob", "oc", "od"}
    assert first.start == []
    assert update(first, "d1").desired_count == 0
    gone = [dataclasses.replace(t, last_status="STOPPED", desired_status="STOPPED") for t in tasks]
    second = compute(service, gone, instances, T0 + 1)
    assert started_on(second) == ["ci/a", "ci/b", "ci/c", "ci/d"]
    assert second.start[0].deployment_id == "d2"


def test_with_minimum_50_half_the_instances_keep_a_healthy_task() -> None:
    service, tasks, instances = rollout(50)
    first = compute(service, tasks, instances, T0)
    assert set(stopped(first)) == {"oa", "ob"}
    # a and b are empty now, their new tasks pending: c and d must hold on.
    tasks = [task("na", "a", last="PENDING"), task("nb", "b", last="PENDING"), *tasks[2:]]
    assert compute(service, tasks, instances, T0 + 1).stop == []
    tasks = [task("na", "a"), task("nb", "b"), *tasks[2:]]
    assert set(stopped(compute(service, tasks, instances, T0 + 2))) == {"oc", "od"}


def test_old_tasks_that_are_not_healthy_are_replaced_whatever_the_minimum() -> None:
    service, tasks, instances = rollout(100)
    tasks[0] = task("oa", "a", "d1", last="PENDING")
    assert set(stopped(compute(service, tasks, instances, T0))) == {"oa"}


def test_the_deployment_completes_when_every_instance_runs_a_primary_task() -> None:
    d1 = dep("d1", DEPLOYMENT_ACTIVE, "td:1", T0 - 100, COMPLETED)
    service = svc(dep(), d1)
    tasks = [task("na", "a"), task("nb", "b"), task("gone", "b", "d1", "STOPPED", "STOPPED")]
    plan = compute(service, tasks, fleet(inst("a"), inst("b")), T0)
    assert update(plan, "d2").rollout_state == COMPLETED
    assert update(plan, "d2").rollout_state_reason == "ECS deployment d2 completed."
    assert update(plan, "d1").status == DEPLOYMENT_INACTIVE
    assert update(plan, "d2").desired_count == 2 and update(plan, "d2").running_count == 2
    assert plan.events == [
        "(service web) (deployment d2) deployment completed.",
        "(service web) has reached a steady state.",
    ]
    assert plan.steady is True and plan.recheck_in is None


def test_steady_is_announced_once_and_lost_when_an_instance_joins() -> None:
    service = svc(dep(rollout=COMPLETED), steady=True)
    tasks = [task("na", "a")]
    again = compute(service, tasks, fleet(inst("a")), T0)
    assert again.events == [] and again.steady is None
    joined = compute(service, tasks, fleet(inst("a"), inst("b")), T0)
    assert joined.steady is False and started_on(joined) == ["ci/b"]


def test_no_completion_while_an_old_task_waits_on_a_draining_instance() -> None:
    d1 = dep("d1", DEPLOYMENT_ACTIVE, "td:1", T0 - 100, COMPLETED)
    tasks = [task("na", "a"), task("ob", "b", "d1")]
    instances = fleet(inst("a"), inst("b", "DRAINING", replica_tasks=1))
    plan = compute(svc(dep(), d1), tasks, instances, T0)
    assert update(plan, "d2").rollout_state is None and plan.steady is None


def test_with_no_eligible_instance_the_deployment_completes_empty() -> None:
    plan = compute(svc(), [], fleet(inst("a", eligible=False)), T0)
    assert update(plan, "d2").rollout_state == COMPLETED and plan.desired_count == 0


# -- health ----------------------------------------------------------------------------------


def test_an_unhealthy_task_is_replaced_after_the_grace_period() -> None:
    service = svc(health_check_grace_period_seconds=60)
    tasks = [task("sick", "a", checks=True, health="UNHEALTHY", started=T0)]
    early = compute(service, tasks, fleet(inst("a")), T0 + 20)
    assert early.stop == [] and early.recheck_in == 40
    late = compute(service, tasks, fleet(inst("a")), T0 + 60)
    assert stopped(late) == {"sick": words.HEALTH_CHECK_REASON}
    assert late.start == []  # maximumPercent 100: the replacement starts once it stopped
    assert late.events == ["(service web) (task sick) failed container health checks."]


def test_a_task_whose_health_is_not_known_yet_is_left_alone() -> None:
    tasks = [task("new", "a", checks=True, health="UNKNOWN")]
    plan = compute(svc(), tasks, fleet(inst("a")), T0 + 999)
    assert plan.stop == [] and plan.steady is None  # running, not yet healthy


# -- failed starts: back-off and throttle ----------------------------------------------------


def test_an_instance_whose_tasks_fail_to_start_is_backed_off() -> None:
    tasks = [failed_start("f1", "a", T0)]
    plan = compute(svc(), tasks, fleet(inst("a"), inst("b")), T0 + 1)
    assert started_on(plan) == ["ci/b"]  # the others are not held back
    assert plan.recheck_in == daemon.backoff(1) - 1
    assert plan.launch_backoff_until == T0 + daemon.backoff(1)
    assert started_on(compute(svc(), tasks, fleet(inst("a")), T0 + daemon.backoff(1))) == ["ci/a"]


def test_the_back_off_grows_with_consecutive_failures_up_to_27_minutes() -> None:
    tasks = [failed_start(f"f{k}", "a", T0 + k) for k in range(4)]
    plan = compute(svc(), tasks, fleet(inst("a")), T0 + 4)
    assert plan.recheck_in == T0 + 3 + daemon.backoff(4) - (T0 + 4)
    assert daemon.backoff(4) == 8 * daemon.backoff(1)
    assert daemon.backoff(100) == daemon.BACKOFF_MAX == 27 * 60


def test_a_task_that_started_ends_the_streak() -> None:
    tasks = [
        failed_start("f1", "a", T0),
        failed_start("f2", "a", T0 + 1),
        task("ok", "a", "d2", "STOPPED", "STOPPED", started=T0 + 2, stopped=T0 + 50),
    ]
    plan = compute(svc(), tasks, fleet(inst("a")), T0 + 51)
    assert started_on(plan) == ["ci/a"]
    assert daemon.retry_at(tasks, 0.0) is None


def test_tasks_the_scheduler_stopped_before_they_ran_are_not_failures() -> None:
    drained = task(
        "p", "a", last="STOPPED", desired="STOPPED", started=None, stopped=T0,
        stop_code="ServiceSchedulerInitiated",
    )  # fmt: skip
    assert started_on(compute(svc(), [drained], fleet(inst("a")), T0)) == ["ci/a"]


def test_a_new_deployment_forgets_earlier_failures() -> None:
    tasks = [failed_start(f"f{k}", "a", T0 - 10 + k, "d1") for k in range(5)]
    d1 = dep("d1", DEPLOYMENT_ACTIVE, "td:1", T0 - 100, COMPLETED)
    plan = compute(svc(dep(created=T0), d1, launch_failures=5), tasks, fleet(inst("a")), T0)
    assert started_on(plan) == ["ci/a"] and plan.launch_failures == 0


def test_the_throttle_event_comes_once_as_failures_reach_three() -> None:
    tasks = [failed_start(f"f{k}", n, T0) for k, n in enumerate("abc")]
    instances = fleet(inst("a"), inst("b"), inst("c"))
    plan = compute(svc(), tasks, instances, T0 + 1)
    assert plan.launch_failures == 3
    assert plan.events == [
        "(service web) is unable to consistently start tasks successfully. For more "
        "information, see the Troubleshooting section of the Amazon ECS Developer Guide."
    ]
    assert compute(svc(launch_failures=3), tasks, instances, T0 + 1).events == []


# -- circuit breaker -------------------------------------------------------------------------


def test_failure_threshold_is_half_the_desired_count_within_3_and_200() -> None:
    limits = [cb.threshold(CircuitBreaker(enable=True), n) for n in (0, 1, 6, 25, 400, 800)]
    assert limits == [3, 3, 3, 13, 200, 200]


BREAKER = DeploymentConfiguration(deployment_circuit_breaker=CircuitBreaker(True, True))


def test_the_circuit_breaker_fails_the_deployment_and_rolls_back() -> None:
    d1 = dep("d1", DEPLOYMENT_ACTIVE, "td:1", T0 - 100, COMPLETED)
    service = svc(dep(), d1, deployment_configuration=BREAKER)
    tasks = [failed_start(f"f{k}", n, T0 + k) for k, n in enumerate("abc")]
    plan = compute(service, tasks, fleet(inst("a"), inst("b"), inst("c")), T0 + 10)
    assert update(plan, "d2").rollout_state == FAILED
    assert update(plan, "d2").failed_tasks == 3
    assert update(plan, "d2").rollout_state_reason == cb.FAILED_REASON
    assert plan.rollback == (
        "td:1",
        "ECS deployment circuit breaker: rolling back to deploymentId d1.",
    )
    assert plan.start == []
    assert plan.events[:2] == [
        "(service web) (deployment d2) deployment failed: tasks failed to start.",
        "(service web) rolling back to deployment d1.",
    ]


def test_without_a_completed_deployment_a_failed_one_stalls() -> None:
    service = svc(deployment_configuration=BREAKER)
    tasks = [failed_start(f"f{k}", "a", T0 + k) for k in range(3)]
    plan = compute(service, tasks, fleet(inst("a"), inst("b")), T0 + 10)
    assert update(plan, "d2").rollout_state == FAILED
    assert plan.rollback is None and plan.start == []


def test_a_task_that_turns_healthy_resets_the_failure_count() -> None:
    service = svc(deployment_configuration=BREAKER)
    tasks = [failed_start(f"f{k}", "a", T0 + k) for k in range(2)]
    tasks.append(task("up", "b", checks=True, health="HEALTHY", started=T0 + 5))
    plan = compute(service, tasks, fleet(inst("a"), inst("b")), T0 + 10)
    assert update(plan, "d2").failed_tasks == 0
    sick = [
        task(
            f"s{k}",
            "c",
            last="STOPPED",
            desired="STOPPED",
            health="UNHEALTHY",
            checks=True,
            started=T0 + 6,
            stopped=T0 + 7 + k,
            reason=words.HEALTH_CHECK_REASON,
        )
        for k in range(3)
    ]
    plan = compute(service, [*tasks, *sick], fleet(inst("a"), inst("b"), inst("c")), T0 + 10)
    assert update(plan, "d2").failed_tasks == 3
    assert update(plan, "d2").rollout_state == FAILED


def test_with_the_breaker_off_failures_are_counted_and_nothing_fails() -> None:
    tasks = [failed_start(f"f{k}", "a", T0 + k) for k in range(9)]
    plan = compute(svc(), tasks, fleet(inst("a")), T0 + 10)
    assert update(plan, "d2").failed_tasks == 9 and update(plan, "d2").rollout_state is None


def test_a_failed_deployment_launches_nothing_but_still_drains() -> None:
    d1 = dep("d1", DEPLOYMENT_ACTIVE, "td:1", T0 - 100, COMPLETED)
    service = svc(dep(rollout=FAILED), d1)
    tasks = [task("oa", "a", "d1"), task("ob", "b", "d1")]
    plan = compute(service, tasks, fleet(inst("a"), inst("b", "DRAINING"), inst("c")), T0)
    assert stopped(plan) == {"ob": DRAINED}
    assert plan.start == [] and plan.steady is None and plan.deployments[0].rollout_state is None


# -- properties: a tiny simulator applying plans as the service loop does --------------------

# database=None: a local example database must not make a run differ from CI's.
FAST = settings(max_examples=150, deadline=None, derandomize=True, database=None)
THOROUGH = settings(max_examples=400, deadline=None, derandomize=True, database=None)


@dataclasses.dataclass
class SimTask:
    arn: str
    deployment: str
    instance: str
    last: str = "PROVISIONING"
    desired: str = "RUNNING"
    health: str = "UNKNOWN"
    started_at: float | None = None
    stopped_at: float | None = None
    stop_code: str | None = None
    stopped_reason: str | None = None

    def fact(self) -> TaskFact:
        return TaskFact(
            self.arn, self.deployment, self.last, self.desired, self.health, True,
            self.instance, None, self.started_at, self.stopped_at, self.stop_code,
            failed_to_start=self.last == "STOPPED" and self.started_at is None,
            stopped_reason=self.stopped_reason,
        )  # fmt: skip


class Sim:
    """Instances, tasks and a service; `reconcile` applies a plan like controllers/service.py,
    `agent` moves each reachable task one step, and every step checks the invariant."""

    def __init__(self, size: int, minimum: int = 0, breaker: bool = False, seed: int = 0) -> None:
        self.now = T0
        self.rng = random.Random(seed)
        config: dict[str, Any] = {"minimumHealthyPercent": minimum}
        if breaker:
            config["deploymentCircuitBreaker"] = {"enable": True, "rollback": True}
        self.service = svc(
            dep("d1", td="td:1"),
            deployment_configuration=DeploymentConfiguration.from_doc(config),
            health_check_grace_period_seconds=10,
        )
        self.instances: dict[str, InstanceFact] = {}
        self.tasks: dict[str, SimTask] = {}
        self.bad: set[str] = set()  # instances where tasks fail to start
        self.bad_definitions: set[str] = set()
        self.serial = 0
        for _ in range(size):
            self.register()

    def _next(self, prefix: str) -> str:
        self.serial += 1
        return f"{prefix}{self.serial}"

    # -- churn ---------------------------------------------------------------------------

    def register(self) -> None:
        arn = "ci/" + self._next("i")
        self.instances[arn] = InstanceFact(arn, "ACTIVE", True)

    def pick(self) -> str | None:
        return self.rng.choice(sorted(self.instances)) if self.instances else None

    def change(self, arn: str, **kw: Any) -> None:
        self.instances[arn] = dataclasses.replace(self.instances[arn], **kw)

    def deploy(self, bad: bool = False) -> None:
        for d in self.service.deployments:
            if d.status == PRIMARY:
                d.status = DEPLOYMENT_ACTIVE
        new = dep(self._next("d"), td=self._next("td:"), created=self.now)
        if bad:
            self.bad_definitions.add(new.task_definition)
        self.service.deployments.insert(0, new)

    def act(self, action: str) -> None:
        arn = self.pick()
        if action == "register" or arn is None:
            self.register()
        elif action == "drain":
            self.change(arn, status="DRAINING", replica_tasks=self.rng.randint(0, 2))
        elif action == "replicas_gone":
            self.change(arn, replica_tasks=0)
        elif action == "deregister":
            del self.instances[arn]
            for t in self.tasks.values():
                if t.instance == arn and t.last != "STOPPED" and self.rng.random() < 0.5:
                    t.last, t.stopped_at = "STOPPED", self.now
        elif action == "disconnect":
            self.change(arn, connected=not self.instances[arn].connected)
        elif action == "constraints":
            self.change(arn, eligible=not self.instances[arn].eligible)
        elif action == "bad_host":
            self.bad ^= {arn}
        elif action == "task_fails":
            for t in self.tasks.values():
                if t.instance == arn and t.last == "RUNNING":
                    if self.rng.random() < 0.5:
                        t.health = "UNHEALTHY"
                    else:
                        t.last, t.stopped_at = "STOPPED", self.now
                        t.stop_code = "EssentialContainerExited"
        elif action == "deploy":
            self.deploy()

    # -- the loop and the agents ---------------------------------------------------------

    def facts(self) -> list[TaskFact]:
        recent = self.now - FACTS_WINDOW
        return [
            t.fact()
            for t in self.tasks.values()
            if t.last != "STOPPED" or (t.stopped_at or 0) >= recent
        ]

    def reconcile(self) -> Plan:
        plan = compute(self.service, self.facts(), dict(self.instances), self.now)
        service = self.service
        by_id = {d.id: d for d in service.deployments}
        for u in plan.deployments:
            d = by_id[u.id]
            for name in ("status", "rollout_state", "failed_tasks", "desired_count"):
                if getattr(u, name) is not None:
                    setattr(d, name, getattr(u, name))
        if plan.rollback is not None:
            self.deploy()
            service.deployments[0].task_definition = plan.rollback[0]
        for message in plan.events:
            service.add_event(self._next("e"), self.now, message)
        for stop in plan.stop:
            t = self.tasks[stop.task_arn]
            assert t.desired == "RUNNING", "stopped twice"
            t.desired = "STOPPED"
            t.stop_code = t.stop_code or "ServiceSchedulerInitiated"
            t.stopped_reason = t.stopped_reason or stop.reason
            inst = self.instances.get(t.instance)
            if inst is None or not inst.connected:
                t.last, t.stopped_at = "STOPPED", self.now
        for start in plan.start:
            assert start.count == len(start.instances)
            for arn in start.instances:
                inst = self.instances[arn]
                assert inst.status == "ACTIVE" and inst.connected and inst.eligible
                t = SimTask(self._next("task/"), start.deployment_id, arn)
                self.tasks[t.arn] = t
        if plan.steady is not None:
            service.steady = plan.steady
        if plan.launch_failures is not None:
            service.launch_failures = plan.launch_failures
        if plan.launch_backoff_until is not None:
            service.launch_backoff_until = plan.launch_backoff_until
        service.desired_count = plan.desired_count or 0
        self.check()
        return plan

    def agent(self, speed: float = 1.0) -> None:
        by_id = {d.id: d for d in self.service.deployments}
        for t in self.tasks.values():
            inst = self.instances.get(t.instance)
            if t.last == "STOPPED" or inst is None or not inst.connected:
                continue
            if self.rng.random() > speed:
                continue
            d = by_id.get(t.deployment)
            doomed = t.instance in self.bad or (
                d is not None and d.task_definition in self.bad_definitions
            )
            if t.desired == "STOPPED":
                t.last, t.stopped_at = "STOPPED", self.now
            elif t.last == "PROVISIONING":
                t.last = "PENDING"
            elif t.last == "PENDING" and doomed:
                t.last, t.stopped_at, t.stop_code = "STOPPED", self.now, "TaskFailedToStart"
            elif t.last == "PENDING":
                t.last, t.started_at = "RUNNING", self.now
            elif t.last == "RUNNING" and t.health == "UNKNOWN":
                t.health = "HEALTHY"
        self.check()

    def check(self) -> None:
        """Never two unstopped tasks of the service on one instance, at any step."""
        seen: set[str] = set()
        for t in self.tasks.values():
            if t.last != "STOPPED":
                assert t.instance not in seen, f"two tasks on {t.instance}"
                seen.add(t.instance)

    # -- reading the outcome -------------------------------------------------------------

    def primary(self) -> Deployment:
        return self.service.primary

    def unstopped(self, arn: str) -> list[SimTask]:
        return [t for t in self.tasks.values() if t.instance == arn and t.last != "STOPPED"]

    def settle(self, rounds: int = 200) -> None:
        for _ in range(rounds):
            self.agent()
            plan = self.reconcile()
            if plan.steady or (self.service.steady and not plan.start and not plan.stop):
                return
            self.now += max(1.0, plan.recheck_in or 1.0)
        raise AssertionError("did not converge")


ACTIONS = [
    "register",
    "drain",
    "replicas_gone",
    "deregister",
    "disconnect",
    "constraints",
    "bad_host",
    "task_fails",
    "deploy",
    "tick",
]


@THOROUGH
@given(
    size=st.integers(0, 6),
    minimum=st.sampled_from([0, 0, 50, 100]),
    steps=st.lists(st.tuples(st.sampled_from(ACTIONS), st.floats(0.2, 1.0)), max_size=60),
    seed=st.integers(0, 2**16),
)
def test_a_daemon_converges_to_one_task_per_eligible_instance_through_churn(
    size: int, minimum: int, steps: Sequence[tuple[str, float]], seed: int
) -> None:
    sim = Sim(size, minimum, seed=seed)
    for action, speed in steps:
        if action != "tick":
            sim.act(action)
        sim.agent(speed)
        sim.reconcile()
        sim.now += 1.0 + 5.0 * speed
    # Quiet: hosts heal, replica tasks leave the draining instances.
    sim.bad.clear()
    for arn in list(sim.instances):
        sim.change(arn, replica_tasks=0)
    sim.settle()

    primary = sim.primary()
    for arn, i in sim.instances.items():
        here = sim.unstopped(arn)
        if i.status == "ACTIVE" and i.connected and i.eligible:
            assert len(here) == 1, arn
            assert here[0].last == "RUNNING" and here[0].desired == "RUNNING"
            assert here[0].deployment == primary.id
        elif i.status == "DRAINING" or not i.eligible:
            # Asked to stop; an unreachable agent has not heard yet.
            assert [t for t in here if i.connected or t.desired == "RUNNING"] == [], arn
    assert primary.rollout_state == COMPLETED
    assert all(d.status == DEPLOYMENT_INACTIVE for d in sim.service.deployments[1:])
    assert sim.service.desired_count == sum(
        i.status == "ACTIVE" and i.connected and i.eligible for i in sim.instances.values()
    )
    steady = [e for e in sim.service.events if e.message.endswith("reached a steady state.")]
    assert steady, "steady state announced"


@FAST
@given(
    size=st.integers(1, 9),
    minimum=st.sampled_from([0, 25, 50, 75, 100]),
    speeds=st.lists(st.floats(0.1, 1.0), min_size=1, max_size=10),
    seed=st.integers(0, 2**16),
)
def test_a_rolling_deployment_keeps_minimum_healthy_and_one_task_per_instance(
    size: int, minimum: int, speeds: Sequence[float], seed: int
) -> None:
    sim = Sim(size, minimum, seed=seed)
    sim.settle()
    sim.deploy()
    floor = math.ceil(size * minimum / 100)
    # One instance at a time at 100 %, each waiting for a slow agent and for the 40 s a task
    # without a health check needs to count as healthy: 9 instances can take ~500 steps.
    for k in range(2000):
        sim.agent(speeds[k % len(speeds)])
        plan = sim.reconcile()
        healthy = sum(
            1
            for arn in sim.instances
            if any(t.last == "RUNNING" and t.desired == "RUNNING" for t in sim.unstopped(arn))
        )
        assert healthy >= min(floor, size - 1), (k, healthy, floor)
        if plan.steady:
            break
        sim.now += 1.0
    else:
        raise AssertionError("the deployment did not complete")
    assert sim.primary().rollout_state == COMPLETED
    assert {t.deployment for t in sim.tasks.values() if t.last != "STOPPED"} == {sim.primary().id}


def test_a_deployment_that_cannot_start_rolls_back_to_the_last_completed_one() -> None:
    sim = Sim(4, breaker=True, seed=7)
    sim.settle()
    sim.deploy(bad=True)
    failed = sim.primary()
    sim.settle(rounds=400)
    assert failed.rollout_state == FAILED and failed.failed_tasks >= 3
    assert sim.primary().task_definition == "td:1"
    assert sim.primary().rollout_state == COMPLETED
    messages = [e.message for e in sim.service.events]
    assert any(m.endswith("rolling back to deployment d1.") for m in messages)
    for arn in sim.instances:
        assert [t.deployment for t in sim.unstopped(arn)] == [sim.primary().id]


def test_a_broken_host_is_retried_ever_more_slowly_without_holding_back_the_others() -> None:
    sim = Sim(2, seed=1)
    broken = sorted(sim.instances)[0]
    sim.bad.add(broken)
    starts: list[float] = []
    for _ in range(60):
        sim.agent()
        plan = sim.reconcile()
        if broken in started_on(plan):
            starts.append(sim.now)
        sim.now += max(1.0, plan.recheck_in or 1.0)
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert len(gaps) >= 5 and gaps == sorted(gaps) and gaps[-1] > gaps[0] * 8
    healthy = sorted(sim.instances)[1]
    assert [t.last for t in sim.unstopped(healthy)] == ["RUNNING"]
    assert sim.service.launch_failures >= cb.THROTTLE_AFTER
    throttled = [e for e in sim.service.events if "unable to consistently start" in e.message]
    assert len(throttled) == 1
