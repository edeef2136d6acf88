"""Services on simulated fleets, through boto3 and the AWS CLI v1 against a real server:
what a user sees (DescribeServices' counts, deployments and events; ListTasks --service-name;
DescribeTasks) while the service controller starts, stops and replaces tasks.

The instances are simulated (AgentConfig.instances, zones taken in turn) and every test has
its own cluster. Task definitions carry a container health check: the simulated driver
reports such a container HEALTHY as soon as it starts, so a deployment completes as soon as
its tasks run (without one a task counts as healthy only 40 s after RUNNING).
"""

from __future__ import annotations

import re
import subprocess
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from harness import ACCESS_KEY, BIN, REGION, SECRET_KEY, ServerProcess

from portside.agent.session import Agent
from portside.agent.simulated import SimulatedDriver
from portside.testing.agent import start_simulated_agent

ZONES = ["us-east-1a", "us-east-1b", "us-east-1c"]
HEALTH_CHECK = {"command": ["CMD-SHELL", "true"], "interval": 5, "timeout": 2, "retries": 1}
MISSING_IMAGE = "registry.example.com/missing:1"
TROUBLESHOOTING = (
    "For more information, see the Troubleshooting section of the Amazon ECS Developer Guide."
)


# -- simulated fleets ------------------------------------------------------------------------


@dataclass
class Sim:
    """A cluster and its simulated instances; one agent (and one driver) per `add`."""

    server: ServerProcess
    root: Path
    cluster: str
    agents: list[Agent] = field(default_factory=list)
    zone: dict[str, str] = field(default_factory=dict)  # instance ARN -> its zone

    def __post_init__(self) -> None:
        self.ecs = self.server.client()

    def add(
        self,
        instances: int,
        zones: Sequence[str] = ZONES,
        *,
        memory: int = 16384,
        cpu: int = 4096,
        driver: SimulatedDriver | None = None,
        attributes: dict[str, str] | None = None,
    ) -> list[str]:
        """One agent carrying `instances` instances (zones in turn); their ARNs."""
        agent = start_simulated_agent(
            self.server.endpoint,
            ACCESS_KEY,
            SECRET_KEY,
            self.root / f"{self.cluster}-agent{len(self.agents)}",
            self.cluster,
            region=REGION,
            zone=zones[0],
            zones=zones,
            attributes=attributes,
            instances=instances,
            driver=driver or SimulatedDriver(cpu=cpu, memory=memory),
        )
        self.agents.append(agent)
        arns = [agent.instance_arn, *agent.more_arns]
        for n, arn in enumerate(arns):
            self.zone[arn] = zones[n % len(zones)]
        return arns

    def driver_of(self, instance_arn: str) -> SimulatedDriver:
        agent = next(a for a in self.agents if instance_arn in a.workers)
        assert isinstance(agent.driver, SimulatedDriver)
        return agent.driver

    def runtime_id(self, task: dict[str, Any], container: str = "app") -> str:
        """The simulated container of a running task (as DescribeTasks shows it)."""
        instance = task["containerInstanceArn"]
        agent = next(a for a in self.agents if instance in a.workers)
        run = agent.workers[instance].runs[task["taskArn"]]
        runtime_id = run.containers[container].runtime_id
        assert runtime_id is not None
        return runtime_id

    def stop(self) -> None:
        for agent in self.agents:
            agent.stop()


@contextmanager
def sim(server: ServerProcess, root: Path, cluster: str) -> Iterator[Sim]:
    fleet = Sim(server, root, cluster)
    fleet.ecs.create_cluster(clusterName=cluster)
    try:
        yield fleet
    finally:
        fleet.stop()


# -- calls and views -------------------------------------------------------------------------


def register(
    ecs: Any, family: str, *, memory: int = 64, image: str = "busybox", health: bool = True
) -> str:
    container: dict[str, Any] = {"name": "app", "image": image, "memory": memory}
    if health:
        container["healthCheck"] = HEALTH_CHECK
    out = ecs.register_task_definition(family=family, containerDefinitions=[container])
    return str(out["taskDefinition"]["taskDefinitionArn"])


def describe(fleet: Sim, name: str) -> dict[str, Any]:
    out = fleet.ecs.describe_services(cluster=fleet.cluster, services=[name])
    assert out["failures"] == [], out["failures"]
    return dict(out["services"][0])


def task_arns(fleet: Sim, name: str, desired: str = "RUNNING") -> list[str]:
    pages = fleet.ecs.get_paginator("list_tasks").paginate(
        cluster=fleet.cluster, serviceName=name, desiredStatus=desired
    )
    return [arn for page in pages for arn in page["taskArns"]]


def describe_tasks(fleet: Sim, arns: Sequence[str]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for at in range(0, len(arns), 100):
        out = fleet.ecs.describe_tasks(cluster=fleet.cluster, tasks=list(arns[at : at + 100]))
        assert out["failures"] == [], out["failures"]
        found += out["tasks"]
    return found


def tasks_of(fleet: Sim, name: str) -> list[dict[str, Any]]:
    """The service's tasks that are wanted RUNNING, described."""
    arns = task_arns(fleet, name)
    return describe_tasks(fleet, arns) if arns else []


def wait_until(check: Callable[[], Any], timeout: float = 20, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        assert time.monotonic() < deadline, f"timed out waiting for {what or check}"
        time.sleep(0.05)


def stable(fleet: Sim, name: str, running: int, timeout: float = 20) -> dict[str, Any]:
    """Wait until the service runs `running` healthy tasks of one COMPLETED deployment and
    has said so; return its description."""
    last: dict[str, Any] = {}

    def check() -> dict[str, Any] | None:
        last.clear()
        last.update(describe(fleet, name))
        deps = last["deployments"]
        done = (
            len(deps) == 1
            and deps[0]["rolloutState"] == "COMPLETED"
            and (last["runningCount"], last["pendingCount"]) == (running, 0)
            and last["events"]
            and "has reached a steady state" in last["events"][0]["message"]
        )
        return dict(last) if done else None

    try:
        return dict(wait_until(check, timeout))
    except AssertionError:
        raise AssertionError(f"the service never became stable: {last}") from None


def create(fleet: Sim, name: str, td: str, desired: int, **extra: Any) -> dict[str, Any]:
    out = fleet.ecs.create_service(
        cluster=fleet.cluster, serviceName=name, taskDefinition=td, desiredCount=desired, **extra
    )
    return dict(out["service"])


def update(fleet: Sim, name: str, **params: Any) -> dict[str, Any]:
    out = fleet.ecs.update_service(cluster=fleet.cluster, service=name, **params)
    return dict(out["service"])


def messages(service: dict[str, Any]) -> list[str]:
    return [e["message"] for e in service["events"]]


def short(arn: str) -> str:
    return arn.rsplit("/", 1)[-1]


def per_zone(fleet: Sim, tasks: Sequence[dict[str, Any]]) -> Counter[str]:
    return Counter(fleet.zone[t["containerInstanceArn"]] for t in tasks)


# -- 1. scale out, and the services-stable waiter --------------------------------------------


def test_scale_out_and_the_services_stable_waiter(
    server: ServerProcess, tmp_path: Path, name: str
) -> None:
    with sim(server, tmp_path, name) as fleet:
        # Three instances with room for four 1 GiB tasks each.
        fleet.add(3, memory=4096)
        td = register(fleet.ecs, name, memory=1024)
        created = server.aws(
            "ecs",
            "create-service",
            "--cluster",
            name,
            "--service-name",
            "web",
            "--task-definition",
            td,
            "--desired-count",
            "2",
        )["service"]
        assert created["desiredCount"] == 2
        stable(fleet, "web", 2)

        updated = server.aws(
            "ecs", "update-service", "--cluster", name, "--service", "web", "--desired-count", "10"
        )["service"]
        assert updated["desiredCount"] == 10 and len(updated["deployments"]) == 1
        server.aws("ecs", "wait", "services-stable", "--cluster", name, "--services", "web")
        seen = describe(fleet, "web")
        assert (seen["runningCount"], seen["desiredCount"]) == (10, 10)
        assert len(seen["deployments"]) == 1
        tasks = tasks_of(fleet, "web")
        assert len(tasks) == 10 and {t["lastStatus"] for t in tasks} == {"RUNNING"}
        assert sorted(per_zone(fleet, tasks).values()) == [3, 3, 4]

        # Fourteen do not fit in twelve slots: the CLI's waiter keeps waiting...
        server.aws(
            "ecs", "update-service", "--cluster", name, "--service", "web", "--desired-count", "14"
        )
        proc = subprocess.Popen(
            [
                str(BIN / "aws"),
                "ecs",
                "wait",
                "services-stable",
                *("--cluster", name, "--services", "web"),
            ],
            env=server.env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            time.sleep(4)
            assert proc.poll() is None, proc.communicate()
            seen = describe(fleet, "web")
            assert (seen["runningCount"], seen["pendingCount"]) == (12, 0), seen
            # ...until there is room: then it returns (it polls every 15 s) and the service
            # runs all fourteen.
            fleet.add(1, ZONES[2:], memory=4096)
            _, err = proc.communicate(timeout=40)
            assert proc.returncode == 0, err
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
        seen = describe(fleet, "web")
        assert (seen["runningCount"], seen["desiredCount"], len(seen["deployments"])) == (14, 14, 1)
        listed = server.aws("ecs", "list-tasks", "--cluster", name, "--service-name", "web")
        assert sorted(listed["taskArns"]) == sorted(task_arns(fleet, "web"))
        assert len(listed["taskArns"]) == 14


# -- 2. scale in -----------------------------------------------------------------------------


def test_scale_in_keeps_the_zones_balanced(
    server: ServerProcess, tmp_path: Path, name: str
) -> None:
    with sim(server, tmp_path, name) as fleet:
        fleet.add(4, ZONES[:2])
        td = register(fleet.ecs, name)
        # Rebalancing off: what scale-in alone does (tests/api/test_az_rebalancing_sim.py
        # has the scheduler even the zones out).
        create(fleet, "web", td, 10, availabilityZoneRebalancing="DISABLED")
        stable(fleet, "web", 10)
        assert per_zone(fleet, tasks_of(fleet, "web")) == {ZONES[0]: 5, ZONES[1]: 5}
        # A third zone joins; three more tasks go there (spread over zones first).
        fleet.add(2, ZONES[2:])
        update(fleet, "web", desiredCount=13)
        stable(fleet, "web", 13)
        assert per_zone(fleet, tasks_of(fleet, "web")) == {ZONES[0]: 5, ZONES[1]: 5, ZONES[2]: 3}
        before = set(task_arns(fleet, "web"))

        update(fleet, "web", desiredCount=4)
        seen = stable(fleet, "web", 4)
        tasks = tasks_of(fleet, "web")
        assert len(tasks) == 4 and {t["lastStatus"] for t in tasks} == {"RUNNING"}
        zones = per_zone(fleet, tasks)
        assert set(zones) == set(ZONES) and max(zones.values()) - min(zones.values()) <= 1, zones
        # Within a zone, from the busiest instance: no instance holds two of the four.
        assert len({t["containerInstanceArn"] for t in tasks}) == 4
        gone = describe_tasks(fleet, sorted(before - {t["taskArn"] for t in tasks}))
        primary = seen["deployments"][0]["id"]
        assert len(gone) == 9
        for t in gone:
            assert t["desiredStatus"] == "STOPPED" and t["stopCode"] == "ServiceSchedulerInitiated"
            assert t["stoppedReason"] == f"Scaling activity initiated by (deployment {primary})"
        stops = [m for m in messages(seen) if "has stopped" in m]
        assert stops and stops[0].startswith("(service web) has stopped 9 running tasks: (task ")


# -- 3. rolling deployments ------------------------------------------------------------------


@dataclass
class Watch:
    """Consistent snapshots of a service's tasks while it changes: DescribeTasks (one read)
    of every task known, kept only when a ListTasks made after it finds no task it missed."""

    fleet: Sim
    name: str
    known: set[str] = field(default_factory=set)
    samples: int = 0

    def snapshot(self) -> list[dict[str, Any]] | None:
        tasks = describe_tasks(self.fleet, sorted(self.known)) if self.known else []
        listed = set(task_arns(self.fleet, self.name))
        listed |= set(task_arns(self.fleet, self.name, "STOPPED"))
        if listed - self.known:
            self.known |= listed
            assert len(self.known) <= 100
            return None
        self.samples += 1
        return tasks


def live(tasks: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Wanted RUNNING and not yet STOPPED: what maximumPercent bounds."""
    return [t for t in tasks if t["desiredStatus"] == "RUNNING" and t["lastStatus"] != "STOPPED"]


def healthy(tasks: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        t
        for t in live(tasks)
        if t["lastStatus"] == "RUNNING" and t.get("healthStatus") == "HEALTHY"
    ]


def roll_out(fleet: Sim, name: str, td: str, low: int, high: int) -> dict[str, Any]:
    """UpdateService to `td`, sampling until the deployment completes: the live tasks never
    exceed `high` and the healthy ones never drop under `low`. The final description."""
    watch = Watch(fleet, name)
    while watch.snapshot() is None:
        pass
    old = describe(fleet, name)["deployments"][0]
    updated = update(fleet, name, taskDefinition=td)
    new = updated["deployments"][0]
    assert [(d["status"], d["id"]) for d in updated["deployments"]] == [
        ("PRIMARY", new["id"]),
        ("ACTIVE", old["id"]),
    ]
    assert new["rolloutState"] == "IN_PROGRESS" and new["taskDefinition"] == td
    seen_states: set[tuple[str, ...]] = set()
    most, fewest = 0, 1 << 30
    deadline = time.monotonic() + 30
    while True:
        service = describe(fleet, name)
        deps = service["deployments"]
        seen_states.add(tuple(f"{d['status']}/{d['rolloutState']}" for d in deps))
        assert service["runningCount"] + service["pendingCount"] <= high, service
        tasks = watch.snapshot()
        if tasks is not None:
            most = max(most, len(live(tasks)))
            fewest = min(fewest, len(healthy(tasks)))
            assert len(live(tasks)) <= high, [(t["lastStatus"], t["desiredStatus"]) for t in tasks]
            assert len(healthy(tasks)) >= low, [(t["lastStatus"], t["healthStatus"]) for t in tasks]
        if len(deps) == 1 and deps[0]["rolloutState"] == "COMPLETED":
            break
        assert time.monotonic() < deadline, f"the deployment never completed: {service}"
    assert watch.samples >= 3
    assert ("PRIMARY/IN_PROGRESS", "ACTIVE/COMPLETED") in seen_states
    (done,) = deps
    assert done["id"] == new["id"] and done["status"] == "PRIMARY"
    assert done["rolloutStateReason"] == f"ECS deployment {new['id']} completed."
    final = stable(fleet, name, 4)
    tasks = tasks_of(fleet, name)
    assert len(tasks) == 4 and {t["taskDefinitionArn"] for t in tasks} == {td}
    assert all(t["startedBy"] == new["id"] for t in tasks)
    # The replaced deployment is INACTIVE: DescribeServices no longer shows it.
    assert [d["id"] for d in final["deployments"]] == [new["id"]]
    text = messages(final)
    completed = f"(service {name}) (deployment {new['id']}) deployment completed."
    assert completed in text and text.index(completed) > 0
    assert text[0] == f"(service {name}) has reached a steady state."
    return {"most": most, "fewest": fewest, **final}


@pytest.mark.parametrize(("low", "high"), [(100, 200), (50, 100)])
def test_rolling_deployment_stays_within_its_bounds(
    server: ServerProcess, tmp_path: Path, name: str, low: int, high: int
) -> None:
    with sim(server, tmp_path, name) as fleet:
        # Room for exactly maximumPercent of the four tasks; containers take 0.3 s to start,
        # so the samples see the deployment's steps.
        slots = high * 4 // 100
        fleet.add(4, driver=SimulatedDriver(memory=slots // 4 * 512, start_delay=0.3))
        td1 = register(fleet.ecs, name, memory=512)
        config = {"minimumHealthyPercent": low, "maximumPercent": high}
        create(fleet, name, td1, 4, deploymentConfiguration=config)
        first = stable(fleet, name, 4)
        assert any(
            m.startswith(f"(service {name}) has started 4 tasks: (task ") for m in messages(first)
        )
        td2 = register(fleet.ecs, name, memory=512)
        result = roll_out(fleet, name, td2, low * 4 // 100, slots)
        if high == 200:
            assert result["most"] > 4  # the new tasks started before the old stopped
        else:
            assert result["fewest"] < 4  # old tasks stopped before the new were healthy
        text = messages(result)
        assert len([m for m in text if "has started" in m]) >= 2
        # On a full cluster the new tasks wait for the old ones to stop: no placement failure.
        assert not [m for m in text if "unable to place" in m], text


# -- 4. the deployment circuit breaker -------------------------------------------------------


BREAKER_FAILED = "ECS deployment circuit breaker: tasks failed to start."


def broken_image_fleet(fleet: Sim) -> None:
    missing = frozenset({MISSING_IMAGE})
    fleet.add(3, driver=SimulatedDriver(missing_images=missing, start_delay=0.3))


def test_circuit_breaker_rolls_back_to_the_last_completed_deployment(
    server: ServerProcess, tmp_path: Path, name: str
) -> None:
    with sim(server, tmp_path, name) as fleet:
        broken_image_fleet(fleet)
        td1 = register(fleet.ecs, name)
        breaker = {"deploymentCircuitBreaker": {"enable": True, "rollback": True}}
        create(fleet, "web", td1, 2, deploymentConfiguration=breaker)
        good = stable(fleet, "web", 2)["deployments"][0]
        td2 = register(fleet.ecs, name, image=MISSING_IMAGE)
        bad = update(fleet, "web", taskDefinition=td2)["deployments"][0]

        def rolled_back() -> dict[str, Any] | None:
            seen = describe(fleet, "web")
            return seen if seen["deployments"][0]["id"] not in (bad["id"], good["id"]) else None

        seen = wait_until(rolled_back, 20, "a rollback deployment")
        back, *rest = seen["deployments"]
        assert back["status"] == "PRIMARY" and back["taskDefinition"] == td1
        assert seen["taskDefinition"] == td1
        if back["rolloutState"] == "IN_PROGRESS":  # its tasks take 0.3 s to start
            assert back["rolloutStateReason"] == (
                f"ECS deployment circuit breaker: rolling back to deploymentId {good['id']}."
            )
            failed = next(d for d in rest if d["id"] == bad["id"])
            assert failed["status"] == "ACTIVE" and failed["rolloutState"] == "FAILED"
            assert failed["rolloutStateReason"] == BREAKER_FAILED
            assert failed["failedTasks"] >= 3 and failed["runningCount"] == 0
        stopped = describe_tasks(fleet, task_arns(fleet, "web", "STOPPED"))
        tried = [t for t in stopped if t["taskDefinitionArn"] == td2]
        assert all("startedAt" not in t for t in tried)
        # (One still pulling when the rollback came is stopped by the scheduler instead.)
        failed_tasks = [t for t in tried if t["stopCode"] == "TaskFailedToStart"]
        assert len(failed_tasks) >= 3
        for t in failed_tasks:
            assert "CannotPullContainerError" in t["stoppedReason"]

        final = stable(fleet, "web", 2)
        (done,) = final["deployments"]
        assert done["id"] == back["id"] and done["rolloutState"] == "COMPLETED"
        assert {t["taskDefinitionArn"] for t in tasks_of(fleet, "web")} == {td1}
        text = messages(final)
        assert (
            f"(service web) (deployment {bad['id']}) deployment failed: tasks failed to start."
            in (text)
        )
        assert f"(service web) rolling back to deployment {good['id']}." in text
        assert f"(service web) (deployment {back['id']}) deployment completed." in text
        # The failed deployment is reported as rolled back.
        listed = fleet.ecs.list_service_deployments(cluster=name, service="web")
        (arn,) = [
            d["serviceDeploymentArn"]
            for d in listed["serviceDeployments"]
            if d["serviceDeploymentArn"].endswith(bad["id"].removeprefix("ecs-svc/"))
        ]
        (report,) = fleet.ecs.describe_service_deployments(serviceDeploymentArns=[arn])[
            "serviceDeployments"
        ]
        assert report["status"] == "ROLLBACK_SUCCESSFUL"
        assert report["statusReason"] == BREAKER_FAILED
        assert report["deploymentCircuitBreaker"]["status"] == "TRIGGERED"
        assert report["deploymentCircuitBreaker"]["failureCount"] >= 3
        assert report["deploymentCircuitBreaker"]["threshold"] == 3


def test_circuit_breaker_without_rollback_stalls_the_deployment(
    server: ServerProcess, tmp_path: Path, name: str
) -> None:
    with sim(server, tmp_path, name) as fleet:
        broken_image_fleet(fleet)
        td1 = register(fleet.ecs, name)
        breaker = {"deploymentCircuitBreaker": {"enable": True, "rollback": False}}
        create(fleet, "web", td1, 2, deploymentConfiguration=breaker)
        good = stable(fleet, "web", 2)["deployments"][0]
        old_tasks = set(task_arns(fleet, "web"))
        td2 = register(fleet.ecs, name, image=MISSING_IMAGE)
        bad = update(fleet, "web", taskDefinition=td2)["deployments"][0]

        def failed() -> dict[str, Any] | None:
            seen = describe(fleet, "web")
            return seen if seen["deployments"][0]["rolloutState"] == "FAILED" else None

        seen = wait_until(failed, 20, "the deployment to fail")
        primary, old = seen["deployments"]
        assert (primary["id"], primary["status"]) == (bad["id"], "PRIMARY")
        assert primary["rolloutStateReason"] == BREAKER_FAILED
        assert primary["failedTasks"] >= 3
        assert (old["id"], old["status"], old["runningCount"]) == (good["id"], "ACTIVE", 2)
        # Stalled: once the tasks it had launched have failed too, nothing more starts, and
        # the old tasks keep running.
        wait_until(lambda: set(task_arns(fleet, "web")) == old_tasks, 10, "in-flight tasks")
        tried = len(task_arns(fleet, "web", "STOPPED"))
        time.sleep(2)
        assert len(task_arns(fleet, "web", "STOPPED")) == tried
        assert set(task_arns(fleet, "web")) == old_tasks
        later = describe(fleet, "web")
        assert [(d["id"], d["rolloutState"]) for d in later["deployments"]] == [
            (bad["id"], "FAILED"),
            (good["id"], "COMPLETED"),
        ]
        assert later["runningCount"] == 2 and later["taskDefinition"] == td2
        assert (
            f"(service web) (deployment {bad['id']}) deployment failed: tasks failed to start."
            in messages(later)
        )


# -- 5. replacing tasks ----------------------------------------------------------------------


def test_a_task_that_exits_is_replaced(server: ServerProcess, tmp_path: Path, name: str) -> None:
    with sim(server, tmp_path, name) as fleet:
        fleet.add(3)
        create(fleet, "web", register(fleet.ecs, name), 3)
        stable(fleet, "web", 3)
        victim, *others = tasks_of(fleet, "web")
        fleet.driver_of(victim["containerInstanceArn"]).exit(fleet.runtime_id(victim), 1)

        def replaced() -> list[str] | None:
            arns = task_arns(fleet, "web")
            return arns if victim["taskArn"] not in arns and len(arns) == 3 else None

        arns = wait_until(replaced, 10, "a replacement")
        (new,) = set(arns) - {t["taskArn"] for t in others}
        gone = describe_tasks(fleet, [victim["taskArn"]])[0]
        assert gone["lastStatus"] == "STOPPED" and gone["stopCode"] == "EssentialContainerExited"
        assert gone["containers"][0]["exitCode"] == 1
        seen = stable(fleet, "web", 3)
        assert f"(service web) has started 1 tasks: (task {short(new)})." in messages(seen)


def test_an_unhealthy_task_is_replaced_after_its_replacement_is_healthy(
    server: ServerProcess, tmp_path: Path, name: str
) -> None:
    with sim(server, tmp_path, name) as fleet:
        fleet.add(3)
        # The replacement may land in another zone than the unhealthy task's (all three hold
        # one when it is placed); with rebalancing on, it would then move once more.
        create(fleet, "web", register(fleet.ecs, name), 3, availabilityZoneRebalancing="DISABLED")
        stable(fleet, "web", 3)
        sick, *others = tasks_of(fleet, "web")
        fleet.driver_of(sick["containerInstanceArn"]).set_health(
            fleet.runtime_id(sick), "UNHEALTHY"
        )

        def stopped() -> dict[str, Any] | None:
            (t,) = describe_tasks(fleet, [sick["taskArn"]])
            return t if t["lastStatus"] == "STOPPED" else None

        gone = wait_until(stopped, 10, "the unhealthy task to stop")
        assert gone["healthStatus"] == "UNHEALTHY"
        assert gone["stopCode"] == "ServiceSchedulerInitiated"
        assert gone["stoppedReason"] == "Task failed container health checks"
        seen = stable(fleet, "web", 3)
        tasks = tasks_of(fleet, "web")
        (new,) = [t for t in tasks if t["taskArn"] not in {o["taskArn"] for o in others}]
        # With room under maximumPercent, the replacement ran (and was healthy: its health
        # check passes at once) before the unhealthy task was asked to stop.
        assert new["startedAt"] <= gone["stoppingAt"], messages(seen)
        assert new["healthStatus"] == "HEALTHY"
        text = messages(seen)
        assert f"(service web) (task {short(sick['taskArn'])}) failed container health checks." in (
            text
        )
        assert f"(service web) has started 1 tasks: (task {short(new['taskArn'])})." in text


# -- 6. draining -----------------------------------------------------------------------------


def test_draining_moves_service_tasks_but_not_standalone_ones(
    server: ServerProcess, tmp_path: Path, name: str
) -> None:
    with sim(server, tmp_path, name) as fleet:
        a, b, c = fleet.add(3, driver=SimulatedDriver(start_delay=0.1))
        td = register(fleet.ecs, name)
        create(fleet, "web", td, 4)
        stable(fleet, "web", 4)
        # Put at least one service task on `a`, and a standalone one.
        on_a = [t for t in tasks_of(fleet, "web") if t["containerInstanceArn"] == a]
        assert on_a, "spread over three instances puts a task on each"
        lone = fleet.ecs.start_task(
            cluster=name, taskDefinition=register(fleet.ecs, name + "-lone"), containerInstances=[a]
        )["tasks"][0]
        wait_until(
            lambda: describe_tasks(fleet, [lone["taskArn"]])[0]["lastStatus"] == "RUNNING",
            10,
            "the standalone task",
        )

        watch = Watch(fleet, "web")
        while watch.snapshot() is None:
            pass
        fleet.ecs.update_container_instances_state(
            cluster=name, containerInstances=[a], status="DRAINING"
        )
        deadline = time.monotonic() + 20
        while True:
            tasks = watch.snapshot()
            if tasks is not None:
                assert len(live(tasks)) <= 8
                assert len(healthy(tasks)) >= 4, [
                    (t["lastStatus"], t["healthStatus"]) for t in tasks
                ]
                if not [t for t in live(tasks) if t["containerInstanceArn"] == a]:
                    break
            assert time.monotonic() < deadline, "the draining instance kept its service tasks"
        seen = stable(fleet, "web", 4)
        tasks = tasks_of(fleet, "web")
        assert {t["containerInstanceArn"] for t in tasks} == {b, c}
        drained = [x["taskArn"] for x in on_a]
        wait_until(
            lambda: {t["lastStatus"] for t in describe_tasks(fleet, drained)} == {"STOPPED"},
            10,
            "the drained tasks to stop",
        )
        for t in describe_tasks(fleet, drained):
            assert t["stoppedReason"] == "Service web: container instance is in DRAINING state"
        assert describe_tasks(fleet, [lone["taskArn"]])[0]["lastStatus"] == "RUNNING"
        (inst,) = fleet.ecs.describe_container_instances(cluster=name, containerInstances=[a])[
            "containerInstances"
        ]
        assert inst["status"] == "DRAINING" and inst["runningTasksCount"] == 1
        assert seen["runningCount"] == 4

        # ACTIVE again: it takes tasks again (spread puts the next ones on the emptiest).
        fleet.ecs.update_container_instances_state(
            cluster=name, containerInstances=[a], status="ACTIVE"
        )
        update(fleet, "web", desiredCount=6)
        stable(fleet, "web", 6)
        where = Counter(t["containerInstanceArn"] for t in tasks_of(fleet, "web"))
        assert where == {a: 2, b: 2, c: 2}


# -- 7. a fleet too small --------------------------------------------------------------------


def test_a_fleet_too_small_says_why_once(server: ServerProcess, tmp_path: Path, name: str) -> None:
    with sim(server, tmp_path, name) as fleet:
        (only,) = fleet.add(1, memory=1024)
        create(fleet, "web", register(fleet.ecs, name, memory=512), 3)
        expected = (
            "(service web) was unable to place a task because no container instance met all of "
            f"its requirements. The closest matching (container-instance {short(only)}) has "
            f"insufficient memory available. {TROUBLESHOOTING}"
        )

        def said() -> dict[str, Any] | None:
            seen = describe(fleet, "web")
            return seen if expected in messages(seen) and seen["runningCount"] == 2 else None

        before = wait_until(said, 10, "the placement event")
        # More passes (an attribute change looks at every service of the cluster; so does the
        # controller's periodic resync): the event is not repeated.
        for n in range(5):
            fleet.ecs.put_attributes(
                cluster=name, attributes=[{"name": f"pass{n}", "targetId": only}]
            )
            time.sleep(0.3)
        seen = describe(fleet, "web")
        assert messages(seen).count(expected) == 1, messages(seen)
        # The task that found no room is no PENDING task.
        assert (seen["runningCount"], seen["pendingCount"], seen["desiredCount"]) == (2, 0, 3)
        assert seen["deployments"][0]["pendingCount"] == 0
        assert len(task_arns(fleet, "web")) == 2
        # Nothing changed, so nothing was written: the deployment is as it was.
        assert seen["deployments"] == before["deployments"]


# -- 8. the service throttle -----------------------------------------------------------------


THROTTLED = "(service web) is unable to consistently start tasks successfully. " + TROUBLESHOOTING


@pytest.mark.parametrize("fault", ["fail_rate", "missing_image"])
def test_tasks_that_keep_failing_to_start_are_throttled(
    server: ServerProcess, tmp_path: Path, name: str, fault: str
) -> None:
    with sim(server, tmp_path, name) as fleet:
        driver = SimulatedDriver(missing_images=frozenset({MISSING_IMAGE}))
        if fault == "fail_rate":
            driver.fail_rate = 1.0
        fleet.add(2, driver=driver)
        image = MISSING_IMAGE if fault == "missing_image" else "busybox"
        create(fleet, "web", register(fleet.ecs, name, image=image), 2)

        def throttled() -> dict[str, Any] | None:
            seen = describe(fleet, "web")
            return seen if THROTTLED in messages(seen) else None

        seen = wait_until(throttled, 15, "the throttle event")
        assert seen["runningCount"] == 0
        assert seen["deployments"][0]["rolloutState"] == "IN_PROGRESS"  # no circuit breaker
        # Launches are spaced out now: nothing new starts for a while.
        wait_until(lambda: task_arns(fleet, "web") == [], 10, "in-flight tasks to fail")
        tried = len(task_arns(fleet, "web", "STOPPED"))
        assert tried >= 3
        for t in describe_tasks(fleet, task_arns(fleet, "web", "STOPPED")):
            assert t["stopCode"] == "TaskFailedToStart"
        time.sleep(2)
        assert len(task_arns(fleet, "web", "STOPPED")) == tried
        assert task_arns(fleet, "web") == []

        # The fault is fixed; UpdateService resumes normal launching at once.
        if fault == "fail_rate":
            driver.fail_rate = 0.0
            update(fleet, "web", desiredCount=2)
        else:
            update(fleet, "web", taskDefinition=register(fleet.ecs, name))
        seen = stable(fleet, "web", 2, timeout=10)
        assert messages(seen).count(THROTTLED) == 1


# -- 10. DeleteService -----------------------------------------------------------------------


def test_delete_service_drains_it_then_it_is_inactive(
    server: ServerProcess, tmp_path: Path, name: str
) -> None:
    with sim(server, tmp_path, name) as fleet:
        fleet.add(2)
        td = register(fleet.ecs, name)
        create(fleet, "web", td, 3)
        create(fleet, "other", td, 1)
        stable(fleet, "web", 3)
        running = task_arns(fleet, "web")
        with pytest.raises(ClientError) as err:
            fleet.ecs.delete_service(cluster=name, service="web")
        assert err.value.response["Error"]["Code"] == "InvalidParameterException"
        assert err.value.response["Error"]["Message"] == (
            "The service cannot be stopped while it is scaled above 0."
        )
        assert describe(fleet, "web")["status"] == "ACTIVE"

        deleted = server.aws(
            "ecs", "delete-service", "--cluster", name, "--service", "web", "--force"
        )["service"]
        assert deleted["status"] == "DRAINING" and deleted["desiredCount"] == 0
        arns = fleet.ecs.list_services(cluster=name)["serviceArns"]
        assert [a.rsplit("/", 1)[1] for a in arns] == ["other"]
        waiter = fleet.ecs.get_waiter("services_inactive")
        waiter.wait(cluster=name, services=["web"], WaiterConfig={"Delay": 1, "MaxAttempts": 20})
        gone = describe(fleet, "web")
        assert gone["status"] == "INACTIVE" and gone["runningCount"] == 0
        assert task_arns(fleet, "web") == []
        for t in describe_tasks(fleet, running):
            assert t["lastStatus"] == "STOPPED" and t["stopCode"] == "ServiceSchedulerInitiated"
        assert len(task_arns(fleet, "other")) == 1
        assert [
            a.rsplit("/", 1)[1] for a in fleet.ecs.list_services(cluster=name)["serviceArns"]
        ] == ["other"]


# -- 11. events ------------------------------------------------------------------------------


def test_service_events_are_newest_first_and_at_most_100(
    server: ServerProcess, tmp_path: Path, name: str
) -> None:
    with sim(server, tmp_path, name) as fleet:
        fleet.add(2)
        create(fleet, "web", register(fleet.ecs, name), 1)
        first = stable(fleet, "web", 1)
        oldest = first["events"][-1]
        # Each scale-out or scale-in says what it started or stopped, then that it is steady.
        count = 1
        while len(describe(fleet, "web")["events"]) < 100:
            count = 3 - count
            update(fleet, "web", desiredCount=count)
            stable(fleet, "web", count)
        for _ in range(3):
            count = 3 - count
            update(fleet, "web", desiredCount=count)
            stable(fleet, "web", count)
        seen = describe(fleet, "web")
        events = seen["events"]
        assert len(events) == 100
        stamps = [e["createdAt"] for e in events]
        assert stamps == sorted(stamps, reverse=True)
        assert events[0]["message"] == "(service web) has reached a steady state."
        assert oldest["id"] not in {e["id"] for e in events}
        assert len({e["id"] for e in events}) == 100
        assert all(
            re.fullmatch(r"[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}", e["id"]) for e in events
        )
        cli = server.aws("ecs", "describe-services", "--cluster", name, "--services", "web")
        assert [e["id"] for e in cli["services"][0]["events"]] == [e["id"] for e in events]
