"""A service connected to an ECS gateway, end to end: a real server and its HAProxy,
`portside agent --driver docker`, a real Docker Engine. A busybox httpd awsvpc service in an
EC2 subnet of the test's own, connected through a gateway whose load balancers go in that
subnet: its route's URL answers over HTTPS on 443 at the address Portside's DNS gives its
host name (the gateway's load balancer's own loopback address), with the wildcard
certificate; another host name gets the listener's 404. Deleting the service takes the route
and the load balancer down."""

from __future__ import annotations

import random
from typing import TYPE_CHECKING

import httpx
import pytest
from aws_query import query_client
from e2e.images import INDEX_HTML, busybox_image, docker_available
from fleet import wait_until as until
from harness import ServerProcess
from local_dns import resolve
from roles import ECS_TRUST

if TYPE_CHECKING:
    from e2e.conftest import AgentProcess

_unavailable = docker_available()
pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(_unavailable is not None, reason=f"no Docker for e2e: {_unavailable}"),
]


def test_a_connected_service_answers_on_its_https_url(
    server: ServerProcess, agent: AgentProcess
) -> None:
    ecs, ec2 = server.client(), query_client(server, "ec2")
    iam = query_client(server, "iam")
    name = agent.cluster
    x, y = random.randint(1, 250), random.randint(1, 250)
    vpc = ec2.create_vpc(CidrBlock=f"10.{x}.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.{x}.{y}.0/24")["Subnet"]["SubnetId"]
    role = iam.create_role(RoleName=f"gw-{name}", AssumeRolePolicyDocument=ECS_TRUST)
    ecs.create_gateway(
        name=name,
        infrastructureRoleArn=role["Role"]["Arn"],
        configuration={"hostSharedAlb": {"networkConfiguration": {"subnets": [subnet]}}},
    )
    ecs.associate_gateway_with_cluster(gateway=name, cluster=name)
    td = ecs.register_task_definition(
        family=name,
        networkMode="awsvpc",
        containerDefinitions=[
            {
                "name": "web",
                "image": busybox_image(),
                "memory": 32,
                # httpd as PID 1 would ignore SIGTERM: the shell ends it at once.
                "command": ["sh", "-c", "trap 'exit 0' TERM; httpd -f -p 8080 -h /www & wait"],
                "portMappings": [{"containerPort": 8080, "name": "http"}],
            }
        ],
    )["taskDefinition"]["taskDefinitionArn"]
    service = ecs.create_service(
        cluster=name,
        serviceName="web",
        taskDefinition=td,
        desiredCount=1,
        networkConfiguration={"awsvpcConfiguration": {"subnets": [subnet]}},
        gatewayConnectors=[
            {
                "portName": "http",
                "healthCheck": {
                    "healthCheckPath": "/index.html",
                    "healthCheckIntervalSeconds": 5,
                    "healthCheckTimeoutSeconds": 2,
                    "healthyThresholdCount": 2,
                },
                "deregistrationDelay": {"timeoutSeconds": 0},
            }
        ],
    )["service"]
    (summary,) = ecs.list_gateway_routes(gateway=name)["gatewayRoutes"]
    route = ecs.describe_gateway_route(gatewayRouteArn=summary["gatewayRouteArn"])
    url = route["gatewayRoute"]["serviceUrl"]
    host = url.removeprefix("https://")
    (address,) = until(lambda: resolve(server, host), 30, "the route's host name to resolve")
    assert address.startswith("127.") and address != "127.0.0.1"
    try:
        # The certificate is Portside's own self-signed wildcard: not verified here.
        with httpx.Client(timeout=10.0, verify=False, headers={"Connection": "close"}) as http:

            def get(name: str, path: str = "/index.html") -> httpx.Response | None:
                try:
                    return http.get(
                        f"https://{address}{path}",
                        headers={"Host": name},
                        extensions={"sni_hostname": name},
                    )
                except httpx.HTTPError:
                    return None

            def answered() -> bytes | None:
                response = get(host)
                return response.content if response and response.status_code == 200 else None

            assert until(answered, 120, "the service's URL to answer") == INDEX_HTML
            other = get("elsewhere.ecs.us-east-1.on.aws", "/")
            assert other is not None and other.status_code == 404
    finally:
        ecs.delete_service(cluster=name, service=service["serviceArn"], force=True)
    assert ecs.list_gateway_routes(gateway=name)["gatewayRoutes"] == []
    until(lambda: resolve(server, host) == [], 30, "the host name to go")

    def inactive() -> bool:
        (found,) = ecs.describe_services(cluster=name, services=["web"])["services"]
        return bool(found["status"] == "INACTIVE")

    until(inactive, 60, "the service's tasks to stop")
    ecs.disassociate_gateway_from_cluster(gateway=name, cluster=name)
    ecs.delete_gateway(gateway=name)
