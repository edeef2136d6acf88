"""The AWS CLI v2 (Debian's 2.9) makes a VPC and a subnet and finds them again."""

from __future__ import annotations

from harness import ServerProcess


def test_cli_v2_vpc_and_subnet(server: ServerProcess, name: str) -> None:
    vpc = server.aws(
        "ec2",
        "create-vpc",
        "--cidr-block",
        "10.80.0.0/16",
        "--tag-specifications",
        f"ResourceType=vpc,Tags=[{{Key=Name,Value={name}}}]",
        v2=True,
    )["Vpc"]
    subnet = server.aws(
        "ec2",
        "create-subnet",
        "--vpc-id",
        vpc["VpcId"],
        "--cidr-block",
        "10.80.3.0/24",
        "--availability-zone",
        "us-east-1b",
        v2=True,
    )["Subnet"]
    assert subnet["AvailableIpAddressCount"] == 251
    found = server.aws(
        "ec2",
        "describe-subnets",
        "--filters",
        f"Name=vpc-id,Values={vpc['VpcId']}",
        "Name=availability-zone,Values=us-east-1b",
        v2=True,
    )["Subnets"]
    assert [(s["SubnetId"], s["CidrBlock"]) for s in found] == [
        (subnet["SubnetId"], "10.80.3.0/24")
    ]
    failed = server.aws(
        "ec2",
        "create-subnet",
        "--vpc-id",
        vpc["VpcId"],
        "--cidr-block",
        "10.80.3.0/25",
        v2=True,
        check=False,
    )
    assert failed.returncode != 0 and "InvalidSubnet.Conflict" in failed.stderr
    server.aws("ec2", "delete-subnet", "--subnet-id", subnet["SubnetId"], v2=True)
    server.aws("ec2", "delete-vpc", "--vpc-id", vpc["VpcId"], v2=True)
