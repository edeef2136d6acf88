"""The task definition's `requiresAttributes` and `runtimePlatform`: attributes the instance
must carry, else ECS's `ATTRIBUTE`.

A required attribute with a value must have that value; one without, only be present. The
runtime platform maps to the built-in attributes the agent registers: operatingSystemFamily
LINUX to ecs.os-type linux, WINDOWS_SERVER_* to ecs.os-type windows (and ecs.os-family, where
the instance registers it, to the same family); cpuArchitecture X86_64 / ARM64 to
ecs.cpu-architecture x86_64 / arm64."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from portside.scheduler.pipeline import Running

REASON: Final = "ATTRIBUTE"
ANY: Final = None  # a requirement met by any value, or none


@dataclass(frozen=True, slots=True)
class Requirement:
    name: str
    value: str | None = ANY
    if_present: bool = False  # only checked on instances that register the attribute


@dataclass(frozen=True, slots=True)
class Attributes:
    requirements: tuple[Requirement, ...]
    reason: str = REASON
    dynamic: bool = False

    def admit(self, run: Running, indices: list[int]) -> list[int]:
        cs = run.candidates
        return [i for i in indices if self._meets(cs[i].attributes)]

    def _meets(self, attrs: Mapping[str, str | None]) -> bool:
        for r in self.requirements:
            if r.name not in attrs:
                if r.if_present:
                    continue
                return False
            if r.value is not ANY and attrs[r.name] != r.value:
                return False
        return True


def requirements(
    requires_attributes: Sequence[Mapping[str, str]], runtime_platform: Mapping[str, str] | None
) -> tuple[Requirement, ...]:
    found = [Requirement(a["name"], a.get("value")) for a in requires_attributes]
    platform = runtime_platform or {}
    family = platform.get("operatingSystemFamily")
    if family:
        windows = family.startswith("WINDOWS")
        found.append(Requirement("ecs.os-type", "windows" if windows else "linux"))
        if windows:
            found.append(Requirement("ecs.os-family", family, if_present=True))
    arch = platform.get("cpuArchitecture")
    if arch:
        found.append(Requirement("ecs.cpu-architecture", arch.lower()))
    return tuple(found)
