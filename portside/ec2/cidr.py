"""The IPv4 blocks of VPCs and subnets, as EC2 rules them (pure).

A block is written as its network address and prefix (`10.0.0.0/16`; `10.0.0.1/16` is not a
block). A VPC's and a subnet's are /16 to /28; a subnet's lies within its VPC's and overlaps
no other subnet of the VPC.
"""

from __future__ import annotations

from collections.abc import Iterable
from ipaddress import AddressValueError, IPv4Network, NetmaskValueError

from portside.ec2.errors import invalid_value
from portside.errors import NamedError

LARGEST, SMALLEST = 16, 28


def parse(text: str, parameter: str = "cidrBlock") -> IPv4Network:
    """The block `text` writes; EC2's InvalidParameterValue when it is none."""
    try:
        return IPv4Network(text, strict=True)
    except (AddressValueError, NetmaskValueError, ValueError):
        raise invalid_value(parameter, text, "This is not a valid CIDR block.") from None


def vpc_block(text: str) -> IPv4Network:
    net = parse(text)
    if not LARGEST <= net.prefixlen <= SMALLEST:
        raise NamedError("InvalidVpc.Range", f"The CIDR '{text}' is invalid.")
    return net


def subnet_block(text: str, vpc: IPv4Network, others: Iterable[IPv4Network]) -> IPv4Network:
    """The block of a new subnet of a VPC whose block is `vpc` and whose other subnets have
    `others`."""
    net = parse(text)
    if not LARGEST <= net.prefixlen <= SMALLEST or not net.subnet_of(vpc):
        raise NamedError("InvalidSubnet.Range", f"The CIDR '{text}' is invalid.")
    if any(net.overlaps(other) for other in others):
        raise NamedError(
            "InvalidSubnet.Conflict", f"The CIDR '{text}' conflicts with another subnet"
        )
    return net
