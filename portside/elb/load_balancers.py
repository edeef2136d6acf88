"""Load balancers: create (idempotent for the same settings, as ELB is), describe, delete,
attributes, subnets, security groups."""

from __future__ import annotations

import zlib
from typing import Any

from portside.elb import attributes, defaults, names, tags
from portside.elb.errors import ValidationError, lb_not_found, not_permitted
from portside.elb.operations import action
from portside.elb.records import LB, LBS, LISTENERS, RULES, page, wire
from portside.errors import NamedError
from portside.ops.context import Op
from portside.store.base import Document, Tx

DEFAULT_VPC = "vpc-0000000000000000a"
# A new load balancer shows `provisioning` for this long, then `active`.
PROVISIONING_SECONDS = 2.0
_ZONES = "abcdef"


def state(created: float, now: float) -> dict[str, str]:
    return {"Code": "provisioning" if now - created < PROVISIONING_SECONDS else "active"}


def zones(region: str, subnets: list[str]) -> list[dict[str, Any]]:
    """Each subnet in a zone of the region. There is no VPC here to ask: a subnet's zone is
    drawn from its id, so it is the same for every load balancer that names it."""
    return [
        {"ZoneName": f"{region}{_ZONES[zlib.crc32(s.encode()) % len(_ZONES)]}", "SubnetId": s}
        for s in subnets
    ]


def _subnets(p: dict[str, Any]) -> list[str]:
    if p.get("Subnets") and p.get("SubnetMappings"):
        raise ValidationError("You can specify subnets or subnet mappings, not both")
    return list(p.get("Subnets") or [m["SubnetId"] for m in p.get("SubnetMappings") or []])


def shape(doc: Document, now: float) -> dict[str, Any]:
    out = wire(doc)
    out["State"] = state(doc["CreatedTime"], now)
    return out


def load(tx: Tx, arn: str) -> Document:
    return LB.get(tx, arn, lb_not_found(f"Load balancer '{arn}' not found"))


def by_name(tx: Tx, region: str, account: str, name: str) -> Document | None:
    for lb_type in names.TYPE_PATH.values():
        prefix = f"{names.base(region, account)}loadbalancer/{lb_type}/{name}/"
        for _, doc in tx.scan(LBS, prefix=prefix):
            return doc
    return None


@action("CreateLoadBalancer")
def create(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    name = p["Name"]
    names.check_lb_name(name)
    lb_type = p.get("Type") or "application"
    if lb_type not in names.TYPE_PATH:
        raise ValidationError(f"Load balancer type '{lb_type}' is not supported")
    scheme = p.get("Scheme") or "internet-facing"
    subnets = _subnets(p)
    groups = p.get("SecurityGroups")
    tag_list = tags.checked(p.get("Tags") or [])
    now = op.now()
    with op.store.transaction() as tx:
        found = by_name(tx, op.region, op.account, name)
        if found is not None:
            same = (
                found["Type"] == lb_type
                and found["Scheme"] == scheme
                and sorted(found.get("Subnets") or []) == sorted(subnets)
                and (groups is None or sorted(found.get("SecurityGroups") or []) == sorted(groups))
            )
            if not same:
                raise NamedError(
                    "DuplicateLoadBalancerName",
                    f"A load balancer with the same name '{name}' exists, but with different "
                    "settings",
                )
            return {"LoadBalancers": [shape(found, now)]}
        ident = op.world.new_id()[:16]
        arn = names.lb_arn(op.region, op.account, lb_type, name, ident)
        doc: Document = {
            "LoadBalancerArn": arn,
            "DNSName": names.dns_name(name, lb_type, scheme, op.region, ident),
            "CanonicalHostedZoneId": names.HOSTED_ZONES[lb_type],
            "CreatedTime": now,
            "LoadBalancerName": name,
            "Scheme": scheme,
            "VpcId": DEFAULT_VPC,
            "Type": lb_type,
            "AvailabilityZones": zones(op.region, subnets),
            "IpAddressType": p.get("IpAddressType") or "ipv4",
            "Subnets": subnets,
            "Attributes": dict(defaults.LB_ATTRIBUTES[lb_type]),
            "Tags": tag_list,
        }
        if groups is not None or lb_type == "application":
            doc["SecurityGroups"] = list(groups or [])
        tx.put(LBS, arn, doc)
    return {"LoadBalancers": [shape(doc, now)]}


@action("DescribeLoadBalancers")
def describe(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    arns, wanted = p.get("LoadBalancerArns") or [], p.get("Names") or []
    if arns and wanted:
        raise ValidationError(
            "Load balancer names and load balancer ARNs cannot be specified at the same time"
        )
    with op.store.read() as tx:
        docs = LB.described(tx, op.region, op.account, arns, wanted, by_name)
    now = op.now()
    return page(p, "LoadBalancers", docs, "LoadBalancerArn", lambda d: shape(d, now))


@action("DeleteLoadBalancer")
def delete(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    arn = p["LoadBalancerArn"]
    with op.store.transaction() as tx:
        doc = load(tx, arn)
        if doc["Attributes"].get("deletion_protection.enabled") == "true":
            raise not_permitted(
                f"Load balancer '{arn}' cannot be deleted because deletion protection is enabled"
            )
        for listener, _ in list(tx.scan(LISTENERS, prefix=names.listener_prefix(arn))):
            delete_listener_rows(tx, listener)
        tx.delete(LBS, arn)
    return {}


def delete_listener_rows(tx: Tx, listener: str) -> None:
    for rule, _ in list(tx.scan(RULES, prefix=names.rule_prefix(listener))):
        tx.delete(RULES, rule)
    tx.delete(LISTENERS, listener)


describe_attributes, modify_attributes = attributes.actions(
    "LoadBalancer", load, LBS, "LoadBalancerArn", "Load balancer"
)


@action("SetSubnets")
def set_subnets(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    subnets = _subnets(p)
    with op.store.transaction() as tx:
        doc = load(tx, p["LoadBalancerArn"])
        doc["Subnets"] = subnets
        doc["AvailabilityZones"] = zones(op.region, subnets)
        if p.get("IpAddressType"):
            doc["IpAddressType"] = p["IpAddressType"]
        tx.put(LBS, doc["LoadBalancerArn"], doc)
    return {"AvailabilityZones": doc["AvailabilityZones"], "IpAddressType": doc["IpAddressType"]}


@action("SetSecurityGroups")
def set_security_groups(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    with op.store.transaction() as tx:
        doc = load(tx, p["LoadBalancerArn"])
        if doc["Type"] == "network" and "SecurityGroups" not in doc:
            raise ValidationError(
                "You cannot set security groups on a Network Load Balancer which was "
                "created without any security groups"
            )
        doc["SecurityGroups"] = list(p["SecurityGroups"])
        tx.put(LBS, doc["LoadBalancerArn"], doc)
    return {"SecurityGroupIds": doc["SecurityGroups"]}


@action("SetIpAddressType")
def set_ip_address_type(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    with op.store.transaction() as tx:
        doc = load(tx, p["LoadBalancerArn"])
        doc["IpAddressType"] = p["IpAddressType"]
        tx.put(LBS, doc["LoadBalancerArn"], doc)
    return {"IpAddressType": doc["IpAddressType"]}


@action("DescribeCapacityReservation")
def describe_capacity_reservation(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    """No load balancer here reserves capacity: none is shown, and none is to decrease."""
    with op.store.read() as tx:
        load(tx, p["LoadBalancerArn"])
    return {"DecreaseRequestsRemaining": 0, "CapacityReservationState": []}
