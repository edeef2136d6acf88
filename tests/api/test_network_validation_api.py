"""ECS checks an awsvpc network configuration against EC2's objects on CreateService,
UpdateService, RunTask and StartTask (ops/network_validation.py): subnets and groups that do
not exist, subnets of two VPCs, a group of another VPC than the subnets, more than 16 subnets
or 5 groups, assignPublicIp on the EC2 launch type. Each is InvalidParameterException with
the message its module names the source of, and nothing is made. Through boto3 against a
real server; StartTask on an in-process agent (simulated driver)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from aws_query import query_client
from botocore.exceptions import ClientError
from fleet import Fleet, register, start_fleet
from harness import ServerProcess

ZONE = "us-east-1a"


@pytest.fixture(scope="module")
def ec2(server: ServerProcess) -> Any:
    return query_client(server, "ec2")


@pytest.fixture(scope="module")
def vpcs(ec2: Any) -> dict[str, Any]:
    """Two VPCs of their own, each with a subnet and a group of its own."""
    out: dict[str, Any] = {}
    for n, cidr in enumerate(("10.61.0.0/16", "10.62.0.0/16")):
        vpc_id = ec2.create_vpc(CidrBlock=cidr)["Vpc"]["VpcId"]
        block = cidr.replace(".0.0/16", ".1.0/24")
        subnet = ec2.create_subnet(VpcId=vpc_id, CidrBlock=block, AvailabilityZone=ZONE)
        group = ec2.create_security_group(
            GroupName=f"nv-{uuid.uuid4().hex[:8]}", Description="tasks", VpcId=vpc_id
        )
        out[f"vpc{n}"] = vpc_id
        out[f"subnet{n}"] = subnet["Subnet"]["SubnetId"]
        out[f"group{n}"] = group["GroupId"]
    return out


@pytest.fixture(scope="module")
def fleet(server: ServerProcess, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    with start_fleet(
        server, tmp_path_factory.mktemp("fleet"), "netval-" + uuid.uuid4().hex[:8], zones=[ZONE]
    ) as shared:
        yield shared


def network(subnets: list[str], groups: list[str] | None = None, **more: str) -> dict[str, Any]:
    config: dict[str, Any] = {"subnets": subnets, **more}
    if groups is not None:
        config["securityGroups"] = groups
    return {"awsvpcConfiguration": config}


def refused(call: Callable[..., Any], **kwargs: Any) -> str:
    """Call, expect InvalidParameterException (HTTP 400), and return its message."""
    with pytest.raises(ClientError) as err:
        call(**kwargs)
    error = err.value.response["Error"]
    assert error["Code"] == "InvalidParameterException", error
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    return str(error["Message"])


def awsvpc_definition(ecs: Any, family: str) -> str:
    return register(
        ecs,
        family,
        networkMode="awsvpc",
        containers=[{"name": "app", "image": "busybox", "memory": 16}],
    )


def cases(v: dict[str, Any]) -> list[tuple[dict[str, Any], str]]:
    """(networkConfiguration, ECS's message) for each rule that reads EC2."""
    missing_subnet, missing_group = "subnet-0123456789abcdef0", "sg-0123456789abcdef0"
    other_subnet = "subnet-0aaa1111"
    return [
        (
            network([v["subnet0"], missing_subnet]),
            f"Error retrieving subnet information for [{missing_subnet}]: The subnet ID "
            f"'{missing_subnet}' does not exist (ErrorCode: InvalidSubnetID.NotFound)",
        ),
        (
            network([missing_subnet, other_subnet]),
            f"Error retrieving subnet information for [{missing_subnet}, {other_subnet}]: The "
            f"subnet IDs '{missing_subnet}, {other_subnet}' do not exist "
            "(ErrorCode: InvalidSubnetID.NotFound)",
        ),
        (
            network([v["subnet0"]], [missing_group]),
            f"Error retrieving security group information for [{missing_group}]: The security "
            f"group '{missing_group}' does not exist (ErrorCode: InvalidGroup.NotFound)",
        ),
        (
            network([v["subnet0"], v["subnet1"]]),
            f"All specified subnets must be from the same VPC: {v['subnet0']} is in "
            f"{v['vpc0']}, {v['subnet1']} in {v['vpc1']}.",
        ),
        (
            network([v["subnet0"]], [v["group0"], v["group1"]]),
            f"Security group {v['group1']} and subnet {v['subnet0']} belong to different networks.",
        ),
    ]


def shape_cases(v: dict[str, Any]) -> list[tuple[dict[str, Any], str]]:
    """The rules that need no EC2 (task_build.check_network), checked before EC2's."""
    return [
        (network([v["subnet0"]] * 17), "At most 16 subnets can be given."),
        (network([v["subnet0"]], [v["group0"]] * 6), "At most 5 security groups can be given."),
        (
            network([v["subnet0"]], assignPublicIp="ENABLED"),
            "Assign public IP is not supported for this launch type.",
        ),
        (network([]), "subnets can not be empty."),
    ]


def test_create_service_refuses_what_ec2_does_not_have(
    server: ServerProcess, vpcs: dict[str, Any], name: str
) -> None:
    ecs = server.client()
    ecs.create_cluster(clusterName=name)
    td = awsvpc_definition(ecs, name)
    for config, message in cases(vpcs) + shape_cases(vpcs):
        assert (
            refused(
                ecs.create_service,
                cluster=name,
                serviceName=name,
                taskDefinition=td,
                desiredCount=1,
                launchType="EC2",
                networkConfiguration=config,
            )
            == message
        )
    assert ecs.list_services(cluster=name)["serviceArns"] == []

    # What fits is taken, the default group's VPC alike.
    good = network([vpcs["subnet0"]], [vpcs["group0"]])
    created = ecs.create_service(
        cluster=name,
        serviceName=name,
        taskDefinition=td,
        desiredCount=0,
        launchType="EC2",
        networkConfiguration=good,
    )["service"]
    assert created["networkConfiguration"]["awsvpcConfiguration"]["subnets"] == [vpcs["subnet0"]]


def test_update_service_checks_a_new_network_configuration(
    server: ServerProcess, vpcs: dict[str, Any], name: str
) -> None:
    ecs = server.client()
    ecs.create_cluster(clusterName=name)
    td = awsvpc_definition(ecs, name)
    good = network([vpcs["subnet1"]], [vpcs["group1"]])
    ecs.create_service(
        cluster=name,
        serviceName=name,
        taskDefinition=td,
        desiredCount=0,
        launchType="EC2",
        networkConfiguration=good,
    )
    for config, message in cases(vpcs) + shape_cases(vpcs):
        assert (
            refused(ecs.update_service, cluster=name, service=name, networkConfiguration=config)
            == message
        )
    (service,) = ecs.describe_services(cluster=name, services=[name])["services"]
    assert service["networkConfiguration"]["awsvpcConfiguration"]["subnets"] == [vpcs["subnet1"]]
    assert len(service["deployments"]) == 1  # no refused update started a deployment
    # An update that leaves the network alone is not checked again.
    ecs.update_service(cluster=name, service=name, desiredCount=0)


def test_run_task_and_start_task_refuse_before_anything_starts(
    fleet: Fleet, vpcs: dict[str, Any], name: str
) -> None:
    ecs = fleet.ecs
    td = awsvpc_definition(ecs, name)
    (instance,) = fleet.instance_arns
    for config, message in cases(vpcs):
        assert (
            refused(
                ecs.run_task, cluster=fleet.cluster, taskDefinition=td, networkConfiguration=config
            )
            == message
        )
        assert (
            refused(
                ecs.start_task,
                cluster=fleet.cluster,
                taskDefinition=td,
                containerInstances=[instance],
                networkConfiguration=config,
            )
            == message
        )
    assert ecs.list_tasks(cluster=fleet.cluster, family=name)["taskArns"] == []


def test_ids_ec2_cannot_parse_keep_the_old_per_task_network(
    server: ServerProcess, name: str
) -> None:
    """Transitional (ops/network_validation.py): made-up ids such as older tests pass."""
    ecs = server.client()
    ecs.create_cluster(clusterName=name)
    td = awsvpc_definition(ecs, name)
    created = ecs.create_service(
        cluster=name,
        serviceName=name,
        taskDefinition=td,
        desiredCount=0,
        networkConfiguration=network(["subnet-abc"], ["sg-1"]),
    )["service"]
    assert created["networkConfiguration"]["awsvpcConfiguration"]["subnets"] == ["subnet-abc"]


def test_a_malformed_id_beside_a_real_one_is_ec2s_error(
    server: ServerProcess, vpcs: dict[str, Any], name: str
) -> None:
    ecs = server.client()
    ecs.create_cluster(clusterName=name)
    td = awsvpc_definition(ecs, name)
    message = refused(
        ecs.create_service,
        cluster=name,
        serviceName=name,
        taskDefinition=td,
        desiredCount=0,
        networkConfiguration=network([vpcs["subnet0"], "subnet-abc"]),
    )
    assert message == (
        'Error retrieving subnet information for [subnet-abc]: Invalid id: "subnet-abc" '
        '(expecting "subnet-...") (ErrorCode: InvalidSubnetID.Malformed)'
    )
