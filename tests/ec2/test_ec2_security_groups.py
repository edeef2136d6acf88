"""Security groups and their rules through boto3: Create/Describe/Delete, Authorize and
Revoke in both directions, DescribeSecurityGroupRules and ModifySecurityGroupRules, with
EC2's errors."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from ec2_errors import code_of, error_of

ANYWHERE = [{"CidrIp": "0.0.0.0/0"}]


@pytest.fixture
def vpc(ec2: Any) -> Iterator[str]:
    vpc_id = ec2.create_vpc(CidrBlock="10.50.0.0/16")["Vpc"]["VpcId"]
    yield vpc_id
    for group in ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])[
        "SecurityGroups"
    ]:
        rules = ec2.describe_security_group_rules(
            Filters=[{"Name": "group-id", "Values": [group["GroupId"]]}]
        )
        ingress = [
            r["SecurityGroupRuleId"] for r in rules["SecurityGroupRules"] if not r["IsEgress"]
        ]
        if ingress and group["GroupName"] != "default":
            ec2.revoke_security_group_ingress(
                GroupId=group["GroupId"], SecurityGroupRuleIds=ingress
            )
    for group in ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])[
        "SecurityGroups"
    ]:
        if group["GroupName"] != "default":
            ec2.delete_security_group(GroupId=group["GroupId"])
    ec2.delete_vpc(VpcId=vpc_id)


def group(ec2: Any, vpc: str, name: str) -> dict[str, Any]:
    (found,) = ec2.describe_security_groups(
        GroupIds=[
            ec2.create_security_group(GroupName=name, Description=f"{name} tasks", VpcId=vpc)[
                "GroupId"
            ]
        ]
    )["SecurityGroups"]
    return found


def test_create_describe_delete(ec2: Any, vpc: str, name: str) -> None:
    created = ec2.create_security_group(
        GroupName=name,
        Description="web tasks",
        VpcId=vpc,
        TagSpecifications=[
            {"ResourceType": "security-group", "Tags": [{"Key": "team", "Value": "web"}]}
        ],
    )
    group_id = created["GroupId"]
    assert group_id.startswith("sg-") and created["SecurityGroupArn"].endswith(
        f":security-group/{group_id}"
    )
    assert created["Tags"] == [{"Key": "team", "Value": "web"}]
    by_name = ec2.describe_security_groups(
        Filters=[{"Name": "group-name", "Values": [name]}, {"Name": "vpc-id", "Values": [vpc]}]
    )
    (shown,) = by_name["SecurityGroups"]
    assert (shown["GroupId"], shown["Description"], shown["OwnerId"]) == (
        group_id,
        "web tasks",
        created["SecurityGroupArn"].split(":")[4],
    )
    assert shown["IpPermissions"] == []
    assert shown["IpPermissionsEgress"] == [
        {
            "IpProtocol": "-1",
            "UserIdGroupPairs": [],
            "IpRanges": ANYWHERE,
            "Ipv6Ranges": [],
            "PrefixListIds": [],
        }
    ]
    assert error_of(ec2.create_security_group, GroupName=name, Description="again", VpcId=vpc) == (
        "InvalidGroup.Duplicate",
        f"The security group '{name}' already exists for VPC '{vpc}'",
    )
    assert (
        code_of(ec2.create_security_group, GroupName="default", Description="d", VpcId=vpc)
        == "InvalidGroup.Reserved"
    )
    assert (
        code_of(ec2.create_security_group, GroupName="sg-1234", Description="d", VpcId=vpc)
        == "InvalidParameterValue"
    )
    assert (
        code_of(
            ec2.create_security_group,
            GroupName=name,
            Description="d",
            VpcId="vpc-0123456789abcdef0",
        )
        == "InvalidVpcID.NotFound"
    )
    (default,) = ec2.describe_security_groups(
        Filters=[{"Name": "group-name", "Values": ["default"]}, {"Name": "vpc-id", "Values": [vpc]}]
    )["SecurityGroups"]
    code, message = error_of(ec2.delete_security_group, GroupId=default["GroupId"])
    assert code == "CannotDelete" and default["GroupId"] in message
    assert ec2.delete_security_group(GroupId=group_id)["Return"] is True
    assert error_of(ec2.describe_security_groups, GroupIds=[group_id]) == (
        "InvalidGroup.NotFound",
        f"The security group '{group_id}' does not exist",
    )
    assert code_of(ec2.delete_security_group, GroupId=group_id) == "InvalidGroup.NotFound"
    assert code_of(ec2.describe_security_groups, GroupIds=["web"]) == "InvalidGroupId.Malformed"


def test_a_group_in_the_default_vpc_by_name(ec2: Any, name: str) -> None:
    group_id = ec2.create_security_group(GroupName=name, Description="by name")["GroupId"]
    (shown,) = ec2.describe_security_groups(GroupNames=[name])["SecurityGroups"]
    assert shown["GroupId"] == group_id
    ec2.authorize_security_group_ingress(
        GroupName=name, IpProtocol="tcp", FromPort=22, ToPort=22, CidrIp="10.0.0.0/8"
    )
    # In the default VPC a revoke of rules the group does not have answers what was unknown.
    answer = ec2.revoke_security_group_ingress(
        GroupName=name,
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 22,
                "ToPort": 22,
                "IpRanges": [{"CidrIp": "10.0.0.0/8"}],
            },
            {
                "IpProtocol": "tcp",
                "FromPort": 23,
                "ToPort": 23,
                "IpRanges": [{"CidrIp": "10.0.0.0/8"}],
            },
        ],
    )
    assert [r["FromPort"] for r in answer["RevokedSecurityGroupRules"]] == [22]
    assert [p["FromPort"] for p in answer["UnknownIpPermissions"]] == [23]
    ec2.delete_security_group(GroupName=name)
    code, message = error_of(ec2.describe_security_groups, GroupNames=[name])
    assert code == "InvalidGroup.NotFound" and "default VPC" in message


def test_rules_authorized_joined_and_revoked(ec2: Any, vpc: str, name: str) -> None:
    web, lb = group(ec2, vpc, name), group(ec2, vpc, f"{name}-lb")
    answer = ec2.authorize_security_group_ingress(
        GroupId=web["GroupId"],
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 80,
                "ToPort": 80,
                "IpRanges": [{"CidrIp": "10.50.0.0/16", "Description": "vpc"}],
                "Ipv6Ranges": [{"CidrIpv6": "::/0"}],
            },
            {
                "IpProtocol": "6",
                "FromPort": 8000,
                "ToPort": 8100,
                "UserIdGroupPairs": [{"GroupId": lb["GroupId"]}],
            },
            {"IpProtocol": "icmp", "FromPort": 8, "ToPort": -1, "IpRanges": ANYWHERE},
            {"IpProtocol": "50", "PrefixListIds": [{"PrefixListId": "pl-0123456789abcdef0"}]},
        ],
    )
    rules = answer["SecurityGroupRules"]
    assert answer["Return"] is True and len(rules) == 5
    assert all(
        r["SecurityGroupRuleId"].startswith("sgr-") and r["GroupId"] == web["GroupId"]
        for r in rules
    )
    assert (
        rules[2]["IpProtocol"] == "tcp"
        and rules[2]["ReferencedGroupInfo"]["GroupId"] == lb["GroupId"]
    )
    (shown,) = ec2.describe_security_groups(GroupIds=[web["GroupId"]])["SecurityGroups"]
    joined = {
        (p["IpProtocol"], p.get("FromPort"), p.get("ToPort")): p for p in shown["IpPermissions"]
    }
    assert set(joined) == {("tcp", 80, 80), ("tcp", 8000, 8100), ("icmp", 8, -1), ("50", -1, -1)}
    assert joined[("tcp", 80, 80)]["IpRanges"] == [{"CidrIp": "10.50.0.0/16", "Description": "vpc"}]
    assert joined[("tcp", 80, 80)]["Ipv6Ranges"] == [{"CidrIpv6": "::/0"}]
    assert joined[("tcp", 8000, 8100)]["UserIdGroupPairs"][0]["GroupId"] == lb["GroupId"]
    by_port = ec2.describe_security_groups(
        Filters=[
            {"Name": "ip-permission.from-port", "Values": ["8000"]},
            {"Name": "vpc-id", "Values": [vpc]},
        ]
    )
    assert [g["GroupId"] for g in by_port["SecurityGroups"]] == [web["GroupId"]]

    code, message = error_of(
        ec2.authorize_security_group_ingress,
        GroupId=web["GroupId"],
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 80,
                "ToPort": 80,
                "IpRanges": [{"CidrIp": "10.50.0.0/16"}],
            }
        ],
    )
    assert (code, message) == (
        "InvalidPermission.Duplicate",
        'the specified rule "peer: 10.50.0.0/16, TCP, from port: 80, to port: 80, ALLOW" '
        "already exists",
    )
    for bad in (
        {"IpProtocol": "tcpx", "FromPort": 1, "ToPort": 2, "IpRanges": ANYWHERE},
        {"IpProtocol": "tcp", "FromPort": 90, "ToPort": 80, "IpRanges": ANYWHERE},
        {
            "IpProtocol": "tcp",
            "FromPort": 90,
            "ToPort": 91,
            "IpRanges": [{"CidrIp": "10.0.0.0/33"}],
        },
    ):
        assert (
            code_of(
                ec2.authorize_security_group_ingress, GroupId=web["GroupId"], IpPermissions=[bad]
            )
            == "InvalidParameterValue"
        )
    missing_peer = [
        {
            "IpProtocol": "tcp",
            "FromPort": 1,
            "ToPort": 2,
            "UserIdGroupPairs": [{"GroupId": "sg-0123456789abcdef0"}],
        }
    ]
    assert (
        code_of(
            ec2.authorize_security_group_ingress, GroupId=web["GroupId"], IpPermissions=missing_peer
        )
        == "InvalidGroup.NotFound"
    )

    # A non-default VPC's group: a rule it does not have is an error, and nothing goes.
    unknown = {
        "IpProtocol": "tcp",
        "FromPort": 81,
        "ToPort": 81,
        "IpRanges": [{"CidrIp": "10.50.0.0/16"}],
    }
    known = {"IpProtocol": "icmp", "FromPort": 8, "ToPort": -1, "IpRanges": ANYWHERE}
    assert error_of(
        ec2.revoke_security_group_ingress, GroupId=web["GroupId"], IpPermissions=[known, unknown]
    ) == ("InvalidPermission.NotFound", "The specified rule does not exist in this security group.")
    revoked = ec2.revoke_security_group_ingress(GroupId=web["GroupId"], IpPermissions=[known])
    assert [r["IpProtocol"] for r in revoked["RevokedSecurityGroupRules"]] == ["icmp"]
    by_id = ec2.revoke_security_group_ingress(
        GroupId=web["GroupId"], SecurityGroupRuleIds=[rules[4]["SecurityGroupRuleId"]]
    )
    assert by_id["RevokedSecurityGroupRules"][0]["PrefixListId"] == "pl-0123456789abcdef0"
    assert (
        code_of(
            ec2.revoke_security_group_ingress,
            GroupId=web["GroupId"],
            SecurityGroupRuleIds=[rules[4]["SecurityGroupRuleId"]],
        )
        == "InvalidSecurityGroupRuleId.NotFound"
    )

    # lb is referenced by a rule of web: it stays until that rule goes.
    assert error_of(ec2.delete_security_group, GroupId=lb["GroupId"]) == (
        "DependencyViolation",
        f"resource {lb['GroupId']} has a dependent object",
    )
    ec2.revoke_security_group_ingress(
        GroupId=web["GroupId"], SecurityGroupRuleIds=[rules[2]["SecurityGroupRuleId"]]
    )
    ec2.delete_security_group(GroupId=lb["GroupId"])


def test_egress_rules(ec2: Any, vpc: str, name: str) -> None:
    web = group(ec2, vpc, name)
    ec2.revoke_security_group_egress(
        GroupId=web["GroupId"], IpPermissions=[{"IpProtocol": "-1", "IpRanges": ANYWHERE}]
    )
    assert (
        ec2.describe_security_groups(GroupIds=[web["GroupId"]])["SecurityGroups"][0][
            "IpPermissionsEgress"
        ]
        == []
    )
    out = ec2.authorize_security_group_egress(
        GroupId=web["GroupId"],
        IpPermissions=[
            {
                "IpProtocol": "udp",
                "FromPort": 53,
                "ToPort": 53,
                "IpRanges": [{"CidrIp": "10.50.0.2/32"}],
            }
        ],
    )["SecurityGroupRules"]
    assert [(r["IsEgress"], r["IpProtocol"], r["CidrIpv4"]) for r in out] == [
        (True, "udp", "10.50.0.2/32")
    ]
    filtered = ec2.describe_security_groups(
        Filters=[{"Name": "egress.ip-permission.cidr", "Values": ["10.50.0.2/32"]}]
    )
    assert [g["GroupId"] for g in filtered["SecurityGroups"]] == [web["GroupId"]]
    assert (
        code_of(
            ec2.revoke_security_group_egress,
            GroupId=web["GroupId"],
            IpPermissions=[{"IpProtocol": "-1", "IpRanges": ANYWHERE}],
        )
        == "InvalidPermission.NotFound"
    )


def test_describe_and_modify_rules(ec2: Any, vpc: str, name: str) -> None:
    web = group(ec2, vpc, name)
    (rule,) = ec2.authorize_security_group_ingress(
        GroupId=web["GroupId"],
        IpPermissions=[{"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "IpRanges": ANYWHERE}],
    )["SecurityGroupRules"]
    rule_id = rule["SecurityGroupRuleId"]
    listed = ec2.describe_security_group_rules(
        Filters=[{"Name": "group-id", "Values": [web["GroupId"]]}]
    )["SecurityGroupRules"]
    assert sorted((r["IsEgress"], r["IpProtocol"]) for r in listed) == [
        (False, "tcp"),
        (True, "-1"),
    ]
    (one,) = ec2.describe_security_group_rules(SecurityGroupRuleIds=[rule_id])["SecurityGroupRules"]
    assert (one["FromPort"], one["ToPort"], one["CidrIpv4"]) == (80, 80, "0.0.0.0/0")
    assert one["SecurityGroupRuleArn"].endswith(f":security-group-rule/{rule_id}")
    ec2.modify_security_group_rules(
        GroupId=web["GroupId"],
        SecurityGroupRules=[
            {
                "SecurityGroupRuleId": rule_id,
                "SecurityGroupRule": {
                    "IpProtocol": "tcp",
                    "FromPort": 8080,
                    "ToPort": 8080,
                    "CidrIpv4": "10.50.0.0/16",
                    "Description": "app",
                },
            }
        ],
    )
    (one,) = ec2.describe_security_group_rules(SecurityGroupRuleIds=[rule_id])["SecurityGroupRules"]
    assert (one["FromPort"], one["CidrIpv4"], one["Description"]) == (8080, "10.50.0.0/16", "app")
    assert (
        code_of(ec2.describe_security_group_rules, SecurityGroupRuleIds=["sgr-0123456789abcdef0"])
        == "InvalidSecurityGroupRuleId.NotFound"
    )
    assert (
        code_of(
            ec2.modify_security_group_rules,
            GroupId=web["GroupId"],
            SecurityGroupRules=[
                {
                    "SecurityGroupRuleId": "sgr-0123456789abcdef0",
                    "SecurityGroupRule": {"IpProtocol": "-1", "CidrIpv4": "0.0.0.0/0"},
                }
            ],
        )
        == "InvalidSecurityGroupRuleId.NotFound"
    )
