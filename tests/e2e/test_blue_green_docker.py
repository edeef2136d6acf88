"""A CODE_DEPLOY blue/green deployment end to end: a real server and its HAProxy,
`portside agent --driver docker`, busybox httpd tasks in the bridge mode, boto3. Under
continuous load through the production listener, CodeDeploy's AllAtOnce deployment brings the
green task set up behind the test listener, moves production to it and drains blue with no
failed request; a green revision that never answers its health checks fails the next
deployment, which rolls back (production stays on the running revision, green drained),
again with no failed request.
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
DEAF = "exec sleep 3600"  # runs, never answers: its targets fail their health checks


def until(check: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


class BlueGreen:
    """An ALB with a production and a test listener over a target group pair, a CODE_DEPLOY
    service of httpd tasks on the first group, and a CodeDeploy application and group."""

    def __init__(self, server: ServerProcess, agent: AgentProcess) -> None:
        self.ecs = server.client()
        self.cd = server.client("codedeploy")
        self.elb = boto3.client(
            "elbv2",
            endpoint_url=server.endpoint,
            region_name=REGION,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
        )
        self.cluster = agent.cluster
        self.name = f"bg-{uuid.uuid4().hex[:8]}"
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
        self.http = httpx.Client(headers={"Connection": "close"}, timeout=30.0)
        self.errors: list[str] = []
        self.ecs.create_service(
            cluster=self.cluster,
            serviceName=self.name,
            taskDefinition=self.register("1"),
            desiredCount=2,
            launchType="EC2",
            deploymentController={"type": "CODE_DEPLOY"},
            loadBalancers=[
                {"targetGroupArn": self.groups[0], "containerName": "web", "containerPort": 8080}
            ],
            healthCheckGracePeriodSeconds=5,
        )
        self.app = self.name
        self.cd.create_application(applicationName=self.app, computePlatform="ECS")
        self.cd.create_deployment_group(
            applicationName=self.app,
            deploymentGroupName=self.app,
            serviceRoleArn="arn:aws:iam::000000000000:role/codedeploy",
            deploymentConfigName="CodeDeployDefault.ECSAllAtOnce",
            deploymentStyle={
                "deploymentType": "BLUE_GREEN",
                "deploymentOption": "WITH_TRAFFIC_CONTROL",
            },
            autoRollbackConfiguration={"enabled": True, "events": ["DEPLOYMENT_FAILURE"]},
            ecsServices=[{"serviceName": self.name, "clusterName": self.cluster}],
            loadBalancerInfo={
                "targetGroupPairInfoList": [
                    {
                        "targetGroups": [{"name": f"{self.name}-b"}, {"name": f"{self.name}-g"}],
                        "prodTrafficRoute": {"listenerArns": [self.prod]},
                        "testTrafficRoute": {"listenerArns": [self.test]},
                    }
                ]
            },
        )

    def register(self, version: str, serve: str = SERVE) -> str:
        container = {
            "name": "web",
            "image": busybox_image(),
            "memory": 32,
            "command": ["sh", "-c", serve],
            "environment": [{"name": "VERSION", "value": version}],
            "portMappings": [{"containerPort": 8080}],
            "linuxParameters": {"initProcessEnabled": True},
            "stopTimeout": 2,
        }
        out = self.ecs.register_task_definition(family=self.name, containerDefinitions=[container])
        return str(out["taskDefinition"]["taskDefinitionArn"])

    def deploy(self, td: str) -> str:
        spec = (
            '{"version": 0.0, "Resources": [{"TargetService": {"Type": "AWS::ECS::Service", '
            f'"Properties": {{"TaskDefinition": "{td}", "LoadBalancerInfo": '
            '{"ContainerName": "web", "ContainerPort": 8080}}}}]}'
        )
        return str(
            self.cd.create_deployment(
                applicationName=self.app,
                deploymentGroupName=self.app,
                revision={"revisionType": "AppSpecContent", "appSpecContent": {"content": spec}},
            )["deploymentId"]
        )

    def finished(self, ident: str) -> dict[str, Any] | None:
        info = self.cd.get_deployment(deploymentId=ident)["deploymentInfo"]
        return dict(info) if info["status"] in ("Succeeded", "Failed", "Stopped") else None

    def task_sets(self) -> list[dict[str, Any]]:
        out = self.ecs.describe_services(cluster=self.cluster, services=[self.name])
        return list(out["services"][0]["taskSets"])

    def weights(self) -> dict[str, int]:
        action = self.elb.describe_listeners(ListenerArns=[self.prod])["Listeners"][0][
            "DefaultActions"
        ][0]
        return {g["TargetGroupArn"]: g["Weight"] for g in action["ForwardConfig"]["TargetGroups"]}

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
        until(
            lambda: (
                self.ecs.describe_services(cluster=self.cluster, services=[self.name])["services"][
                    0
                ]["status"]
                == "INACTIVE"
            ),
            60,
            "the service's tasks to stop",
        )
        self.elb.delete_load_balancer(LoadBalancerArn=self.lb)
        for group in self.groups:
            self.elb.delete_target_group(TargetGroupArn=group)


@pytest.fixture
def blue_green(server: ServerProcess, agent: AgentProcess) -> Iterator[BlueGreen]:
    made = BlueGreen(server, agent)
    try:
        yield made
    finally:
        made.close()


def test_blue_green_under_load_and_rollback(blue_green: BlueGreen) -> None:
    bg = blue_green
    until(lambda: bg.task_sets()[0]["stabilityStatus"] == "STEADY_STATE", 90, "blue to be steady")
    answers: list[str | None] = []
    stop = threading.Event()

    def load() -> None:
        while not stop.is_set():
            answers.append(bg.get())

    client = threading.Thread(target=load, daemon=True)
    client.start()
    try:
        until(lambda: len(answers) > 20, 20, "the load to start")
        ident = bg.deploy(bg.register("2"))
        done = until(lambda: bg.finished(ident), 120, "the deployment to finish")
        assert done["status"] == "Succeeded", done.get("errorInformation")
        until(lambda: len(bg.task_sets()) == 1, 60, "blue to be drained")
        until(lambda: {b.split()[0] for b in answers[-20:] if b} == {"2"}, 30, "version 2 only")
        assert bg.weights() == {bg.groups[0]: 0, bg.groups[1]: 100}

        # A green revision that never passes its health checks: rolled back.
        ident = bg.deploy(bg.register("3", DEAF))
        failed = until(lambda: bg.finished(ident), 120, "the deployment to fail")
        assert failed["status"] == "Failed"
        assert failed["errorInformation"]["code"] == "ECS_UPDATE_ERROR"
        assert "rollbackMessage" in failed["rollbackInfo"]
        assert bg.weights() == {bg.groups[0]: 0, bg.groups[1]: 100}
        until(lambda: len(bg.task_sets()) == 1, 60, "green to be drained")
        [kept] = bg.task_sets()
        assert kept["status"] == "PRIMARY" and kept["runningCount"] == 2
        count = len(answers)
        until(lambda: len(answers) > count + 10, 20, "more answers")
    finally:
        stop.set()
        client.join(10)
    failed_requests = sum(1 for a in answers if a is None)
    assert failed_requests == 0, bg.errors
    assert {a.split()[0] for a in answers if a} == {"1", "2"}
