"""New EC2 objects as they are first stored: a VPC with what every VPC comes with (its
`default` security group, main route table and default network ACL), a subnet, a security
group with its first rules. The operations and the default VPC both make them here."""

from __future__ import annotations

import hashlib
from typing import Any

from portside.ec2 import permissions
from portside.ec2.permissions import Spec
from portside.ec2.records import ACL, GROUP, ROUTE_TABLE, RULE, SUBNET, VPC, arn, new_id
from portside.ec2.tagging import Tag
from portside.ec2.zones import Zone
from portside.ops.context import Op
from portside.store.base import Document, Tx

DEFAULT_GROUP = "default"
ANYWHERE = "0.0.0.0/0"


def dhcp_options_id(op: Op) -> str:
    """The account's default DHCP option set in the region (every VPC starts with it)."""
    digest = hashlib.sha256(f"{op.account}|{op.region}".encode()).hexdigest()
    return f"dopt-{digest[:17]}"


def new_vpc(
    op: Op,
    tx: Tx,
    cidr: str,
    *,
    default: bool = False,
    tenancy: str = "default",
    tags: list[Tag] | None = None,
) -> Document:
    """A VPC and its default group, main route table and default network ACL."""
    vpc_id = new_id(op, "vpc")
    doc: Document = {
        "VpcId": vpc_id,
        "OwnerId": op.account,
        "InstanceTenancy": tenancy,
        "CidrBlockAssociationSet": [
            {
                "AssociationId": new_id(op, "vpc-cidr-assoc"),
                "CidrBlock": cidr,
                "CidrBlockState": {"State": "associated"},
            }
        ],
        "IsDefault": default,
        "BlockPublicAccessStates": {"InternetGatewayBlockMode": "off"},
        "State": "available",
        "CidrBlock": cidr,
        "DhcpOptionsId": dhcp_options_id(op),
        "Tags": tags or [],
        "EnableDnsSupport": True,
        "EnableDnsHostnames": default,  # on in a default VPC only
        "EnableNetworkAddressUsageMetrics": False,
    }
    VPC.put(tx, op, doc)
    new_group(op, tx, vpc_id, DEFAULT_GROUP, "default VPC security group")
    table_id = new_id(op, "rtb")
    ROUTE_TABLE.put(
        tx,
        op,
        {
            "Associations": [
                {
                    "Main": True,
                    "RouteTableAssociationId": new_id(op, "rtbassoc"),
                    "RouteTableId": table_id,
                    "AssociationState": {"State": "associated"},
                }
            ],
            "PropagatingVgws": [],
            "RouteTableId": table_id,
            "Routes": [
                {
                    "DestinationCidrBlock": cidr,
                    "GatewayId": "local",
                    "Origin": "CreateRouteTable",
                    "State": "active",
                }
            ],
            "Tags": [],
            "VpcId": vpc_id,
            "OwnerId": op.account,
        },
    )
    ACL.put(
        tx,
        op,
        {
            "Associations": [],  # every subnet of the VPC: shown as they are when described
            "Entries": [
                {
                    "CidrBlock": ANYWHERE,
                    "Egress": egress,
                    "Protocol": "-1",
                    "RuleAction": action,
                    "RuleNumber": number,
                }
                for egress in (True, False)
                for action, number in (("allow", 100), ("deny", 32767))
            ],
            "IsDefault": True,
            "NetworkAclId": new_id(op, "acl"),
            "Tags": [],
            "VpcId": vpc_id,
            "OwnerId": op.account,
        },
    )
    return doc


def new_subnet(
    op: Op,
    tx: Tx,
    vpc_id: str,
    cidr: str,
    zone: Zone,
    *,
    default_for_az: bool = False,
    tags: list[Tag] | None = None,
) -> Document:
    subnet_id = new_id(op, "subnet")
    doc: Document = {
        "AvailabilityZoneId": zone.zone_id,
        "MapCustomerOwnedIpOnLaunch": False,
        "OwnerId": op.account,
        "AssignIpv6AddressOnCreation": False,
        "Ipv6CidrBlockAssociationSet": [],
        "Tags": tags or [],
        "SubnetArn": arn(op, "subnet", subnet_id),
        "EnableDns64": False,
        "Ipv6Native": False,
        "PrivateDnsNameOptionsOnLaunch": {
            "HostnameType": "ip-name",
            "EnableResourceNameDnsARecord": False,
            "EnableResourceNameDnsAAAARecord": False,
        },
        "BlockPublicAccessStates": {"InternetGatewayBlockMode": "off"},
        "SubnetId": subnet_id,
        "State": "available",
        "VpcId": vpc_id,
        "CidrBlock": cidr,
        "AvailabilityZone": zone.name,
        "DefaultForAz": default_for_az,
        "MapPublicIpOnLaunch": default_for_az,  # on in a default subnet only
    }
    SUBNET.put(tx, op, doc)
    return doc


def new_group(
    op: Op,
    tx: Tx,
    vpc_id: str,
    name: str,
    description: str,
    tags: list[Tag] | None = None,
) -> Document:
    """A security group with EC2's first rules: everything out to anywhere, and for a VPC's
    `default` group everything in from its own members."""
    group_id = new_id(op, "sg")
    doc: Document = {
        "GroupId": group_id,
        "GroupName": name,
        "Description": description,
        "VpcId": vpc_id,
        "OwnerId": op.account,
        "SecurityGroupArn": arn(op, "security-group", group_id),
        "Tags": tags or [],
    }
    GROUP.put(tx, op, doc)
    first = [Spec(True, "-1", -1, -1, "CidrIpv4", ANYWHERE)]
    if name == DEFAULT_GROUP:
        first.insert(0, Spec(False, "-1", -1, -1, "ReferencedGroupId", group_id))
    add_rules(op, tx, group_id, first)
    return doc


def add_rules(
    op: Op, tx: Tx, group_id: str, specs: list[Spec], tags: list[Tag] | None = None
) -> list[dict[str, Any]]:
    """Store `specs` as rules of the group; their documents, in order."""
    out = []
    now = op.now()
    for i, spec in enumerate(specs):
        rule_id = new_id(op, "sgr")
        doc = permissions.rule_doc(
            spec, rule_id, group_id, op.account, arn(op, "security-group-rule", rule_id)
        )
        doc["Tags"] = list(tags or [])
        doc["Order"] = [now, i]
        RULE.put(tx, op, doc)
        out.append(doc)
    return out


def rules_of(tx: Tx, op: Op, group_id: str) -> list[Document]:
    """The group's rules, in the order they were made."""
    docs = RULE.all(tx, op, grp=group_id)
    return sorted(docs, key=lambda d: (d.get("Order") or [0, 0], d["SecurityGroupRuleId"]))
