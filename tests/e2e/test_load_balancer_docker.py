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
from e2e.target_groups import fast_target_group
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


def web(version: str, serve: str = SERVE) -> dict[str, Any]:
    return {
        "name": "web",
        "image": busybox_image(),
        "memory": 32,
        "command": ["sh", "-c", serve],
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

    def __init__(
        self,
        server: ServerProcess,
        agent: AgentProcess,
        desired: int,
        *,
        serve: str = SERVE,
        grace: int = 30,
        delay: int = 5,
    ) -> None:
        self.serve = serve
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
        self.tg = fast_target_group(self.elb, self.name, delay)
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
            # A target whose first checks race httpd's start is initial, not unhealthy, for
            # UnhealthyThresholdCount intervals (as ELB); the grace period covers a slower
            # start on a loaded machine.
            healthCheckGracePeriodSeconds=grace,
        )

    def register(self, version: str) -> str:
        out = self.ecs.register_task_definition(
            family=self.name, containerDefinitions=[web(version, self.serve)]
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
        # The test is over: its targets need not drain before their tasks stop.
        self.elb.modify_target_group_attributes(
            TargetGroupArn=self.tg,
            Attributes=[{"Key": "deregistration_delay.timeout_seconds", "Value": "0"}],
        )
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


def container_of(task: dict[str, Any]) -> Any:
    """The Docker container of a RUNNING task's (only) container."""
    import docker

    return docker.from_env().containers.get(task["containers"][0]["runtimeId"])


def host_port(task: dict[str, Any]) -> int:
    (port,) = {
        b["hostPort"]
        for b in task["containers"][0]["networkBindings"]
        if ":" not in b.get("bindIP", "")  # IPv4: Docker may give IPv6 another port
    }
    return int(port)


@pytest.fixture
def two(server: ServerProcess, agent: AgentProcess) -> Iterator[Balanced]:
    # A grace period shorter than the others' (the replacement's first checks are ignored
    # for 10 s), long enough for httpd to start.
    made = Balanced(server, agent, 2, grace=10)
    try:
        yield made
    finally:
        made.close()


def test_a_killed_containers_task_is_replaced_and_traffic_continues(two: Balanced) -> None:
    until(lambda: two.completed(2), 90, "the deployment to complete (targets healthy)")
    (victim, survivor) = two.tasks("RUNNING")
    container = container_of(victim)
    victim_host = container.attrs["Config"]["Hostname"]
    instance = two.ecs.describe_container_instances(
        cluster=two.cluster, containerInstances=[victim["containerInstanceArn"]]
    )["containerInstances"][0]["ec2InstanceId"]
    victim_target = (instance, host_port(victim))
    assert two.health() == {victim_target: "healthy", (instance, host_port(survivor)): "healthy"}

    # (sent, done, body or None), one per request, in the order they were sent.
    answers: list[tuple[float, float, str | None]] = []
    stop = threading.Event()

    def load() -> None:
        while not stop.is_set():
            sent = time.time()
            body = two.get()
            answers.append((sent, time.time(), body))

    client = threading.Thread(target=load, daemon=True)
    client.start()
    states: list[str] = []  # the killed target's health, as DescribeTargetHealth tells it
    try:
        until(lambda: len(answers) > 20, 10, "the load to start")
        until(
            lambda: {a[2] and a[2].split()[1] for a in answers} >= {victim_host},
            10,
            "the task to be killed to answer",
        )
        killing = time.time()
        container.kill()
        until(
            lambda: (
                states.append(two.health().get(victim_target, "gone")) or states[-1] != "healthy"
            ),
            30,
            "the killed task's target to leave the rotation",
        )
        left = time.time()  # the first time it was seen out (it went some time before)

        # The killed task stays wanted RUNNING until its agent reports it STOPPED.
        known = {victim["taskArn"], survivor["taskArn"]}

        def replaced() -> list[dict[str, Any]]:
            states.append(two.health().get(victim_target, "gone"))
            return [t for t in two.tasks("RUNNING") if t["taskArn"] not in known]

        until(replaced, 90, "a replacement task to be started")
        until(lambda: two.completed(2), 90, "the replacement to run")
        (replacement,) = [t for t in two.tasks("RUNNING") if t["taskArn"] not in known]
        replacement_target = (instance, host_port(replacement))
        until(
            lambda: two.health().get(replacement_target) == "healthy",
            60,
            "the replacement's target to be healthy",
        )
        until(
            lambda: states.append(two.health().get(victim_target, "gone")) or states[-1] == "gone",
            30,
            "the killed task's target to be gone",
        )
        healthy_at = time.time()
        replacement_host = container_of(replacement).attrs["Config"]["Hostname"]
        until(
            lambda: any(
                a[0] > healthy_at and a[2] and a[2].split()[1] == replacement_host
                for a in answers[-50:]
            ),
            30,
            "the replacement to answer",
        )
    finally:
        stop.set()
        client.join(35)

    stopped = two.ecs.describe_tasks(cluster=two.cluster, tasks=[victim["taskArn"]])["tasks"][0]
    assert stopped["lastStatus"] == "STOPPED"
    assert stopped["stopCode"] == "EssentialContainerExited", stopped
    assert stopped["containers"][0]["exitCode"] == 137
    health = two.health()
    assert victim_target not in health
    assert health == {
        (instance, host_port(survivor)): "healthy",
        (instance, host_port(replacement)): "healthy",
    }
    # The target left as it would on ELB: drained (or unhealthy first), then gone.
    assert states[-1] == "gone" and set(states) <= {"healthy", "unhealthy", "draining", "gone"}

    # Only what was in flight on the killed container may fail: requests under way when
    # the kill came, up to when its target was seen out of the rotation (Docker's port
    # proxy takes a connection for a dying container a moment longer, and closes it
    # unanswered). On AWS, ECS deregisters the stopped task's target (draining: no new
    # requests) and ELB's own checks would call it unhealthy after UnhealthyThresholdCount
    # x interval (10 s here); until then an ALB still routes new requests to the dead
    # target and answers them 502 or 504 (it does not retry a request on another target).
    # Portside's HAProxy retries a refused connection on another server (retries 3, option
    # redispatch), so a request sent after the target has left does not fail.
    in_flight = [a for a in answers if a[0] <= left and a[1] >= killing]
    failed = [a for a in answers if a[2] is None]
    assert len(failed) <= len(in_flight), (failed, in_flight, two.errors)
    assert all(a[0] <= left for a in failed), (failed, killing, left, two.errors)
    # Answers throughout: only from the survivor once the target had left, until the
    # replacement was healthy; with none failed after, from the replacement too.
    between = [a[2] for a in answers if left < a[0] < healthy_at]
    assert between and all(b and b.split()[1] != victim_host for b in between), between
    after = [a[2] for a in answers if a[0] > healthy_at]
    assert after and None not in after, after
    events = [e["message"] for e in two.describe()["events"]]
    registered = [m for m in events if " registered " in m]
    assert sum(int(m.split(" registered ")[1].split()[0]) for m in registered) == 3, events
    assert any(" deregistered 1 targets in (target-group " in m for m in events), events
    assert any(
        "has started 1 tasks:" in m and replacement["taskArn"].rsplit("/", 1)[1] in m
        for m in events
    ), events


# httpd serves /cgi-bin/slow by running it: 3 s of sleep, then an answer.
SLOW = "#!/bin/sh\\nsleep 3\\necho Content-Type: text/plain\\necho\\necho slow done\\n"
SERVE_SLOW = (
    'mkdir -p /tmp/www/cgi-bin && echo "$VERSION $(hostname)" > /tmp/www/index.html '
    f"&& printf '{SLOW}' > /tmp/www/cgi-bin/slow && chmod +x /tmp/www/cgi-bin/slow "
    "&& exec httpd -f -p 8080 -h /tmp/www"
)


@pytest.fixture
def slow(server: ServerProcess, agent: AgentProcess) -> Iterator[Balanced]:
    # 10 s of deregistration delay for a 3 s request: on a loaded machine Docker's bridge
    # can stall a connection for seconds (see Balanced), and the drain's end closes it.
    made = Balanced(server, agent, 1, serve=SERVE_SLOW, delay=10)
    try:
        yield made
    finally:
        made.close()


def test_a_slow_request_in_flight_during_the_drain_completes(slow: Balanced) -> None:
    until(lambda: slow.completed(1), 90, "the deployment to complete (target healthy)")
    (task,) = slow.tasks("RUNNING")
    container = container_of(task)
    answer: list[tuple[float, int, str]] = []
    statuses: list[str] = []  # what happened when, for a failure's message

    def request() -> None:
        statuses.append(f"sent {time.time():.3f}")
        try:
            response = slow.http.get(f"http://127.0.0.1:{slow.port}/cgi-bin/slow")
        except httpx.HTTPError as exc:
            answer.append((time.time(), 0, repr(exc)))
            return
        answer.append((time.time(), response.status_code, response.text.strip()))

    client = threading.Thread(target=request, daemon=True)
    client.start()
    # In flight: httpd runs the script, which sleeps.
    until(
        lambda: any("sleep 3" in " ".join(p) for p in container.top()["Processes"] or ()),
        20,
        "the slow request to reach the task",
    )
    statuses.append(f"in flight {time.time():.3f}")
    slow.ecs.update_service(cluster=slow.cluster, service=slow.name, desiredCount=0)
    statuses.append(f"scaled {time.time():.3f}")

    def described() -> dict[str, Any]:
        found = slow.ecs.describe_tasks(cluster=slow.cluster, tasks=[task["taskArn"]])
        statuses.append(f"{found['tasks'][0]['lastStatus']} {time.time():.3f}")
        return dict(found["tasks"][0])

    until(lambda: described()["lastStatus"] == "DEACTIVATING", 20, "the task to drain")
    assert set(slow.health().values()) == {"draining"}
    client.join(30)
    assert answer, statuses
    (done, status, body) = answer[0]
    container.reload()
    assert (status, body) == (200, "slow done"), (done, statuses, container.attrs["State"])
    # The task is still held when the request completes (10 s of deregistration delay), and
    # stops only after.
    assert described()["lastStatus"] == "DEACTIVATING", statuses
    assert container.status == "running"
    stopped = until(
        lambda: (t := described())["lastStatus"] == "STOPPED" and t, 60, "the task to stop"
    )
    assert stopped["stoppedAt"].timestamp() > done
    assert stopped["stoppingAt"].timestamp() < done
    assert stopped["stopCode"] == "ServiceSchedulerInitiated"
    events = [e["message"] for e in slow.describe()["events"]]
    assert any("has begun draining connections on 1 tasks." in m for m in events), events
    assert any(" deregistered 1 targets in (target-group " in m for m in events), events
