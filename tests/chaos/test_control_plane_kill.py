"""kill -9 of the control plane in the middle of rolling deployments, again and again.

A service of 200 tasks on a simulated fleet (two agents of ten instances, in this process,
with room for a third more than maximumPercent of the tasks, so the controller and not the
fleet holds that bound) is updated to a new task definition; the server is killed with
SIGKILL at random points of the deployment and restarted each time on the same data
directory and port. A point is a position in the deployment's progress (new tasks RUNNING
plus old tasks gone, 0..400, drawn with PORTSIDE_CHAOS_SEED), so it does not depend on how
fast this machine is; the points a deployment completes before (it goes on while the server
restarts) are drawn again for another deployment, until all N kills have landed inside one.

Between kills the test samples the service: live tasks never exceed maximumPercent, healthy
ones never drop under minimumHealthyPercent, and every live task belongs to one of the
service's deployments and to a registered instance. At the end the last deployment has
completed with 200 tasks of its definition, every deployment started exactly its 200 tasks
(none twice), no task is left between states, and the fleet runs exactly 200 containers.

`make test` kills at PORTSIDE_CHAOS_POINTS points (default 4); `bench/soak.py --chaos-points
20` runs all 20 and reads the figures this test writes to PORTSIDE_CHAOS_REPORT.
"""

from __future__ import annotations

import json
import os
import random
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from chaos.watch import Bounds, Watch, describe_service, instance_arns, live, orphans
from harness import ACCESS_KEY, REGION, SECRET_KEY, ServerProcess

from portside.agent.session import Agent
from portside.agent.simulated import SimulatedDriver
from portside.testing.agent import start_simulated_agent

pytestmark = pytest.mark.slow

POINTS = int(os.environ.get("PORTSIDE_CHAOS_POINTS", "4"))
SEED = int(os.environ.get("PORTSIDE_CHAOS_SEED", "12"))
REPORT = os.environ.get("PORTSIDE_CHAOS_REPORT")

DESIRED = 200
BOUNDS = Bounds(DESIRED, minimum_percent=50, maximum_percent=150)
ZONES = ["us-east-1a", "us-east-1b", "us-east-1c"]
AGENTS, PER_AGENT = 2, 10
MEMORY = 128  # per task
# Room for a third more than maximumPercent: the controller, not the fleet, holds the bound.
SLOTS = BOUNDS.high * 4 // 3 // (AGENTS * PER_AGENT)
HEALTH_CHECK = {"command": ["CMD-SHELL", "true"], "interval": 5, "timeout": 2, "retries": 1}
# Each container takes this long to start (eight at a time per agent): the deployment takes
# long enough for the samples and kills to land inside it.
START_DELAY = 0.4
SETTLE_TIMEOUT = 240.0


@contextmanager
def fleet(server: ServerProcess, root: Path, cluster: str) -> Iterator[list[Agent]]:
    agents: list[Agent] = []
    try:
        for i in range(AGENTS):
            agents.append(
                start_simulated_agent(
                    server.endpoint,
                    ACCESS_KEY,
                    SECRET_KEY,
                    root / f"agent{i}",
                    cluster,
                    region=REGION,
                    zone=ZONES[0],
                    zones=ZONES,
                    instances=PER_AGENT,
                    driver=SimulatedDriver(memory=SLOTS * MEMORY, start_delay=START_DELAY),
                )
            )
        yield agents
    finally:
        for agent in agents:
            agent.stop()


def register(ecs: Any, family: str) -> str:
    container = {"name": "app", "image": "busybox", "memory": MEMORY, "healthCheck": HEALTH_CHECK}
    out = ecs.register_task_definition(family=family, containerDefinitions=[container])
    return str(out["taskDefinition"]["taskDefinitionArn"])


def progress(service: dict[str, Any], new_id: str) -> int:
    """New tasks RUNNING plus old tasks no longer running: 0 at the update, 400 when done."""
    deps = service["deployments"]
    new = sum(d["runningCount"] for d in deps if d["id"] == new_id)
    old = sum(d["runningCount"] for d in deps if d["id"] != new_id)
    return new + DESIRED - old


def completed(service: dict[str, Any], new_id: str) -> bool:
    deps = service["deployments"]
    return (
        len(deps) == 1
        and deps[0]["id"] == new_id
        and deps[0]["rolloutState"] == "COMPLETED"
        and (service["runningCount"], service["pendingCount"]) == (DESIRED, 0)
    )


class Run:
    """The deployment under fire: samples, kills, restarts, and what they saw."""

    def __init__(self, server: ServerProcess, agents: list[Agent], cluster: str, name: str) -> None:
        self.server = server
        self.agents = agents
        self.cluster = cluster
        self.name = name
        self.ecs = server.client()
        self.new_id = ""
        self.watch = Watch(self.ecs, cluster, newest=lambda: self.new_id)
        self.instances = instance_arns(self.ecs, cluster)
        self.most_live = 0
        self.fewest_healthy = DESIRED
        self.kills: list[dict[str, Any]] = []
        self.bounded = False  # the bounds hold from the first deployment's completion on
        self.deployments: list[str] = []  # every deployment's id, oldest first

    def service(self) -> dict[str, Any]:
        found = describe_service(self.ecs, self.cluster, self.name)
        assert found["runningCount"] + found["pendingCount"] <= BOUNDS.high, found
        return found

    def sample(self) -> dict[str, Any]:
        """Check the bounds on a consistent snapshot; the service as read before it."""
        while True:
            service = self.service()
            deployments = {d["id"] for d in service["deployments"]}
            tasks = self.watch.snapshot()
            if tasks is None:
                continue
            if self.bounded:
                up, fine = BOUNDS.check(tasks, self.name)
                self.most_live = max(self.most_live, up)
                self.fewest_healthy = min(self.fewest_healthy, fine)
            lost = orphans(tasks, deployments, self.instances)
            assert not lost, [(t["taskArn"], t.get("startedBy"), t["lastStatus"]) for t in lost]
            return service

    def until(self, done: Any, what: str) -> dict[str, Any]:
        """Sample until `done(service)`; the service that satisfied it."""
        deadline = time.monotonic() + SETTLE_TIMEOUT
        while True:
            service = self.sample()
            if done(service):
                return service
            assert time.monotonic() < deadline, f"timed out waiting for {what}: {service}"

    def kill_and_restart(self, at: int, seen: int) -> None:
        assert self.server.proc is not None
        pid = self.server.proc.pid
        began = time.monotonic()
        self.server.kill()
        self.server.start(timeout=60)
        self.kills.append(
            {"point": at, "progress": seen, "pid": pid, "restart_s": time.monotonic() - began}
        )
        # A fresh client: the old one's kept-alive connections died with the server.
        self.ecs = self.watch.ecs = self.server.client()


def test_rolling_deployment_survives_control_plane_kills(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "server").start()
    began = time.monotonic()
    rng = random.Random(SEED)
    try:
        ecs = server.client()
        ecs.create_cluster(clusterName="chaos")
        with fleet(server, tmp_path, "chaos") as agents:
            run = Run(server, agents, "chaos", "web")
            assert len(run.instances) == AGENTS * PER_AGENT
            config = {
                "minimumHealthyPercent": BOUNDS.minimum_percent,
                "maximumPercent": BOUNDS.maximum_percent,
            }
            ecs.create_service(
                cluster="chaos",
                serviceName="web",
                taskDefinition=register(ecs, "web"),
                desiredCount=DESIRED,
                deploymentConfiguration=config,
                # Each task is started once by its deployment: zone rebalancing, which would
                # move tasks after a deployment completes, is off.
                availabilityZoneRebalancing="DISABLED",
            )
            first = run.until(
                lambda s: (
                    len(s["deployments"]) == 1
                    and s["deployments"][0]["rolloutState"] == "COMPLETED"
                    and s["runningCount"] == DESIRED
                ),
                "the first deployment",
            )
            run.deployments.append(first["deployments"][0]["id"])
            run.bounded = True
            # Deployment after deployment until every kill has landed inside one: the points
            # a deployment finishes before are drawn again for the next.
            while len(run.kills) < POINTS:
                td = register(ecs, "web")
                roll_out(
                    run, td, sorted(rng.sample(range(1, 2 * DESIRED), POINTS - len(run.kills)))
                )
            settle(run, td)
            agents_running = running_containers(run)
    finally:
        server.stop()
    figures = {
        "points": POINTS,
        "seed": SEED,
        "deployments": len(run.deployments) - 1,
        "kills": run.kills,
        "samples": run.watch.samples,
        "most_live": run.most_live,
        "fewest_healthy": run.fewest_healthy,
        "bounds": {"low": BOUNDS.low, "high": BOUNDS.high},
        "containers_running_at_end": agents_running,
        "seconds": round(time.monotonic() - began, 1),
    }
    if REPORT:
        Path(REPORT).write_text(json.dumps(figures, indent=2))


def roll_out(run: Run, td: str, points: list[int]) -> None:
    """UpdateService to `td`; a kill at each point the deployment reaches before it
    completes; then wait for it to complete."""
    updated = run.ecs.update_service(cluster=run.cluster, service=run.name, taskDefinition=td)
    run.new_id = updated["service"]["deployments"][0]["id"]
    assert run.new_id not in run.deployments
    run.deployments.append(run.new_id)
    for at in points:
        service = run.until(
            lambda s, at=at: progress(s, run.new_id) >= at or completed(s, run.new_id),
            f"progress {at}",
        )
        if completed(service, run.new_id):
            break
        run.kill_and_restart(at, progress(service, run.new_id))
    run.until(lambda s: completed(s, run.new_id), "the deployment to complete")


def settle(run: Run, td: str) -> None:
    """The end state: 200 RUNNING tasks of the new definition, started once each by the new
    deployment, every other task STOPPED."""

    def quiet(_: dict[str, Any]) -> bool:
        tasks = run.watch.snapshot() or []
        stopping = [
            t for t in tasks if t["desiredStatus"] == "STOPPED" and t["lastStatus"] != "STOPPED"
        ]
        return bool(tasks) and not stopping

    run.until(quiet, "every stopped task to reach STOPPED")
    tasks = list(run.watch.known.values())
    up = live(tasks)
    assert len(up) == DESIRED, len(up)
    assert {t["taskDefinitionArn"] for t in up} == {td}
    assert {t["lastStatus"] for t in up} == {"RUNNING"}
    assert {t["startedBy"] for t in up} == {run.new_id}
    assert {t["containerInstanceArn"] for t in up} <= run.instances
    # No task was started twice: each deployment made exactly its 200 tasks.
    made = Counter(t.get("startedBy") for t in tasks)
    assert made == dict.fromkeys(run.deployments, DESIRED), made


def running_containers(run: Run) -> int:
    """Wait until the fleet runs exactly one container per live task (none left over from a
    task the control plane forgot); that count."""
    wanted = len(live(run.watch.known.values()))

    def count() -> int:
        drivers = [agent.driver for agent in run.agents]
        return sum(len(d.running()) for d in drivers if isinstance(d, SimulatedDriver))

    deadline = time.monotonic() + SETTLE_TIMEOUT
    while (n := count()) != wanted:
        assert time.monotonic() < deadline, f"the fleet runs {n} containers for {wanted}"
        time.sleep(0.1)
    return n
