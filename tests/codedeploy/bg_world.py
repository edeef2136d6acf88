"""What the CodeDeploy tests build: a simulated fleet (one agent, several instances), a
backend on 127.0.0.1 that answers 200 (host-mode tasks on its port pass HAProxy's checks),
an ALB with a target group pair behind a production and a test listener, a CODE_DEPLOY
service, an application and a deployment group."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
from harness import ACCESS_KEY, REGION, SECRET_KEY, ServerProcess, free_port

from portside.agent.session import Agent
from portside.testing.agent import start_simulated_agent


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def wait_until(check: Callable[[], Any], timeout: float = 30, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        assert time.monotonic() < deadline, f"timed out waiting for {what or check}"
        time.sleep(0.1)


class Backend:
    """200 to anything, on 127.0.0.1."""

    def __init__(self) -> None:
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                try:
                    self.send_response(200)
                    self.send_header("content-length", "2")
                    self.end_headers()
                    self.wfile.write(b"ok")
                except ConnectionError:
                    pass

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = int(self.server.server_address[1])
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass
class World:
    server: ServerProcess
    cluster: str
    ecs: Any
    elb: Any
    cd: Any
    backend: Backend
    blue_tg: str
    green_tg: str
    blue_name: str
    green_name: str
    prod: str
    test: str
    service: str = ""
    app: str = ""
    group: str = ""

    def task_definition(self, family: str, port: int | None = None) -> str:
        container = {
            "name": "app",
            "image": "busybox",
            "memory": 64,
            "portMappings": [{"containerPort": port or self.backend.port}],
        }
        out = self.ecs.register_task_definition(
            family=family, networkMode="host", containerDefinitions=[container]
        )
        return str(out["taskDefinition"]["taskDefinitionArn"])

    def weights(self, listener: str) -> dict[str, int]:
        action = self.elb.describe_listeners(ListenerArns=[listener])["Listeners"][0][
            "DefaultActions"
        ][0]
        groups = action.get("ForwardConfig", {}).get("TargetGroups") or [
            {"TargetGroupArn": action["TargetGroupArn"], "Weight": 1}
        ]
        return {g["TargetGroupArn"]: g["Weight"] for g in groups}

    def task_sets(self) -> list[dict[str, Any]]:
        out = self.ecs.describe_services(cluster=self.cluster, services=[self.service])
        return list(out["services"][0]["taskSets"])

    def deployment(self, ident: str) -> dict[str, Any]:
        return dict(self.cd.get_deployment(deploymentId=ident)["deploymentInfo"])

    def appspec(self, td: str) -> str:
        return (
            "version: 0.0\n"
            "Resources:\n"
            "  - TargetService:\n"
            "      Type: AWS::ECS::Service\n"
            "      Properties:\n"
            f'        TaskDefinition: "{td}"\n'
            "        LoadBalancerInfo:\n"
            '          ContainerName: "app"\n'
            f"          ContainerPort: {self.backend.port}\n"
        )

    def deploy(self, td: str, **extra: Any) -> str:
        out = self.cd.create_deployment(
            applicationName=self.app,
            deploymentGroupName=self.group,
            revision={
                "revisionType": "AppSpecContent",
                "appSpecContent": {"content": self.appspec(td)},
            },
            **extra,
        )
        return str(out["deploymentId"])


def client(server: ServerProcess, service: str) -> Any:
    return server.client(service)


@contextmanager
def blue_green_world(
    server: ServerProcess, root: Path, *, instances: int = 4, interval: int = 5
) -> Iterator[World]:
    cluster = unique("bg")
    ecs = server.client("ecs")
    elb = boto3.client(  # query protocol: the contract checker reads JSON only
        "elbv2",
        endpoint_url=server.endpoint,
        region_name=REGION,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
    )
    ecs.create_cluster(clusterName=cluster)
    agent: Agent = start_simulated_agent(
        server.endpoint, ACCESS_KEY, SECRET_KEY, root / f"{cluster}-agent", cluster,
        region=REGION, instances=instances,
    )  # fmt: skip
    backend = Backend()
    try:
        lb = elb.create_load_balancer(
            Name=unique("bg"), Subnets=["subnet-0aaa1111", "subnet-0bbb2222"]
        )
        lb_arn = lb["LoadBalancers"][0]["LoadBalancerArn"]
        names = [unique("blue"), unique("green")]
        groups = []
        for name in names:
            tg = elb.create_target_group(
                Name=name, Protocol="HTTP", Port=80, VpcId="vpc-0abc", TargetType="instance",
                HealthCheckIntervalSeconds=interval, HealthCheckTimeoutSeconds=2,
                HealthyThresholdCount=2, UnhealthyThresholdCount=2,
            )["TargetGroups"][0]["TargetGroupArn"]  # fmt: skip
            elb.modify_target_group_attributes(
                TargetGroupArn=tg,
                Attributes=[{"Key": "deregistration_delay.timeout_seconds", "Value": "1"}],
            )
            groups.append(tg)
        listeners = [
            elb.create_listener(
                LoadBalancerArn=lb_arn, Protocol="HTTP", Port=free_port(),
                DefaultActions=[{"Type": "forward", "TargetGroupArn": groups[0]}],
            )["Listeners"][0]["ListenerArn"]
            for _ in range(2)
        ]  # fmt: skip
        yield World(
            server, cluster, ecs, elb, server.client("codedeploy"), backend,
            groups[0], groups[1], names[0], names[1], listeners[0], listeners[1],
        )  # fmt: skip
    finally:
        agent.stop()
        backend.close()


def code_deploy_service(world: World, td: str, desired: int = 2, **group_extra: Any) -> None:
    """The CODE_DEPLOY service on the blue group, an application and a deployment group."""
    world.service = unique("svc")
    world.ecs.create_service(
        cluster=world.cluster,
        serviceName=world.service,
        taskDefinition=td,
        desiredCount=desired,
        deploymentController={"type": "CODE_DEPLOY"},
        loadBalancers=[
            {
                "targetGroupArn": world.blue_tg,
                "containerName": "app",
                "containerPort": world.backend.port,
            }
        ],
    )
    world.app, world.group = unique("app"), unique("dg")
    world.cd.create_application(applicationName=world.app, computePlatform="ECS")
    world.cd.create_deployment_group(
        applicationName=world.app,
        deploymentGroupName=world.group,
        serviceRoleArn="arn:aws:iam::000000000000:role/codedeploy",
        deploymentStyle={
            "deploymentType": "BLUE_GREEN",
            "deploymentOption": "WITH_TRAFFIC_CONTROL",
        },
        ecsServices=[{"serviceName": world.service, "clusterName": world.cluster}],
        loadBalancerInfo={
            "targetGroupPairInfoList": [
                {
                    "targetGroups": [{"name": world.blue_name}, {"name": world.green_name}],
                    "prodTrafficRoute": {"listenerArns": [world.prod]},
                    "testTrafficRoute": {"listenerArns": [world.test]},
                }
            ]
        },
        **group_extra,
    )
