"""A fleet of in-process agents on the simulated driver, registered to a fresh cluster of a
real `portside server`: what API tests run tasks on.

    with start_fleet(server, tmp, "c1", count=2, zones=["us-east-1a", "us-east-1b"]) as fleet:
        fleet.ecs.run_task(cluster=fleet.cluster, ...)
        fleet.driver_of(instance_arn).exit(runtime_id, 1)

Each agent is one container instance with its own SimulatedDriver (so faults are injected per
host) and its own state directory. Only one agent in a server should offer FARGATE capacity
at a time: RunTask sends Fargate tasks to the newest registered capacity. What the agents
log is checked after each test as a server's log is (tests/logcheck.py, InProcessLog).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness import ACCESS_KEY, REGION, SECRET_KEY, ServerProcess

from portside.agent.runner import ContainerRun, TaskRun
from portside.agent.session import Agent
from portside.agent.simulated import SimulatedDriver
from portside.testing.agent import start_simulated_agent

FARGATE_PROVIDERS = ["FARGATE", "FARGATE_SPOT"]


@dataclass
class Fleet:
    ecs: Any
    cluster: str
    agents: list[Agent] = field(default_factory=list)

    @property
    def instance_arns(self) -> list[str]:
        return [a.instance_arn for a in self.agents]

    def agent_of(self, instance_arn: str) -> Agent:
        return next(a for a in self.agents if instance_arn in a.workers)

    def driver_of(self, instance_arn: str) -> SimulatedDriver:
        driver = self.agent_of(instance_arn).driver
        assert isinstance(driver, SimulatedDriver)
        return driver

    def run_of(self, task: Mapping[str, Any]) -> TaskRun:
        """The agent's run of a task (as RunTask or DescribeTasks returned it)."""
        instance = task.get("containerInstanceArn")
        for agent in self.agents:
            for worker in agent.workers.values():
                if instance in (None, worker.instance_arn) and task["taskArn"] in worker.runs:
                    return worker.runs[task["taskArn"]]
        raise AssertionError(f"no agent runs {task['taskArn']}")

    def container_run(self, task: Mapping[str, Any], name: str) -> ContainerRun:
        return self.run_of(task).containers[name]

    def stop(self) -> None:
        for agent in self.agents:
            agent.stop()


def start_agent(
    server: ServerProcess,
    state_dir: Path,
    cluster: str,
    *,
    zone: str = "us-east-1a",
    attributes: Mapping[str, str] | None = None,
    cpu: int = 4096,
    memory: int = 16384,
    fargate: bool = False,
    driver: SimulatedDriver | None = None,
) -> Agent:
    return start_simulated_agent(
        server.endpoint,
        ACCESS_KEY,
        SECRET_KEY,
        state_dir,
        cluster,
        region=REGION,
        zone=zone,
        attributes=attributes,
        cpu=cpu,
        memory=memory,
        fargate=fargate,
        driver=driver,
    )


@contextmanager
def start_fleet(
    server: ServerProcess,
    root: Path,
    cluster: str,
    *,
    count: int = 1,
    zones: Sequence[str] = ("us-east-1a",),
    attributes: Sequence[Mapping[str, str]] = (),
    cpu: int = 4096,
    memory: int = 16384,
    fargate: bool = False,
    **create_cluster: Any,
) -> Iterator[Fleet]:
    """A fresh cluster (CreateCluster with `create_cluster` as extra parameters) and `count`
    agents on it, the i-th in zones[i % len(zones)] with attributes[i] (when given). The
    first agent also offers FARGATE capacity when `fargate` is set."""
    ecs = server.client()
    ecs.create_cluster(clusterName=cluster, **create_cluster)
    fleet = Fleet(ecs, cluster)
    try:
        for i in range(count):
            fleet.agents.append(
                start_agent(
                    server,
                    root / f"{cluster}-agent{i}",
                    cluster,
                    zone=zones[i % len(zones)],
                    attributes=attributes[i] if i < len(attributes) else None,
                    cpu=cpu,
                    memory=memory,
                    fargate=fargate and i == 0,
                )
            )
        yield fleet
    finally:
        fleet.stop()


def wait_until(check: Callable[[], Any], timeout: float = 10, what: str = "") -> Any:
    """Poll `check` until it returns something truthy, and return that."""
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        assert time.monotonic() < deadline, f"timed out waiting for {what or check}"
        time.sleep(0.03)


def describe_task(ecs: Any, cluster: str, arn: str, **kwargs: Any) -> dict[str, Any]:
    out = ecs.describe_tasks(cluster=cluster, tasks=[arn], **kwargs)
    assert out["failures"] == [], out["failures"]
    return out["tasks"][0]


def wait_for_status(
    ecs: Any, cluster: str, arn: str, status: str, timeout: float = 10
) -> dict[str, Any]:
    """Describe the task until its lastStatus is `status`; return that description."""
    last: dict[str, Any] = {}

    def reached() -> dict[str, Any] | None:
        last.update(describe_task(ecs, cluster, arn))
        return dict(last) if last["lastStatus"] == status else None

    try:
        return wait_until(reached, timeout)
    except AssertionError:
        raise AssertionError(f"task never reached {status}: {last}") from None


def register(ecs: Any, family: str, **extra: Any) -> str:
    """Register a task definition (one 64 MiB busybox container unless `containers` is
    given) and return its ARN."""
    containers = extra.pop("containers", [{"name": "app", "image": "busybox", "memory": 64}])
    out = ecs.register_task_definition(family=family, containerDefinitions=containers, **extra)
    return out["taskDefinition"]["taskDefinitionArn"]


def remaining(ecs: Any, cluster: str, instance_arn: str) -> dict[str, Any]:
    """An instance's remainingResources by name: CPU and MEMORY as ints, PORTS as a set."""
    inst = ecs.describe_container_instances(cluster=cluster, containerInstances=[instance_arn])[
        "containerInstances"
    ][0]
    out: dict[str, Any] = {}
    for r in inst["remainingResources"]:
        if r["type"] == "STRINGSET":
            out[r["name"]] = set(r.get("stringSetValue") or ())
        else:
            out[r["name"]] = r["integerValue"]
    return out
