"""Availability zones: the region's own (`<region>a`, `b`, `c`, ids `use1-az1`...), and any
zone a registered container instance reports in its `ecs.availability-zone` attribute (an
agent on a laptop says `local-1a`), so a subnet can be made where the tasks run.

A zone's id stands for the physical zone: AWS maps names to ids per account; here `a` is
always `az1`. A reported zone with a name of the region's form (`us-east-1d`) gets the id of
that letter; any other its name after the region's code (`use1-local-1a`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from portside.model.states import InstanceStatus
from portside.ops.context import Op
from portside.store.base import Tx

LETTERS = ("a", "b", "c")
ZONE_ATTRIBUTE = "ecs.availability-zone"
_DIRECTIONS = {
    "east": "e",
    "west": "w",
    "north": "n",
    "south": "s",
    "central": "c",
    "northeast": "ne",
    "southeast": "se",
    "northwest": "nw",
    "southwest": "sw",
}


def region_code(region: str) -> str:
    """`us-east-1` -> `use1`, `ap-southeast-2` -> `apse2` (AWS's zone id prefixes)."""
    parts = region.split("-")
    if len(parts) == 3 and parts[2].isdigit():
        return parts[0] + _DIRECTIONS.get(parts[1], parts[1][:1]) + parts[2]
    return re.sub(r"[^a-z0-9]", "", region.lower()) or "local"


@dataclass(frozen=True)
class Zone:
    name: str
    zone_id: str
    region: str

    def shape(self) -> dict[str, Any]:
        return {
            "State": "available",
            "OptInStatus": "opt-in-not-required",
            "Messages": [],
            "RegionName": self.region,
            "ZoneName": self.name,
            "ZoneId": self.zone_id,
            "GroupName": self.region,
            "NetworkBorderGroup": self.region,
            "ZoneType": "availability-zone",
        }


def zone_named(region: str, name: str) -> Zone:
    code = region_code(region)
    suffix = name[len(region) :] if name.startswith(region) else ""
    if len(suffix) == 1 and suffix.isalpha():
        return Zone(name, f"{code}-az{ord(suffix) - ord('a') + 1}", region)
    return Zone(name, f"{code}-{re.sub(r'[^a-z0-9-]', '', name.lower())}", region)


def region_zones(region: str) -> list[Zone]:
    return [zone_named(region, region + letter) for letter in LETTERS]


def reported(tx: Tx, op: Op) -> list[str]:
    """The zones the account's registered container instances in the region report, in
    name order."""
    base = f"arn:aws:ecs:{op.region}:{op.account}:"
    found: set[str] = set()
    for _, inst in tx.scan("container_instances", prefix=base + "container-instance/"):
        if inst.get("status") == InstanceStatus.INACTIVE:
            continue
        for attr in inst.get("attributes") or ():
            if attr.get("name") == ZONE_ATTRIBUTE and attr.get("value"):
                found.add(attr["value"])
    for _, attr in tx.scan("attributes", prefix=base + "cluster/", where={"name": ZONE_ATTRIBUTE}):
        if attr.get("value"):
            found.add(attr["value"])
    return sorted(found)


def zones(tx: Tx, op: Op) -> list[Zone]:
    """Every zone of the caller's region: its own, then the reported ones."""
    own = region_zones(op.region)
    names = {z.name for z in own}
    return own + [zone_named(op.region, n) for n in reported(tx, op) if n not in names]


def find(tx: Tx, op: Op, name: str | None = None, zone_id: str | None = None) -> Zone | None:
    """The zone of that name or id; the region's own are looked at before the reported."""
    for zone in region_zones(op.region):
        if zone.name == name or zone.zone_id == zone_id:
            return zone
    return next((z for z in zones(tx, op) if z.name == name or z.zone_id == zone_id), None)
