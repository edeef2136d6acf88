"""A service behind an Application Load Balancer end to end: a real server and its HAProxy,
`portside agent --driver docker`, a real Docker Engine, boto3.

The tasks run busybox httpd in the bridge network mode on dynamic host ports; the target
group is of type `instance`, so each task is registered as (its instance, the host port
Docker bound), reached at 127.0.0.1. Traffic goes through the listener only.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import boto3
import httpx
import pytest
from e2e.images import busybox_image, docker_available
from harness import ACCESS_KEY, REGION, SECRET_KEY, ServerProcess, free_port

if TYPE_CHECKING:
    from e2e.conftest import AgentProcess

_unavailable = docker_available()
pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(_unavailable is not None, reason=f"no Docker for e2e: {_unavailable}"),
]

SUBNETS = ["subnet-0aaa1111", "subnet-0bbb2222"]
# Each task answers with its VERSION and its hostname (the container's: one per task).
SERVE = (
    'mkdir -p /tmp/www && echo "$VERSION $(hostname)" > /tmp/www/index.html '
    "&& exec httpd -f -p 8080 -h /tmp/www"
)


def web(version: str) -> dict[str, Any]:
    return {
        "name": "web",
        "image": busybox_image(),
        "memory": 32,
        "command": ["sh", "-c", SERVE],
        "environment": [{"name": "VERSION", "value": version}],
        "portMappings": [{"containerPort": 8080}],
        # docker-init in front of httpd: SIGTERM ends it at once.
        "linuxParameters": {"initProcessEnabled": True},
        "stopTimeout": 2,
    }


def until(check: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


class Balanced:
    """An ALB with one listener forwarding to an `instance` target group, and a service of
    httpd tasks behind it (deleted afterwards, its tasks waited for)."""

    def __init__(self, server: ServerProcess, agent: AgentProcess, desired: int) -> None:
        self.ecs = server.client()
        self.elb = boto3.client(
            "elbv2",
            endpoint_url=server.endpoint,
            region_name=REGION,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
        )
        self.cluster = agent.cluster
        self.name = f"lb-{uuid.uuid4().hex[:8]}"
        lb = self.elb.create_load_balancer(Name=self.name, Subnets=SUBNETS)["LoadBalancers"][0]
        self.lb = lb["LoadBalancerArn"]
        self.tg = self.elb.create_target_group(
            Name=self.name,
            Protocol="HTTP",
            Port=80,
            VpcId="vpc-0abc",
            HealthCheckIntervalSeconds=5,
            HealthCheckTimeoutSeconds=2,
            HealthyThresholdCount=2,
        )["TargetGroups"][0]["TargetGroupArn"]
        self.elb.modify_target_group_attributes(
            TargetGroupArn=self.tg,
            Attributes=[{"Key": "deregistration_delay.timeout_seconds", "Value": "5"}],
        )
        self.port = free_port()
        self.elb.create_listener(
            LoadBalancerArn=self.lb,
            Protocol="HTTP",
            Port=self.port,
            DefaultActions=[{"Type": "forward", "TargetGroupArn": self.tg}],
        )
        # A request is failed when it errs or answers other than 200, not when it is slow:
        # starting containers on Docker's bridge now and then stalls a connection to a
        # running one for a few seconds (seen with no load balancer change under way).
        self.http = httpx.Client(headers={"Connection": "close"}, timeout=30.0)
        self.errors: list[str] = []
        td = self.register("1")
        self.ecs.create_service(
            cluster=self.cluster,
            serviceName=self.name,
            taskDefinition=td,
            desiredCount=desired,
            launchType="EC2",
            loadBalancers=[
                {"targetGroupArn": self.tg, "containerName": "web", "containerPort": 8080}
            ],
            deploymentConfiguration={"maximumPercent": 200, "minimumHealthyPercent": 100},
            # The data plane calls a new target unhealthy after its first failed check (ELB
            # waits for UnhealthyThresholdCount of them): one that races httpd's start would
            # be replaced without a grace period.
            healthCheckGracePeriodSeconds=30,
        )

    def register(self, version: str) -> str:
        out = self.ecs.register_task_definition(
            family=self.name, containerDefinitions=[web(version)]
        )
        return str(out["taskDefinition"]["taskDefinitionArn"])

    def get(self) -> str | None:
        """The body the listener answers with, or None unless 200 (what went wrong is kept
        in `errors`)."""
        sent = time.time()
        try:
            response = self.http.get(f"http://127.0.0.1:{self.port}/")
        except httpx.HTTPError as exc:
            self.errors.append(f"sent at {sent:.3f}: {exc!r}")
            return None
        if response.status_code != 200:
            self.errors.append(f"{time.time():.3f} {response.status_code} {response.text[:200]}")
            return None
        return response.text.strip()

    def health(self) -> dict[tuple[str, int], str]:
        found = self.elb.describe_target_health(TargetGroupArn=self.tg)
        return {
            (d["Target"]["Id"], d["Target"]["Port"]): d["TargetHealth"]["State"]
            for d in found["TargetHealthDescriptions"]
        }

    def describe(self) -> dict[str, Any]:
        return dict(
            self.ecs.describe_services(cluster=self.cluster, services=[self.name])["services"][0]
        )

    def completed(self, desired: int) -> bool:
        service = self.describe()
        (only, *more) = service["deployments"]
        return (
            not more
            and only["rolloutState"] == "COMPLETED"
            and service["runningCount"] == desired
            and service["pendingCount"] == 0
        )

    def tasks(self, desired: str) -> list[dict[str, Any]]:
        arns = self.ecs.list_tasks(
            cluster=self.cluster, serviceName=self.name, desiredStatus=desired
        )["taskArns"]
        if not arns:
            return []
        return list(self.ecs.describe_tasks(cluster=self.cluster, tasks=arns)["tasks"])

    def close(self) -> None:
        self.http.close()
        self.ecs.delete_service(cluster=self.cluster, service=self.name, force=True)
        until(lambda: self.describe()["status"] == "INACTIVE", 60, "the service's tasks to stop")
        self.elb.delete_load_balancer(LoadBalancerArn=self.lb)
        self.elb.delete_target_group(TargetGroupArn=self.tg)


@pytest.fixture
def three(server: ServerProcess, agent: AgentProcess) -> Iterator[Balanced]:
    made = Balanced(server, agent, 3)
    try:
        yield made
    finally:
        made.close()


def test_three_tasks_answer_in_turn_through_the_listener(three: Balanced) -> None:
    until(lambda: three.completed(3), 90, "the deployment to complete (targets healthy)")
    health = three.health()
    assert len(health) == 3 and set(health.values()) == {"healthy"}
    instance = three.ecs.describe_container_instances(
        cluster=three.cluster,
        containerInstances=[three.tasks("RUNNING")[0]["containerInstanceArn"]],
    )["containerInstances"][0]["ec2InstanceId"]
    ports = {
        b["hostPort"]
        for t in three.tasks("RUNNING")
        for b in t["containers"][0]["networkBindings"]
        if ":" not in b.get("bindIP", "")  # IPv4: Docker may give IPv6 another port
    }
    assert set(health) == {(instance, port) for port in ports}
    bodies = [three.get() for _ in range(6)]
    assert None not in bodies
    assert len(set(bodies)) == 3  # round robin over the three tasks
    events = [e["message"] for e in three.describe()["events"]]
    assert (
        sum(int(m.split(" registered ")[1].split()[0]) for m in events if " registered " in m) == 3
    )


def test_a_rolling_deployment_under_load_fails_no_request(three: Balanced) -> None:
    until(lambda: three.completed(3), 90, "the first deployment to complete")
    old = {t["taskArn"] for t in three.tasks("RUNNING")}
    answers: list[str | None] = []
    stop = threading.Event()

    def load() -> None:
        while not stop.is_set():
            answers.append(three.get())

    client = threading.Thread(target=load, daemon=True)
    client.start()
    try:
        until(lambda: len(answers) > 20, 10, "the load to start")
        td = three.register("2")
        three.ecs.update_service(cluster=three.cluster, service=three.name, taskDefinition=td)
        # A replaced task is held DEACTIVATING while its target drains.
        held = until(
            lambda: [t for t in three.tasks("STOPPED") if t["lastStatus"] == "DEACTIVATING"],
            120,
            "an old task to drain",
        )
        assert held[0]["taskArn"] in old and held[0]["desiredStatus"] == "STOPPED"
        until(lambda: three.completed(3), 180, "the new deployment to complete")
        until(
            lambda: all(
                t["lastStatus"] == "STOPPED"
                for t in three.ecs.describe_tasks(cluster=three.cluster, tasks=sorted(old))["tasks"]
            ),
            60,
            "the old tasks to stop",
        )
        until(lambda: {b.split()[0] for b in answers[-30:] if b} == {"2"}, 30, "version 2 only")
    finally:
        stop.set()
        client.join(10)
    failed = sum(1 for a in answers if a is None)
    if failed:
        timeline = sorted(
            [
                *(
                    (t[k].timestamp(), f"{t['taskArn'][-6:]} {k}")
                    for t in three.ecs.describe_tasks(cluster=three.cluster, tasks=sorted(old))[
                        "tasks"
                    ]
                    for k in ("startedAt", "stoppingAt", "stoppedAt")
                    if k in t
                ),
                *((e["createdAt"].timestamp(), e["message"]) for e in three.describe()["events"]),
            ]
        )
        lines = "\n".join(f"{at:.3f} {what}" for at, what in timeline)
        raise AssertionError(f"{failed} of {len(answers)} failed: {three.errors}\n{lines}")
    assert {a.split()[0] for a in answers if a} == {"1", "2"}
    events = [e["message"] for e in three.describe()["events"]]
    assert any("has begun draining connections on" in m for m in events)
