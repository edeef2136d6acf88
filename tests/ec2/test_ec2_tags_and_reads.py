"""Tags on every kind of EC2 object, the reads without a Create (network interfaces, prefix
lists), paging, and how EC2 words a request the model refuses."""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config
from ec2_errors import code_of, error_of
from harness import ACCESS_KEY, REGION, SECRET_KEY, ServerProcess


def test_tags_on_every_kind(ec2: Any, name: str) -> None:
    vpc_id = ec2.create_vpc(CidrBlock="10.60.0.0/16")["Vpc"]["VpcId"]
    subnet_id = ec2.create_subnet(VpcId=vpc_id, CidrBlock="10.60.0.0/24")["Subnet"]["SubnetId"]
    in_vpc = [{"Name": "vpc-id", "Values": [vpc_id]}]
    (group,) = ec2.describe_security_groups(Filters=in_vpc)["SecurityGroups"]
    (table,) = ec2.describe_route_tables(Filters=in_vpc)["RouteTables"]
    (acl,) = ec2.describe_network_acls(Filters=in_vpc)["NetworkAcls"]
    (rule,) = [
        r["SecurityGroupRuleId"]
        for r in ec2.describe_security_group_rules(
            Filters=[{"Name": "group-id", "Values": [group["GroupId"]]}]
        )["SecurityGroupRules"]
        if r["IsEgress"]
    ]
    ids = [vpc_id, subnet_id, group["GroupId"], table["RouteTableId"], acl["NetworkAclId"], rule]
    ec2.create_tags(
        Resources=ids, Tags=[{"Key": "owner", "Value": name}, {"Key": "tier", "Value": "a"}]
    )
    mine = ec2.describe_tags(Filters=[{"Name": "value", "Values": [name]}])["Tags"]
    assert sorted((t["ResourceType"], t["ResourceId"]) for t in mine) == sorted(
        zip(
            [
                "vpc",
                "subnet",
                "security-group",
                "route-table",
                "network-acl",
                "security-group-rule",
            ],
            ids,
            strict=True,
        )
    )
    assert (
        ec2.describe_subnets(Filters=[{"Name": "tag:owner", "Values": [name]}])["Subnets"][0][
            "SubnetId"
        ]
        == subnet_id
    )
    # A value that does not match keeps the tag; a key alone removes it.
    ec2.delete_tags(
        Resources=[vpc_id], Tags=[{"Key": "owner", "Value": "someone-else"}, {"Key": "tier"}]
    )
    assert ec2.describe_vpcs(VpcIds=[vpc_id])["Vpcs"][0]["Tags"] == [
        {"Key": "owner", "Value": name}
    ]
    # One missing resource and nothing is tagged.
    code = code_of(
        ec2.create_tags,
        Resources=[subnet_id, "vpc-0123456789abcdef0"],
        Tags=[{"Key": "x", "Value": "y"}],
    )
    assert code == "InvalidVpcID.NotFound"
    assert (
        ec2.describe_tags(
            Filters=[
                {"Name": "resource-id", "Values": [subnet_id]},
                {"Name": "key", "Values": ["x"]},
            ]
        )["Tags"]
        == []
    )
    assert (
        code_of(
            ec2.create_tags, Resources=["i-0123456789abcdef0"], Tags=[{"Key": "x", "Value": "y"}]
        )
        == "InvalidID"
    )
    assert (
        code_of(ec2.create_tags, Resources=[vpc_id], Tags=[{"Key": "aws:x", "Value": "y"}])
        == "InvalidParameterValue"
    )
    many = [{"Key": f"k{i}", "Value": "v"} for i in range(50)]
    assert code_of(ec2.create_tags, Resources=[vpc_id], Tags=many) == "TagLimitExceeded"
    ec2.delete_subnet(SubnetId=subnet_id)
    ec2.delete_vpc(VpcId=vpc_id)


def test_network_interfaces_prefix_lists_classic_link(ec2: Any) -> None:
    found = ec2.describe_network_interfaces(
        Filters=[{"Name": "description", "Values": ["ELB app/none/*"]}]
    )
    assert found["NetworkInterfaces"] == []
    assert error_of(
        ec2.describe_network_interfaces, NetworkInterfaceIds=["eni-0123456789abcdef0"]
    ) == (
        "InvalidNetworkInterfaceID.NotFound",
        "The networkInterface ID 'eni-0123456789abcdef0' does not exist",
    )
    assert (
        code_of(ec2.describe_network_interfaces, NetworkInterfaceIds=["x"])
        == "InvalidNetworkInterfaceID.Malformed"
    )
    assert ec2.describe_prefix_lists()["PrefixLists"] == []
    assert code_of(ec2.describe_vpc_classic_link) == "UnsupportedOperation"
    assert code_of(ec2.describe_vpc_classic_link_dns_support) == "UnsupportedOperation"
    assert (
        code_of(ec2.describe_prefix_lists, PrefixListIds=["pl-0123456789abcdef0"])
        == "InvalidPrefixListID.NotFound"
    )


def test_paging(ec2: Any, name: str) -> None:
    made = [
        ec2.create_vpc(
            CidrBlock=f"10.{70 + i}.0.0/16",
            TagSpecifications=[{"ResourceType": "vpc", "Tags": [{"Key": "page", "Value": name}]}],
        )["Vpc"]["VpcId"]
        for i in range(7)
    ]
    mine = [{"Name": "tag:page", "Values": [name]}]
    first = ec2.describe_vpcs(Filters=mine, MaxResults=5)
    second = ec2.describe_vpcs(Filters=mine, MaxResults=5, NextToken=first["NextToken"])
    assert len(first["Vpcs"]) == 5 and "NextToken" not in second
    assert sorted(v["VpcId"] for v in first["Vpcs"] + second["Vpcs"]) == sorted(made)
    assert (
        code_of(ec2.describe_vpcs, Filters=mine, NextToken="bm90LWEtdnBj")
        == "InvalidPaginationToken"
    )
    for vpc_id in made:
        ec2.delete_vpc(VpcId=vpc_id)


def test_what_the_model_refuses(server: ServerProcess) -> None:
    raw = boto3.client(
        "ec2",
        endpoint_url=server.endpoint,
        region_name=REGION,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        config=Config(retries={"max_attempts": 1}, parameter_validation=False),
    )
    assert error_of(raw.create_security_group, GroupName="x") == (
        "MissingParameter",
        "The request must contain the parameter description",
    )
    assert error_of(raw.describe_vpcs, MaxResults=1) == (
        "InvalidParameterValue",
        "Value ( 1 ) for parameter maxResults is invalid. Expecting a value greater than 5.",
    )
    assert (
        code_of(raw.describe_vpc_attribute, VpcId="vpc-0123456789abcdef0", Attribute="colour")
        == "InvalidParameterValue"
    )
