"""CapacityProviderReservation and the group size it asks for, as ECS documents them; one
provider's decision (scaling.decide): steps within the step sizes, no scale-in while tasks
wait or instances warm up, only idle instances let go under termination protection."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from portside.controllers.managed_scaling import reservation as rsv
from portside.controllers.managed_scaling.scaling import SCALE_IN_AFTER, Facts, Host, decide
from portside.model.capacity_provider import (
    ENABLED,
    AutoScalingGroupProvider,
    CapacityProvider,
    ManagedScaling,
)

SIZE = rsv.Size(2048, 8192)


def test_reservation_follows_ecs_definition() -> None:
    assert rsv.reservation(0, 0) == 100.0
    assert rsv.reservation(3, 0) == 200.0
    assert rsv.reservation(2, 4) == 50.0
    assert rsv.reservation(6, 4) == 150.0


def test_waiting_tasks_fill_new_instances_first_fit() -> None:
    assert rsv.new_instances([rsv.Need(256, 512)] * 184, SIZE) == 23
    assert rsv.new_instances([rsv.Need(1024, 512)] * 3, SIZE) == 2
    assert rsv.new_instances([rsv.Need(4096, 512)], SIZE) == 0  # fits no instance
    assert rsv.needed(2, [rsv.Need(256, 512)] * 9, SIZE) == 4


def test_wanted_size_at_target_capacity() -> None:
    assert rsv.wanted(25, 100) == 25
    assert rsv.wanted(25, 50) == 50
    assert rsv.wanted(3, 90) == 4


@given(
    desired=st.integers(0, 100),
    want=st.integers(0, 100),
    lo=st.integers(1, 10),
    span=st.integers(0, 20),
    shrink=st.booleans(),
)
def test_a_step_stays_within_bounds(
    desired: int, want: int, lo: int, span: int, shrink: bool
) -> None:
    bounds = rsv.Bounds(lo, lo + span, 0, 100)
    after = rsv.next_desired(desired, want, bounds, can_shrink=shrink)
    assert abs(after - desired) <= bounds.max_step
    if want > desired:
        assert desired < after <= max(want, desired + bounds.min_step)
    elif want < desired:
        assert (after == desired) if not shrink else (want <= after < desired)
    else:
        assert after == desired


def _provider(protection: str = ENABLED) -> CapacityProvider:
    scaling = ManagedScaling(ENABLED, 100, 1, 10, 0)
    asg = AutoScalingGroupProvider("g", scaling, protection, ENABLED)
    return CapacityProvider(arn="arn:cp", name="cp", auto_scaling_group_provider=asg)


def _host(n: int, busy: bool, warm: bool = True) -> Host:
    return Host(f"i-{n:04d}", f"arn:ci/{n}", busy, True, warm, True)


def _facts(hosts: list[Host], waiting: int = 0, desired: int | None = None) -> Facts:
    return Facts(
        "g",
        len(hosts) if desired is None else desired,
        0,
        40,
        tuple(hosts),
        0,
        (rsv.Need(256, 512),) * waiting,
        SIZE,
    )


def test_waiting_tasks_grow_the_group_by_at_most_the_maximum_step() -> None:
    d = decide(_provider(), _facts([_host(1, True), _host(2, True)], waiting=184))
    assert (d.m, d.n, d.value, d.desired) == (25, 2, 1250.0, 12)
    # Instances still launching are counted in the desired capacity: no double growth.
    assert decide(_provider(), _facts([_host(1, True)], waiting=8, desired=2)).desired == 2


def test_only_idle_instances_go_under_termination_protection() -> None:
    hosts = [_host(n, busy=n < 3) for n in range(10)]
    d = decide(_provider(), _facts(hosts))
    assert (d.m, d.desired) == (3, 3)
    assert {h.instance_id for h in d.release} == {f"i-{n:04d}" for n in range(3, 10)}
    assert not any(h.busy for h in d.release)


def test_no_scale_in_while_tasks_wait_or_instances_warm_up() -> None:
    hosts = [_host(n, busy=n == 0) for n in range(5)]
    assert decide(_provider(), _facts(hosts, waiting=1)).desired == 5
    warming = [*hosts[:4], _host(4, busy=False, warm=False)]
    assert decide(_provider(), _facts(warming)).desired == 5


def test_the_group_shrinks_only_after_it_stayed_too_big_for_the_scale_in_periods() -> None:
    hosts = [_host(n, busy=n == 0) for n in range(5)]
    assert decide(_provider(), _facts(hosts), low_periods=SCALE_IN_AFTER - 1).desired == 5
    assert decide(_provider(), _facts(hosts), low_periods=SCALE_IN_AFTER).desired == 1
