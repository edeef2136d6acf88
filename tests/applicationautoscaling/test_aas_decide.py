"""The scaling decisions, pure (decide.py), held by properties: target tracking never leaves
[MinCapacity, MaxCapacity], no two scale actions inside a cooldown, no scale-in during a
deployment; and AWS's arithmetic for target tracking and step adjustments."""

from __future__ import annotations

import dataclasses
import math

from hypothesis import given
from hypothesis import strategies as st

from portside.applicationautoscaling.decide import (
    Situation,
    Step,
    decide,
    find_step,
    step_capacity,
    tracking_capacity,
)

counts = st.integers(min_value=0, max_value=500)
metrics = st.floats(min_value=0, max_value=1000, allow_nan=False)
targets = st.floats(min_value=1, max_value=100, allow_nan=False)


@st.composite
def situations(draw: st.DrawFn) -> Situation:
    lo = draw(st.integers(min_value=0, max_value=50))
    hi = draw(st.integers(min_value=lo, max_value=lo + 100))
    return Situation(
        current=draw(counts),
        minimum=lo,
        maximum=hi,
        now=1000.0,
        last_out=draw(st.none() | st.floats(min_value=0, max_value=1000)),
        last_in=draw(st.none() | st.floats(min_value=0, max_value=1000)),
        deploying=draw(st.booleans()),
        out_suspended=draw(st.booleans()),
        in_suspended=draw(st.booleans()),
    )


@given(situations(), metrics, targets)
def test_target_tracking_never_leaves_the_bounds(
    s: Situation, metric: float, target: float
) -> None:
    d = decide(s, tracking_capacity(s.current, metric, target), 300, 300)
    assert d.capacity is None or s.minimum <= d.capacity <= s.maximum


@given(situations(), counts)
def test_no_scale_in_during_a_deployment(s: Situation, wanted: int) -> None:
    deploying = dataclasses.replace(s, deploying=True)
    d = decide(deploying, wanted, 300, 300)
    assert d.capacity is None or d.capacity > s.current


@given(
    st.integers(min_value=1, max_value=20),
    st.lists(st.tuples(st.floats(min_value=0.5, max_value=400), metrics), max_size=60),
    st.floats(min_value=0, max_value=600),
    st.floats(min_value=0, max_value=600),
)
def test_no_two_scale_actions_inside_a_cooldown(
    start: int, events: list[tuple[float, float]], out_cd: float, in_cd: float
) -> None:
    """Drive a target through metric readings over time; the actions it takes keep the
    cooldowns: a scale-out waits out the last scale-out's cooldown, a scale-in both."""
    now, current = 0.0, start
    last_out: float | None = None
    last_in: float | None = None
    actions: list[tuple[float, str]] = []
    for dt, metric in events:
        now += dt
        s = Situation(current, 1, 40, now, last_out, last_in)
        d = decide(s, tracking_capacity(current, metric, 50.0), out_cd, in_cd)
        if d.capacity is None:
            continue
        direction = "out" if d.capacity > current else "in"
        actions.append((now, direction))
        current = d.capacity
        if direction == "out":
            last_out = now
        else:
            last_in = now
    for i, (t, direction) in enumerate(actions):
        before = actions[:i]
        outs = [u for u, k in before if k == "out"]
        ins = [u for u, k in before if k == "in"]
        if outs:
            assert t - outs[-1] >= out_cd
        if direction == "in" and ins:
            assert t - ins[-1] >= in_cd


@given(st.integers(min_value=1, max_value=1000), metrics, targets)
def test_scale_out_takes_aws_formula_at_once(current: int, metric: float, target: float) -> None:
    wanted = tracking_capacity(current, metric, target)
    formula = math.ceil(round(current * metric / target, 9))
    if formula >= current:
        assert wanted == formula
    else:
        assert current - max(1, current // 10) <= wanted < current


def test_target_tracking_examples() -> None:
    assert tracking_capacity(2, 90, 50) == 4  # ceil(3.6)
    assert tracking_capacity(4, 45, 50) == 4  # ceil(3.6): no change above 90% of the target
    assert tracking_capacity(4, 0, 50) == 3  # gradual: one task at a time below ten
    assert tracking_capacity(40, 0, 50) == 36  # a tenth at a time


def test_step_bounds_follow_aws() -> None:
    steps = [Step(1, 0, 10), Step(3, 10, None), Step(-1, None, 0)]
    assert find_step(steps, 0) == steps[0]  # above: lower bound inclusive
    assert find_step(steps, 10) == steps[1]  # upper exclusive
    assert find_step(steps, -0.5) == steps[2]
    low = [Step(-1, -10, 0), Step(-2, None, -10)]
    assert find_step(low, -10) == low[1]  # below: upper bound inclusive, lower exclusive
    assert find_step(low, -9.5) == low[0]
    assert find_step(low, 0) is None


def test_adjustment_types() -> None:
    assert step_capacity(4, "ChangeInCapacity", 2) == 6
    assert step_capacity(4, "ExactCapacity", 2) == 2
    assert step_capacity(4, "PercentChangeInCapacity", 10) == 5  # 0.4 rounds to 1
    assert step_capacity(10, "PercentChangeInCapacity", 127) == 22  # 12.7 rounds down
    assert step_capacity(15, "PercentChangeInCapacity", -45) == 9  # -6.75 rounds up to -6
    assert step_capacity(10, "PercentChangeInCapacity", 10, min_magnitude=3) == 13
