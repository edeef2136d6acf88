"""Where EC2 keeps its network objects, and how a request's ids find them.

Every object is one document under `ACCOUNT|REGION|ID` (so an account's objects in a region
are a prefix scan, and regions never see each other), in the wire shape DescribeX answers
with plus a few members of its own (`PRIVATE`, left out when shown). Tags are a `Tags` list
of Key/Value in every document (a network interface shows them as `TagSet`).

    ec2_accounts                  ACCOUNT|REGION -> the default VPC made on first reference
    ec2_vpcs                      a VPC and its attributes (EnableDnsSupport...)
    ec2_subnets                   a subnet; `LastAddress`: the allocator's cursor
    ec2_security_groups           a group (its rules are rows of their own)
    ec2_security_group_rules      one rule: one group, one direction, one peer (the
                                  SecurityGroupRule shape), read by group for enforcement
    ec2_network_interfaces        an ENI with its private address (indexed: one per subnet)
    ec2_route_tables, ec2_network_acls   a VPC's main route table and default network ACL
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from portside.ec2.errors import group_not_found, malformed, not_found
from portside.ec2.filters import Fields, FilterSet
from portside.errors import NamedError
from portside.ops.context import Op
from portside.store.base import Document, Tx

ACCOUNTS = "ec2_accounts"
VPCS = "ec2_vpcs"
SUBNETS = "ec2_subnets"
GROUPS = "ec2_security_groups"
RULES = "ec2_security_group_rules"
ENIS = "ec2_network_interfaces"
ROUTE_TABLES = "ec2_route_tables"
ACLS = "ec2_network_acls"

PRIVATE = frozenset(
    {
        "EnableDnsSupport",
        "EnableDnsHostnames",
        "EnableNetworkAddressUsageMetrics",
        "LastAddress",
        "ReferencedGroupId",
        "Order",
    }
)
_ID = re.compile(r"^[a-z]+-[0-9a-f]{8,17}$")


def scope(op: Op) -> str:
    return f"{op.account}|{op.region}|"


def key(op: Op, resource_id: str) -> str:
    return scope(op) + resource_id


def new_id(op: Op, prefix: str) -> str:
    """An id as EC2 makes them: the prefix and 17 hex digits."""
    return f"{prefix}-{op.world.new_id()[-17:]}"


def arn(op: Op, kind: str, resource_id: str) -> str:
    return f"arn:aws:ec2:{op.region}:{op.account}:{kind}/{resource_id}"


def wire(doc: Document) -> dict[str, Any]:
    """A stored document as EC2 shows it: its own members left out, no empty tag list."""
    return {k: v for k, v in doc.items() if k not in PRIVATE and not (k == "Tags" and not v)}


@dataclass(frozen=True)
class Kind:
    """One kind of EC2 object as requests name it: its table, its id prefix, the member
    holding its id, what EC2's messages call it (`The vpc ID '...'`), its DescribeTags
    resource type and its error codes."""

    table: str
    prefix: str
    id_member: str
    what: str
    resource_type: str
    not_found_code: str
    malformed_code: str
    missing: Callable[[list[str]], NamedError] | None = None

    def not_found(self, ids: list[str]) -> NamedError:
        if self.missing is not None:
            return self.missing(ids)
        return not_found(self.not_found_code, self.what, ids)

    def check_id(self, value: str) -> None:
        if not value.startswith(self.prefix + "-") or not _ID.match(value):
            raise malformed(self.malformed_code, value, self.prefix)

    def find(self, tx: Tx, op: Op, resource_id: str) -> Document | None:
        return tx.get(self.table, key(op, resource_id))

    def get(self, tx: Tx, op: Op, resource_id: str) -> Document:
        """The object `resource_id` names; EC2's malformed or not-found error else."""
        self.check_id(resource_id)
        doc = self.find(tx, op, resource_id)
        if doc is None:
            raise self.not_found([resource_id])
        return doc

    def get_many(self, tx: Tx, op: Op, ids: Iterable[str]) -> list[Document]:
        """The objects of `ids` in the order given (each once); every missing one named."""
        wanted = list(dict.fromkeys(ids))
        for resource_id in wanted:
            self.check_id(resource_id)
        found = [(i, self.find(tx, op, i)) for i in wanted]
        gone = [i for i, doc in found if doc is None]
        if gone:
            raise self.not_found(gone)
        return [doc for _, doc in found if doc is not None]

    def all(self, tx: Tx, op: Op, **where: Any) -> list[Document]:
        """Every object of the kind in the caller's account and region (`where`: indexed
        columns)."""
        return [doc for _, doc in tx.scan(self.table, prefix=scope(op), where=where or None)]

    def described(self, tx: Tx, op: Op, ids: list[str] | None) -> list[Document]:
        """What a DescribeX asks for: the objects of `ids`, else every one."""
        return self.get_many(tx, op, ids) if ids else self.all(tx, op)

    def put(self, tx: Tx, op: Op, doc: Document) -> None:
        tx.put(self.table, key(op, doc[self.id_member]), doc)

    def delete(self, tx: Tx, op: Op, resource_id: str) -> None:
        tx.delete(self.table, key(op, resource_id))


VPC = Kind(VPCS, "vpc", "VpcId", "vpc", "vpc", "InvalidVpcID.NotFound", "InvalidVpcID.Malformed")
SUBNET = Kind(
    SUBNETS,
    "subnet",
    "SubnetId",
    "subnet",
    "subnet",
    "InvalidSubnetID.NotFound",
    "InvalidSubnetID.Malformed",
)
GROUP = Kind(
    GROUPS,
    "sg",
    "GroupId",
    "security group",
    "security-group",
    "InvalidGroup.NotFound",
    "InvalidGroupId.Malformed",
    group_not_found,
)
RULE = Kind(
    RULES,
    "sgr",
    "SecurityGroupRuleId",
    "security group rule",
    "security-group-rule",
    "InvalidSecurityGroupRuleId.NotFound",
    "InvalidSecurityGroupRuleId.Malformed",
)
ENI = Kind(
    ENIS,
    "eni",
    "NetworkInterfaceId",
    "networkInterface",
    "network-interface",
    "InvalidNetworkInterfaceID.NotFound",
    "InvalidNetworkInterfaceID.Malformed",
)
ROUTE_TABLE = Kind(
    ROUTE_TABLES,
    "rtb",
    "RouteTableId",
    "routeTable",
    "route-table",
    "InvalidRouteTableID.NotFound",
    "InvalidRouteTableID.Malformed",
)
ACL = Kind(
    ACLS,
    "acl",
    "NetworkAclId",
    "networkAcl",
    "network-acl",
    "InvalidNetworkAclID.NotFound",
    "InvalidNetworkAclID.Malformed",
)
KINDS = (VPC, SUBNET, GROUP, RULE, ENI, ROUTE_TABLE, ACL)
KIND_OF_PREFIX = {kind.prefix: kind for kind in KINDS}


def kind_of(resource_id: str) -> Kind | None:
    """The kind an id names by its prefix (`vpc-`, `sg-`...)."""
    return KIND_OF_PREFIX.get(resource_id.split("-", 1)[0])


# -- paging: MaxResults and NextToken ---------------------------------------------------------


def _invalid_token(token: str) -> NamedError:
    return NamedError("InvalidPaginationToken", f"Invalid pagination token: {token[:64]}")


def page(
    p: dict[str, Any],
    docs: list[Document],
    id_member: str,
    member: str,
    show: Callable[[Document], dict[str, Any]],
) -> dict[str, Any]:
    """A DescribeX answer: the page of `docs` (every one unless MaxResults says) past the one
    NextToken names, each as `show` has it, under `member`, and the NextToken when more
    remain."""
    token = p.get("NextToken")
    if token:
        try:
            after = base64.urlsafe_b64decode(token.encode()).decode()
        except (binascii.Error, UnicodeDecodeError, ValueError):
            raise _invalid_token(token) from None
        at = next((i for i, d in enumerate(docs) if d[id_member] == after), None)
        if at is None:
            raise _invalid_token(token)
        docs = docs[at + 1 :]
    size = p.get("MaxResults")
    out: dict[str, Any] = {}
    if size is not None and len(docs) > size:
        docs = docs[:size]
        out["NextToken"] = base64.urlsafe_b64encode(docs[-1][id_member].encode()).decode()
    out[member] = [show(d) for d in docs]
    return out


def describe(
    op: Op,
    p: dict[str, Any],
    kind: Kind,
    ids_member: str,
    fields: Fields,
    member: str,
    show: Callable[[Document], dict[str, Any]] = wire,
) -> dict[str, Any]:
    """A plain DescribeX: the objects of the ids under `ids_member` (else every one) that
    pass the request's filters, a page of them as `show` has them under `member`."""
    keep = FilterSet(p.get("Filters"), fields)
    with op.store.read() as tx:
        docs = keep.apply(kind.described(tx, op, p.get(ids_member)))
    return page(p, docs, kind.id_member, member, show)
