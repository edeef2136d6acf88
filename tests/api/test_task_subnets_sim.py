"""awsvpc tasks take their ENI from the EC2 subnets they name (issue 14): the control plane
allocates the address when the task is placed, DescribeTasks and DescribeNetworkInterfaces
show it, and a stopped task gives it back. Tasks run on in-process agents (simulated driver);
ECS's API reference and EC2's are the spec."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path
from typing import Any

import pytest
from aws_query import query_client
from botocore.exceptions import ClientError
from fleet import Fleet, describe_task, register, start_fleet, wait_for_status, wait_until
from harness import ServerProcess

ZONE = "us-east-1a"


@pytest.fixture(scope="module")
def fleet(server: ServerProcess, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    with start_fleet(
        server, tmp_path_factory.mktemp("fleet"), "subnets-" + uuid.uuid4().hex[:8], zones=[ZONE]
    ) as shared:
        yield shared


@pytest.fixture(scope="module")
def ec2(server: ServerProcess) -> Any:
    return query_client(server, "ec2")


@pytest.fixture(scope="module")
def vpc(ec2: Any) -> dict[str, Any]:
    """A VPC of its own with two subnets in the fleet's zone, and its default group."""
    vpc_id = ec2.create_vpc(CidrBlock="10.77.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc_id, CidrBlock=cidr, AvailabilityZone=ZONE)["Subnet"]
        for cidr in ("10.77.1.0/24", "10.77.2.0/24")
    ]
    groups = ec2.describe_security_groups(
        Filters=[
            {"Name": "vpc-id", "Values": [vpc_id]},
            {"Name": "group-name", "Values": ["default"]},
        ]
    )["SecurityGroups"]
    return {"id": vpc_id, "subnets": subnets, "default_group": groups[0]["GroupId"]}


def network(*subnets: str, groups: tuple[str, ...] = ()) -> dict[str, Any]:
    config: dict[str, Any] = {"subnets": list(subnets)}
    if groups:
        config["securityGroups"] = list(groups)
    return {"awsvpcConfiguration": config}


def register_awsvpc(ecs: Any, family: str) -> str:
    return register(
        ecs,
        family,
        networkMode="awsvpc",
        containers=[{"name": "app", "image": "busybox", "memory": 16}],
    )


def eni_details(task: dict[str, Any]) -> dict[str, str]:
    (attachment,) = task["attachments"]
    assert attachment["type"] == "ElasticNetworkInterface"
    return {d["name"]: d["value"] for d in attachment["details"]}


def available(ec2: Any, subnet_id: str) -> int:
    return int(ec2.describe_subnets(SubnetIds=[subnet_id])["Subnets"][0]["AvailableIpAddressCount"])


def run(fleet: Fleet, td: str, config: dict[str, Any], count: int = 1) -> list[dict[str, Any]]:
    out = fleet.ecs.run_task(
        cluster=fleet.cluster, taskDefinition=td, networkConfiguration=config, count=count
    )
    assert out["failures"] == [], out["failures"]
    return list(out["tasks"])


def test_two_tasks_in_one_subnet_get_distinct_addresses_of_its_cidr(
    fleet: Fleet, ec2: Any, vpc: dict[str, Any], name: str
) -> None:
    subnet = vpc["subnets"][0]
    before = available(ec2, subnet["SubnetId"])
    td = register_awsvpc(fleet.ecs, name)
    tasks = run(fleet, td, network(subnet["SubnetId"]), count=2)
    shown = [eni_details(t) for t in tasks]
    addresses = [d["privateIPv4Address"] for d in shown]
    assert len(set(addresses)) == 2
    assert all(IPv4Address(a) in IPv4Network(subnet["CidrBlock"]) for a in addresses)
    for details, address in zip(shown, addresses, strict=True):
        assert details["subnetId"] == subnet["SubnetId"]
        assert details["networkInterfaceId"].startswith("eni-")
        assert details["privateDnsName"] == "ip-" + address.replace(".", "-") + ".ec2.internal"
        assert "subnetGatewayIpv4Address" not in details  # the agent's, never shown
    assert available(ec2, subnet["SubnetId"]) == before - 2

    # The agent's reports keep what the control plane allocated.
    running = [wait_for_status(fleet.ecs, fleet.cluster, t["taskArn"], "RUNNING") for t in tasks]
    assert [eni_details(t)["privateIPv4Address"] for t in running] == addresses
    assert all(t["attachments"][0]["status"] == "ATTACHED" for t in running)
    assert [t["containers"][0]["networkInterfaces"][0]["privateIpv4Address"] for t in running] == (
        addresses
    )

    ec2_id = fleet.ecs.describe_container_instances(
        cluster=fleet.cluster, containerInstances=[tasks[0]["containerInstanceArn"]]
    )["containerInstances"][0]["ec2InstanceId"]
    enis = ec2.describe_network_interfaces(
        NetworkInterfaceIds=[d["networkInterfaceId"] for d in shown]
    )["NetworkInterfaces"]
    by_id = {e["NetworkInterfaceId"]: e for e in enis}
    for task, details in zip(tasks, shown, strict=True):
        eni = by_id[details["networkInterfaceId"]]
        assert eni["Status"] == "in-use"
        assert eni["PrivateIpAddress"] == details["privateIPv4Address"]
        assert eni["MacAddress"] == details["macAddress"]
        assert eni["Attachment"]["InstanceId"] == ec2_id
        assert [g["GroupId"] for g in eni["Groups"]] == [vpc["default_group"]]
        attachment_id = task["attachments"][0]["id"]
        assert eni["Description"].startswith("arn:aws:ecs:us-east-1:")
        assert eni["Description"].endswith(":attachment/" + attachment_id)


def test_a_stopped_task_gives_its_address_back(
    fleet: Fleet, ec2: Any, vpc: dict[str, Any], name: str
) -> None:
    subnet_id = vpc["subnets"][1]["SubnetId"]
    before = available(ec2, subnet_id)
    td = register_awsvpc(fleet.ecs, name)
    (task,) = run(fleet, td, network(subnet_id, groups=(vpc["default_group"],)))
    eni_id = eni_details(task)["networkInterfaceId"]
    assert available(ec2, subnet_id) == before - 1
    wait_for_status(fleet.ecs, fleet.cluster, task["taskArn"], "RUNNING")
    fleet.ecs.stop_task(cluster=fleet.cluster, task=task["taskArn"])
    stopped = wait_for_status(fleet.ecs, fleet.cluster, task["taskArn"], "STOPPED")
    assert eni_details(stopped)["networkInterfaceId"] == eni_id
    assert available(ec2, subnet_id) == before
    with pytest.raises(ClientError) as err:
        ec2.describe_network_interfaces(NetworkInterfaceIds=[eni_id])
    assert err.value.response["Error"]["Code"] == "InvalidNetworkInterfaceID.NotFound"


def test_a_missing_subnet_or_group_is_refused_with_ecs_error(
    fleet: Fleet, ec2: Any, vpc: dict[str, Any], name: str
) -> None:
    td = register_awsvpc(fleet.ecs, name)
    missing = "subnet-0123456789abcdef0"
    with pytest.raises(ClientError) as err:
        run(fleet, td, network(missing))
    assert err.value.response["Error"]["Code"] == "InvalidParameterException"
    assert err.value.response["Error"]["Message"] == (
        f"Error retrieving subnet information for [{missing}]: The subnet ID '{missing}' does "
        "not exist (ErrorCode: InvalidSubnetID.NotFound)"
    )
    group = "sg-0123456789abcdef0"
    with pytest.raises(ClientError) as err:
        run(fleet, td, network(vpc["subnets"][0]["SubnetId"], groups=(group,)))
    assert err.value.response["Error"]["Code"] == "InvalidParameterException"
    assert err.value.response["Error"]["Message"] == (
        f"Error retrieving security group information for [{group}]: The security group "
        f"'{group}' does not exist (ErrorCode: InvalidGroup.NotFound)"
    )
    assert fleet.ecs.list_tasks(cluster=fleet.cluster, family=name)["taskArns"] == []


def test_a_task_without_subnets_of_its_own_zone_still_gets_one_given(
    fleet: Fleet, ec2: Any, name: str
) -> None:
    """The default VPC's subnets: the one in the instance's zone is chosen among those
    given."""
    defaults = ec2.describe_subnets(Filters=[{"Name": "default-for-az", "Values": ["true"]}])
    by_zone = {s["AvailabilityZone"]: s for s in defaults["Subnets"]}
    others = [s["SubnetId"] for z, s in sorted(by_zone.items()) if z != ZONE]
    td = register_awsvpc(fleet.ecs, name)
    (task,) = run(fleet, td, network(*others[:1], by_zone[ZONE]["SubnetId"]))
    details = eni_details(task)
    assert details["subnetId"] == by_zone[ZONE]["SubnetId"]
    assert IPv4Address(details["privateIPv4Address"]) in IPv4Network("172.31.0.0/16")
    assert task["availabilityZone"] == ZONE


def test_120_awsvpc_tasks_fit_on_one_host(
    server: ServerProcess, ec2: Any, vpc: dict[str, Any], tmp_path: Path, name: str
) -> None:
    """ECS hosts run up to 120 awsvpc tasks with ENI trunking (issue 14)."""
    subnet = ec2.create_subnet(VpcId=vpc["id"], CidrBlock="10.77.8.0/24", AvailabilityZone=ZONE)
    subnet_id = subnet["Subnet"]["SubnetId"]
    with start_fleet(server, tmp_path, "many-" + uuid.uuid4().hex[:8], zones=[ZONE]) as own:
        td = register_awsvpc(own.ecs, name)
        arns = [t["taskArn"] for _ in range(12) for t in run(own, td, network(subnet_id), 10)]
        assert len(arns) == 120

        def all_running() -> list[dict[str, Any]] | None:
            found = [
                t
                for chunk in (arns[:100], arns[100:])
                for t in own.ecs.describe_tasks(cluster=own.cluster, tasks=chunk)["tasks"]
            ]
            return found if all(t["lastStatus"] == "RUNNING" for t in found) else None

        running = wait_until(all_running, timeout=60, what="120 tasks RUNNING")
        addresses = {eni_details(t)["privateIPv4Address"] for t in running}
        assert len(addresses) == 120
        assert available(ec2, subnet_id) == 251 - 120
        assert len({t["containerInstanceArn"] for t in running}) == 1
        assert describe_task(own.ecs, own.cluster, arns[0])["lastStatus"] == "RUNNING"


def test_a_start_that_does_not_fit_its_subnets_is_refused_whole(
    fleet: Fleet, ec2: Any, vpc: dict[str, Any], name: str
) -> None:
    small = ec2.create_subnet(VpcId=vpc["id"], CidrBlock="10.77.9.0/28", AvailabilityZone=ZONE)
    subnet_id = small["Subnet"]["SubnetId"]
    assert available(ec2, subnet_id) == 11
    td = register_awsvpc(fleet.ecs, name)
    assert len(run(fleet, td, network(subnet_id), count=10)) == 10
    with pytest.raises(ClientError) as err:
        run(fleet, td, network(subnet_id), count=2)
    assert err.value.response["Error"]["Code"] == "InvalidParameterException"
    assert "InsufficientFreeAddressesInSubnet" in err.value.response["Error"]["Message"]
    assert len(fleet.ecs.list_tasks(cluster=fleet.cluster, family=name)["taskArns"]) == 10
    assert available(ec2, subnet_id) == 1
    assert len(run(fleet, td, network(subnet_id))) == 1
