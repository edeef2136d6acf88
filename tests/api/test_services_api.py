"""CreateService, UpdateService, DeleteService, DescribeServices, ListServices,
ListServiceDeployments and DescribeServiceDeployments through boto3 (every response checked
against botocore's model) and the AWS CLI, against a real server.

No instance joins these clusters, so no task ever starts: the tests assert what the API
stores and answers. The service controller may run in the server and add events or move a
deployment on; assertions on those fields use the answer of the call that wrote them."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from harness import ACCESS_KEY, REGION, SECRET_KEY, ServerProcess, free_port

ACCOUNT = "000000000000"
ROOT = f"arn:aws:iam::{ACCOUNT}:root"
LINKED_ROLE = f"arn:aws:iam::{ACCOUNT}:role/aws-service-role/ecs.amazonaws.com/AWSServiceRoleForECS"
NETWORK = {"awsvpcConfiguration": {"subnets": ["subnet-0a1b2c"], "securityGroups": ["sg-0a1b2c"]}}
WEB = {"name": "web", "image": "busybox", "memory": 64, "portMappings": [{"containerPort": 80}]}
TARGET = "arn:aws:elasticloadbalancing:us-east-1:000000000000:targetgroup/web/0123456789abcdef"
# Members that stay as CreateService wrote them whatever the controller does.
STATIC = (
    "serviceArn",
    "serviceName",
    "clusterArn",
    "loadBalancers",
    "serviceRegistries",
    "launchType",
    "taskDefinition",
    "deploymentConfiguration",
    "roleArn",
    "createdAt",
    "placementConstraints",
    "placementStrategy",
    "healthCheckGracePeriodSeconds",
    "schedulingStrategy",
    "deploymentController",
    "createdBy",
    "enableECSManagedTags",
    "propagateTags",
    "enableExecuteCommand",
)


def fails(code: str, call: Callable[..., Any], **kwargs: Any) -> str:
    """Call, expect the ECS error `code` with HTTP 400, and return its message."""
    with pytest.raises(ClientError) as err:
        call(**kwargs)
    assert err.value.response["Error"]["Code"] == code, err.value.response["Error"]
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    return str(err.value.response["Error"]["Message"])


def service_arn(cluster: str, name: str) -> str:
    return f"arn:aws:ecs:{REGION}:{ACCOUNT}:service/{cluster}/{name}"


def register(
    ecs: Any, family: str, containers: list[dict[str, Any]] | None = None, **extra: Any
) -> str:
    out = ecs.register_task_definition(
        family=family, containerDefinitions=containers or [WEB], **extra
    )
    return str(out["taskDefinition"]["taskDefinitionArn"])


def register_fargate(ecs: Any, family: str) -> str:
    return register(
        ecs,
        family,
        requiresCompatibilities=["FARGATE"],
        networkMode="awsvpc",
        cpu="256",
        memory="512",
    )


def describe(ecs: Any, cluster: str, name: str, **kwargs: Any) -> dict[str, Any]:
    out = ecs.describe_services(cluster=cluster, services=[name], **kwargs)
    assert out["failures"] == []
    (found,) = out["services"]
    return dict(found)


@pytest.fixture
def cluster(ecs: Any, name: str) -> str:
    ecs.create_cluster(clusterName=name, capacityProviders=["FARGATE", "FARGATE_SPOT"])
    return name


@pytest.fixture
def td(ecs: Any, name: str) -> str:
    return register(ecs, name)


# -- CreateService ------------------------------------------------------------------------------


def test_create_service_answers_with_ecs_defaults(ecs: Any, cluster: str, td: str) -> None:
    created = ecs.create_service(
        cluster=cluster, serviceName="web", taskDefinition=td, desiredCount=2
    )["service"]
    assert created["serviceArn"] == service_arn(cluster, "web")
    assert created["serviceName"] == "web"
    assert created["clusterArn"] == f"arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/{cluster}"
    assert created["status"] == "ACTIVE" and created["taskDefinition"] == td
    assert (created["desiredCount"], created["runningCount"], created["pendingCount"]) == (2, 0, 0)
    assert created["launchType"] == "EC2" and "capacityProviderStrategy" not in created
    assert created["schedulingStrategy"] == "REPLICA"
    assert created["deploymentController"] == {"type": "ECS"}
    assert created["deploymentConfiguration"] == {
        "deploymentCircuitBreaker": {"enable": False, "rollback": False},
        "maximumPercent": 200,
        "minimumHealthyPercent": 100,
    }
    assert created["propagateTags"] == "NONE"
    assert created["enableECSManagedTags"] is False and created["enableExecuteCommand"] is False
    assert created["createdBy"] == ROOT and created["roleArn"] == LINKED_ROLE
    assert created["events"] == [] and "tags" not in created
    assert created["loadBalancers"] == [] and created["serviceRegistries"] == []
    assert created["placementConstraints"] == [] and created["placementStrategy"] == []
    (dep,) = created["deployments"]
    assert re.fullmatch(r"ecs-svc/\d{19}", dep["id"])
    assert dep["status"] == "PRIMARY" and dep["taskDefinition"] == td
    assert (dep["desiredCount"], dep["runningCount"], dep["pendingCount"]) == (2, 0, 0)
    assert dep["failedTasks"] == 0 and dep["launchType"] == "EC2"
    assert dep["rolloutState"] == "IN_PROGRESS"
    assert dep["rolloutStateReason"] == f"ECS deployment {dep['id']} in progress."
    assert dep["createdAt"] == created["createdAt"] == dep["updatedAt"]
    digits = dep["id"].removeprefix("ecs-svc/")
    assert created["currentServiceDeployment"] == (
        f"arn:aws:ecs:{REGION}:{ACCOUNT}:service-deployment/{cluster}/web/{digits}"
    )

    described = describe(ecs, cluster, "web")
    assert {k: described.get(k) for k in STATIC} == {k: created.get(k) for k in STATIC}
    assert described["deployments"][0]["id"] == dep["id"]
    assert described["desiredCount"] == 2 and described["status"] == "ACTIVE"


def test_create_service_on_fargate_capacity_providers(ecs: Any, cluster: str, name: str) -> None:
    td = register_fargate(ecs, name)
    strategy = [{"capacityProvider": "FARGATE_SPOT", "weight": 3, "base": 1}]
    created = ecs.create_service(
        cluster=cluster,
        serviceName="app",
        taskDefinition=td,
        desiredCount=1,
        capacityProviderStrategy=strategy,
        networkConfiguration=NETWORK,
    )["service"]
    assert "launchType" not in created and created["capacityProviderStrategy"] == strategy
    assert created["platformVersion"] == "LATEST" and created["platformFamily"] == "Linux"
    assert created["networkConfiguration"]["awsvpcConfiguration"]["subnets"] == ["subnet-0a1b2c"]
    dep = created["deployments"][0]
    assert dep["capacityProviderStrategy"] == strategy and dep["platformVersion"] == "1.4.0"
    assert dep["networkConfiguration"] == created["networkConfiguration"]


def load_balanced_group(server: ServerProcess) -> str:
    """A target group an ALB's listener forwards to (a service's loadBalancers need one)."""
    elb = boto3.client(
        "elbv2",
        endpoint_url=server.endpoint,
        region_name=REGION,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
    )
    name = f"svc-{uuid.uuid4().hex[:8]}"
    lb = elb.create_load_balancer(Name=name, Subnets=["subnet-0aaa1111", "subnet-0bbb2222"])
    tg = elb.create_target_group(Name=name, Protocol="HTTP", Port=80, VpcId="vpc-1")
    arn = str(tg["TargetGroups"][0]["TargetGroupArn"])
    elb.create_listener(
        LoadBalancerArn=lb["LoadBalancers"][0]["LoadBalancerArn"],
        Protocol="HTTP",
        Port=free_port(),
        DefaultActions=[{"Type": "forward", "TargetGroupArn": arn}],
    )
    return arn


def test_create_service_with_a_load_balancer_and_settings(
    server: ServerProcess, ecs: Any, cluster: str, td: str
) -> None:
    target = load_balanced_group(server)
    created = ecs.create_service(
        cluster=cluster,
        serviceName="lb",
        taskDefinition=td,
        desiredCount=1,
        loadBalancers=[{"targetGroupArn": target, "containerName": "web", "containerPort": 80}],
        role="ecsServiceRole",
        healthCheckGracePeriodSeconds=45,
        placementConstraints=[{"type": "memberOf", "expression": "attribute:ecs.os-type == linux"}],
        placementStrategy=[{"type": "spread", "field": "attribute:ecs.availability-zone"}],
        deploymentConfiguration={
            "minimumHealthyPercent": 50,
            "deploymentCircuitBreaker": {"enable": True, "rollback": True},
        },
        propagateTags="SERVICE",
        enableExecuteCommand=True,
    )["service"]
    assert created["loadBalancers"][0]["targetGroupArn"] == target
    assert created["roleArn"] == f"arn:aws:iam::{ACCOUNT}:role/ecsServiceRole"
    assert created["healthCheckGracePeriodSeconds"] == 45
    assert created["placementStrategy"][0]["field"] == "attribute:ecs.availability-zone"
    assert created["deploymentConfiguration"]["maximumPercent"] == 200
    assert created["deploymentConfiguration"]["minimumHealthyPercent"] == 50
    assert created["deploymentConfiguration"]["deploymentCircuitBreaker"]["rollback"] is True
    assert created["propagateTags"] == "SERVICE" and created["enableExecuteCommand"] is True


def test_create_service_refusals_leave_nothing_behind(
    ecs: Any, cluster: str, td: str, name: str
) -> None:
    create = ecs.create_service
    base = {"cluster": cluster, "serviceName": "web", "taskDefinition": td, "desiredCount": 1}
    assert fails("ClusterNotFoundException", create, **{**base, "cluster": "nope" + name})
    assert fails("ClientException", create, **{**base, "taskDefinition": name + "-missing"}) == (
        "TaskDefinition not found."
    )
    assert fails("InvalidParameterException", create, **{**base, "serviceName": "a.b"})
    assert fails(
        "InvalidParameterException", create, **{**base, "schedulingStrategy": "DAEMON"}
    ).startswith("The daemon scheduling strategy does not support a desired count")
    assert "Both maximumPercent and minimumHealthyPercent cannot be 100" in fails(
        "InvalidParameterException",
        create,
        **{
            **base,
            "deploymentConfiguration": {"maximumPercent": 100, "minimumHealthyPercent": 100},
        },
    )
    assert (
        fails(
            "InvalidParameterException",
            create,
            **{
                **base,
                "loadBalancers": [
                    {"targetGroupArn": TARGET, "containerName": "web", "containerPort": 8080}
                ],
            },
        )
        == "The container web did not have a container port 8080 defined."
    )
    assert (
        fails("InvalidParameterException", create, **{**base, "launchType": "FARGATE"})
        == "Task definition does not support launch_type FARGATE."
    )
    ecs.deregister_task_definition(taskDefinition=td)
    assert fails("ClientException", create, **base) == "TaskDefinition is inactive"
    assert ecs.list_services(cluster=cluster)["serviceArns"] == []


def test_create_service_is_idempotent_only_for_a_retry(ecs: Any, cluster: str, td: str) -> None:
    params = {
        "cluster": cluster,
        "serviceName": "web",
        "taskDefinition": td,
        "desiredCount": 1,
        "clientToken": "retry-token-1",
    }
    first = ecs.create_service(**params)["service"]
    again = ecs.create_service(**params)["service"]
    assert again["deployments"][0]["id"] == first["deployments"][0]["id"]
    message = "Creation of service was not idempotent."
    assert (
        fails("InvalidParameterException", ecs.create_service, **{**params, "desiredCount": 2})
        == message
    )
    del params["clientToken"]
    assert fails("InvalidParameterException", ecs.create_service, **params) == message


def test_daemon_service_defaults(ecs: Any, cluster: str, td: str) -> None:
    created = ecs.create_service(
        cluster=cluster, serviceName="agent", taskDefinition=td, schedulingStrategy="DAEMON"
    )["service"]
    assert created["schedulingStrategy"] == "DAEMON" and created["desiredCount"] == 0
    assert created["deploymentConfiguration"]["maximumPercent"] == 100
    assert created["deploymentConfiguration"]["minimumHealthyPercent"] == 0
    assert fails(
        "InvalidParameterException",
        ecs.update_service,
        cluster=cluster,
        service="agent",
        desiredCount=3,
    ).startswith("The daemon scheduling strategy does not support a desired count")
    # A DAEMON service needs no force to be deleted.
    assert ecs.delete_service(cluster=cluster, service="agent")["service"]["status"] == "DRAINING"


# -- tags and DescribeServices ---------------------------------------------------------------------


def test_describe_services_tags_failures_and_limits(ecs: Any, cluster: str, td: str) -> None:
    arn = ecs.create_service(
        cluster=cluster,
        serviceName="web",
        taskDefinition=td,
        desiredCount=0,
        tags=[{"key": "team", "value": "web"}],
    )["service"]["serviceArn"]
    assert "tags" not in describe(ecs, cluster, "web")
    assert describe(ecs, cluster, arn, include=["TAGS"])["tags"] == [
        {"key": "team", "value": "web"}
    ]
    ecs.tag_resource(resourceArn=arn, tags=[{"key": "tier", "value": "front"}])
    assert {t["key"] for t in ecs.list_tags_for_resource(resourceArn=arn)["tags"]} == {
        "team",
        "tier",
    }
    out = ecs.describe_services(cluster=cluster, services=["web", "nope"])
    assert [s["serviceName"] for s in out["services"]] == ["web"]
    assert out["failures"] == [{"arn": service_arn(cluster, "nope"), "reason": "MISSING"}]
    fails(
        "InvalidParameterException",
        ecs.describe_services,
        cluster=cluster,
        services=[f"s{i}" for i in range(11)],
    )
    fails(
        "ClusterNotFoundException", ecs.describe_services, cluster=cluster + "x", services=["web"]
    )


# -- UpdateService ------------------------------------------------------------------------------


def test_update_service_deployments(ecs: Any, cluster: str, td: str, name: str) -> None:
    created = ecs.create_service(
        cluster=cluster, serviceName="web", taskDefinition=td, desiredCount=1
    )["service"]
    first = created["deployments"][0]["id"]

    scaled = ecs.update_service(cluster=cluster, service="web", desiredCount=3)["service"]
    assert scaled["desiredCount"] == 3
    assert [(d["id"], d["desiredCount"]) for d in scaled["deployments"]] == [(first, 3)]

    td2 = register(ecs, name)
    updated = ecs.update_service(cluster=cluster, service="web", taskDefinition=td2)["service"]
    assert updated["taskDefinition"] == td2
    new, old = updated["deployments"]
    assert (new["status"], new["taskDefinition"], new["desiredCount"]) == ("PRIMARY", td2, 3)
    assert (old["id"], old["status"], old["taskDefinition"]) == (first, "ACTIVE", td)

    forced = ecs.update_service(
        cluster=cluster, service=service_arn(cluster, "web"), forceNewDeployment=True
    )["service"]
    assert forced["deployments"][0]["status"] == "PRIMARY"
    assert forced["deployments"][0]["taskDefinition"] == td2
    assert forced["deployments"][0]["id"] not in (first, new["id"])


def test_availability_zone_rebalancing_is_kept(ecs: Any, cluster: str, td: str) -> None:
    # ECS: ENABLED when CreateService leaves it out; an update without it keeps the value.
    made = ecs.create_service(cluster=cluster, serviceName="az", taskDefinition=td, desiredCount=0)[
        "service"
    ]
    assert made["availabilityZoneRebalancing"] == "ENABLED"
    off = ecs.create_service(
        cluster=cluster,
        serviceName="az-off",
        taskDefinition=td,
        desiredCount=0,
        availabilityZoneRebalancing="DISABLED",
    )["service"]
    assert off["availabilityZoneRebalancing"] == "DISABLED"
    kept = ecs.update_service(cluster=cluster, service="az-off", desiredCount=0)["service"]
    assert kept["availabilityZoneRebalancing"] == "DISABLED"
    ecs.update_service(cluster=cluster, service="az", availabilityZoneRebalancing="DISABLED")
    (described,) = ecs.describe_services(cluster=cluster, services=["az"])["services"]
    assert described["availabilityZoneRebalancing"] == "DISABLED"
    with pytest.raises(ClientError) as err:
        ecs.update_service(cluster=cluster, service="az", availabilityZoneRebalancing="SOMETIMES")
    assert err.value.response["Error"]["Code"] in ("InvalidParameterException", "ClientException")


def test_update_service_errors_change_nothing(ecs: Any, cluster: str, td: str, name: str) -> None:
    fails("ServiceNotFoundException", ecs.update_service, cluster=cluster, service="nope")
    fails("ClusterNotFoundException", ecs.update_service, cluster=name + "x", service="web")
    ecs.create_service(cluster=cluster, serviceName="web", taskDefinition=td, desiredCount=1)
    before = describe(ecs, cluster, "web")
    td2 = register(ecs, name)
    ecs.deregister_task_definition(taskDefinition=td2)
    assert (
        fails(
            "ClientException",
            ecs.update_service,
            cluster=cluster,
            service="web",
            taskDefinition=td2,
            desiredCount=5,
        )
        == "TaskDefinition is inactive"
    )
    assert "must force a new deployment" in fails(
        "InvalidParameterException",
        ecs.update_service,
        cluster=cluster,
        service="web",
        capacityProviderStrategy=[{"capacityProvider": "FARGATE", "weight": 1}],
    )
    after = describe(ecs, cluster, "web")
    assert after["desiredCount"] == 1 and after["taskDefinition"] == td
    assert after["deployments"][0]["id"] == before["deployments"][0]["id"]


def test_update_of_a_deleted_service_is_not_active(ecs: Any, cluster: str, td: str) -> None:
    ecs.create_service(cluster=cluster, serviceName="web", taskDefinition=td, desiredCount=0)
    ecs.delete_service(cluster=cluster, service="web")
    message = fails("ServiceNotActiveException", ecs.update_service, cluster=cluster, service="web")
    assert message == "Service was not ACTIVE."


# -- DeleteService, ListServices -------------------------------------------------------------------


def test_delete_service(ecs: Any, cluster: str, td: str) -> None:
    ecs.create_service(cluster=cluster, serviceName="web", taskDefinition=td, desiredCount=2)
    assert (
        fails("InvalidParameterException", ecs.delete_service, cluster=cluster, service="web")
        == "The service cannot be stopped while it is scaled above 0."
    )
    assert describe(ecs, cluster, "web")["status"] == "ACTIVE"
    deleted = ecs.delete_service(cluster=cluster, service="web", force=True)["service"]
    assert deleted["status"] == "DRAINING" and deleted["desiredCount"] == 0
    assert ecs.list_services(cluster=cluster)["serviceArns"] == []
    assert describe(ecs, cluster, "web")["status"] in ("DRAINING", "INACTIVE")
    fails("ServiceNotFoundException", ecs.delete_service, cluster=cluster, service="nope")


def test_list_services_filters_and_pages(ecs: Any, cluster: str, td: str) -> None:
    for n in ("a", "b", "c"):
        ecs.create_service(cluster=cluster, serviceName=n, taskDefinition=td, desiredCount=0)
    ecs.create_service(
        cluster=cluster, serviceName="d", taskDefinition=td, schedulingStrategy="DAEMON"
    )
    everything = [service_arn(cluster, n) for n in "abcd"]
    assert ecs.list_services(cluster=cluster)["serviceArns"] == everything
    page = ecs.list_services(cluster=cluster, maxResults=3)
    assert page["serviceArns"] == everything[:3]
    rest = ecs.list_services(cluster=cluster, maxResults=3, nextToken=page["nextToken"])
    assert rest["serviceArns"] == everything[3:] and "nextToken" not in rest
    pages = ecs.get_paginator("list_services").paginate(
        cluster=cluster, PaginationConfig={"PageSize": 2}
    )
    assert [a for p in pages for a in p["serviceArns"]] == everything
    daemon = ecs.list_services(cluster=cluster, schedulingStrategy="DAEMON")["serviceArns"]
    assert daemon == everything[3:]
    assert ecs.list_services(cluster=cluster, launchType="FARGATE")["serviceArns"] == []
    fails("InvalidParameterException", ecs.list_services, cluster=cluster, maxResults=101)


# -- service deployments --------------------------------------------------------------------------


def test_service_deployments(ecs: Any, cluster: str, td: str) -> None:
    ecs.create_service(cluster=cluster, serviceName="web", taskDefinition=td, desiredCount=1)
    ecs.update_service(cluster=cluster, service="web", forceNewDeployment=True)
    newest = ecs.update_service(cluster=cluster, service="web", forceNewDeployment=True)["service"]
    listed = ecs.list_service_deployments(cluster=cluster, service="web")["serviceDeployments"]
    assert len(listed) == 3
    assert listed[0]["serviceDeploymentArn"] == newest["currentServiceDeployment"]
    assert listed[0]["status"] == "IN_PROGRESS"
    assert {b["status"] for b in listed[1:]} <= {"STOPPED", "SUCCESSFUL"}
    assert all(b["serviceArn"] == service_arn(cluster, "web") for b in listed)
    assert listed[0]["targetServiceRevisionArn"].startswith(
        f"arn:aws:ecs:{REGION}:{ACCOUNT}:service-revision/{cluster}/web/"
    )
    page = ecs.list_service_deployments(cluster=cluster, service="web", maxResults=2)
    assert len(page["serviceDeployments"]) == 2 and page["nextToken"]
    only = ecs.list_service_deployments(cluster=cluster, service="web", status=["IN_PROGRESS"])
    assert len(only["serviceDeployments"]) == 1

    missing = listed[0]["serviceDeploymentArn"].rsplit("/", 1)[0] + "/1234"
    out = ecs.describe_service_deployments(
        serviceDeploymentArns=[listed[0]["serviceDeploymentArn"], missing]
    )
    (full,) = out["serviceDeployments"]
    assert out["failures"] == [{"arn": missing, "reason": "MISSING"}]
    assert full["status"] == "IN_PROGRESS" and full["clusterArn"].endswith(f"/{cluster}")
    assert full["targetServiceRevision"]["arn"] == listed[0]["targetServiceRevisionArn"]
    assert full["targetServiceRevision"]["requestedTaskCount"] == 1
    # The source revisions: the deployments that were live when it started.
    assert [r["arn"] for r in full["sourceServiceRevisions"]] == [
        b["targetServiceRevisionArn"] for b in listed[1:]
    ]
    assert full["deploymentCircuitBreaker"]["status"] == "DISABLED"
    assert full["deploymentConfiguration"]["maximumPercent"] == 200
    fails("ServiceNotFoundException", ecs.list_service_deployments, cluster=cluster, service="x")


# -- the AWS CLI ---------------------------------------------------------------------------------


def test_service_lifecycle_through_the_aws_cli(
    server: ServerProcess, ecs: Any, cluster: str, td: str
) -> None:
    created = server.aws(
        "ecs",
        "create-service",
        "--cluster",
        cluster,
        "--service-name",
        "cli",
        "--task-definition",
        td,
        "--desired-count",
        "2",
        "--deployment-configuration",
        "maximumPercent=150,minimumHealthyPercent=50",
        "--tags",
        "key=team,value=cli",
    )["service"]
    assert created["status"] == "ACTIVE" and created["desiredCount"] == 2
    assert created["deploymentConfiguration"]["maximumPercent"] == 150

    described = server.aws(
        "ecs", "describe-services", "--cluster", cluster, "--services", "cli", "--include", "TAGS"
    )
    assert described["failures"] == []
    assert described["services"][0]["tags"] == [{"key": "team", "value": "cli"}]

    updated = server.aws(
        "ecs",
        "update-service",
        "--cluster",
        cluster,
        "--service",
        "cli",
        "--desired-count",
        "0",
        "--force-new-deployment",
    )["service"]
    assert updated["desiredCount"] == 0 and len(updated["deployments"]) == 2

    assert ecs.list_services(cluster=cluster)["serviceArns"] == [service_arn(cluster, "cli")]

    deleted = server.aws("ecs", "delete-service", "--cluster", cluster, "--service", "cli")
    assert deleted["service"]["status"] == "DRAINING"
    message = fails("ServiceNotActiveException", ecs.update_service, cluster=cluster, service="cli")
    assert message == "Service was not ACTIVE."
