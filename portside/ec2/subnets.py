"""Subnets: CreateSubnet, DescribeSubnets, DeleteSubnet, ModifySubnetAttribute."""

from __future__ import annotations

from collections.abc import Callable
from ipaddress import IPv4Network
from typing import Any

from portside.ec2 import addresses, cidr, tagging, zones
from portside.ec2.errors import (
    combination,
    dependency,
    invalid_value,
    missing,
    refuse_unsupported,
)
from portside.ec2.filters import FilterSet, one
from portside.ec2.operations import action
from portside.ec2.records import ENI, ENIS, SUBNET, VPC, page, wire
from portside.ec2.resources import new_subnet
from portside.ops.context import Op
from portside.store.base import Document, Tx

FIELDS = {
    "availability-zone": one("AvailabilityZone"),
    "availabilityZone": one("AvailabilityZone"),
    "availability-zone-id": one("AvailabilityZoneId"),
    "availabilityZoneId": one("AvailabilityZoneId"),
    "available-ip-address-count": one("AvailableIpAddressCount"),
    "cidr": one("CidrBlock"),
    "cidrBlock": one("CidrBlock"),
    "cidr-block": one("CidrBlock"),
    "default-for-az": one("DefaultForAz"),
    "defaultForAz": one("DefaultForAz"),
    "map-public-ip-on-launch": one("MapPublicIpOnLaunch"),
    "owner-id": one("OwnerId"),
    "state": one("State"),
    "subnet-arn": one("SubnetArn"),
    "subnet-id": one("SubnetId"),
    "vpc-id": one("VpcId"),
}
_UNSUPPORTED = (
    "Ipv6CidrBlock",
    "OutpostArn",
    "Ipv4IpamPoolId",
    "Ipv6IpamPoolId",
    "Ipv6Native",
)


def shown(doc: Document, allocated: int) -> dict[str, Any]:
    """A subnet as EC2 shows it, with the addresses still free."""
    out = wire(doc)
    out["AvailableIpAddressCount"] = addresses.available(IPv4Network(doc["CidrBlock"]), allocated)
    return out


def allocated_counts(tx: Tx) -> dict[str, int]:
    """Subnet id -> how many ENIs (addresses) it holds."""
    return {subnet: n for (subnet,), n in tx.tally(ENIS, ("subnet",)).items()}


def _zone(tx: Tx, op: Op, p: dict[str, Any], vpc_id: str) -> zones.Zone:
    name, zone_id = p.get("AvailabilityZone"), p.get("AvailabilityZoneId")
    if name and zone_id:
        raise combination("Only one of availabilityZone or availabilityZoneId may be specified")
    if name or zone_id:
        found = zones.find(tx, op, name, zone_id)
        if found is None:
            known = ", ".join(z.name for z in zones.zones(tx, op))
            raise invalid_value(
                "availabilityZone" if name else "availabilityZoneId",
                name or zone_id,
                f"Subnets can currently only be created in the following availability zones: "
                f"{known}.",
            )
        return found
    # Neither: the region's zone holding the fewest of the VPC's subnets (AWS picks one).
    used = [s["AvailabilityZone"] for s in SUBNET.all(tx, op, vpc=vpc_id)]
    return min(zones.region_zones(op.region), key=lambda z: used.count(z.name))


@action("CreateSubnet")
def create_subnet(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    refuse_unsupported(p, _UNSUPPORTED, "CreateSubnet")
    if not p.get("CidrBlock"):
        raise missing("cidrBlock")
    tags = tagging.specified(p, "subnet")
    with op.store.transaction() as tx:
        vpc = VPC.get(tx, op, p["VpcId"])
        others = [IPv4Network(s["CidrBlock"]) for s in SUBNET.all(tx, op, vpc=vpc["VpcId"])]
        block = cidr.subnet_block(p["CidrBlock"], IPv4Network(vpc["CidrBlock"]), others)
        zone = _zone(tx, op, p, vpc["VpcId"])
        doc = new_subnet(op, tx, vpc["VpcId"], str(block), zone, tags=tags)
    return {"Subnet": shown(doc, 0)}


@action("DescribeSubnets")
def describe_subnets(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    keep = FilterSet(p.get("Filters"), FIELDS)
    with op.store.read() as tx:
        docs = SUBNET.described(tx, op, p.get("SubnetIds"))
        counts = allocated_counts(tx) if docs else {}
    views = keep.apply(shown(d, counts.get(d["SubnetId"], 0)) for d in docs)
    return page(p, views, "SubnetId", "Subnets", lambda d: d)


@action("DeleteSubnet")
def delete_subnet(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    subnet_id = p["SubnetId"]
    with op.store.transaction() as tx:
        SUBNET.get(tx, op, subnet_id)
        if ENI.all(tx, op, subnet=subnet_id):
            raise dependency(f"The subnet '{subnet_id}' has dependencies and cannot be deleted.")
        SUBNET.delete(tx, op, subnet_id)
    return {}


def _flag(member: str) -> Callable[[Document, Any], None]:
    def apply(doc: Document, given: Any) -> None:
        doc[member] = bool(given.get("Value"))

    return apply


def _dns_option(member: str) -> Callable[[Document, Any], None]:
    def apply(doc: Document, given: Any) -> None:
        value = given if isinstance(given, str) else bool(given.get("Value"))
        doc.setdefault("PrivateDnsNameOptionsOnLaunch", {})[member] = value

    return apply


def _ipv6_on_create(doc: Document, given: Any) -> None:
    if given.get("Value"):
        raise invalid_value(
            "assignIpv6AddressOnCreation", "true", "The subnet has no IPv6 CIDR block."
        )
    doc["AssignIpv6AddressOnCreation"] = False


def _lni(doc: Document, given: Any) -> None:
    doc["EnableLniAtDeviceIndex"] = given


def _no_lni(doc: Document, given: Any) -> None:
    if given.get("Value"):
        doc.pop("EnableLniAtDeviceIndex", None)


def _customer_pool(doc: Document, given: Any) -> None:
    doc["CustomerOwnedIpv4Pool"] = given


# ModifySubnetAttribute's members, each one attribute (EC2 changes one per call).
_ATTRIBUTES: dict[str, Callable[[Document, Any], None]] = {
    "AssignIpv6AddressOnCreation": _ipv6_on_create,
    "MapPublicIpOnLaunch": _flag("MapPublicIpOnLaunch"),
    "MapCustomerOwnedIpOnLaunch": _flag("MapCustomerOwnedIpOnLaunch"),
    "CustomerOwnedIpv4Pool": _customer_pool,
    "EnableDns64": _flag("EnableDns64"),
    "PrivateDnsHostnameTypeOnLaunch": _dns_option("HostnameType"),
    "EnableResourceNameDnsARecordOnLaunch": _dns_option("EnableResourceNameDnsARecord"),
    "EnableResourceNameDnsAAAARecordOnLaunch": _dns_option("EnableResourceNameDnsAAAARecord"),
    "EnableLniAtDeviceIndex": _lni,
    "DisableLniAtDeviceIndex": _no_lni,
}


@action("ModifySubnetAttribute")
def modify_subnet_attribute(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    given = [m for m in _ATTRIBUTES if m in p]
    if "CustomerOwnedIpv4Pool" in given and "MapCustomerOwnedIpOnLaunch" in given:
        given.remove("CustomerOwnedIpv4Pool")  # the pool goes with its flag
    if not given:
        raise combination("No attributes specified.")
    if len(given) > 1:
        names = ", ".join(m[:1].lower() + m[1:] for m in given)
        raise combination(f"Fields for multiple attribute types specified: {names}")
    with op.store.transaction() as tx:
        doc = SUBNET.get(tx, op, p["SubnetId"])
        _ATTRIBUTES[given[0]](doc, p[given[0]])
        if given[0] == "MapCustomerOwnedIpOnLaunch" and "CustomerOwnedIpv4Pool" in p:
            _customer_pool(doc, p["CustomerOwnedIpv4Pool"])
        SUBNET.put(tx, op, doc)
    return {}
