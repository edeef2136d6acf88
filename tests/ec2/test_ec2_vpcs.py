"""VPCs and subnets through boto3: the default VPC every account has, Create/Describe/Delete
with EC2's filters and errors, the attributes, zones and regions."""

from __future__ import annotations

from typing import Any

from ec2_errors import code_of, error_of, spec
from harness import ServerProcess


def only(items: list[dict[str, Any]]) -> dict[str, Any]:
    assert len(items) == 1, items
    return items[0]


def test_the_default_vpc_is_there_from_the_start(ec2: Any) -> None:
    vpc = only(ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"])
    assert vpc["CidrBlock"] == "172.31.0.0/16" and vpc["State"] == "available"
    attrs = ec2.describe_account_attributes(AttributeNames=["default-vpc", "supported-platforms"])
    values = {a["AttributeName"]: a["AttributeValues"] for a in attrs["AccountAttributes"]}
    assert values == {
        "default-vpc": [{"AttributeValue": vpc["VpcId"]}],
        "supported-platforms": [{"AttributeValue": "VPC"}],
    }
    subnets = ec2.describe_subnets(Filters=[{"Name": "default-for-az", "Values": ["true"]}])
    assert sorted((s["AvailabilityZone"], s["CidrBlock"]) for s in subnets["Subnets"]) == [
        ("us-east-1a", "172.31.0.0/20"),
        ("us-east-1b", "172.31.16.0/20"),
        ("us-east-1c", "172.31.32.0/20"),
    ]
    assert all(s["MapPublicIpOnLaunch"] and s["VpcId"] == vpc["VpcId"] for s in subnets["Subnets"])
    in_vpc = [{"Name": "vpc-id", "Values": [vpc["VpcId"]]}]
    group = only(
        ec2.describe_security_groups(
            Filters=[*in_vpc, {"Name": "group-name", "Values": ["default"]}]
        )["SecurityGroups"]
    )
    assert group["IpPermissions"][0]["UserIdGroupPairs"][0]["GroupId"] == group["GroupId"]
    table = only(
        ec2.describe_route_tables(
            Filters=[*in_vpc, {"Name": "association.main", "Values": ["true"]}]
        )["RouteTables"]
    )
    assert table["Routes"] == [
        {
            "DestinationCidrBlock": "172.31.0.0/16",
            "GatewayId": "local",
            "Origin": "CreateRouteTable",
            "State": "active",
        }
    ]
    acl = only(
        ec2.describe_network_acls(Filters=[*in_vpc, {"Name": "default", "Values": ["true"]}])[
            "NetworkAcls"
        ]
    )
    assert sorted((e["RuleNumber"], e["RuleAction"], e["Egress"]) for e in acl["Entries"]) == [
        (100, "allow", False),
        (100, "allow", True),
        (32767, "deny", False),
        (32767, "deny", True),
    ]
    assert {a["SubnetId"] for a in acl["Associations"]} >= {
        s["SubnetId"] for s in subnets["Subnets"]
    }
    for attribute, member in (
        ("enableDnsSupport", "EnableDnsSupport"),
        ("enableDnsHostnames", "EnableDnsHostnames"),
    ):
        answer = ec2.describe_vpc_attribute(VpcId=vpc["VpcId"], Attribute=attribute)
        assert answer[member] == {"Value": True}


def test_a_vpc_from_create_to_delete(ec2: Any, name: str) -> None:
    vpc = ec2.create_vpc(
        CidrBlock="10.40.0.0/16", InstanceTenancy="default", TagSpecifications=spec("vpc", name)
    )["Vpc"]
    assert vpc["VpcId"].startswith("vpc-") and not vpc["IsDefault"]
    assert vpc["Tags"] == [{"Key": "Name", "Value": name}]
    assert vpc["CidrBlockAssociationSet"][0]["CidrBlock"] == "10.40.0.0/16"
    found = ec2.describe_vpcs(
        Filters=[{"Name": "tag:Name", "Values": [name]}, {"Name": "cidr", "Values": ["10.40.*"]}]
    )
    assert [v["VpcId"] for v in found["Vpcs"]] == [vpc["VpcId"]]
    assert ec2.describe_vpcs(VpcIds=[vpc["VpcId"]])["Vpcs"][0]["InstanceTenancy"] == "default"
    vpc_id = vpc["VpcId"]
    assert ec2.describe_vpc_attribute(VpcId=vpc_id, Attribute="enableDnsHostnames")[
        "EnableDnsHostnames"
    ] == {"Value": False}
    ec2.modify_vpc_attribute(VpcId=vpc_id, EnableDnsHostnames={"Value": True})
    assert ec2.describe_vpc_attribute(VpcId=vpc_id, Attribute="enableDnsHostnames")[
        "EnableDnsHostnames"
    ] == {"Value": True}
    code, message = error_of(
        ec2.modify_vpc_attribute,
        VpcId=vpc_id,
        EnableDnsSupport={"Value": False},
        EnableDnsHostnames={"Value": False},
    )
    assert code == "InvalidParameterCombination"
    assert message.startswith("Fields for multiple attribute types specified: ")
    subnet = ec2.create_subnet(VpcId=vpc_id, CidrBlock="10.40.0.0/24")["Subnet"]
    code, message = error_of(ec2.delete_vpc, VpcId=vpc_id)
    assert (code, message) == (
        "DependencyViolation",
        f"The vpc '{vpc_id}' has dependencies and cannot be deleted.",
    )
    ec2.delete_subnet(SubnetId=subnet["SubnetId"])
    ec2.delete_vpc(VpcId=vpc_id)
    code, message = error_of(ec2.describe_vpcs, VpcIds=[vpc_id])
    assert (code, message) == ("InvalidVpcID.NotFound", f"The vpc ID '{vpc_id}' does not exist")
    # Its default group, main route table and network ACL went with it.
    gone = [{"Name": "vpc-id", "Values": [vpc_id]}]
    assert ec2.describe_security_groups(Filters=gone)["SecurityGroups"] == []
    assert ec2.describe_route_tables(Filters=gone)["RouteTables"] == []
    assert ec2.describe_network_acls(Filters=gone)["NetworkAcls"] == []


def test_vpc_errors(ec2: Any) -> None:
    assert error_of(ec2.create_vpc, CidrBlock="10.0.0.0/8") == (
        "InvalidVpc.Range",
        "The CIDR '10.0.0.0/8' is invalid.",
    )
    assert code_of(ec2.create_vpc, CidrBlock="10.0.0.0/29") == "InvalidVpc.Range"
    code, message = error_of(ec2.create_vpc, CidrBlock="10.0.0.1/16")
    assert code == "InvalidParameterValue" and "not a valid CIDR block" in message
    assert code_of(ec2.create_vpc) == "MissingParameter"
    assert code_of(ec2.create_vpc, CidrBlock="10.0.0.0/16", DryRun=True) == "DryRunOperation"
    bad_tags = [{"ResourceType": "subnet", "Tags": [{"Key": "a", "Value": "b"}]}]
    assert (
        code_of(ec2.create_vpc, CidrBlock="10.0.0.0/16", TagSpecifications=bad_tags)
        == "InvalidParameterValue"
    )
    assert (
        code_of(ec2.describe_vpcs, VpcIds=["vpc-0123456789abcdef0", "vpc-0123456789abcdef1"])
        == "InvalidVpcID.NotFound"
    )
    assert code_of(ec2.describe_vpcs, VpcIds=["nope"]) == "InvalidVpcID.Malformed"
    assert code_of(ec2.delete_vpc, VpcId="vpc-0123456789abcdef0") == "InvalidVpcID.NotFound"
    assert (
        code_of(ec2.describe_vpcs, Filters=[{"Name": "colour", "Values": ["x"]}])
        == "InvalidParameterValue"
    )
    assert (
        code_of(ec2.modify_vpc_attribute, VpcId="vpc-0123456789abcdef0")
        == "InvalidParameterCombination"
    )


def test_subnets(ec2: Any, name: str) -> None:
    vpc_id = ec2.create_vpc(CidrBlock="10.41.0.0/16")["Vpc"]["VpcId"]
    a = ec2.create_subnet(
        VpcId=vpc_id,
        CidrBlock="10.41.1.0/24",
        AvailabilityZone="us-east-1a",
        TagSpecifications=spec("subnet", name),
    )["Subnet"]
    b = ec2.create_subnet(VpcId=vpc_id, CidrBlock="10.41.2.0/28", AvailabilityZoneId="use1-az2")[
        "Subnet"
    ]
    assert a["AvailableIpAddressCount"] == 251 and b["AvailableIpAddressCount"] == 11
    assert (b["AvailabilityZone"], b["AvailabilityZoneId"]) == ("us-east-1b", "use1-az2")
    assert a["SubnetArn"].endswith(f":subnet/{a['SubnetId']}") and not a["DefaultForAz"]
    in_vpc = {"Name": "vpc-id", "Values": [vpc_id]}

    def ids(*filters: dict[str, Any]) -> list[str]:
        return sorted(
            s["SubnetId"] for s in ec2.describe_subnets(Filters=[in_vpc, *filters])["Subnets"]
        )

    assert ids() == sorted([a["SubnetId"], b["SubnetId"]])
    assert ids({"Name": "cidr-block", "Values": ["10.41.2.0/28"]}) == [b["SubnetId"]]
    assert ids({"Name": "availability-zone", "Values": ["us-east-1a", "us-east-1c"]}) == [
        a["SubnetId"]
    ]
    assert ids(
        {"Name": "tag:Name", "Values": [name]}, {"Name": "default-for-az", "Values": ["false"]}
    ) == [a["SubnetId"]]
    assert ids({"Name": "available-ip-address-count", "Values": ["11"]}) == [b["SubnetId"]]
    ec2.modify_subnet_attribute(SubnetId=b["SubnetId"], MapPublicIpOnLaunch={"Value": True})
    assert (
        ec2.describe_subnets(SubnetIds=[b["SubnetId"]])["Subnets"][0]["MapPublicIpOnLaunch"] is True
    )
    code = code_of(
        ec2.modify_subnet_attribute,
        SubnetId=b["SubnetId"],
        MapPublicIpOnLaunch={"Value": True},
        EnableDns64={"Value": True},
    )
    assert code == "InvalidParameterCombination"

    assert error_of(ec2.create_subnet, VpcId=vpc_id, CidrBlock="10.41.1.128/25") == (
        "InvalidSubnet.Conflict",
        "The CIDR '10.41.1.128/25' conflicts with another subnet",
    )
    assert error_of(ec2.create_subnet, VpcId=vpc_id, CidrBlock="10.42.0.0/24") == (
        "InvalidSubnet.Range",
        "The CIDR '10.42.0.0/24' is invalid.",
    )
    assert (
        code_of(ec2.create_subnet, VpcId=vpc_id, CidrBlock="10.41.9.0/29") == "InvalidSubnet.Range"
    )
    code, message = error_of(
        ec2.create_subnet, VpcId=vpc_id, CidrBlock="10.41.9.0/24", AvailabilityZone="us-east-1z"
    )
    assert code == "InvalidParameterValue" and "us-east-1a, us-east-1b, us-east-1c" in message
    assert (
        code_of(
            ec2.create_subnet,
            VpcId=vpc_id,
            CidrBlock="10.41.9.0/24",
            AvailabilityZone="us-east-1a",
            AvailabilityZoneId="use1-az1",
        )
        == "InvalidParameterCombination"
    )
    assert (
        code_of(ec2.create_subnet, VpcId="vpc-0123456789abcdef0", CidrBlock="10.0.0.0/24")
        == "InvalidVpcID.NotFound"
    )
    assert (
        code_of(ec2.describe_subnets, SubnetIds=["subnet-0123456789abcdef0"])
        == "InvalidSubnetID.NotFound"
    )
    for subnet in (a, b):
        ec2.delete_subnet(SubnetId=subnet["SubnetId"])
    assert code_of(ec2.delete_subnet, SubnetId=a["SubnetId"]) == "InvalidSubnetID.NotFound"
    ec2.delete_vpc(VpcId=vpc_id)


def test_zones_and_regions(ec2: Any) -> None:
    zones = {z["ZoneName"]: z for z in ec2.describe_availability_zones()["AvailabilityZones"]}
    assert [
        (zones[n]["ZoneId"], zones[n]["State"]) for n in ("us-east-1a", "us-east-1b", "us-east-1c")
    ] == [("use1-az1", "available"), ("use1-az2", "available"), ("use1-az3", "available")]
    one = ec2.describe_availability_zones(Filters=[{"Name": "zone-id", "Values": ["use1-az3"]}])
    assert [z["ZoneName"] for z in one["AvailabilityZones"]] == ["us-east-1c"]
    assert (
        code_of(ec2.describe_availability_zones, ZoneNames=["us-east-1z"])
        == "InvalidParameterValue"
    )
    regions = {r["RegionName"] for r in ec2.describe_regions()["Regions"]}
    assert {"us-east-1", "eu-west-1", "ap-southeast-2"} <= regions
    named = ec2.describe_regions(RegionNames=["eu-west-1"])["Regions"]
    assert named == [
        {
            "OptInStatus": "opt-in-not-required",
            "RegionName": "eu-west-1",
            "Endpoint": "ec2.eu-west-1.amazonaws.com",
        }
    ]


def test_a_zone_an_instance_reports_takes_subnets(
    server: ServerProcess, ec2: Any, name: str
) -> None:
    ecs = server.client("ecs")
    ecs.create_cluster(clusterName=name)
    zone = f"{name}-1a"
    instance = ecs.register_container_instance(
        cluster=name,
        totalResources=[
            {"name": "CPU", "type": "INTEGER", "integerValue": 1024},
            {"name": "MEMORY", "type": "INTEGER", "integerValue": 2048},
        ],
        attributes=[{"name": "ecs.availability-zone", "value": zone}],
    )["containerInstance"]
    try:
        (found,) = ec2.describe_availability_zones(ZoneNames=[zone])["AvailabilityZones"]
        assert found["ZoneId"] == f"use1-{zone}" and found["RegionName"] == "us-east-1"
        vpc_id = ec2.create_vpc(CidrBlock="10.43.0.0/16")["Vpc"]["VpcId"]
        subnet = ec2.create_subnet(VpcId=vpc_id, CidrBlock="10.43.0.0/24", AvailabilityZone=zone)[
            "Subnet"
        ]
        assert subnet["AvailabilityZoneId"] == f"use1-{zone}"
        ec2.delete_subnet(SubnetId=subnet["SubnetId"])
        ec2.delete_vpc(VpcId=vpc_id)
    finally:
        ecs.deregister_container_instance(
            cluster=name, containerInstance=instance["containerInstanceArn"], force=True
        )
        ecs.delete_cluster(cluster=name)
    assert code_of(ec2.describe_availability_zones, ZoneNames=[zone]) == "InvalidParameterValue"
