"""The `CapacityProviderReservation` metric and the group size it asks for (pure).

ECS's definition (developer guide, "Amazon ECS cluster auto scaling"): M is the number of
instances the provider needs for its running tasks and its PROVISIONING ones, N the number of
instances running in its group; the metric is 100 * M / N, 200 when M > 0 and N = 0, and 100
when both are 0. For a scale-out, M is held within minimum..maximumScalingStepSize instances
above N. The target tracking policy ECS puts on the group at the provider's targetCapacity
then takes the group to ceil(100 * M / targetCapacity) instances (its capacity N, scaled by
metric / target).

M here: the group's instances that run a task, plus the instances of the group's size that
the waiting tasks would fill, packed first-fit by CPU and memory, largest first (a task still
waiting was refused by every instance the group has: placement runs before the count). A
waiting task larger than an instance of the group can never run there and is not counted.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Need:
    """One waiting task's CPU units and MiB."""

    cpu: int
    memory: int


@dataclass(frozen=True, slots=True)
class Size:
    """An instance of the group: CPU units and MiB it registers."""

    cpu: int
    memory: int


def new_instances(waiting: Sequence[Need], size: Size) -> int:
    """How many empty instances of `size` the waiting tasks fill (first-fit decreasing)."""
    bins: list[list[int]] = []
    for need in sorted(waiting, key=lambda n: (n.cpu, n.memory), reverse=True):
        if need.cpu > size.cpu or need.memory > size.memory:
            continue  # fits no instance of the group
        for free in bins:
            if free[0] >= need.cpu and free[1] >= need.memory:
                free[0] -= need.cpu
                free[1] -= need.memory
                break
        else:
            bins.append([size.cpu - need.cpu, size.memory - need.memory])
    return len(bins)


def needed(busy: int, waiting: Sequence[Need], size: Size) -> int:
    """M: instances running a task, plus those the waiting tasks need."""
    return busy + new_instances(waiting, size)


def reservation(m: int, n: int) -> float:
    """The CapacityProviderReservation value, in percent."""
    if n == 0:
        return 100.0 if m == 0 else 200.0
    return 100.0 * m / n


def wanted(m: int, target: int) -> int:
    """The group size at which M / size equals the target capacity."""
    return math.ceil(m * 100 / target)


def bounded(m: int, n: int, min_step: int, max_step: int) -> int:
    """M as ECS publishes it: a scale-out asks for at least minimumScalingStepSize and at
    most maximumScalingStepSize instances more than N (the scale-in is not bounded)."""
    if m <= n:
        return m
    return min(max(m, n + min_step), n + max_step)
