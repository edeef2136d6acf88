"""VPCs: CreateVpc, DescribeVpcs, DeleteVpc, Describe/ModifyVpcAttribute."""

from __future__ import annotations

from typing import Any

from portside.ec2 import cidr, tagging
from portside.ec2.errors import combination, dependency, missing, refuse_unsupported
from portside.ec2.filters import each, one
from portside.ec2.operations import action
from portside.ec2.records import ACL, ENI, GROUP, ROUTE_TABLE, RULE, SUBNET, VPC, describe, wire
from portside.ec2.resources import DEFAULT_GROUP, new_vpc
from portside.errors import NamedError
from portside.ops.context import Op
from portside.store.base import Document

FIELDS = {
    "cidr": one("CidrBlock"),
    "cidr-block-association.cidr-block": each("CidrBlockAssociationSet", "CidrBlock"),
    "cidr-block-association.association-id": each("CidrBlockAssociationSet", "AssociationId"),
    "cidr-block-association.state": lambda d: (
        a["CidrBlockState"]["State"] for a in d.get("CidrBlockAssociationSet") or ()
    ),
    "dhcp-options-id": one("DhcpOptionsId"),
    "is-default": one("IsDefault"),
    "owner-id": one("OwnerId"),
    "state": one("State"),
    "vpc-id": one("VpcId"),
}
# DescribeVpcAttribute's names -> where the document keeps them, and ModifyVpcAttribute's.
ATTRIBUTES = {
    "enableDnsSupport": "EnableDnsSupport",
    "enableDnsHostnames": "EnableDnsHostnames",
    "enableNetworkAddressUsageMetrics": "EnableNetworkAddressUsageMetrics",
}
_UNSUPPORTED = (
    "Ipv6Pool",
    "Ipv6CidrBlock",
    "Ipv4IpamPoolId",
    "Ipv6IpamPoolId",
    "AmazonProvidedIpv6CidrBlock",
)


@action("CreateVpc")
def create_vpc(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    refuse_unsupported(p, _UNSUPPORTED, "CreateVpc")
    if not p.get("CidrBlock"):
        raise missing("cidrBlock")
    block = str(cidr.vpc_block(p["CidrBlock"]))
    tenancy = p.get("InstanceTenancy") or "default"
    if tenancy == "host":
        raise NamedError(
            "InvalidParameterValue",
            "Value (host) for parameter instanceTenancy is invalid. Valid values: default, "
            "dedicated.",
        )
    tags = tagging.specified(p, "vpc")
    with op.store.transaction() as tx:
        doc = new_vpc(op, tx, block, tenancy=tenancy, tags=tags)
    return {"Vpc": wire(doc)}


@action("DescribeVpcs")
def describe_vpcs(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    return describe(op, p, VPC, "VpcIds", FIELDS, "Vpcs")


@action("DeleteVpc")
def delete_vpc(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    vpc_id = p["VpcId"]
    with op.store.transaction() as tx:
        VPC.get(tx, op, vpc_id)
        groups = GROUP.all(tx, op, vpc=vpc_id)
        if (
            SUBNET.all(tx, op, vpc=vpc_id)
            or ENI.all(tx, op, vpc=vpc_id)
            or any(g["GroupName"] != DEFAULT_GROUP for g in groups)
        ):
            raise dependency(f"The vpc '{vpc_id}' has dependencies and cannot be deleted.")
        for group in groups:
            for rule in RULE.all(tx, op, grp=group["GroupId"]):
                RULE.delete(tx, op, rule["SecurityGroupRuleId"])
            GROUP.delete(tx, op, group["GroupId"])
        for table in ROUTE_TABLE.all(tx, op, vpc=vpc_id):
            ROUTE_TABLE.delete(tx, op, table["RouteTableId"])
        for acl in ACL.all(tx, op, vpc=vpc_id):
            ACL.delete(tx, op, acl["NetworkAclId"])
        VPC.delete(tx, op, vpc_id)
    return {}


@action("DescribeVpcAttribute")
def describe_vpc_attribute(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    member = ATTRIBUTES[p["Attribute"]]
    with op.store.read() as tx:
        doc = VPC.get(tx, op, p["VpcId"])
    return {"VpcId": doc["VpcId"], member: {"Value": bool(doc.get(member))}}


@action("ModifyVpcAttribute")
def modify_vpc_attribute(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    given = [name for name, member in ATTRIBUTES.items() if member in p]
    if not given:
        raise combination("No attributes specified.")
    if len(given) > 1:
        raise combination(f"Fields for multiple attribute types specified: {', '.join(given)}")
    member = ATTRIBUTES[given[0]]
    value = p[member].get("Value")
    if value is None:
        raise missing(f"{given[0]}.value")
    with op.store.transaction() as tx:
        doc: Document = VPC.get(tx, op, p["VpcId"])
        if member == "EnableDnsHostnames" and value and not doc.get("EnableDnsSupport"):
            raise NamedError(
                "InvalidParameterValue",
                "enableDnsHostnames cannot be enabled unless enableDnsSupport is enabled.",
            )
        doc[member] = bool(value)
        VPC.put(tx, op, doc)
    return {}
