"""An Express service end to end: a real server and its HAProxy, `portside agent --driver
docker`, a real Docker Engine. One CreateExpressGatewayService call with a locally built
busybox image (httpd on 8080) in an EC2 subnet of the test's own; the service's URL (its
ingress path, https://<service>-<id>.ecs.<region>.on.aws) answers over HTTPS on 443 through
HAProxy, at the address Portside's DNS gives its host name (Express Mode's shared load
balancer's own loopback address), once the task's target is healthy;
DeleteExpressGatewayService takes it down."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx
import pytest
from aws_query import query_client
from e2e.images import INDEX_HTML, busybox_image, docker_available
from harness import ServerProcess
from local_dns import resolve

if TYPE_CHECKING:
    from e2e.conftest import AgentProcess

_unavailable = docker_available()
pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(_unavailable is not None, reason=f"no Docker for e2e: {_unavailable}"),
]
ROLE = "arn:aws:iam::000000000000:role/ecsInfrastructureRoleForExpressServices"


def until(check: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.3)


def test_an_express_service_answers_on_its_url(server: ServerProcess, agent: AgentProcess) -> None:
    ecs, ec2 = server.client(), query_client(server, "ec2")
    x, y = random.randint(1, 250), random.randint(1, 250)
    vpc = ec2.create_vpc(CidrBlock=f"10.{x}.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.{x}.{y}.0/24")["Subnet"]["SubnetId"]
    made = ecs.create_express_gateway_service(
        cluster=agent.cluster,
        serviceName="hello",
        infrastructureRoleArn=ROLE,
        primaryContainer={
            "image": busybox_image(),
            "containerPort": 8080,
            # httpd as PID 1 would ignore SIGTERM: the shell ends it at once.
            "command": ["sh", "-c", "trap 'exit 0' TERM; httpd -f -p 8080 -h /www & wait"],
        },
        healthCheckPath="/index.html",
        cpu="256",
        memory="512",
        networkConfiguration={"subnets": [subnet]},
    )["service"]
    arn = made["serviceArn"]
    endpoint = made["activeConfigurations"][0]["ingressPaths"][0]["endpoint"]
    url = urlsplit(endpoint)
    assert url.scheme == "https" and url.port is None
    (address,) = until(lambda: resolve(server, url.netloc), 30, "the URL's host to resolve")
    try:
        # The certificate is Portside's own self-signed wildcard: not verified here.
        with httpx.Client(timeout=10.0, verify=False, headers={"Connection": "close"}) as http:

            def get(host: str, path: str) -> httpx.Response | None:
                try:
                    return http.get(
                        f"https://{address}{path}",
                        headers={"Host": host},
                        extensions={"sni_hostname": host},
                    )
                except httpx.HTTPError:
                    return None

            def answered() -> bytes | None:
                response = get(url.netloc, "/index.html")
                return response.content if response and response.status_code == 200 else None

            assert until(answered, 120, "the Express service's URL to answer") == INDEX_HTML
            # Another host name reaches the listener's default action, not the service.
            other = get("elsewhere.ecs.us-east-1.on.aws", "/")
            assert other is not None and other.status_code == 404
    finally:
        ecs.delete_express_gateway_service(serviceArn=arn)

    def inactive() -> bool:
        (service,) = ecs.describe_services(cluster=agent.cluster, services=[arn])["services"]
        return bool(service["status"] == "INACTIVE")

    until(inactive, 60, "the Express service's tasks to stop")
