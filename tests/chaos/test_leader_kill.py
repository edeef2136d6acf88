"""kill -9 of the leading replica in the middle of a rolling deployment of 300 tasks.

Two `portside server` replicas over one PostgreSQL database; a simulated fleet (two agents of
fifteen instances, in this process) is given both, the leader first, so the kill also moves
it to the survivor (agent/endpoints.py). The service of 300 tasks is updated to a new task
definition and the leader is killed halfway through the deployment (new tasks RUNNING plus
old tasks gone: 300 of 600). The survivor must lead within 5 s and carry the deployment
through from the store: it completes within its bounds (minimumHealthyPercent 50,
maximumPercent 150, sampled throughout), every deployment started exactly its 300 tasks
(none twice), no live task belongs to no deployment or instance, and the fleet runs exactly
300 containers at the end (none the control plane forgot).

`make test` runs it with PORTSIDE_LEADER_KILL_TASKS tasks (default 300); the bench's leader
failover figures are bench/scale_out.py's.
"""

from __future__ import annotations

import os
import re
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from chaos.watch import Bounds, Watch, describe_service, instance_arns, live, orphans
from harness import ACCESS_KEY, REGION, SECRET_KEY, ServerProcess

from portside.agent.session import Agent
from portside.agent.simulated import SimulatedDriver
from portside.testing.agent import start_simulated_agent

pytestmark = pytest.mark.slow

DESIRED = int(os.environ.get("PORTSIDE_LEADER_KILL_TASKS", "300"))
BOUNDS = Bounds(DESIRED, minimum_percent=50, maximum_percent=150)
ZONES = ["us-east-1a", "us-east-1b", "us-east-1c"]
AGENTS, PER_AGENT = 2, 15
MEMORY = 64
SLOTS = BOUNDS.high * 4 // 3 // (AGENTS * PER_AGENT) + 1
HEALTH_CHECK = {"command": ["CMD-SHELL", "true"], "interval": 5, "timeout": 2, "retries": 1}
START_DELAY = 0.2  # per container: the deployment lasts long enough to be killed inside
SETTLE_TIMEOUT = 240.0
LEADS = re.compile(r"replica (\w+) leads \(epoch (\d+)\)")


def register(ecs: Any, family: str) -> str:
    container = {"name": "app", "image": "busybox", "memory": MEMORY, "healthCheck": HEALTH_CHECK}
    out = ecs.register_task_definition(family=family, containerDefinitions=[container])
    return str(out["taskDefinition"]["taskDefinitionArn"])


def progress(service: dict[str, Any], new_id: str) -> int:
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


class Sampler:
    """The service and its tasks read through the survivor, the bounds checked each time."""

    def __init__(self, ecs: Any, cluster: str, name: str) -> None:
        self.ecs, self.cluster, self.name = ecs, cluster, name
        self.new_id = ""
        self.watch = Watch(ecs, cluster, newest=lambda: self.new_id)
        self.instances = instance_arns(ecs, cluster)
        self.bounded = False
        self.deployments: list[str] = []

    def sample(self) -> dict[str, Any]:
        while True:
            service = describe_service(self.ecs, self.cluster, self.name)
            assert service["runningCount"] + service["pendingCount"] <= BOUNDS.high, service
            tasks = self.watch.snapshot()
            if tasks is None:
                continue
            if self.bounded:
                BOUNDS.check(tasks, self.name)
            lost = orphans(tasks, {d["id"] for d in service["deployments"]}, self.instances)
            assert not lost, [(t["taskArn"], t.get("startedBy"), t["lastStatus"]) for t in lost]
            return service

    def until(self, done: Any, what: str) -> dict[str, Any]:
        deadline = time.monotonic() + SETTLE_TIMEOUT
        while True:
            service = self.sample()
            if done(service):
                return service
            assert time.monotonic() < deadline, f"timed out waiting for {what}: {service}"


def leader_of(replicas: list[ServerProcess], offset: dict[int, int]) -> ServerProcess | None:
    for replica in replicas:
        if LEADS.search(replica.log()[offset.get(id(replica), 0) :]):
            return replica
    return None


def test_the_leader_killed_mid_deployment_the_other_leads_within_5_s_and_completes_it(
    tmp_path: Path, postgres_url: str
) -> None:
    replicas = [ServerProcess(tmp_path / r, None, "--database", postgres_url) for r in ("a", "b")]
    agents: list[Agent] = []
    try:
        for replica in replicas:
            replica.start()
        deadline = time.monotonic() + 15
        while (leader := leader_of(replicas, {})) is None:
            assert time.monotonic() < deadline, "no leader"
            time.sleep(0.1)
        (survivor,) = (r for r in replicas if r is not leader)
        ecs = survivor.client()
        ecs.create_cluster(clusterName="lk")
        endpoints = f"{leader.endpoint},{survivor.endpoint}"
        for i in range(AGENTS):
            agents.append(
                start_simulated_agent(
                    endpoints,
                    ACCESS_KEY,
                    SECRET_KEY,
                    tmp_path / f"agent{i}",
                    "lk",
                    region=REGION,
                    zone=ZONES[0],
                    zones=ZONES,
                    instances=PER_AGENT,
                    driver=SimulatedDriver(memory=SLOTS * MEMORY, start_delay=START_DELAY),
                )
            )
        run = Sampler(ecs, "lk", "web")
        assert len(run.instances) == AGENTS * PER_AGENT
        ecs.create_service(
            cluster="lk",
            serviceName="web",
            taskDefinition=register(ecs, "web"),
            desiredCount=DESIRED,
            deploymentConfiguration={
                "minimumHealthyPercent": BOUNDS.minimum_percent,
                "maximumPercent": BOUNDS.maximum_percent,
            },
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

        td = register(ecs, "web")
        updated = ecs.update_service(cluster="lk", service="web", taskDefinition=td)
        run.new_id = updated["service"]["deployments"][0]["id"]
        run.deployments.append(run.new_id)
        seen = run.until(
            lambda s: progress(s, run.new_id) >= DESIRED or completed(s, run.new_id), "halfway"
        )
        assert not completed(seen, run.new_id), "the deployment finished before the kill"
        offset = {id(survivor): len(survivor.log())}
        leader.kill()
        killed = time.monotonic()
        while leader_of([survivor], offset) is None:
            assert time.monotonic() - killed < 10, "no new leader"
            time.sleep(0.05)
        took = time.monotonic() - killed
        assert took <= 5.0, f"the new leader took {took:.1f} s"

        run.until(lambda s: completed(s, run.new_id), "the deployment to complete")
        settle(run, td)
        wanted = len(live(run.watch.known.values()))
        deadline = time.monotonic() + SETTLE_TIMEOUT
        while (
            n := sum(
                len(a.driver.running()) for a in agents if isinstance(a.driver, SimulatedDriver)
            )
        ) != wanted:
            assert time.monotonic() < deadline, f"the fleet runs {n} containers for {wanted}"
            time.sleep(0.1)
        assert all(a.client.endpoint == survivor.endpoint for a in agents)
    finally:
        for agent in agents:
            agent.stop()
        for replica in replicas:
            replica.close()


def settle(run: Sampler, td: str) -> None:
    """300 RUNNING tasks of the new definition, started once each by the new deployment,
    every other task STOPPED."""

    def quiet(_: dict[str, Any]) -> bool:
        tasks = run.watch.snapshot() or []
        return bool(tasks) and not [
            t for t in tasks if t["desiredStatus"] == "STOPPED" and t["lastStatus"] != "STOPPED"
        ]

    run.until(quiet, "every stopped task to reach STOPPED")
    tasks = list(run.watch.known.values())
    up = live(tasks)
    assert len(up) == DESIRED, len(up)
    assert {t["taskDefinitionArn"] for t in up} == {td}
    assert {t["startedBy"] for t in up} == {run.new_id}
    assert {t["lastStatus"] for t in up} == {"RUNNING"}
    made = Counter(t.get("startedBy") for t in tasks)
    assert made == dict.fromkeys(run.deployments, DESIRED), made
