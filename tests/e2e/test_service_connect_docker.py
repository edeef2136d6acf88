"""Service Connect on a real Docker Engine with `portside agent`: a `frontend` service's task
calls `http://backend:8080` (a short name its /etc/hosts points at the agent's proxy on its
network's gateway) and gets the backend task's answer; scaled 1 -> 3 the name reaches all
three; a backend task stopped while the frontend loops costs no request. A bridge-mode
client reaches the same name (its containers' /etc/hosts name docker0's address)."""

from __future__ import annotations

import contextlib
import random
import threading
import uuid
from typing import Any

import pytest
from aws_query import query_client
from e2e.conftest import AgentProcess
from e2e.images import busybox_image, docker_available
from e2e.test_task_dns_docker import in_task, open_group, retried, subnet_in
from e2e.test_tasks_docker import register
from fleet import wait_until
from harness import ServerProcess

_unavailable = docker_available()
pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(_unavailable is not None, reason=str(_unavailable)),
]

# Each backend task answers with its own host name (its pause container's).
BACKEND = ["sh", "-c", "mkdir -p /w && hostname > /w/index.html && exec httpd -f -p 8080 -h /w"]
CALL = "wget -q -O - http://backend:8080/index.html"  # (this busybox: -T crashes)


@pytest.fixture(scope="module")
def client() -> Any:
    import docker

    return docker.from_env()


def _running(ecs: Any, agent: AgentProcess, service: str) -> list[dict[str, Any]]:
    arns = ecs.list_tasks(cluster=agent.cluster, serviceName=service)["taskArns"]
    tasks = ecs.describe_tasks(cluster=agent.cluster, tasks=arns)["tasks"] if arns else []
    return [t for t in tasks if t["lastStatus"] == "RUNNING" and t["desiredStatus"] == "RUNNING"]


def _namespace(server: ServerProcess) -> str:
    sd = server.client("servicediscovery")
    name = f"sc{uuid.uuid4().hex[:8]}"
    op = sd.create_http_namespace(Name=name)["OperationId"]
    wait_until(
        lambda: sd.get_operation(OperationId=op)["Operation"]["Status"] == "SUCCESS",
        what="the namespace",
    )
    return name


def test_frontend_reaches_backend_by_its_short_name(
    server: ServerProcess, agent: AgentProcess, client: Any
) -> None:
    ecs = server.client("ecs")
    second, third = random.randrange(100, 250), random.randrange(0, 250)
    subnet = subnet_in(server, f"10.{second}.{third}.0/24")
    group = open_group(server, subnet, f"10.{second}.0.0/16")
    assert query_client(server, "ec2").describe_subnets(SubnetIds=[subnet])["Subnets"]
    namespace = _namespace(server)
    network = {"awsvpcConfiguration": {"subnets": [subnet], "securityGroups": [group]}}
    web = {
        "name": "web",
        "image": busybox_image(),
        "memory": 32,
        "command": BACKEND,
        "stopTimeout": 2,
        "portMappings": [{"name": "http", "containerPort": 8080}],
    }
    backend_td = register(ecs, [web], networkMode="awsvpc")
    front_td = register(
        ecs,
        [
            {
                "name": "front",
                "image": busybox_image(),
                "memory": 32,
                "command": ["sleep", "3600"],
                "stopTimeout": 1,
            }
        ],
        networkMode="awsvpc",
    )
    suffix = uuid.uuid4().hex[:6]
    backend, frontend, bridged = f"backend-{suffix}", f"frontend-{suffix}", f"bridged-{suffix}"
    ecs.create_service(
        cluster=agent.cluster,
        serviceName=backend,
        taskDefinition=backend_td,
        desiredCount=1,
        networkConfiguration=network,
        serviceConnectConfiguration={
            "enabled": True,
            "namespace": namespace,
            "services": [
                {
                    "portName": "http",
                    "discoveryName": "backend",
                    "clientAliases": [{"port": 8080, "dnsName": "backend"}],
                }
            ],
        },
    )
    ecs.create_service(
        cluster=agent.cluster,
        serviceName=frontend,
        taskDefinition=front_td,
        desiredCount=1,
        networkConfiguration=network,
        serviceConnectConfiguration={"enabled": True, "namespace": namespace},
    )
    try:
        wait_until(lambda: _running(ecs, agent, backend), timeout=60, what="backend")
        (front,) = wait_until(lambda: _running(ecs, agent, frontend), timeout=60, what="frontend")
        code, out = in_task(client, front, "grep backend /etc/hosts")
        assert code == 0, out
        code, first = in_task(client, front, retried(CALL))
        assert code == 0 and first.strip(), first

        # A bridge-mode client: its containers' /etc/hosts name docker0's address.
        bridge_td = register(
            ecs,
            [
                {
                    "name": "front",
                    "image": busybox_image(),
                    "memory": 32,
                    "command": ["sleep", "3600"],
                    "stopTimeout": 1,
                }
            ],
            networkMode="bridge",
        )
        ecs.create_service(
            cluster=agent.cluster,
            serviceName=bridged,
            taskDefinition=bridge_td,
            desiredCount=1,
            serviceConnectConfiguration={"enabled": True, "namespace": namespace},
        )
        (bridge_front,) = wait_until(
            lambda: _running(ecs, agent, bridged), timeout=60, what="bridge frontend"
        )
        code, out = in_task(client, bridge_front, retried(CALL))
        assert (code, out) == (0, first), out
        ecs.update_service(cluster=agent.cluster, service=bridged, desiredCount=0)

        ecs.update_service(cluster=agent.cluster, service=backend, desiredCount=3)
        wait_until(
            lambda: len(_running(ecs, agent, backend)) == 3, timeout=90, what="three backends"
        )

        def all_three() -> set[str] | None:
            code, out = in_task(client, front, f"for i in $(seq 24); do {CALL}; done")
            seen = {line for line in out.splitlines() if line.strip()}
            return seen if code == 0 and len(seen) == 3 else None

        assert len(wait_until(all_three, timeout=20, what="answers from all three")) == 3

        # A loop of requests while a backend task is stopped: none fails.
        result: dict[str, tuple[int, str]] = {}
        loop = f"for i in $(seq 150); do {CALL} >/dev/null || echo FAILED; sleep 0.02; done"
        caller = threading.Thread(
            target=lambda: result.setdefault("loop", in_task(client, front, loop))
        )
        caller.start()
        victim = _running(ecs, agent, backend)[0]
        ecs.stop_task(cluster=agent.cluster, task=victim["taskArn"])
        caller.join(timeout=120)
        code, out = result["loop"]
        assert code == 0 and "FAILED" not in out, out
        status = ecs.describe_tasks(cluster=agent.cluster, tasks=[victim["taskArn"]])["tasks"][0]
        assert status["desiredStatus"] == "STOPPED"
    finally:
        for name in (backend, frontend, bridged):
            with contextlib.suppress(Exception):  # (bridged is made halfway through)
                ecs.update_service(cluster=agent.cluster, service=name, desiredCount=0)
                ecs.delete_service(cluster=agent.cluster, service=name, force=True)
        wait_until(
            lambda: not any(_running(ecs, agent, n) for n in (backend, frontend, bridged)),
            timeout=60,
            what="the tasks gone",
        )
