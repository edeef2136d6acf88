"""Where EC2 runs: DescribeRegions (every region botocore knows, and the caller's own),
DescribeAvailabilityZones (see zones.py) and DescribeAccountAttributes."""

from __future__ import annotations

from functools import cache
from typing import Any

import botocore.session

from portside.ec2 import defaults, zones
from portside.ec2.filters import FilterSet, one
from portside.ec2.operations import action
from portside.errors import NamedError
from portside.ops.context import Op

ZONE_FIELDS = {
    "zone-name": one("ZoneName"),
    "zone-id": one("ZoneId"),
    "state": one("State"),
    "region-name": one("RegionName"),
    "group-name": one("GroupName"),
    "zone-type": one("ZoneType"),
    "opt-in-status": one("OptInStatus"),
    "network-border-group": one("NetworkBorderGroup"),
}
REGION_FIELDS = {
    "endpoint": one("Endpoint"),
    "opt-in-status": one("OptInStatus"),
    "region-name": one("RegionName"),
}
# EC2's account quotas as DescribeAccountAttributes names them.
LIMITS = {
    "max-instances": "20",
    "vpc-max-security-groups-per-interface": "5",
    "max-elastic-ips": "5",
    "vpc-max-elastic-ips": "5",
}


@cache
def _known_regions() -> tuple[str, ...]:
    return tuple(botocore.session.get_session().get_available_regions("ec2"))


def _region(name: str) -> dict[str, Any]:
    return {
        "OptInStatus": "opt-in-not-required",
        "RegionName": name,
        "Endpoint": f"ec2.{name}.amazonaws.com",
    }


@action("DescribeRegions")
def describe_regions(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    names = sorted({*_known_regions(), op.region})
    wanted = p.get("RegionNames")
    if wanted:
        unknown = [n for n in wanted if n not in names]
        if unknown:
            raise NamedError(
                "InvalidParameterValue", f"Invalid region names: [{', '.join(unknown)}]"
            )
        names = [n for n in names if n in wanted]
    keep = FilterSet(p.get("Filters"), REGION_FIELDS)
    return {"Regions": keep.apply(_region(n) for n in names)}


@action("DescribeAvailabilityZones")
def describe_availability_zones(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    keep = FilterSet(p.get("Filters"), ZONE_FIELDS)
    with op.store.read() as tx:
        found = zones.zones(tx, op)
    for member, attr, what in (("ZoneNames", "name", "zone"), ("ZoneIds", "zone_id", "zone ID")):
        wanted = p.get(member)
        if wanted:
            held = {getattr(z, attr) for z in found}
            unknown = [w for w in wanted if w not in held]
            if unknown:
                raise NamedError(
                    "InvalidParameterValue",
                    f"Invalid availability {what}: [{', '.join(unknown)}]",
                )
            found = [z for z in found if getattr(z, attr) in wanted]
    return {"AvailabilityZones": keep.apply(z.shape() for z in found)}


@action("DescribeAccountAttributes")
def describe_account_attributes(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    with op.store.read() as tx:
        vpc = defaults.default_vpc(tx, op)
    values: dict[str, list[str]] = {
        "supported-platforms": ["VPC"],
        "default-vpc": [vpc["VpcId"] if vpc else "none"],
        **{name: [limit] for name, limit in LIMITS.items()},
    }
    wanted = p.get("AttributeNames") or list(values)
    return {
        "AccountAttributes": [
            {
                "AttributeName": name,
                "AttributeValues": [{"AttributeValue": v} for v in values[name]],
            }
            for name in wanted
            if name in values
        ]
    }
