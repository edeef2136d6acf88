"""Services connected to ECS gateways through boto3 against a real server (CreateService's
`gatewayConnectors`): the route, its host name and the shared HTTPS load balancer it is made
on, as ELB, ACM, DNS and ECS's gateway reads show them; disconnecting and deleting; ECS's
errors. No task runs here (desiredCount 0): tests/e2e/test_gateway_docker.py sends traffic."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from aws_query import query_client
from botocore.exceptions import ClientError
from harness import ServerProcess
from local_dns import resolve
from test_gateways import _role

from portside.elb.addresses import own_address

ACCOUNT = "000000000000"


def _error(call: Any, **params: Any) -> dict[str, str]:
    with pytest.raises(ClientError) as err:
        call(**params)
    return dict(err.value.response["Error"])


def _network(server: ServerProcess) -> dict[str, Any]:
    """The default VPC's first default subnet, where the gateway's load balancers go too."""
    ec2 = query_client(server, "ec2")
    found = ec2.describe_subnets(Filters=[{"Name": "default-for-az", "Values": ["true"]}])
    subnet = sorted(s["SubnetId"] for s in found["Subnets"])[0]
    return {"awsvpcConfiguration": {"subnets": [subnet]}}


def _definition(ecs: Any, family: str, mode: str = "awsvpc") -> str:
    out = ecs.register_task_definition(
        family=family,
        networkMode=mode,
        containerDefinitions=[
            {
                "name": "web",
                "image": "busybox",
                "memory": 32,
                "portMappings": [{"containerPort": 8080, "name": "http"}],
            }
        ],
    )
    return str(out["taskDefinition"]["taskDefinitionArn"])


CONNECTOR = {
    "portName": "http",
    "healthCheck": {"healthCheckPath": "/health", "healthyThresholdCount": 2},
    "deregistrationDelay": {"timeoutSeconds": 5},
}


def test_a_connected_service_gets_a_route_on_a_shared_https_load_balancer(
    server: ServerProcess, ecs: Any, name: str
) -> None:
    elb, acm = query_client(server, "elbv2"), query_client(server, "acm")
    ecs.create_cluster(clusterName=name)
    td = _definition(ecs, name)
    net = _network(server)

    def refused(connectors: list[dict[str, Any]], definition: str = td) -> dict[str, str]:
        error = _error(
            ecs.create_service,
            cluster=name,
            serviceName="web",
            taskDefinition=definition,
            desiredCount=0,
            networkConfiguration=net,
            gatewayConnectors=connectors,
        )
        assert error["Code"] == "InvalidParameterException", error
        return error

    # No gateway associated: refused before anything is made.
    assert "No gateway is associated" in refused([CONNECTOR])["Message"]
    ecs.create_gateway(
        name=name, infrastructureRoleArn=_role(server, name), configuration={"hostSharedAlb": {}}
    )
    ecs.associate_gateway_with_cluster(gateway=name, cluster=name)
    gateway = f"arn:aws:ecs:us-east-1:{ACCOUNT}:gateway/{name}"

    # The connector's errors: an unknown port name, a PRIVATE-only filter (the gateway is
    # internet-facing), a bridge-mode task definition, two connectors (the model's bound),
    # what ELB refuses of the health check (in ECS's error).
    assert "portName nope" in refused([{**CONNECTOR, "portName": "nope"}])["Message"]
    private = {**CONNECTOR, "filters": {"accessTypes": ["PRIVATE"]}}
    assert "compatible" in refused([private])["Message"]
    bridge = _definition(ecs, f"{name}-bridge", "bridge")
    assert "awsvpc" in refused([CONNECTOR], bridge)["Message"]
    assert "less than or equal to 1" in refused([CONNECTOR, CONNECTOR])["Message"]
    check = {**CONNECTOR, "healthCheck": {"healthCheckIntervalSeconds": 5}}
    assert "interval must be greater than the timeout" in refused([check])["Message"]
    assert ecs.list_gateway_routes(gateway=name)["gatewayRoutes"] == []
    assert _gateway_lbs(ecs, name) == []

    created = ecs.create_service(
        cluster=name,
        serviceName="web",
        taskDefinition=td,
        desiredCount=0,
        networkConfiguration=net,
        gatewayConnectors=[CONNECTOR],
    )["service"]
    service = created["serviceArn"]
    assert created["loadBalancers"] == []  # the route's target group is not the user's
    (summary,) = ecs.list_gateway_routes(gateway=name)["gatewayRoutes"]
    route_arn = f"arn:aws:ecs:us-east-1:{ACCOUNT}:gateway-route/{name}/{name}/web"
    assert summary == {
        "gatewayRouteArn": route_arn,
        "gatewayArn": gateway,
        "clusterArn": f"arn:aws:ecs:us-east-1:{ACCOUNT}:cluster/{name}",
        "serviceArn": service,
        "serviceContainerPortName": "http",
        "status": "ACTIVE",
    }
    assert ecs.list_gateway_routes(cluster=name, service="web")["gatewayRoutes"] == [summary]
    assert ecs.list_gateway_routes(service="other")["gatewayRoutes"] == []
    route = ecs.describe_gateway_route(gatewayRouteArn=route_arn)["gatewayRoute"]
    assert route["serviceUrl"].startswith("https://web-")
    assert route["serviceUrl"].endswith(".ecs.us-east-1.on.aws")
    host = route["serviceUrl"].removeprefix("https://")
    (alb,) = route["resources"]["hostSharedAlb"]

    # ELB: an internet-facing ALB with an HTTPS listener on 443 serving the wildcard
    # certificate, its default action 404, and a host-header rule to an ip target group.
    (lb,) = elb.describe_load_balancers(LoadBalancerArns=[alb["loadBalancerArn"]])["LoadBalancers"]
    assert (lb["Scheme"], lb["Type"]) == ("internet-facing", "application")
    (listener,) = elb.describe_listeners(LoadBalancerArn=lb["LoadBalancerArn"])["Listeners"]
    assert (listener["Protocol"], listener["Port"], listener["ListenerArn"]) == (
        "HTTPS",
        443,
        alb["listenerArn"],
    )
    assert listener["Certificates"] == [{"CertificateArn": alb["acmCertificateArn"]}]
    cert = acm.describe_certificate(CertificateArn=alb["acmCertificateArn"])["Certificate"]
    assert cert["DomainName"] == "*.ecs.us-east-1.on.aws"
    rules = elb.describe_rules(ListenerArn=listener["ListenerArn"])["Rules"]
    (rule,) = [r for r in rules if not r["IsDefault"]]
    assert rule["RuleArn"] == alb["listenerRuleArn"]
    assert rule["Conditions"][0]["HostHeaderConfig"]["Values"] == [host]
    group_arn = rule["Actions"][0]["TargetGroupArn"]
    (group,) = elb.describe_target_groups(TargetGroupArns=[group_arn])["TargetGroups"]
    assert (group["TargetType"], group["Port"], group["HealthCheckPath"]) == ("ip", 8080, "/health")
    attrs = elb.describe_target_group_attributes(TargetGroupArn=group_arn)["Attributes"]
    assert {"Key": "deregistration_delay.timeout_seconds", "Value": "5"} in attrs
    # The DNS server answers the route's host name with the load balancer's own address.
    assert resolve(server, host) == [own_address(lb["LoadBalancerArn"])]
    resources = ecs.describe_gateway_resources(gateway=name)["gatewayResources"]
    assert resources["resources"]["hostSharedAlb"] == [
        {
            "loadBalancerArn": lb["LoadBalancerArn"],
            "listenerArn": listener["ListenerArn"],
            "gatewayRouteArns": [route_arn],
        }
    ]
    # UpdateGateway reaches the load balancers it made: their inbound security group.
    ec2 = query_client(server, "ec2")
    vpc = ec2.describe_subnets(SubnetIds=net["awsvpcConfiguration"]["subnets"])["Subnets"][0]
    group = ec2.create_security_group(
        GroupName=f"gw-{name}", Description="gateway ingress", VpcId=vpc["VpcId"]
    )["GroupId"]
    inbound = {"networkConfiguration": {"inboundSecurityGroup": group}}
    ecs.update_gateway(gateway=name, configuration={"hostSharedAlb": inbound})
    (moved,) = elb.describe_load_balancers(LoadBalancerArns=[lb["LoadBalancerArn"]])[
        "LoadBalancers"
    ]
    assert moved["SecurityGroups"] == [group]
    shown_route = ecs.describe_gateway_route(gatewayRouteArn=route_arn)["gatewayRoute"]
    groups = shown_route["resources"]["hostSharedAlb"][0]["loadBalancerSecurityGroups"]
    assert [g["arn"] for g in groups] == [f"arn:aws:ec2:us-east-1:{ACCOUNT}:security-group/{group}"]
    revision = ecs.describe_service_revisions(
        serviceRevisionArns=[
            ecs.list_service_deployments(cluster=name, service="web")["serviceDeployments"][0][
                "targetServiceRevisionArn"
            ]
        ]
    )["serviceRevisions"][0]
    assert revision["gatewayConnectors"] == [CONNECTOR]

    # A second service shares the load balancer: a rule of its own.
    ecs.create_service(
        cluster=name,
        serviceName="api",
        taskDefinition=td,
        desiredCount=0,
        networkConfiguration=net,
        gatewayConnectors=[CONNECTOR],
    )
    other = ecs.describe_gateway_route(
        gatewayRouteArn=f"arn:aws:ecs:us-east-1:{ACCOUNT}:gateway-route/{name}/{name}/api"
    )["gatewayRoute"]
    assert other["resources"]["hostSharedAlb"][0]["loadBalancerArn"] == lb["LoadBalancerArn"]
    assert other["serviceUrl"] != route["serviceUrl"]

    # The cluster cannot leave the gateway while services use it.
    held = _error(ecs.disassociate_gateway_from_cluster, gateway=name, cluster=name)
    assert held["Code"] == "ClientException"

    # The same connector again: the route stays as it is.
    ecs.update_service(cluster=name, service="web", gatewayConnectors=[CONNECTOR])
    same = ecs.describe_gateway_route(gatewayRouteArn=route_arn)["gatewayRoute"]
    assert same["resources"]["hostSharedAlb"][0]["listenerRuleArn"] == alb["listenerRuleArn"]
    # A changed connector ELB refuses: the call fails and the route is left as it was.
    bad = {**CONNECTOR, "healthCheck": {"healthCheckIntervalSeconds": 5}}
    failed = _error(ecs.update_service, cluster=name, service="web", gatewayConnectors=[bad])
    assert failed["Code"] == "InvalidParameterException"
    kept = ecs.describe_gateway_route(gatewayRouteArn=route_arn)["gatewayRoute"]
    assert kept == same
    assert resolve(server, host) == [own_address(lb["LoadBalancerArn"])]
    # A changed connector: a new rule and target group for the same URL, the old ones gone.
    changed = {**CONNECTOR, "healthCheck": {"healthCheckPath": "/ready"}}
    ecs.update_service(cluster=name, service="web", gatewayConnectors=[changed])
    renewed = ecs.describe_gateway_route(gatewayRouteArn=route_arn)["gatewayRoute"]
    assert renewed["serviceUrl"] == route["serviceUrl"]
    (new_rule,) = elb.describe_rules(
        RuleArns=[renewed["resources"]["hostSharedAlb"][0]["listenerRuleArn"]]
    )["Rules"]
    assert new_rule["RuleArn"] != alb["listenerRuleArn"]
    assert new_rule["Conditions"][0]["HostHeaderConfig"]["Values"] == [host]
    new_group = new_rule["Actions"][0]["TargetGroupArn"]
    (renewed_group,) = elb.describe_target_groups(TargetGroupArns=[new_group])["TargetGroups"]
    assert renewed_group["HealthCheckPath"] == "/ready"
    assert _error(elb.describe_target_groups, TargetGroupArns=[group_arn])["Code"] == (
        "TargetGroupNotFound"
    )
    assert _error(elb.describe_rules, RuleArns=[alb["listenerRuleArn"]])["Code"] == "RuleNotFound"
    assert resolve(server, host) == [own_address(lb["LoadBalancerArn"])]
    (web,) = ecs.describe_services(cluster=name, services=["web"])["services"]
    assert web["loadBalancers"] == []
    group_arn = new_group

    # Disconnected by UpdateService: its route and rule go; the load balancer stays for "api".
    ecs.update_service(cluster=name, service="web", gatewayConnectors=[])
    assert [r["serviceArn"] for r in ecs.list_gateway_routes(gateway=name)["gatewayRoutes"]] == [
        other["serviceArn"]
    ]
    left = elb.describe_rules(ListenerArn=listener["ListenerArn"])["Rules"]
    assert [r["RuleArn"] for r in left if not r["IsDefault"]] == [
        other["resources"]["hostSharedAlb"][0]["listenerRuleArn"]
    ]
    assert _error(elb.describe_target_groups, TargetGroupArns=[group_arn])["Code"] == (
        "TargetGroupNotFound"
    )
    assert resolve(server, host) == []

    # Deleting the last connected service removes its route and the load balancer.
    ecs.delete_service(cluster=name, service="api", force=True)
    ecs.delete_service(cluster=name, service="web", force=True)
    assert ecs.list_gateway_routes(gateway=name)["gatewayRoutes"] == []
    assert _error(elb.describe_load_balancers, LoadBalancerArns=[lb["LoadBalancerArn"]])[
        "Code"
    ] == ("LoadBalancerNotFound")
    assert ecs.describe_gateway_resources(gateway=name)["gatewayResources"]["resources"] == {
        "hostSharedAlb": []
    }
    ecs.disassociate_gateway_from_cluster(gateway=name, cluster=name)


def _gateway_lbs(ecs: Any, name: str) -> list[str]:
    found = ecs.describe_gateway_resources(gateway=name)["gatewayResources"]["resources"]
    return [lb["loadBalancerArn"] for lb in found["hostSharedAlb"]]


def test_a_retry_of_a_connected_create_makes_nothing_twice(
    server: ServerProcess, ecs: Any, name: str
) -> None:
    ecs.create_cluster(clusterName=name)
    td = _definition(ecs, name)
    ecs.create_gateway(
        name=name, infrastructureRoleArn=_role(server, name), configuration={"hostSharedAlb": {}}
    )
    ecs.associate_gateway_with_cluster(gateway=name, cluster=name)
    token = uuid.uuid4().hex
    params: dict[str, Any] = {
        "cluster": name,
        "serviceName": "web",
        "taskDefinition": td,
        "desiredCount": 0,
        "networkConfiguration": _network(server),
        "gatewayConnectors": [CONNECTOR],
        "clientToken": token,
    }
    first = ecs.create_service(**params)["service"]
    again = ecs.create_service(**params)["service"]
    assert again["serviceArn"] == first["serviceArn"]
    (route,) = ecs.list_gateway_routes(gateway=name)["gatewayRoutes"]
    shown = ecs.describe_gateway_route(gatewayRouteArn=route["gatewayRouteArn"])["gatewayRoute"]
    elb = query_client(server, "elbv2")
    rules = elb.describe_rules(ListenerArn=shown["resources"]["hostSharedAlb"][0]["listenerArn"])
    assert len([r for r in rules["Rules"] if not r["IsDefault"]]) == 1
    ecs.delete_service(cluster=name, service="web", force=True)
    assert ecs.list_gateway_routes(gateway=name)["gatewayRoutes"] == []
