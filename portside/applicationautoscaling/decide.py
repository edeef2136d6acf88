"""What a scaling policy does when its alarm calls: a new capacity, or why none; pure.

    target tracking  the capacity that brings the metric back to the target, AWS's formula:
                     ceil(current * metric / target). Scale-out takes it at once; scale-in
                     is gradual: at most a tenth of the capacity (at least one task) per
                     action, so a lull does not drop what the next burst needs.
    step scaling     the step whose bounds hold the metric's distance from the alarm's
                     threshold (above it: lower bound inclusive, upper exclusive; below it the
                     other way round, as AWS documents), its adjustment applied as
                     ChangeInCapacity, PercentChangeInCapacity (a fraction rounds away from
                     zero to 1, a larger change toward zero, then MinAdjustmentMagnitude) or
                     ExactCapacity.

Then `decide` applies what holds for every policy, in this order: the result is clamped to
[MinCapacity, MaxCapacity]; no change is no action; a suspended direction does nothing;
a scale-out waits out the scale-out cooldown of the last scale-out (a scale-out cuts a
scale-in cooldown short, as AWS says); a scale-in waits out both the last scale-in's
scale-in cooldown and the last scale-out's scale-out cooldown, and never happens while the
service has a deployment in progress. Each refusal is a `NotScaled` code.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

SCALE_IN_SHARE = 0.1


@dataclass(frozen=True, slots=True)
class Step:
    adjustment: int
    lower: float | None = None
    upper: float | None = None


@dataclass(frozen=True, slots=True)
class Situation:
    """The target as a policy finds it."""

    current: int
    minimum: int
    maximum: int
    now: float
    last_out: float | None = None  # when the last scale-out happened
    last_in: float | None = None
    deploying: bool = False
    out_suspended: bool = False
    in_suspended: bool = False


@dataclass(frozen=True, slots=True)
class Decision:
    capacity: int | None  # the new capacity; None: no action
    reason: str = ""  # why not (NotScaledReason's code style)

    @property
    def scales(self) -> bool:
        return self.capacity is not None


def clamp(n: int, low: int, high: int) -> int:
    return max(low, min(high, n))


def tracking_capacity(current: int, metric: float, target: float) -> int:
    """The capacity target tracking asks for at `metric` (current when it cannot tell)."""
    if target <= 0 or current <= 0 or metric < 0 or math.isnan(metric):
        return current
    wanted = math.ceil(round(current * metric / target, 9))
    if wanted < current:
        most = max(1, math.floor(current * SCALE_IN_SHARE))
        wanted = max(wanted, current - most)
    return wanted


def find_step(steps: Sequence[Step], delta: float) -> Step | None:
    """The step holding `delta` (metric minus the alarm's threshold)."""
    for step in steps:
        low = -math.inf if step.lower is None else step.lower
        high = math.inf if step.upper is None else step.upper
        if (low <= delta < high) if delta >= 0 else (low < delta <= high):
            return step
    return None


def step_capacity(
    current: int, kind: str, adjustment: int, min_magnitude: int | None = None
) -> int:
    if kind == "ExactCapacity":
        return adjustment
    if kind == "ChangeInCapacity":
        return current + adjustment
    change = current * adjustment / 100
    if 0 < change < 1:
        step = 1
    elif -1 < change < 0:
        step = -1
    else:
        step = math.trunc(change)
    if min_magnitude and step and abs(step) < min_magnitude:
        step = min_magnitude if step > 0 else -min_magnitude
    return current + step


def decide(s: Situation, wanted: int, out_cooldown: float, in_cooldown: float) -> Decision:
    capacity = clamp(wanted, s.minimum, s.maximum)
    if capacity == s.current:
        if wanted > s.current:
            return Decision(None, "AlreadyAtMaxCapacity")
        if wanted < s.current:
            return Decision(None, "AlreadyAtMinCapacity")
        return Decision(None, "AlreadyAtDesiredCapacity")
    if capacity > s.current:
        if s.out_suspended:
            return Decision(None, "ScaleOutSuspended")
        if s.last_out is not None and s.now - s.last_out < out_cooldown:
            return Decision(None, "ScaleOutCooldown")
        return Decision(capacity)
    if s.in_suspended:
        return Decision(None, "ScaleInSuspended")
    if s.deploying:
        return Decision(None, "DeploymentInProgress")
    if s.last_out is not None and s.now - s.last_out < out_cooldown:
        return Decision(None, "ScaleOutCooldown")
    if s.last_in is not None and s.now - s.last_in < in_cooldown:
        return Decision(None, "ScaleInCooldown")
    return Decision(capacity)
