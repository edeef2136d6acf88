"""Properties of the REPLICA reconciler, checked at every step of a small simulated fleet with
a fake clock: the simulator applies each plan as the loop would, then moves time on; started
tasks come up (RUNNING, then HEALTHY) or fail as a generated script says."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from portside.controllers.services import circuit_breaker as cb
from portside.controllers.services.facts import InstanceFact, Plan, TaskFact
from portside.controllers.services.replica import compute
from portside.controllers.services.rolling import Limits, counts_healthy
from portside.model.deployment import CircuitBreaker, DeploymentConfiguration
from portside.model.service import (
    COMPLETED,
    DEPLOYMENT_ACTIVE,
    DEPLOYMENT_INACTIVE,
    FAILED,
    IN_PROGRESS,
    PRIMARY,
    Deployment,
    Service,
)

FAST = settings(max_examples=120, deadline=None, derandomize=True, database=None)
STEP = 20.0  # seconds between passes
ZONES = ("a", "b", "c")
HOSTS = {f"i-{z}{n}": z for z in ZONES for n in range(2)}

OK, FAIL, SICK = "ok", "fail", "sick"  # a started task comes up, fails to start, or is unhealthy


@dataclass
class Sim:
    service: Service
    script: list[str]
    check: bool  # the task definitions have a container health check
    now: float = 1000.0
    tasks: dict[str, TaskFact] = field(default_factory=dict)
    outcome: dict[str, str] = field(default_factory=dict)
    seq: int = 0
    deployments: int = 2
    instances: dict[str, InstanceFact] = field(
        default_factory=lambda: {
            arn: InstanceFact(arn=arn, status="ACTIVE", connected=True, zone=zone)
            for arn, zone in HOSTS.items()
        }
    )

    # -- the fleet -----------------------------------------------------------------------

    def live(self) -> list[TaskFact]:
        return [t for t in self.tasks.values() if t.live]

    def healthy(self) -> int:
        return sum(counts_healthy(t, self.now) for t in self.live())

    def host_for_next(self) -> str:
        """As the placer would: spread over zones, then instances; never a DRAINING one."""
        zones = Counter(HOSTS[t.instance_arn or ""] for t in self.live())
        hosts = Counter(t.instance_arn for t in self.live())
        open_ = [h for h in HOSTS if self.instances[h].status == "ACTIVE"]
        return min(open_, key=lambda h: (zones[HOSTS[h]], hosts[h], h))

    def drain(self, host: str) -> None:
        self.instances[host] = replace(self.instances[host], status="DRAINING")

    def add(self, deployment_id: str, state: str, outcome: str = OK) -> TaskFact:
        self.seq += 1
        host = self.host_for_next()
        task = TaskFact(
            arn=f"arn:aws:ecs:r:0:task/c/t{self.seq}",
            deployment_id=deployment_id,
            last_status=state,
            desired_status="RUNNING",
            health_status="HEALTHY" if state == "RUNNING" and self.check else "UNKNOWN",
            has_health_check=self.check,
            instance_arn=host,
            zone=HOSTS[host],
            started_at=self.now - 600 if state == "RUNNING" else None,
        )
        self.tasks[task.arn] = task
        self.outcome[task.arn] = outcome
        return task

    # -- one pass: the reconciler decides, the "loop" applies ----------------------------

    def step(self) -> Plan:
        plan = compute(self.service, list(self.tasks.values()), self.instances, self.now)
        self.apply(plan)
        return plan

    def apply(self, plan: Plan) -> None:
        service = self.service
        by_id = {d.id: d for d in service.deployments}
        for update in plan.deployments:
            for name in (
                "status",
                "rollout_state",
                "rollout_state_reason",
                "failed_tasks",
                "running_count",
                "pending_count",
            ):
                if getattr(update, name) is not None:
                    setattr(by_id[update.id], name, getattr(update, name))
        if plan.rollback is not None:
            old = service.primary
            old.status = DEPLOYMENT_ACTIVE
            self.deployments += 1
            service.deployments.insert(
                0,
                Deployment(
                    id=f"ecs-svc/{self.deployments}",
                    status=PRIMARY,
                    task_definition=plan.rollback[0],
                    desired_count=service.desired_count,
                    created_at=self.now,
                    updated_at=self.now,
                    rollout_state_reason=plan.rollback[1],
                    rollback_of=old.id,
                ),
            )
        arns = [s.task_arn for s in plan.stop]
        assert len(arns) == len(set(arns)), "a task stopped twice in one plan"
        for stop in plan.stop:
            assert self.tasks[stop.task_arn].live, "a task stopped twice"
            self.tasks[stop.task_arn] = replace(
                self.tasks[stop.task_arn], desired_status="STOPPED", stopped_reason=stop.reason
            )
        for start in plan.start:
            dep = next(d for d in service.deployments if d.id == start.deployment_id)
            assert dep.status == PRIMARY, "a start for a deployment that is not PRIMARY"
            for _ in range(start.count):
                self.add(dep.id, "PROVISIONING", self.script.pop(0) if self.script else OK)
        service.running_count, service.pending_count = plan.running_count, plan.pending_count
        if plan.steady is not None:
            service.steady = plan.steady
        if plan.launch_failures is not None:
            service.launch_failures = plan.launch_failures
        if plan.launch_backoff_until is not None:
            service.launch_backoff_until = plan.launch_backoff_until

    def tick(self) -> None:
        """Time passes: every task moves one state on."""
        self.now += STEP
        for arn, t in list(self.tasks.items()):
            outcome = self.outcome[arn]
            if t.last_status == "STOPPED":
                continue
            if t.desired_status == "STOPPED":
                t = replace(t, last_status="STOPPED", stopped_at=self.now)
            elif t.last_status != "RUNNING" and outcome == FAIL:
                t = replace(
                    t,
                    last_status="STOPPED",
                    desired_status="STOPPED",
                    stopped_at=self.now,
                    failed_to_start=True,
                    stopped_reason="CannotPullContainerError",
                )
            elif t.last_status != "RUNNING":
                t = replace(t, last_status="RUNNING", started_at=self.now)
            elif self.check and t.health_status == "UNKNOWN":
                t = replace(t, health_status="UNHEALTHY" if outcome == SICK else "HEALTHY")
            self.tasks[arn] = t


def make(
    desired: int,
    low: int,
    high: int,
    old: int,
    *,
    rolling: bool = True,
    check: bool = True,
    script: list[str] | None = None,
    breaker: dict[str, Any] | None = None,
) -> Sim:
    config: dict[str, Any] = {"minimumHealthyPercent": low, "maximumPercent": high}
    if breaker is not None:
        config["deploymentCircuitBreaker"] = breaker
    deployments = [
        Deployment("ecs-svc/2", PRIMARY, "td:2", desired, 900.0, 900.0),
        Deployment("ecs-svc/1", DEPLOYMENT_ACTIVE, "td:1", desired, 0.0, 0.0, COMPLETED),
    ]
    if not rolling:
        deployments = [Deployment("ecs-svc/1", PRIMARY, "td:1", desired, 0.0, 0.0, COMPLETED)]
    service = Service(
        arn="arn:aws:ecs:r:0:service/c/web",
        name="web",
        cluster_arn="arn:aws:ecs:r:0:cluster/c",
        task_definition=deployments[0].task_definition,
        desired_count=desired,
        created_at=0.0,
        created_by="me",
        deployment_configuration=DeploymentConfiguration.from_doc(config),
        deployments=deployments,
    )
    sim = Sim(service, list(script or []), check)
    for _ in range(old):
        sim.add("ecs-svc/1", "RUNNING")
    return sim


def can_move(desired: int, low: int, high: int) -> bool:
    """ECS: the configuration must let the scheduler stop or start at least one task."""
    limits = Limits(desired, -(-low * desired // 100), high * desired // 100)
    return limits.max_live > desired or limits.min_healthy < desired


percents = st.tuples(st.sampled_from([0, 50, 75, 100]), st.sampled_from([100, 125, 150, 200]))
outcomes = st.lists(st.sampled_from([OK, OK, FAIL, SICK]), max_size=30)


@FAST
@given(
    desired=st.integers(1, 8),
    bounds=percents,
    script=outcomes,
    check=st.booleans(),
    rollback=st.booleans(),
    drain=st.booleans(),
)
def test_a_rolling_deployment_stays_within_minimum_healthy_and_maximum_percent(
    desired: int,
    bounds: tuple[int, int],
    script: list[str],
    check: bool,
    rollback: bool,
    drain: bool,
) -> None:
    low, high = bounds
    breaker = {"enable": True, "rollback": rollback, "resetOnHealthyTask": False}
    sim = make(desired, low, high, desired, check=check, script=script, breaker=breaker)
    if drain:
        sim.drain("i-a0")
    limits = Limits.of(sim.service)
    assert sim.healthy() >= limits.min_healthy
    for _ in range(60):
        primary = sim.service.primary
        was_in_progress = primary.rollout_state == IN_PROGRESS
        failures = sum(
            cb.is_failure(t) for t in sim.tasks.values() if t.deployment_id == primary.id
        )
        plan = sim.step()
        live = len(sim.live())
        assert live <= limits.max_live, f"{live} live tasks, maximum {limits.max_live}"
        assert sim.healthy() >= limits.min_healthy, f"{sim.healthy()} healthy"
        # The circuit breaker trips at exactly the threshold of failed tasks, not before.
        if was_in_progress:
            tripped = primary.rollout_state == FAILED
            assert tripped == (
                failures >= cb.threshold(CircuitBreaker.from_doc(breaker), desired)
            ), (failures, plan)
        sim.tick()


@FAST
@given(
    desired=st.integers(0, 8),
    bounds=percents,
    old=st.integers(0, 12),
    rolling=st.booleans(),
    check=st.booleans(),
    drain=st.booleans(),
)
def test_the_service_converges_to_desired_on_a_healthy_fleet(
    desired: int, bounds: tuple[int, int], old: int, rolling: bool, check: bool, drain: bool
) -> None:
    low, high = bounds
    if not can_move(desired, low, high) and (rolling or drain or old > desired):
        return  # ECS cannot move either: "unable to stop or start tasks during a deployment"
    sim = make(desired, low, high, old, rolling=rolling, check=check)
    if drain:
        sim.drain("i-a0")
    for _ in range(80):
        sim.step()
        sim.tick()
    service = sim.service
    standing = [d for d in service.deployments if d.status != DEPLOYMENT_INACTIVE]
    assert [d.id for d in standing] == [service.primary.id]
    assert service.primary.rollout_state == COMPLETED
    live = sim.live()
    assert len(live) == desired and all(t.deployment_id == service.primary.id for t in live)
    assert not drain or all(t.instance_arn != "i-a0" for t in live)
    assert sim.healthy() == desired
    assert (service.running_count, service.pending_count, service.steady) == (desired, 0, True)


@FAST
@given(
    per_zone=st.lists(st.integers(0, 6), min_size=3, max_size=3),
    hosts=st.lists(st.integers(0, 1), min_size=20, max_size=20),
    desired=st.integers(0, 12),
    low=st.sampled_from([0, 50, 100]),
)
def test_scale_in_keeps_zones_within_one_of_each_other(
    per_zone: list[int], hosts: list[int], desired: int, low: int
) -> None:
    sim = make(desired, low, 200, 0, rolling=False)
    picks = iter(hosts)
    for zone, count in zip(ZONES, per_zone, strict=True):
        for _ in range(count):
            task = sim.add("ecs-svc/1", "RUNNING")
            host = f"i-{zone}{next(picks, 0)}"
            sim.tasks[task.arn] = replace(task, instance_arn=host, zone=zone)
    before = Counter({z: 0 for z in ZONES})
    before.update(t.zone for t in sim.live())
    total = sum(per_zone)
    plan = sim.step()
    after = Counter({z: 0 for z in ZONES})
    after.update(t.zone for t in sim.live())
    spread = max(after.values()) - min(after.values())
    assert len(plan.stop) == max(0, total - desired)
    assert spread <= max(1, max(before.values()) - min(before.values()))
    if desired < total and max(per_zone) - min(per_zone) <= 1:
        assert spread <= 1


@FAST
@given(desired=st.integers(1, 12), bounds=percents, check=st.booleans())
def test_the_breaker_trips_on_the_pass_that_reaches_its_threshold(
    desired: int, bounds: tuple[int, int], check: bool
) -> None:
    low, high = bounds
    if not can_move(desired, low, high):
        return
    breaker = {"enable": True, "rollback": True, "resetOnHealthyTask": False}
    limit = cb.threshold(CircuitBreaker.from_doc(breaker), desired)
    sim = make(desired, low, high, desired, check=check, script=[FAIL] * 40, breaker=breaker)
    seen = 0  # failed tasks of the new deployment at the previous pass
    for _ in range(120):
        primary = sim.service.primary
        failures = sum(
            cb.is_failure(t) for t in sim.tasks.values() if t.deployment_id == "ecs-svc/2"
        )
        sim.step()
        if primary.rollout_state == FAILED:
            assert seen < limit <= failures == primary.failed_tasks
            break
        seen = failures
        sim.tick()
    else:
        raise AssertionError("the breaker never tripped")
    # It rolled back to the completed deployment.
    assert sim.service.primary.task_definition == "td:1"
    assert sim.service.primary.rollback_of == "ecs-svc/2"
