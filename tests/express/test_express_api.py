"""ECS Express Mode through boto3 and the AWS CLI against a real server (no agent: the tasks
do not run here, tests/express/test_express_docker.py runs one): one call makes the service,
its task definition, log group, target group, load balancer, listener, rule and scaling
target; Describe reads them back; Update changes them; Delete removes them; ECS's errors."""

from __future__ import annotations

import random
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from harness import ACCESS_KEY, REGION, SECRET_KEY, ServerProcess

ROLE = "arn:aws:iam::000000000000:role/ecsInfrastructureRoleForExpressServices"


def _plain(server: ServerProcess, service: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=server.endpoint,
        region_name=REGION,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
    )


def _error(call: Any, **params: Any) -> tuple[str, str]:
    with pytest.raises(ClientError) as info:
        call(**params)
    err = info.value.response["Error"]
    return err["Code"], err["Message"]


def test_one_call_makes_a_service_and_everything_it_needs(server: ServerProcess, name: str) -> None:
    ecs = server.client()
    elb, logs, aas = (
        _plain(server, "elbv2"),
        _plain(server, "logs"),
        _plain(server, "application-autoscaling"),
    )
    ecs.create_cluster(clusterName=name)
    made = ecs.create_express_gateway_service(
        cluster=name,
        serviceName="web",
        infrastructureRoleArn=ROLE,
        primaryContainer={"image": "busybox", "containerPort": 8080},
        cpu="256",
        memory="512",
        scalingTarget={"minTaskCount": 2, "maxTaskCount": 5},
        tags=[{"key": "team", "value": "web"}],
    )["service"]
    arn = made["serviceArn"]
    assert made["serviceName"] == "web" and made["status"] == {"statusCode": "ACTIVE"}
    assert made["infrastructureRoleArn"] == ROLE
    (config,) = made["activeConfigurations"]
    assert config["cpu"] == "256" and config["memory"] == "512"
    assert config["healthCheckPath"] == "/ping"  # Express Mode's default
    assert config["primaryContainer"]["awsLogsConfiguration"] == {
        "logGroup": f"/aws/ecs/{name}/web",
        "logStreamPrefix": "ecs",
    }
    assert config["scalingTarget"] == {
        "minTaskCount": 2,
        "maxTaskCount": 5,
        "autoScalingMetric": "AVERAGE_CPU",
        "autoScalingTargetValue": 60,
    }
    (ingress,) = config["ingressPaths"]
    assert ingress["accessType"] == "PUBLIC" and ingress["endpoint"].startswith("https://web-")
    assert ingress["endpoint"].endswith(".ecs.us-east-1.on.aws")
    assert made["currentDeployment"].startswith(
        arn.replace(":service/", ":service-deployment/") + "/"
    )

    # The ECS service, as every ECS call sees it.
    (service,) = ecs.describe_services(cluster=name, services=["web"], include=["TAGS"])["services"]
    assert service["desiredCount"] == 2 and service["resourceManagementType"] == "ECS"
    assert service["networkConfiguration"]["awsvpcConfiguration"]["subnets"]
    (lb_ref,) = service["loadBalancers"]
    assert lb_ref["containerPort"] == 8080
    assert ecs.list_services(cluster=name)["serviceArns"] == [arn]
    assert ecs.list_services(cluster=name, resourceManagementType="ECS")["serviceArns"] == [arn]
    assert ecs.list_services(cluster=name, resourceManagementType="CUSTOMER")["serviceArns"] == []
    td = ecs.describe_task_definition(taskDefinition=service["taskDefinition"])["taskDefinition"]
    assert td["networkMode"] == "awsvpc" and td["cpu"] == "256"
    assert td["containerDefinitions"][0]["image"] == "busybox"

    # What it made beyond ECS, through those services' own APIs.
    (tg,) = elb.describe_target_groups(TargetGroupArns=[lb_ref["targetGroupArn"]])["TargetGroups"]
    assert tg["TargetType"] == "ip" and tg["HealthCheckPath"] == "/ping" and tg["Port"] == 8080
    (lb_arn,) = tg["LoadBalancerArns"]
    (listener,) = elb.describe_listeners(LoadBalancerArn=lb_arn)["Listeners"]
    # Express Mode's shared load balancer: HTTPS on 443, a host-header rule for the service.
    assert (listener["Protocol"], listener["Port"]) == ("HTTPS", 443)
    rules = elb.describe_rules(ListenerArn=listener["ListenerArn"])["Rules"]
    forward = next(r for r in rules if not r["IsDefault"])
    assert forward["Actions"][0]["TargetGroupArn"] == tg["TargetGroupArn"]
    assert forward["Conditions"][0]["HostHeaderConfig"]["Values"] == [
        ingress["endpoint"].removeprefix("https://")
    ]
    groups = logs.describe_log_groups(logGroupNamePrefix=f"/aws/ecs/{name}/")["logGroups"]
    assert [g["logGroupName"] for g in groups] == [f"/aws/ecs/{name}/web"]
    (target,) = aas.describe_scalable_targets(
        ServiceNamespace="ecs", ResourceIds=[f"service/{name}/web"]
    )["ScalableTargets"]
    assert (target["MinCapacity"], target["MaxCapacity"]) == (2, 5)
    (policy,) = aas.describe_scaling_policies(
        ServiceNamespace="ecs", ResourceId=f"service/{name}/web"
    )["ScalingPolicies"]
    assert policy["PolicyType"] == "TargetTrackingScaling"

    # Describe (the AWS CLI), with tags when asked.
    shown = server.aws(
        "ecs", "describe-express-gateway-service", "--service-arn", arn, "--include", "TAGS"
    )["service"]
    assert shown["tags"] == [{"key": "team", "value": "web"}]
    assert shown["activeConfigurations"][0]["serviceRevisionArn"] == (config["serviceRevisionArn"])

    # Update: a new image makes a new service revision; the health check and scaling change
    # in place.
    updated = ecs.update_express_gateway_service(
        serviceArn=arn,
        primaryContainer={"image": "busybox:1.36", "containerPort": 8080},
        healthCheckPath="/health",
        scalingTarget={"maxTaskCount": 7, "autoScalingMetric": "AVERAGE_MEMORY"},
    )["service"]
    target_config = updated["targetConfiguration"]
    assert target_config["primaryContainer"]["image"] == "busybox:1.36"
    assert target_config["serviceRevisionArn"] != config["serviceRevisionArn"]
    assert target_config["scalingTarget"]["maxTaskCount"] == 7
    assert target_config["scalingTarget"]["minTaskCount"] == 2
    (tg,) = elb.describe_target_groups(TargetGroupArns=[tg["TargetGroupArn"]])["TargetGroups"]
    assert tg["HealthCheckPath"] == "/health"
    shown = ecs.describe_express_gateway_service(serviceArn=arn)["service"]
    assert len(shown["activeConfigurations"]) == 2  # the old revision still drains
    assert "tags" not in shown

    # Delete: the service drains; the load balancer and the scaling target go.
    gone = ecs.delete_express_gateway_service(serviceArn=arn)["service"]
    assert gone["status"]["statusCode"] == "DRAINING"
    lbs = elb.describe_load_balancers()["LoadBalancers"]
    assert all(lb["LoadBalancerArn"] != lb_arn for lb in lbs)
    assert (
        aas.describe_scalable_targets(ServiceNamespace="ecs", ResourceIds=[f"service/{name}/web"])[
            "ScalableTargets"
        ]
        == []
    )
    tgs = elb.describe_target_groups()["TargetGroups"]
    assert all(t["TargetGroupArn"] != tg["TargetGroupArn"] for t in tgs)
    code, _ = _error(ecs.describe_express_gateway_service, serviceArn=arn)
    assert code == "ResourceNotFoundException"
    code, _ = _error(ecs.delete_express_gateway_service, serviceArn=arn)
    assert code == "ServiceNotActiveException"
    code, _ = _error(ecs.update_express_gateway_service, serviceArn=arn + "-nope")
    assert code == "ServiceNotFoundException"


def test_refusals_leave_nothing_behind(server: ServerProcess, name: str) -> None:
    ecs, elb = server.client(), _plain(server, "elbv2")
    ecs.create_cluster(clusterName=name)
    before = len(elb.describe_target_groups()["TargetGroups"])
    base = {
        "cluster": name,
        "infrastructureRoleArn": ROLE,
        "primaryContainer": {"image": "busybox"},
    }
    code, message = _error(ecs.create_express_gateway_service, cpu="256", memory="8192", **base)
    assert code == "InvalidParameterException" and "256" in message
    code, _ = _error(
        ecs.create_express_gateway_service,
        scalingTarget={"minTaskCount": 5, "maxTaskCount": 2},
        **base,
    )
    assert code == "InvalidParameterException"
    code, _ = _error(ecs.create_express_gateway_service, healthCheckPath="ping", **base)
    assert code == "InvalidParameterException"
    code, _ = _error(
        ecs.create_express_gateway_service,
        networkConfiguration={"subnets": ["subnet-0123456789abcdef0"]},
        **base,
    )
    assert code == "InvalidParameterException"
    code, _ = _error(
        ecs.create_express_gateway_service,
        **{**base, "cluster": name + "-nope"},
    )
    assert code == "ClusterNotFoundException"
    assert len(elb.describe_target_groups()["TargetGroups"]) == before
    assert ecs.list_services(cluster=name)["serviceArns"] == []
    # A name that is taken: refused before anything is made.
    ecs.create_express_gateway_service(serviceName="api", **base)
    code, _ = _error(ecs.create_express_gateway_service, serviceName="api", **base)
    assert code == "InvalidParameterException"
    assert len(elb.describe_target_groups()["TargetGroups"]) == before + 1
    # A service that is not an Express service is not one of theirs.
    arn = ecs.list_services(cluster=name)["serviceArns"][0]
    plain = arn.replace("/api", "/plain")
    code, _ = _error(ecs.describe_express_gateway_service, serviceArn=plain)
    assert code == "ResourceNotFoundException"
    ecs.delete_express_gateway_service(serviceArn=arn)
    assert len(elb.describe_target_groups()["TargetGroups"]) == before


def test_express_services_of_one_vpc_share_a_load_balancer(
    server: ServerProcess, name: str
) -> None:
    """Express Mode's own load balancers: the services of one VPC share one (a rule and a
    host name each); the last one deleted takes it down."""
    ecs, elb, ec2 = server.client(), _plain(server, "elbv2"), _plain(server, "ec2")
    ecs.create_cluster(clusterName=name)
    x = random.randint(1, 250)
    vpc = ec2.create_vpc(CidrBlock=f"10.{x}.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.{x}.1.0/24")["Subnet"]["SubnetId"]
    made = [
        ecs.create_express_gateway_service(
            cluster=name,
            serviceName=svc,
            infrastructureRoleArn=ROLE,
            primaryContainer={"image": "busybox"},
            networkConfiguration={"subnets": [subnet]},
        )["service"]
        for svc in ("one", "two")
    ]
    endpoints = [m["activeConfigurations"][0]["ingressPaths"][0]["endpoint"] for m in made]
    assert endpoints[0] != endpoints[1]

    def balancer(arn: str) -> str:
        (service,) = ecs.describe_services(cluster=name, services=[arn])["services"]
        group = service["loadBalancers"][0]["targetGroupArn"]
        (tg,) = elb.describe_target_groups(TargetGroupArns=[group])["TargetGroups"]
        (lb,) = tg["LoadBalancerArns"]
        return str(lb)

    first, second = (balancer(m["serviceArn"]) for m in made)
    assert first == second
    listener = elb.describe_listeners(LoadBalancerArn=first)["Listeners"][0]
    rules = elb.describe_rules(ListenerArn=listener["ListenerArn"])["Rules"]
    assert len([r for r in rules if not r["IsDefault"]]) == 2
    ecs.delete_express_gateway_service(serviceArn=made[0]["serviceArn"])
    assert elb.describe_load_balancers(LoadBalancerArns=[first])["LoadBalancers"]
    ecs.delete_express_gateway_service(serviceArn=made[1]["serviceArn"])
    code, _ = _error(elb.describe_load_balancers, LoadBalancerArns=[first])
    assert code == "LoadBalancerNotFound"
