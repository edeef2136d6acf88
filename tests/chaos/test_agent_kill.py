"""kill -9 of an agent while it is stopping tasks, then the same agent started again.

`portside sim` runs four simulated instances in a process of its own, with stops that take
ten minutes (--stop-delay-ms), so the agent is caught with every stop under way: the tasks
show lastStatus STOPPING. It is killed, and started again with the same command and state
directory (it comes back as the same instances, with none of its containers, which lived in
the dead process's memory). Every task must reach STOPPED; none may be left STOPPING. The
stops are a service scaled to zero and StopTask on standalone tasks: the two ways a stop is
asked for.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from chaos.processes import sim_command
from chaos.watch import describe_service, describe_tasks, instance_arns, list_arns
from harness import ServerProcess

pytestmark = pytest.mark.slow

HEALTH_CHECK = {"command": ["CMD-SHELL", "true"], "interval": 5, "timeout": 2, "retries": 1}
TIMEOUT = 60.0


def wait_for(check: Callable[[], Any], what: str, timeout: float = TIMEOUT) -> Any:
    deadline = time.monotonic() + timeout
    while not (found := check()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)
    return found


def test_tasks_an_agent_was_stopping_when_killed_reach_stopped(
    server: ServerProcess, tmp_path: Path, name: str
) -> None:
    ecs = server.client()
    ecs.create_cluster(clusterName=name)
    sim = sim_command(server, tmp_path, name, 4, "--stop-delay-ms", "600000")
    sim.start()
    try:
        wait_for(lambda: len(instance_arns(ecs, name)) == 4, "four instances")
        container = {"name": "app", "image": "busybox", "memory": 64}
        td = ecs.register_task_definition(
            family=name, containerDefinitions=[{**container, "healthCheck": HEALTH_CHECK}]
        )["taskDefinition"]["taskDefinitionArn"]
        ecs.create_service(cluster=name, serviceName="web", taskDefinition=td, desiredCount=8)
        standalone = [
            t["taskArn"] for t in ecs.run_task(cluster=name, taskDefinition=td, count=4)["tasks"]
        ]

        def all_running() -> list[dict[str, Any]] | None:
            arns = list_arns(ecs, name, "RUNNING")
            tasks = describe_tasks(ecs, name, arns) if len(arns) == 12 else []
            ok = tasks and all(t["lastStatus"] == "RUNNING" for t in tasks)
            return tasks if ok else None

        tasks = wait_for(all_running, "twelve RUNNING tasks")
        arns = sorted(t["taskArn"] for t in tasks)

        ecs.update_service(cluster=name, service="web", desiredCount=0)
        for arn in standalone:
            ecs.stop_task(cluster=name, task=arn, reason="chaos")

        def statuses() -> dict[str, int]:
            found: dict[str, int] = {}
            for t in describe_tasks(ecs, name, arns):
                found[t["lastStatus"]] = found.get(t["lastStatus"], 0) + 1
            return found

        wait_for(lambda: statuses() == {"STOPPING": 12}, "every task STOPPING")
        sim.kill()
        assert statuses() == {"STOPPING": 12}  # the stops were under way, not done
        sim.start()

        wait_for(lambda: statuses() == {"STOPPED": 12}, f"every task STOPPED: {statuses()}")
        for t in describe_tasks(ecs, name, arns):
            assert t["desiredStatus"] == "STOPPED" and t.get("stoppedAt"), t
            assert {c["lastStatus"] for c in t["containers"]} == {"STOPPED"}, t["containers"]
        service = describe_service(ecs, name, "web")
        assert (service["runningCount"], service["pendingCount"]) == (0, 0), service
        assert len(instance_arns(ecs, name)) == 4  # the same instances came back
    finally:
        sim.stop()
