"""ECS's native BLUE_GREEN end to end: a real server and its HAProxy, `portside agent --driver
docker`, busybox httpd tasks in the bridge mode, boto3. Under continuous load through the
production listener: a new revision comes up in the alternate target group, waits at its
POST_SCALE_UP hook until continued, takes all production traffic at once and blue stops,
with no failed request; the next revision, stopped at the same hook (StopServiceDeployment),
rolls back: production stays on the running revision, green stops, again with no failed
request.
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
SERVE = (
    'mkdir -p /tmp/www && echo "$VERSION $(hostname)" > /tmp/www/index.html '
    "&& exec httpd -f -p 8080 -h /tmp/www"
)


def until(check: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


class NativeBlueGreen:
    """An ALB with a production and a test listener over a target group pair, and a
    BLUE_GREEN service of httpd tasks with a PAUSE hook after its scale-up."""

    def __init__(self, server: ServerProcess, agent: AgentProcess) -> None:
        self.ecs = server.client()
        self.elb = boto3.client(
            "elbv2",
            endpoint_url=server.endpoint,
            region_name=REGION,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
        )
        self.cluster = agent.cluster
        self.name = f"nbg-{uuid.uuid4().hex[:8]}"
        self.lb = self.elb.create_load_balancer(Name=self.name, Subnets=SUBNETS)["LoadBalancers"][
            0
        ]["LoadBalancerArn"]
        self.groups = [fast_target_group(self.elb, f"{self.name}-{c}", 2) for c in "bg"]
        self.port, test_port = free_port(), free_port()
        self.prod, self.test = (
            self.elb.create_listener(
                LoadBalancerArn=self.lb,
                Protocol="HTTP",
                Port=port,
                DefaultActions=[{"Type": "forward", "TargetGroupArn": self.groups[0]}],
            )["Listeners"][0]["ListenerArn"]
            for port in (self.port, test_port)
        )
        self.prod_rule = self._default_rule(self.prod)
        self.http = httpx.Client(headers={"Connection": "close"}, timeout=30.0)
        self.errors: list[str] = []
        advanced = {
            "alternateTargetGroupArn": self.groups[1],
            "productionListenerRule": self.prod_rule,
            "testListenerRule": self._default_rule(self.test),
            "roleArn": "arn:aws:iam::000000000000:role/ecs-elb",
        }
        self.ecs.create_service(
            cluster=self.cluster,
            serviceName=self.name,
            taskDefinition=self.register("1"),
            desiredCount=2,
            launchType="EC2",
            loadBalancers=[
                {
                    "targetGroupArn": self.groups[0],
                    "containerName": "web",
                    "containerPort": 8080,
                    "advancedConfiguration": advanced,
                }
            ],
            deploymentConfiguration={
                "strategy": "BLUE_GREEN",
                "bakeTimeInMinutes": 0,
                "lifecycleHooks": [{"targetType": "PAUSE", "lifecycleStages": ["POST_SCALE_UP"]}],
            },
            healthCheckGracePeriodSeconds=5,
        )

    def _default_rule(self, listener: str) -> str:
        rules = self.elb.describe_rules(ListenerArn=listener)["Rules"]
        return str(next(r["RuleArn"] for r in rules if r["IsDefault"]))

    def register(self, version: str) -> str:
        container = {
            "name": "web",
            "image": busybox_image(),
            "memory": 32,
            "command": ["sh", "-c", SERVE],
            "environment": [{"name": "VERSION", "value": version}],
            "portMappings": [{"containerPort": 8080}],
            "linuxParameters": {"initProcessEnabled": True},
            "stopTimeout": 2,
        }
        out = self.ecs.register_task_definition(family=self.name, containerDefinitions=[container])
        return str(out["taskDefinition"]["taskDefinitionArn"])

    def deploy(self, version: str) -> None:
        td = self.register(version)
        self.ecs.update_service(cluster=self.cluster, service=self.name, taskDefinition=td)

    def deployment(self) -> dict[str, Any]:
        listed = self.ecs.list_service_deployments(cluster=self.cluster, service=self.name)
        arn = listed["serviceDeployments"][0]["serviceDeploymentArn"]
        got = self.ecs.describe_service_deployments(serviceDeploymentArns=[arn])
        return dict(got["serviceDeployments"][0])

    def paused(self) -> dict[str, Any] | None:
        d = self.deployment()
        hooks = [h for h in d.get("lifecycleHookDetails") or () if h["status"] == "IN_PROGRESS"]
        return d if d.get("lifecycleStage") == "POST_SCALE_UP" and hooks else None

    def service(self) -> dict[str, Any]:
        out = self.ecs.describe_services(cluster=self.cluster, services=[self.name])
        return dict(out["services"][0])

    def weights(self) -> dict[str, int]:
        rule = self.elb.describe_rules(RuleArns=[self.prod_rule])["Rules"][0]
        action = rule["Actions"][0]
        groups = action.get("ForwardConfig", {}).get("TargetGroups") or [
            {"TargetGroupArn": action["TargetGroupArn"], "Weight": 1}
        ]
        return {g["TargetGroupArn"]: g["Weight"] for g in groups}

    def get(self) -> str | None:
        try:
            response = self.http.get(f"http://127.0.0.1:{self.port}/")
        except httpx.HTTPError as exc:
            self.errors.append(f"{time.time():.3f}: {exc!r}")
            return None
        if response.status_code != 200:
            self.errors.append(f"{time.time():.3f} {response.status_code}")
            return None
        return response.text.strip()

    def close(self) -> None:
        self.http.close()
        self.ecs.delete_service(cluster=self.cluster, service=self.name, force=True)
        until(lambda: self.service()["status"] == "INACTIVE", 60, "the service's tasks to stop")
        self.elb.delete_load_balancer(LoadBalancerArn=self.lb)
        for group in self.groups:
            self.elb.delete_target_group(TargetGroupArn=group)


@pytest.fixture
def native(server: ServerProcess, agent: AgentProcess) -> Iterator[NativeBlueGreen]:
    made = NativeBlueGreen(server, agent)
    try:
        yield made
    finally:
        made.close()


def test_native_blue_green_under_load_and_rollback(native: NativeBlueGreen) -> None:
    bg = native
    until(lambda: bg.service()["runningCount"] == 2 and bg.get(), 90, "blue to answer")
    answers: list[str | None] = []
    stop = threading.Event()

    def load() -> None:
        while not stop.is_set():
            answers.append(bg.get())

    client = threading.Thread(target=load, daemon=True)
    client.start()
    try:
        until(lambda: len(answers) > 20, 20, "the load to start")
        bg.deploy("2")
        paused = until(bg.paused, 90, "green up, paused at POST_SCALE_UP")
        assert bg.weights() == {bg.groups[0]: 100, bg.groups[1]: 0}
        hook = next(h for h in paused["lifecycleHookDetails"] if h["status"] == "IN_PROGRESS")
        bg.ecs.continue_service_deployment(
            serviceDeploymentArn=paused["serviceDeploymentArn"], hookId=hook["hookId"]
        )
        until(lambda: bg.deployment()["status"] == "SUCCESSFUL", 60, "the shift")
        assert bg.weights() == {bg.groups[0]: 0, bg.groups[1]: 100}
        until(lambda: {b.split()[0] for b in answers[-20:] if b} == {"2"}, 30, "version 2 only")
        until(lambda: bg.service()["runningCount"] == 2, 60, "blue to stop")

        # The next revision, stopped at its hook: production stays, green stops.
        bg.deploy("3")
        paused = until(bg.paused, 90, "the next green, paused")
        bg.ecs.stop_service_deployment(
            serviceDeploymentArn=paused["serviceDeploymentArn"], stopType="ROLLBACK"
        )
        until(lambda: bg.deployment()["status"] == "ROLLBACK_SUCCESSFUL", 60, "the rollback")
        assert bg.weights() == {bg.groups[0]: 0, bg.groups[1]: 100}
        until(lambda: bg.service()["runningCount"] == 2, 60, "green to stop")
        count = len(answers)
        until(lambda: len(answers) > count + 10, 20, "more answers")
    finally:
        stop.set()
        client.join(10)
    failed_requests = sum(1 for a in answers if a is None)
    assert failed_requests == 0, bg.errors
    assert {a.split()[0] for a in answers if a} == {"1", "2"}
