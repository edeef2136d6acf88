"""The default VPC every account has in every region: 172.31.0.0/16 with a default subnet
in each of the region's zones (172.31.0.0/20, 172.31.16.0/20, 172.31.32.0/20...), made the
first time a caller uses EC2 in the region and kept from then on (or until deleted, as in
AWS: it is not made again; DescribeAccountAttributes' default-vpc says `none`).

`ec2_accounts` marks that it was made, holding its id: one get per call once made.
"""

from __future__ import annotations

from ipaddress import IPv4Network

from portside.ec2.records import ACCOUNTS, VPC, scope
from portside.ec2.resources import new_subnet, new_vpc
from portside.ec2.zones import region_zones
from portside.ops.context import Op
from portside.store.base import Document, Tx

DEFAULT_CIDR = "172.31.0.0/16"
SUBNET_PREFIX = 20


def _account_key(op: Op) -> str:
    return scope(op).rstrip("|")


def ensure(op: Op) -> None:
    """Make the caller's default VPC unless it was made already."""
    with op.store.read() as tx:
        if tx.get(ACCOUNTS, _account_key(op)) is not None:
            return
    with op.store.transaction() as tx:
        ensure_in(op, tx)


def ensure_in(op: Op, tx: Tx) -> Document:
    """In the caller's transaction: the account's EC2 record, the default VPC made first if
    it never was."""
    held = tx.get(ACCOUNTS, _account_key(op))
    if held is not None:
        return held
    vpc = new_vpc(op, tx, DEFAULT_CIDR, default=True)
    blocks = IPv4Network(DEFAULT_CIDR).subnets(new_prefix=SUBNET_PREFIX)
    for zone, block in zip(region_zones(op.region), blocks, strict=False):
        new_subnet(op, tx, vpc["VpcId"], str(block), zone, default_for_az=True)
    doc = {"DefaultVpcId": vpc["VpcId"]}
    tx.put(ACCOUNTS, _account_key(op), doc)
    return doc


def default_vpc(tx: Tx, op: Op) -> Document | None:
    """The caller's default VPC, if it (still) exists."""
    held = tx.get(ACCOUNTS, _account_key(op)) or {}
    vpc_id = held.get("DefaultVpcId")
    return VPC.find(tx, op, vpc_id) if vpc_id else None
