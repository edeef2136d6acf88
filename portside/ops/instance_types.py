"""What a container instance registered from its EC2 instance identity document alone
(RegisterContainerInstance with `instanceIdentityDocument` and no `totalResources`, as the API
reference allows) gets: the resources of the document's instance type and the attributes the
ECS agent would have registered from the same document.

CPU is 1,024 units per vCPU and MEMORY the type's memory in MiB (the ECS agent registers
what the host reports, a little under the nominal figure; the nominal figure stands in for
it). PORTS are the ones the ECS agent reserves by default (ECS_RESERVED_PORTS: SSH, the
Docker daemon's, and the agent's own). The attributes are `ecs.ami-id`, `ecs.instance-type`,
`ecs.availability-zone` from the document, `ecs.os-type` linux and `ecs.cpu-architecture`
from the type's family (Graviton families, with a `g` after the generation, are arm64).
Pure.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from portside.model.container_instance import InstanceResources

RESERVED_PORTS = ("22", "2375", "2376", "51678", "51679")

# (vCPUs, memory GiB) per size, by family group: the sizes EC2 documents for them.
Sizes = dict[str, tuple[int, float]]
_GENERAL: Sizes = {  # m5, m6i, m7i, ...: 4 GiB per vCPU
    "large": (2, 8),
    "xlarge": (4, 16),
    "2xlarge": (8, 32),
    "4xlarge": (16, 64),
    "8xlarge": (32, 128),
    "12xlarge": (48, 192),
    "16xlarge": (64, 256),
    "24xlarge": (96, 384),
}
_COMPUTE: Sizes = {
    size: (cpus, gib // 2) for size, (cpus, gib) in _GENERAL.items()
}  # c*: 2 GiB/vCPU
_MEMORY: Sizes = {size: (cpus, gib * 2) for size, (cpus, gib) in _GENERAL.items()}  # r*: 8 GiB/vCPU
_BURSTABLE: Sizes = {  # t3, t3a, t4g
    "nano": (2, 0.5),
    "micro": (2, 1),
    "small": (2, 2),
    "medium": (2, 4),
    "large": (2, 8),
    "xlarge": (4, 16),
    "2xlarge": (8, 32),
}
_GROUPS: dict[str, Sizes] = {
    "m": _GENERAL,
    "c": _COMPUTE,
    "r": _MEMORY,
    "t": _BURSTABLE,
}
# t2 differs from t3 in its small sizes.
_T2: Sizes = {**_BURSTABLE, "nano": (1, 0.5), "micro": (1, 1), "small": (1, 2)}
_FAMILY = re.compile(r"^(?P<group>[mcrt])(?P<gen>[1-9])(?P<extra>[a-z-]*)$")


def size_of(instance_type: str) -> tuple[int, int] | None:
    """(vCPUs, memory MiB) of a common EC2 instance type; None for one this table lacks."""
    family, _, size = instance_type.partition(".")
    found = _FAMILY.match(family)
    if found is None:
        return None
    table = _T2 if family == "t2" else _GROUPS[found["group"]]
    entry = table.get(size)
    if entry is None:
        return None
    cpus, gib = entry
    return cpus, int(gib * 1024)


def architecture(instance_type: str) -> str:
    family = instance_type.partition(".")[0]
    found = _FAMILY.match(family)
    return "arm64" if found is not None and "g" in found["extra"] else "x86_64"


def resources_of(identity: Mapping[str, Any]) -> InstanceResources | None:
    """The totalResources an instance of the document's type registers; None when the
    document names no type this table knows."""
    size = size_of(str(identity.get("instanceType") or ""))
    if size is None:
        return None
    cpus, memory = size
    return InstanceResources(cpus * 1024, memory, RESERVED_PORTS, ())


def attributes_of(identity: Mapping[str, Any]) -> list[dict[str, str]]:
    """The attributes the ECS agent registers from the document (those it names)."""
    out: list[dict[str, str]] = []
    for name, key in (
        ("ecs.ami-id", "imageId"),
        ("ecs.availability-zone", "availabilityZone"),
        ("ecs.instance-type", "instanceType"),
    ):
        value = identity.get(key)
        if value:
            out.append({"name": name, "value": str(value)})
    if identity.get("instanceType"):
        out.append({"name": "ecs.os-type", "value": "linux"})
        arch = architecture(str(identity["instanceType"]))
        out.append({"name": "ecs.cpu-architecture", "value": arch})
    return out
