"""CapacityProviderReservation and the group size it asks for, as ECS documents them; one
provider's decision (scaling.decide): M within the step sizes above N (warm instances), only
idle instances let go under termination protection, and only once the group's policy shrank
it and no task waits; the target tracking run's warm-up (autoscaling/tracking.py)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from portside.autoscaling.decide import Member
from portside.autoscaling.tracking import ready_capacity, wanted_capacity
from portside.controllers.managed_scaling import reservation as rsv
from portside.controllers.managed_scaling.scaling import Facts, Host, decide
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


@given(m=st.integers(0, 500), n=st.integers(0, 100), lo=st.integers(1, 10), span=st.integers(0, 20))
def test_a_scale_out_asks_for_a_step_within_the_step_sizes(
    m: int, n: int, lo: int, span: int
) -> None:
    got = rsv.bounded(m, n, lo, lo + span)
    if m <= n:
        assert got == m  # the scale-in is not bounded
    else:
        assert n + lo <= got <= n + lo + span
        assert got == m or got in (n + lo, n + lo + span)


def _provider(protection: str = ENABLED) -> CapacityProvider:
    scaling = ManagedScaling(ENABLED, 100, 1, 10, 0)
    asg = AutoScalingGroupProvider("g", scaling, protection, ENABLED)
    return CapacityProvider(arn="arn:cp", name="cp", auto_scaling_group_provider=asg)


def _host(n: int, busy: bool, warm: bool = True) -> Host:
    return Host(f"i-{n:04d}", f"arn:ci/{n}", busy, True, warm, True)


def _facts(
    hosts: list[Host], waiting: int = 0, desired: int | None = None, launching: int = 0
) -> Facts:
    return Facts(
        "g",
        len(hosts) + launching if desired is None else desired,
        0,
        40,
        tuple(hosts),
        launching,
        (rsv.Need(256, 512),) * waiting,
        SIZE,
        ready=sum(h.warm for h in hosts),
    )


def test_waiting_tasks_ask_for_at_most_the_maximum_step() -> None:
    d = decide(_provider(), _facts([_host(1, True), _host(2, True)], waiting=184))
    assert (d.m, d.n, d.value) == (12, 2, 600.0)
    # The target tracking run scales N by the metric: 12 instances, one step of 10.
    assert wanted_capacity(d.n, d.value, 100.0, False) == 12
    # Instances launching are not in N: M and the capacity asked stay where they were.
    again = decide(_provider(), _facts([_host(1, True), _host(2, True)], 184, launching=10))
    assert (again.m, again.n) == (12, 2)


def test_an_empty_group_with_waiting_tasks_reads_200() -> None:
    d = decide(_provider(), _facts([], waiting=3))
    assert (d.m, d.n, d.value) == (1, 0, 200.0)


def test_only_idle_instances_go_once_the_group_was_shrunk() -> None:
    hosts = [_host(n, busy=n < 3) for n in range(10)]
    d = decide(_provider(), _facts(hosts))
    assert (d.m, d.value, d.release) == (3, 30.0, ())  # the policy has not acted yet
    d = decide(_provider(), _facts(hosts, desired=5))
    assert {h.instance_id for h in d.release} == {f"i-{n:04d}" for n in range(3, 8)}
    assert not any(h.busy for h in d.release)
    # Those already let go are chosen again first: no more than the surplus is let go.
    freed = [*hosts[:3], *(Host(h.instance_id, h.container_instance_arn, False, False, True,
                                True) for h in hosts[8:]), *hosts[3:8]]  # fmt: skip
    d = decide(_provider(), _facts(freed, desired=8))
    assert {h.instance_id for h in d.release} == {"i-0008", "i-0009"}


def test_nothing_is_let_go_while_tasks_wait_or_without_termination_protection() -> None:
    hosts = [_host(n, busy=n == 0) for n in range(5)]
    assert decide(_provider(), _facts(hosts, waiting=1, desired=2)).release == ()
    assert decide(_provider("DISABLED"), _facts(hosts, desired=2)).release == ()


def _member(n: int, launched_at: float, in_service_at: float | None) -> Member:
    lifecycle = "Pending" if in_service_at is None else "InService"
    return Member(f"i-{n}", "us-east-1a", lifecycle, True, False, launched_at, "", in_service_at)


def test_an_instance_is_ready_once_in_service_and_warm_when_the_datapoint_was_taken() -> None:
    members = [_member(1, 0.0, 5.0), _member(2, 95.0, 97.0), _member(3, 99.0, None)]
    assert ready_capacity(members, 10.0, 100.0) == 1  # 2 warms up, 3 is Pending
    assert ready_capacity(members, 0.0, 100.0) == 2
    # A datapoint taken before an instance went InService did not see it.
    assert ready_capacity(members, 0.0, 96.0) == 1
