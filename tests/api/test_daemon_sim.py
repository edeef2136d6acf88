"""DAEMON services on simulated fleets, through boto3 against a real server: one task on each
ACTIVE instance the placement constraints admit, never two on one instance (ECS developer
guide, "Daemon scheduling strategy", "Container instance draining").

The fleets and helpers are test_services_sim.py's."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from harness import ServerProcess
from test_services_sim import (
    ZONES,
    Sim,
    Watch,
    create,
    describe,
    describe_tasks,
    live,
    messages,
    register,
    sim,
    stable,
    tasks_of,
    update,
    wait_until,
)

from portside.agent.simulated import SimulatedDriver


def daemon(fleet: Sim, name: str, td: str, **extra: Any) -> dict[str, Any]:
    out = fleet.ecs.create_service(
        cluster=fleet.cluster,
        serviceName=name,
        taskDefinition=td,
        schedulingStrategy="DAEMON",
        **extra,
    )
    return dict(out["service"])


def where(tasks: Sequence[dict[str, Any]]) -> Counter[str]:
    return Counter(t["containerInstanceArn"] for t in tasks)


def one_each(fleet: Sim, name: str, instances: Sequence[str]) -> list[dict[str, Any]]:
    """Wait until the service runs exactly one task on each of `instances` and is stable."""

    def check() -> list[dict[str, Any]] | None:
        tasks = tasks_of(fleet, name)
        ok = where(tasks) == Counter(instances) and all(t["lastStatus"] == "RUNNING" for t in tasks)
        return tasks if ok else None

    tasks = wait_until(check, 20, f"one task on each of {len(instances)} instances")
    stable(fleet, name, len(instances))
    return list(tasks)


def test_daemon_runs_one_task_on_each_active_instance(
    server: ServerProcess, tmp_path: Path, name: str
) -> None:
    with sim(server, tmp_path, name) as fleet:
        first = fleet.add(3, driver=SimulatedDriver(start_delay=0.1))
        td = register(fleet.ecs, name)
        created = daemon(fleet, "agent", td)
        assert created["desiredCount"] == 0 and created["schedulingStrategy"] == "DAEMON"
        one_each(fleet, "agent", first)
        seen = describe(fleet, "agent")
        assert (seen["desiredCount"], seen["runningCount"], seen["pendingCount"]) == (3, 3, 0)
        (dep,) = seen["deployments"]
        assert (dep["desiredCount"], dep["runningCount"], dep["rolloutState"]) == (
            3,
            3,
            "COMPLETED",
        )

        # A new instance gets one.
        (joined,) = fleet.add(1, ZONES[:1])
        one_each(fleet, "agent", [*first, joined])
        assert describe(fleet, "agent")["desiredCount"] == 4

        # A DRAINING instance loses it; its task is not replaced elsewhere.
        drained = first[0]
        (lost,) = [t for t in tasks_of(fleet, "agent") if t["containerInstanceArn"] == drained]
        fleet.ecs.update_container_instances_state(
            cluster=name, containerInstances=[drained], status="DRAINING"
        )
        one_each(fleet, "agent", [*first[1:], joined])
        (gone,) = describe_tasks(fleet, [lost["taskArn"]])
        assert gone["desiredStatus"] == "STOPPED"
        assert gone["stoppedReason"] == "Service agent: container instance is in DRAINING state"
        assert describe(fleet, "agent")["desiredCount"] == 3

        # ACTIVE again: it gets one again.
        fleet.ecs.update_container_instances_state(
            cluster=name, containerInstances=[drained], status="ACTIVE"
        )
        one_each(fleet, "agent", [*first, joined])


def test_daemon_honours_member_of_and_never_doubles_up(
    server: ServerProcess, tmp_path: Path, name: str
) -> None:
    with sim(server, tmp_path, name) as fleet:
        arns = fleet.add(6, driver=SimulatedDriver(start_delay=0.1))
        in_a = [a for a in arns if fleet.zone[a] == ZONES[0]]
        td = register(fleet.ecs, name)
        constraint = {
            "type": "memberOf",
            "expression": f"attribute:ecs.availability-zone == {ZONES[0]}",
        }
        daemon(fleet, "zonal", td, placementConstraints=[constraint])
        daemon(fleet, "everywhere", td)
        one_each(fleet, "zonal", in_a)
        one_each(fleet, "everywhere", arns)
        assert describe(fleet, "zonal")["desiredCount"] == len(in_a) == 2

        # A new revision rolls out instance by instance (maximumPercent 100): stop, then
        # start; no instance ever holds two of the service's tasks.
        watch = Watch(fleet, "everywhere")
        while watch.snapshot() is None:
            pass
        td2 = register(fleet.ecs, name)
        new = update(fleet, "everywhere", taskDefinition=td2)["deployments"][0]
        deadline = time.monotonic() + 20
        while True:
            tasks = watch.snapshot()
            if tasks is not None:
                doubled = [arn for arn, n in where(live(tasks)).items() if n > 1]
                assert not doubled, doubled
                current = [t for t in live(tasks) if t["taskDefinitionArn"] == td2]
                if len(current) == len(arns) and all(t["lastStatus"] == "RUNNING" for t in current):
                    break
            assert time.monotonic() < deadline, "the daemon deployment never finished"
        seen = stable(fleet, "everywhere", len(arns))
        assert seen["deployments"][0]["id"] == new["id"]
        assert f"(service everywhere) (deployment {new['id']}) deployment completed." in (
            messages(seen)
        )
        assert where(tasks_of(fleet, "everywhere")) == Counter(arns)

        # The constraint follows attribute changes: a custom attribute narrows it further.
        update(
            fleet,
            "zonal",
            placementConstraints=[
                constraint,
                {"type": "memberOf", "expression": "attribute:role == edge"},
            ],
        )
        fleet.ecs.put_attributes(
            cluster=name, attributes=[{"name": "role", "value": "edge", "targetId": in_a[0]}]
        )
        one_each(fleet, "zonal", in_a[:1])
        assert describe(fleet, "zonal")["desiredCount"] == 1


def test_a_draining_instance_stops_its_daemon_task_last(
    server: ServerProcess, tmp_path: Path, name: str
) -> None:
    with sim(server, tmp_path, name) as fleet:
        a, b = fleet.add(2, driver=SimulatedDriver(start_delay=0.3))
        td = register(fleet.ecs, name)
        daemon(fleet, "agent", td)
        one_each(fleet, "agent", [a, b])
        create(fleet, "web", td, 2, placementStrategy=[{"type": "spread", "field": "instanceId"}])
        stable(fleet, "web", 2)
        (held,) = [t for t in tasks_of(fleet, "agent") if t["containerInstanceArn"] == a]
        fleet.ecs.update_container_instances_state(
            cluster=name, containerInstances=[a], status="DRAINING"
        )
        # While the replica task on `a` is replaced (its replacement takes 0.3 s to start),
        # the daemon task stays.
        deadline = time.monotonic() + 10
        while [t for t in tasks_of(fleet, "web") if t["containerInstanceArn"] == a]:
            (still,) = describe_tasks(fleet, [held["taskArn"]])
            assert still["desiredStatus"] == "RUNNING"
            assert time.monotonic() < deadline, "the replica task never left the instance"
        wait_until(
            lambda: describe_tasks(fleet, [held["taskArn"]])[0]["lastStatus"] == "STOPPED",
            10,
            "the daemon task to stop",
        )
        assert where(tasks_of(fleet, "agent")) == {b: 1}
        assert where(tasks_of(fleet, "web")) == {b: 2}
