"""Availability Zone rebalancing on a simulated fleet, through boto3: a service whose tasks
all run in one zone (the other zone's instances were away) is moved back to an even spread
once instances in the other zone register, one task at a time within its deployment bounds,
and says so in ECS's service events; with rebalancing DISABLED nothing moves."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from api.test_services_sim import (
    ZONES,
    create,
    describe,
    per_zone,
    register,
    sim,
    stable,
    tasks_of,
    wait_until,
)
from harness import ServerProcess


def test_tasks_move_back_into_a_zone_that_returns(
    server: ServerProcess, tmp_path: Path, name: str
) -> None:
    with sim(server, tmp_path, name) as fleet:
        fleet.add(2, ZONES[:1])
        td = register(fleet.ecs, name)
        made = create(fleet, "web", td, 4)
        assert made["availabilityZoneRebalancing"] == "ENABLED"  # ECS's default since 2025
        create(fleet, "still", td, 2, availabilityZoneRebalancing="DISABLED")
        stable(fleet, "web", 4)
        stable(fleet, "still", 2)
        assert per_zone(fleet, tasks_of(fleet, "web")) == {ZONES[0]: 4}

        fleet.add(2, ZONES[1:2])  # the other zone's instances come back

        def balanced() -> Counter[str] | None:
            zones = per_zone(fleet, tasks_of(fleet, "web"))
            said = [e["message"] for e in describe(fleet, "web")["events"]]
            done = any("is AZ balanced with" in m for m in said)
            return zones if done and zones == {ZONES[0]: 2, ZONES[1]: 2} else None

        wait_until(balanced, 30, "the service to be AZ balanced")
        seen = stable(fleet, "web", 4)
        said = [e["message"] for e in seen["events"]]
        assert (
            f"service (web) is not AZ balanced with 4 tasks in {ZONES[0]}, and 0 tasks in "
            f"{ZONES[1]}. AZ Rebalancing in progress."
        ) in said or any("AZ Rebalancing in progress." in m for m in said)
        stopped = fleet.ecs.describe_tasks(
            cluster=name,
            tasks=fleet.ecs.list_tasks(cluster=name, serviceName="web", desiredStatus="STOPPED")[
                "taskArns"
            ],
        )["tasks"]
        assert len(stopped) == 2
        assert all(t["stoppedReason"].startswith("AZ Rebalancing initiated by") for t in stopped)
        # The DISABLED service stays where it was.
        assert per_zone(fleet, tasks_of(fleet, "still")) == {ZONES[0]: 2}
