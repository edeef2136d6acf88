"""What Terraform reads about a VPC's routing, read-only: DescribeRouteTables (each VPC's
main route table with its `local` route), DescribeNetworkAcls (each VPC's default ACL,
allowing everything in and out, associated with every subnet of the VPC),
DescribePrefixLists (Portside has no AWS-managed prefix lists) and the ClassicLink reads
(UnsupportedOperation)."""

from __future__ import annotations

from typing import Any

from portside.ec2.errors import not_found
from portside.ec2.filters import FilterSet, each, one
from portside.ec2.operations import action
from portside.ec2.records import ACL, ROUTE_TABLE, SUBNET, describe, page, wire
from portside.errors import NamedError
from portside.ops.context import Op
from portside.store.base import Document, Tx

ROUTE_TABLE_FIELDS = {
    "association.main": each("Associations", "Main"),
    "association.route-table-association-id": each("Associations", "RouteTableAssociationId"),
    "association.route-table-id": each("Associations", "RouteTableId"),
    "association.subnet-id": each("Associations", "SubnetId"),
    "association.gateway-id": each("Associations", "GatewayId"),
    "owner-id": one("OwnerId"),
    "route-table-id": one("RouteTableId"),
    "route.destination-cidr-block": each("Routes", "DestinationCidrBlock"),
    "route.gateway-id": each("Routes", "GatewayId"),
    "route.origin": each("Routes", "Origin"),
    "route.state": each("Routes", "State"),
    "vpc-id": one("VpcId"),
}
ACL_FIELDS = {
    "association.association-id": each("Associations", "NetworkAclAssociationId"),
    "association.network-acl-id": each("Associations", "NetworkAclId"),
    "association.subnet-id": each("Associations", "SubnetId"),
    "default": one("IsDefault"),
    "entry.cidr": each("Entries", "CidrBlock"),
    "entry.egress": each("Entries", "Egress"),
    "entry.protocol": each("Entries", "Protocol"),
    "entry.rule-action": each("Entries", "RuleAction"),
    "entry.rule-number": each("Entries", "RuleNumber"),
    "network-acl-id": one("NetworkAclId"),
    "owner-id": one("OwnerId"),
    "vpc-id": one("VpcId"),
}


@action("DescribeRouteTables")
def describe_route_tables(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    return describe(op, p, ROUTE_TABLE, "RouteTableIds", ROUTE_TABLE_FIELDS, "RouteTables")


def _with_associations(tx: Tx, op: Op, acl: Document) -> Document:
    """The default ACL with an association for each subnet of its VPC (its id follows from
    the subnet's, so it stays the same)."""
    subnets = SUBNET.all(tx, op, vpc=acl["VpcId"])
    acl["Associations"] = [
        {
            "NetworkAclAssociationId": "aclassoc-" + s["SubnetId"].split("-", 1)[1],
            "NetworkAclId": acl["NetworkAclId"],
            "SubnetId": s["SubnetId"],
        }
        for s in subnets
    ]
    return acl


@action("DescribeNetworkAcls")
def describe_network_acls(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    keep = FilterSet(p.get("Filters"), ACL_FIELDS)
    with op.store.read() as tx:
        docs = [
            _with_associations(tx, op, d) for d in ACL.described(tx, op, p.get("NetworkAclIds"))
        ]
    return page(p, keep.apply(docs), "NetworkAclId", "NetworkAcls", wire)


@action("DescribePrefixLists")
def describe_prefix_lists(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    ids = p.get("PrefixListIds") or []
    if ids:
        raise not_found("InvalidPrefixListID.NotFound", "prefix list", ids)
    return {"PrefixLists": []}


def _classic_link(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    # EC2-Classic is retired: EC2 answers its ClassicLink reads so, and SDKs and Terraform
    # take this code as "none".
    raise NamedError(
        "UnsupportedOperation", "The functionality you requested is not available in this region."
    )


action("DescribeVpcClassicLink")(_classic_link)
action("DescribeVpcClassicLinkDnsSupport")(_classic_link)
