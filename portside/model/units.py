"""Task-level CPU and memory: the unit strings ECS accepts, and the Fargate size table.

RegisterTaskDefinition takes task `cpu` as CPU units ("1024") or vCPUs ("1 vCPU", ".25 vcpu")
and task `memory` as MiB ("2048") or GB ("2 GB", "2gb", "0.5 GB"); ECS stores both as strings
of integer units (API reference, RegisterTaskDefinition `cpu` / `memory`). These helpers do the
conversion and answer "is this a Fargate size?" (developer guide, "Task CPU and memory").
"""

from __future__ import annotations

import re
from collections.abc import Mapping

CPU_UNITS_PER_VCPU = 1024
MIB_PER_GB = 1024

# EC2 and EXTERNAL accept any task cpu in this range (API reference, RegisterTaskDefinition).
MIN_TASK_CPU = 128
MAX_TASK_CPU = 196608

_NUMBER = r"(\d+(?:\.\d*)?|\.\d+)"
_CPU_RE = re.compile(rf"^{_NUMBER}\s*(vcpus?)?$", re.IGNORECASE)
_MEMORY_RE = re.compile(rf"^{_NUMBER}\s*(gb|gib|mb|mib)?$", re.IGNORECASE)
_CPU_SCALE = {"vcpu": CPU_UNITS_PER_VCPU, "vcpus": CPU_UNITS_PER_VCPU}
_MEMORY_SCALE = {"gb": MIB_PER_GB, "gib": MIB_PER_GB, "mb": 1, "mib": 1}


def parse_cpu(value: str) -> int | None:
    """CPU units for "1024", "1 vCPU", ".25 vcpu"; None when the text is not a whole number of
    units (a bare number must be an integer; "0.3 vCPU" is 307.2 units and is refused)."""
    return _whole_units(value, _CPU_RE, _CPU_SCALE)


def parse_memory(value: str) -> int | None:
    """MiB for "512", "2 GB", "2gb", "0.5 GB"; None when not a whole number of MiB."""
    return _whole_units(value, _MEMORY_RE, _MEMORY_SCALE)


def _whole_units(value: str, pattern: re.Pattern[str], scale: Mapping[str, int]) -> int | None:
    """A number in the base unit, or in a larger one `scale` converts (keyed in lowercase)."""
    match = pattern.match(value.strip())
    if match is None:
        return None
    number, unit = match.groups()
    if unit is None:
        return int(number) if number.isdigit() else None
    return _whole(float(number) * scale[unit.lower()])


def _whole(amount: float) -> int | None:
    rounded = round(amount)
    # Binary floats make ".1 GB" 102.4000001; a small tolerance keeps exact decimals exact.
    return rounded if abs(amount - rounded) < 1e-6 else None


# cpu -> (lowest memory, highest memory, step), all in MiB. 256 CPU is the one irregular row
# (512, 1024, 2048), so it is listed explicitly below.
_FARGATE_RANGES: dict[int, tuple[int, int, int]] = {
    512: (1024, 4096, 1024),
    1024: (2048, 8192, 1024),
    2048: (4096, 16384, 1024),
    4096: (8192, 30720, 1024),
    8192: (16384, 61440, 4096),
    16384: (32768, 122880, 8192),
}
_FARGATE_256 = (512, 1024, 2048)

# Windows on Fargate needs at least 1 vCPU and has no 8 or 16 vCPU sizes.
_FARGATE_WINDOWS_CPUS = frozenset({1024, 2048, 4096})


def fargate_memory_options(cpu: int) -> tuple[int, ...]:
    """Every memory size (MiB) Fargate offers with this task cpu; empty if cpu is not a size."""
    if cpu == 256:
        return _FARGATE_256
    if cpu not in _FARGATE_RANGES:
        return ()
    low, high, step = _FARGATE_RANGES[cpu]
    return tuple(range(low, high + 1, step))


def fargate_cpus() -> tuple[int, ...]:
    return (256, *_FARGATE_RANGES)


def is_fargate_size(cpu: int, memory: int, windows: bool = False) -> bool:
    if windows and cpu not in _FARGATE_WINDOWS_CPUS:
        return False
    return memory in fargate_memory_options(cpu)
