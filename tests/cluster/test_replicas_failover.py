"""Two `portside server` replicas over one PostgreSQL database, the leader killed with
kill -9: the other leads within 5 s and carries on from the store (a service made before
converges to a new desired count), and a schedule fired by the old leader just before its
death does not fire again, while one due during the failover fires once."""

from __future__ import annotations

import json
import re
import subprocess
import time
from pathlib import Path
from typing import Any

from fleet import register, start_fleet, wait_until
from harness import BIN, ServerProcess
from schedules.client import scheduler_client
from schedules.test_schedule_fleet import ROLE, at, cluster_arn, scheduled_tasks

LEADS = re.compile(r"replica (\w+) leads \(epoch (\d+)\)")


def leads(server: ServerProcess, offset: int = 0) -> list[tuple[str, int]]:
    return [(m[1], int(m[2])) for m in LEADS.finditer(server.log()[offset:])]


def running(ecs: Any, cluster: str, service: str) -> list[str]:
    arns = ecs.list_tasks(cluster=cluster, serviceName=service, desiredStatus="RUNNING")
    tasks = (
        ecs.describe_tasks(cluster=cluster, tasks=arns["taskArns"])["tasks"]
        if arns["taskArns"]
        else []
    )
    return [t["taskArn"] for t in tasks if t["lastStatus"] == "RUNNING"]


def schedule(scheduler: Any, ecs: Any, cluster: str, name: str, td: str, ahead: float) -> None:
    scheduler.create_schedule(
        Name=name,
        ScheduleExpression=at(ahead),
        FlexibleTimeWindow={"Mode": "OFF"},
        Target={
            "Arn": cluster_arn(ecs, cluster),
            "RoleArn": ROLE,
            "EcsParameters": {"TaskDefinitionArn": td},
        },
    )


def start_both(servers: list[ServerProcess]) -> None:
    """Start the replicas side by side (a start is mostly imports: seconds each)."""
    offsets = []
    for server in servers:
        server.data_dir.mkdir(parents=True, exist_ok=True)
        offsets.append(server.spawn(server.command(), server.env()))
    for server, offset in zip(servers, offsets, strict=True):
        server.wait_until(server.healthy, 60, offset)


def test_the_leader_killed_another_replica_leads_within_5_s_and_carries_on(
    tmp_path: Path, postgres_url: str, name: str
) -> None:
    replicas = [
        ServerProcess(tmp_path / "a", None, "--database", postgres_url),
        ServerProcess(tmp_path / "b", None, "--database", postgres_url),
    ]
    try:
        start_both(replicas)
        leader = wait_until(
            lambda: next((r for r in replicas if leads(r)), None), timeout=10, what="a leader"
        )
        (other,) = (r for r in replicas if r is not leader)
        assert leads(other) == []
        # The agents and every call go to the other replica; the leader runs the loops.
        ecs = other.client()
        scheduler = scheduler_client(other)
        with start_fleet(other, tmp_path, name, count=2) as fleet:
            td = register(fleet.ecs, name)
            ecs.create_service(cluster=name, serviceName="web", taskDefinition=td, desiredCount=2)
            wait_until(lambda: len(running(ecs, name, "web")) == 2, timeout=30, what="2 tasks")

            fired = f"{name}-f"  # fired by the first leader before its death
            schedule(scheduler, ecs, name, fired, td, ahead=1)
            wait_until(lambda: scheduled_tasks(ecs, name, fired), timeout=20, what="a firing")
            late = f"{name}-l"  # due while nobody leads
            schedule(scheduler, ecs, name, late, td, ahead=1.5)

            offset = len(other.log())
            leader.kill()
            killed = time.monotonic()
            wait_until(lambda: leads(other, offset), timeout=10, what="a new leader")
            took = time.monotonic() - killed
            assert took <= 5.0, f"the new leader took {took:.1f} s"
            ((_, epoch),) = leads(other, offset)
            assert epoch >= 2

            ecs.update_service(cluster=name, service="web", desiredCount=4)
            wait_until(lambda: len(running(ecs, name, "web")) == 4, timeout=30, what="4 tasks")
            wait_until(lambda: scheduled_tasks(ecs, name, late), timeout=20, what="the late one")
            # The controller has made passes since: nothing fired twice, no extra task.
            wait_until(
                lambda: (
                    ecs.describe_services(cluster=name, services=["web"])["services"][0][
                        "runningCount"
                    ]
                    == 4
                ),
                timeout=10,
            )
            assert len(scheduled_tasks(ecs, name, fired)) == 1
            assert len(scheduled_tasks(ecs, name, late)) == 1
            assert len(running(ecs, name, "web")) == 4

            # `portside status` on the survivor: it leads, in the epoch it logged, and its
            # heartbeat (one a second) shows its leader loops running.
            def status() -> dict[str, Any] | None:
                out = subprocess.run(
                    [str(BIN / "portside"), "status", "--json"],
                    env=other.env(),
                    capture_output=True,
                    text=True,
                    timeout=60,
                )
                assert out.returncode == 0, out.stderr
                cluster: dict[str, Any] = json.loads(out.stdout)["cluster"]
                rows = {row["id"]: row for row in cluster["replicas"]}
                loops = {loop["name"]: loop for loop in rows[cluster["replica"]]["loops"]}
                running = not loops["services"]["standby"] and not loops["schedules"]["standby"]
                return cluster if running else None

            cluster = wait_until(status, timeout=10, what="the leader's loops in its heartbeat")
            assert cluster["leader"]["replica"] == cluster["replica"]
            assert cluster["leader"]["epoch"] == epoch
            rows = {row["id"]: row for row in cluster["replicas"]}
            assert len(rows) == 2 and rows[cluster["replica"]]["leader"] is True
            assert rows[next(r for r in rows if r != cluster["replica"])]["leader"] is False
    finally:
        for replica in replicas:
            replica.close()
