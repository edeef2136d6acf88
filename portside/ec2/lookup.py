"""EC2's network objects as other services read them: subnets and security groups by id,
each with its VPC, and how many addresses a subnet has free. ECS checks an awsvpc network
configuration with these (ops/network_validation.py) and picks a task's subnet; EC2 keeps
its tables to itself, so this is the one door through which ECS reads them.

Reads run in the caller's transaction (a launch checks and allocates in one), and the
caller's default VPC is made first if it never was, as on any EC2 call: an account's default
subnets exist from its first use. A missing or malformed id is EC2's own error
(`InvalidSubnetID.NotFound`, `InvalidGroup.NotFound`, `...Malformed`), which the caller words
as its service does.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from ipaddress import IPv4Network

from portside.ec2 import addresses, defaults
from portside.ec2.records import ENIS, GROUP, SUBNET, VPC
from portside.errors import NamedError
from portside.ops.context import Op
from portside.store.base import Document, Tx


@dataclass(frozen=True, slots=True)
class Subnet:
    subnet_id: str
    vpc_id: str
    availability_zone: str
    cidr_block: str


@dataclass(frozen=True, slots=True)
class Group:
    group_id: str
    group_name: str
    vpc_id: str


def well_formed_subnet_id(subnet_id: str) -> bool:
    """Whether EC2 could parse `subnet_id` at all (`subnet-` and 8 or 17 hex digits)."""
    try:
        SUBNET.check_id(subnet_id)
    except NamedError:
        return False
    return True


def _subnet(doc: Document) -> Subnet:
    return Subnet(doc["SubnetId"], doc["VpcId"], doc["AvailabilityZone"], doc["CidrBlock"])


def _group(doc: Document) -> Group:
    return Group(doc["GroupId"], doc["GroupName"], doc["VpcId"])


def subnets(op: Op, tx: Tx, ids: Iterable[str]) -> list[Subnet]:
    """The subnets of `ids` in the order given, each once; EC2's error naming every missing
    one (or the first malformed id)."""
    defaults.ensure_in(op, tx)
    return [_subnet(d) for d in SUBNET.get_many(tx, op, ids)]


def groups(op: Op, tx: Tx, ids: Iterable[str]) -> list[Group]:
    """The security groups of `ids` in the order given, each once; EC2's error else."""
    defaults.ensure_in(op, tx)
    return [_group(d) for d in GROUP.get_many(tx, op, ids)]


def vpc_exists(op: Op, tx: Tx, vpc_id: str) -> bool:
    """Whether the caller's VPC `vpc_id` exists (Cloud Map's private DNS namespaces)."""
    defaults.ensure_in(op, tx)
    return VPC.find(tx, op, vpc_id) is not None


def free_addresses(tx: Tx, subnet: Subnet) -> int:
    """The subnet's AvailableIpAddressCount: its usable addresses no ENI holds."""
    used = sum(1 for _ in tx.index(ENIS, where={"subnet": subnet.subnet_id}))
    return addresses.available(IPv4Network(subnet.cidr_block), used)
