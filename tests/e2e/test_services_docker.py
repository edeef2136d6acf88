"""Services end to end: a real server, `portside agent --driver docker` as a subprocess, a
real Docker Engine, boto3 and the docker CLI. What a user of a service looks at: the service
holds its desired count when a container dies, a deployment that cannot start trips the
circuit breaker and rolls back, and a rolling deployment never leaves the service without an
endpoint that answers.

Every task runs busybox httpd with a container health check (CMD-SHELL wget, interval 5 s,
ECS's minimum): a task with one counts as healthy as soon as Docker says so, where one
without would wait 40 s. `initProcessEnabled` puts docker-init in front of httpd, so SIGTERM
ends it at once (httpd as PID 1 would ignore it until stopTimeout).
"""

from __future__ import annotations

import itertools
import json
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from e2e.images import busybox_image, docker_available

if TYPE_CHECKING:
    from e2e.conftest import AgentProcess

_unavailable = docker_available()
pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(_unavailable is not None, reason=f"no Docker for e2e: {_unavailable}"),
]

MISSING_IMAGE = "portside-test/does-not-exist:1"
# Serves its own VERSION, so a poll tells which deployment answered.
SERVE_VERSION = (
    'mkdir -p /tmp/www && echo "$VERSION" > /tmp/www/index.html '
    "&& exec httpd -f -p 8080 -h /tmp/www"
)
HEALTH_CHECK = {
    "command": ["CMD-SHELL", "wget -qO- http://localhost:8080/ || exit 1"],
    "interval": 5,
    "timeout": 2,
    "retries": 2,
}
ROLLING = {"maximumPercent": 200, "minimumHealthyPercent": 100}
BREAKER = {**ROLLING, "deploymentCircuitBreaker": {"enable": True, "rollback": True}}
BREAKER_FAILED = "ECS deployment circuit breaker: tasks failed to start."
POLL_S = 0.1


def web(version: str = "1", **extra: Any) -> dict[str, Any]:
    """httpd on 8080 (a dynamic host port: bridge network), healthy once it answers."""
    return {
        "name": "web",
        "image": busybox_image(),
        "memory": 32,
        "command": ["sh", "-c", SERVE_VERSION],
        "environment": [{"name": "VERSION", "value": version}],
        "portMappings": [{"containerPort": 8080}],
        "healthCheck": HEALTH_CHECK,
        "linuxParameters": {"initProcessEnabled": True},
        "stopTimeout": 2,
        **extra,
    }


def register(ecs: Any, family: str, container: dict[str, Any]) -> str:
    out = ecs.register_task_definition(family=family, containerDefinitions=[container])
    return str(out["taskDefinition"]["taskDefinitionArn"])


def docker(*args: str) -> str:
    proc = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, f"docker {' '.join(args)}: {proc.stderr}"
    return proc.stdout


def host_port(task: dict[str, Any]) -> int | None:
    for binding in task["containers"][0].get("networkBindings") or ():
        if binding.get("containerPort") == 8080 and binding.get("hostPort"):
            return int(binding["hostPort"])
    return None


def primary(service: dict[str, Any]) -> dict[str, Any]:
    return dict(next(d for d in service["deployments"] if d["status"] == "PRIMARY"))


@dataclass
class Services:
    """Creates services on the agent's cluster and deletes them (force) afterwards."""

    ecs: Any
    agent: AgentProcess
    names: list[str] = field(default_factory=list)
    # One HTTP client (httpx.get would build one, an SSL context included, every call); a
    # new connection per request, as a load balancer's health check makes.
    http: httpx.Client = field(
        default_factory=lambda: httpx.Client(headers={"Connection": "close"})
    )

    @property
    def cluster(self) -> str:
        return self.agent.cluster

    def create(self, prefix: str, td: str, desired: int, **extra: Any) -> str:
        name = f"{prefix}-{uuid.uuid4().hex[:6]}"
        self.ecs.create_service(
            cluster=self.cluster,
            serviceName=name,
            taskDefinition=td,
            desiredCount=desired,
            launchType="EC2",
            **extra,
        )
        self.names.append(name)
        return name

    def fetch(self, port: int) -> str | None:
        """The body httpd serves on a host port, or None when it does not answer 200."""
        try:
            response = self.http.get(f"http://127.0.0.1:{port}/", timeout=1.0)
        except httpx.HTTPError:
            return None
        return response.text.strip() if response.status_code == 200 else None

    def describe(self, name: str) -> dict[str, Any]:
        out = self.ecs.describe_services(cluster=self.cluster, services=[name])
        assert out["failures"] == [], out["failures"]
        return dict(out["services"][0])

    def tasks(self, name: str, desired: str = "RUNNING") -> list[dict[str, Any]]:
        """The service's tasks that ListTasks gives for a desired status, described."""
        arns = self.ecs.list_tasks(cluster=self.cluster, serviceName=name, desiredStatus=desired)[
            "taskArns"
        ]
        if not arns:
            return []
        return list(self.ecs.describe_tasks(cluster=self.cluster, tasks=arns)["tasks"])

    def describe_tasks(self, arns: list[str]) -> list[dict[str, Any]]:
        return list(self.ecs.describe_tasks(cluster=self.cluster, tasks=arns)["tasks"])

    def running(self, name: str) -> list[dict[str, Any]]:
        return [t for t in self.tasks(name) if t["lastStatus"] == "RUNNING"]

    def wait(
        self, name: str, until: Callable[[dict[str, Any]], bool], timeout: float = 60
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            service = self.describe(name)
            if until(service):
                return service
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"service {name} never got there: "
                    f"{json.dumps(service, default=str, indent=1)[:6000]}\n"
                    f"agent log:\n{self.agent.log()[-3000:]}"
                )
            time.sleep(POLL_S)

    def wait_steady(self, name: str, desired: int, timeout: float = 60) -> dict[str, Any]:
        """One deployment, COMPLETED, `desired` tasks running."""

        def steady(s: dict[str, Any]) -> bool:
            (only, *more) = s["deployments"]
            return (
                not more
                and only["rolloutState"] == "COMPLETED"
                and s["runningCount"] == desired
                and s["pendingCount"] == 0
            )

        return self.wait(name, steady, timeout)

    def close(self) -> None:
        """Delete every service (force), then wait a little for its tasks to stop."""
        self.http.close()
        for name in self.names:
            try:
                self.ecs.delete_service(cluster=self.cluster, service=name, force=True)
            except Exception as exc:
                print(f"deleting service {name}: {exc}")
        groups = {f"service:{name}" for name in self.names}
        deadline = time.monotonic() + 30
        while groups:
            left = [
                t["taskArn"]
                for desired in ("RUNNING", "STOPPED")
                for t in self._cluster_tasks(desired)
                if t.get("group") in groups and t["lastStatus"] != "STOPPED"
            ]
            if not left:
                break
            if time.monotonic() > deadline:
                print(f"tasks still stopping at teardown: {left}")
                break
            time.sleep(0.2)

    def _cluster_tasks(self, desired: str) -> list[dict[str, Any]]:
        arns = self.ecs.list_tasks(cluster=self.cluster, desiredStatus=desired)["taskArns"]
        out: list[dict[str, Any]] = []
        for i in range(0, len(arns), 100):
            out += self.describe_tasks(arns[i : i + 100])
        return out


@pytest.fixture
def services(ecs: Any, agent: AgentProcess) -> Iterator[Services]:
    made = Services(ecs, agent)
    try:
        yield made
    finally:
        made.close()


# -- 1: a killed container is replaced ------------------------------------------------------


def test_killed_container_is_replaced(services: Services) -> None:
    ecs = services.ecs
    td = register(ecs, "e2e-svc-" + uuid.uuid4().hex[:8], web())
    name = services.create("kill", td, 1)
    service = services.wait_steady(name, 1)
    deployment = primary(service)["id"]
    (old,) = services.running(name)
    assert old["group"] == f"service:{name}" and old["startedBy"] == deployment
    runtime_id = old["containers"][0]["runtimeId"]

    t0 = time.monotonic()
    docker("kill", runtime_id)
    killed = time.monotonic()
    saw_stopped: float | None = None
    while True:
        running = services.running(name)
        new = [t for t in running if t["taskArn"] != old["taskArn"]]
        if new:
            break
        if saw_stopped is None:
            (again,) = services.describe_tasks([old["taskArn"]])
            if again["lastStatus"] == "STOPPED":
                saw_stopped = time.monotonic()
        assert time.monotonic() - t0 < 30, (
            f"no replacement in 30 s:\n{services.agent.log()[-3000:]}"
        )
        time.sleep(0.05)
    replaced = time.monotonic()
    (replacement,) = new
    stopped_ms = f"{(saw_stopped - t0) * 1000:.0f} ms" if saw_stopped else "not seen"
    print(
        f"\nreplacement of a killed container: docker kill -> new task RUNNING "
        f"{(replaced - t0) * 1000:.0f} ms (docker kill returned after "
        f"{(killed - t0) * 1000:.0f} ms; old task seen STOPPED after {stopped_ms})"
    )

    (stopped,) = services.describe_tasks([old["taskArn"]])
    assert stopped["lastStatus"] == "STOPPED"
    assert stopped["stopCode"] == "EssentialContainerExited"
    assert stopped["stoppedReason"] == "Essential container in task exited"
    assert stopped["containers"][0]["exitCode"] == 137
    state = json.loads(docker("inspect", runtime_id))[0]["State"]
    assert state["Running"] is False and state["ExitCode"] == 137
    assert replacement["startedBy"] == deployment  # the same deployment, not a new one
    assert replacement["group"] == f"service:{name}"
    assert replacement["containers"][0]["runtimeId"] != runtime_id
    assert replacement["createdAt"].timestamp() >= stopped["stoppedAt"].timestamp() - 1
    assert replaced - t0 < 15, "replacement took too long"

    service = services.wait_steady(name, 1, timeout=30)  # healthy again, still one deployment
    assert primary(service)["id"] == deployment
    messages = [e["message"] for e in service["events"]]
    assert any(f"(task {replacement['taskArn'].rsplit('/', 1)[1]})" in m for m in messages), (
        messages
    )
    port = host_port(services.running(name)[0])
    assert port is not None and services.fetch(port) == "1"


# -- 2: the circuit breaker rolls back ------------------------------------------------------


def test_circuit_breaker_rolls_back_a_deployment_that_cannot_start(services: Services) -> None:
    ecs = services.ecs
    family = "e2e-svc-" + uuid.uuid4().hex[:8]
    good = register(ecs, family, web())
    bad = register(ecs, family, web(image=MISSING_IMAGE))
    name = services.create("breaker", good, 2, deploymentConfiguration=BREAKER)
    first = primary(services.wait_steady(name, 2))
    assert first["taskDefinition"] == good
    originals = {t["taskArn"] for t in services.running(name)}

    t0 = time.monotonic()
    updated = ecs.update_service(cluster=services.cluster, service=name, taskDefinition=bad)
    failing = primary(updated["service"])
    assert failing["taskDefinition"] == bad and failing["rolloutState"] == "IN_PROGRESS"
    # Until the rollback has completed: the good revision keeps running all along.
    fewest_good = 2
    tripped_at: float | None = None
    rolled_back: dict[str, Any] = {}  # the new PRIMARY when first seen
    failed_seen: dict[str, Any] = {}  # the failed deployment, last seen
    while True:
        service = services.describe(name)
        good_running = [
            t
            for t in services.running(name)
            if t["taskDefinitionArn"] == good and t["desiredStatus"] == "RUNNING"
        ]
        fewest_good = min(fewest_good, len(good_running))
        deployments = {d["id"]: d for d in service["deployments"]}
        if failing["id"] in deployments:
            failed_seen = deployments[failing["id"]]
        if tripped_at is None and service["taskDefinition"] == good:
            tripped_at = time.monotonic()
            rolled_back = primary(service)
        if (
            tripped_at is not None
            and failing["id"] not in deployments
            and len(deployments) == 1
            and primary(service)["rolloutState"] == "COMPLETED"
            and service["runningCount"] == 2
        ):
            break
        assert time.monotonic() - t0 < 90, json.dumps(service, default=str, indent=1)[:6000]
        time.sleep(POLL_S)
    done = time.monotonic()
    assert tripped_at is not None
    print(
        f"\ncircuit breaker: UpdateService -> rolled back {(tripped_at - t0):.1f} s, "
        f"rollback COMPLETED {(done - t0):.1f} s; fewest RUNNING tasks of the good revision "
        f"meanwhile: {fewest_good}"
    )
    assert fewest_good >= 2  # minimumHealthyPercent 100: never fewer than desired

    # While it rolled back: the failed deployment FAILED, the new PRIMARY said why it came.
    assert failed_seen["status"] == "ACTIVE", failed_seen
    assert failed_seen["rolloutState"] == "FAILED", failed_seen
    assert failed_seen["rolloutStateReason"] == BREAKER_FAILED, failed_seen
    assert failed_seen["failedTasks"] >= 3, failed_seen
    assert rolled_back["rolloutStateReason"] == (
        f"ECS deployment circuit breaker: rolling back to deploymentId {first['id']}."
    )
    rollback = primary(service)
    assert rollback["id"] == rolled_back["id"]
    assert rollback["taskDefinition"] == good and service["taskDefinition"] == good
    assert rollback["id"] not in (first["id"], failing["id"])
    # The failed deployment, as ListServiceDeployments / DescribeServiceDeployments tell it.
    history = ecs.list_service_deployments(cluster=services.cluster, service=name)
    arns = [d["serviceDeploymentArn"] for d in history["serviceDeployments"]]
    described = ecs.describe_service_deployments(serviceDeploymentArns=arns)
    by_id = {
        d["serviceDeploymentArn"].rsplit("/", 1)[1]: d for d in described["serviceDeployments"]
    }
    failed = by_id[failing["id"].removeprefix("ecs-svc/")]
    assert failed["status"] == "ROLLBACK_SUCCESSFUL", failed
    assert failed["deploymentCircuitBreaker"]["status"] == "TRIGGERED", failed
    assert failed["deploymentCircuitBreaker"]["failureCount"] >= 3, failed
    messages = [e["message"] for e in service["events"]]
    failed_msg = f"(service {name}) (deployment {failing['id']}) deployment failed: tasks failed"
    assert any(m.startswith(failed_msg) for m in messages), messages
    assert f"(service {name}) rolling back to deployment {first['id']}." in messages, messages

    # The tasks of the failed revision never ran and say why; one still starting when the
    # breaker tripped may have been stopped by the rollback before its agent reported.
    stopped = [t for t in services.tasks(name, "STOPPED") if t["taskDefinitionArn"] == bad]
    failed_to_start = [t for t in stopped if t["stopCode"] == "TaskFailedToStart"]
    assert len(failed_to_start) >= 3, stopped
    for task in stopped:
        assert task["lastStatus"] == "STOPPED" and "startedAt" not in task, task
        if task["stopCode"] == "TaskFailedToStart":
            assert task["stoppedReason"].startswith("CannotPullContainerError"), task
            assert task["containers"][0]["reason"] == task["stoppedReason"], task
        else:
            assert task["stopCode"] == "ServiceSchedulerInitiated", task
            assert task["stoppedReason"] == (
                f"Scaling activity initiated by (deployment {rollback['id']})"
            ), task
    # The good revision runs (the rollback deployment's own tasks took over from the first's).
    running = services.running(name)
    assert {t["taskDefinitionArn"] for t in running} == {good} and len(running) == 2
    assert {t["startedBy"] for t in running} == {rollback["id"]}
    assert originals.isdisjoint(t["taskArn"] for t in running)
    assert all(services.fetch(p) == "1" for p in map(host_port, running) if p is not None)


# -- 3: a rolling deployment keeps the service answering ------------------------------------


@dataclass
class Poll:
    at: float  # seconds since the UpdateService call
    endpoints: int  # RUNNING tasks (desiredStatus RUNNING) with a host port
    answers: list[str]  # the bodies of those that answered 200 (the version they serve)


def test_rolling_deployment_keeps_the_service_answering(services: Services) -> None:
    ecs = services.ecs
    family = "e2e-svc-" + uuid.uuid4().hex[:8]
    v1 = register(ecs, family, web("1"))
    v2 = register(ecs, family, web("2"))
    name = services.create("rolling", v1, 2, deploymentConfiguration=ROLLING)
    services.wait_steady(name, 2)
    before = services.running(name)
    assert sorted(services.fetch(p) or "-" for p in map(host_port, before) if p) == ["1", "1"]

    t0 = time.monotonic()
    updated = ecs.update_service(cluster=services.cluster, service=name, taskDefinition=v2)
    new_id = primary(updated["service"])["id"]
    polls: list[Poll] = []
    while True:
        started = time.monotonic()
        tasks = [t for t in services.tasks(name) if t["lastStatus"] == "RUNNING"]
        ports = [p for p in map(host_port, tasks) if p is not None]
        answers = [a for a in map(services.fetch, ports) if a is not None]
        polls.append(Poll(started - t0, len(ports), answers))
        service = services.describe(name)
        (only, *more) = service["deployments"]
        if (
            not more
            and only["id"] == new_id
            and only["rolloutState"] == "COMPLETED"
            and len(tasks) == 2
            and {t["taskDefinitionArn"] for t in tasks} == {v2}
        ):
            break
        assert started - t0 < 90, json.dumps(service, default=str, indent=1)[:6000]
        time.sleep(max(0.0, POLL_S - (time.monotonic() - started)))
    elapsed = time.monotonic() - t0

    silent = [p for p in polls if not p.answers]
    both = [p for p in polls if {"1", "2"} <= set(p.answers)]
    gaps = [b.at - a.at for a, b in itertools.pairwise(polls)]
    print(
        f"\nrolling deployment of 2 tasks (100/200): COMPLETED after {elapsed:.1f} s; "
        f"{len(polls)} polls (every {1000 * sum(gaps) / max(1, len(gaps)):.0f} ms on average, "
        f"longest gap {1000 * max(gaps, default=0):.0f} ms); polls with no answer: "
        f"{len(silent)}; fewest answering {min(len(p.answers) for p in polls)}; "
        f"v1 and v2 both answering in {len(both)} polls"
    )
    assert not silent, [(round(p.at, 2), p.endpoints) for p in silent]
    assert "1" in polls[0].answers
    assert set(polls[-1].answers) == {"2"} and len(polls[-1].answers) == 2
    assert both, "the new tasks never answered alongside the old ones"
    # The old tasks were stopped by the deployment, after the new ones answered.
    old = services.describe_tasks([t["taskArn"] for t in before])
    for task in old:
        assert task["desiredStatus"] == "STOPPED", task
        assert task["stopCode"] == "ServiceSchedulerInitiated", task
        assert task["stoppedReason"] == f"Scaling activity initiated by (deployment {new_id})"
