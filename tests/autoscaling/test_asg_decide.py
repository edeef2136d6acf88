"""The group's plan (autoscaling/decide.py, pure): launches spread over zones, unhealthy
instances replaced, scale-in by AWS's default termination policy, protected instances kept."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from portside.autoscaling.decide import (
    IN_SERVICE,
    PENDING,
    TERMINATING,
    Group,
    Member,
    compute,
)

ZONES = ("us-east-1a", "us-east-1b", "us-east-1c")


def member(n: int, zone: str, **fields: object) -> Member:
    base: dict[str, object] = {
        "instance_id": f"i-{n:017x}",
        "zone": zone,
        "lifecycle": IN_SERVICE,
        "healthy": True,
        "protected": False,
        "launched_at": 0.0,
        "template": "lt-1:1",
    }
    base.update(fields)
    return Member(**base)  # type: ignore[arg-type]


def test_launches_fill_the_emptiest_zones_first() -> None:
    held = [member(1, ZONES[0]), member(2, ZONES[0])]
    plan = compute(Group(5, ZONES, "lt-1:1"), held, 0.0)
    assert plan.launch == {ZONES[1]: 2, ZONES[2]: 1}
    assert (plan.before, plan.after) == (2, 5)


def test_an_unhealthy_instance_is_replaced_and_terminating_ones_do_not_count() -> None:
    held = [
        member(1, ZONES[0], healthy=False),
        member(2, ZONES[1], lifecycle=TERMINATING),
        member(3, ZONES[2], lifecycle=PENDING),
    ]
    plan = compute(Group(2, ZONES, "lt-1:1"), held, 0.0)
    assert plan.replace == [held[0].instance_id]
    assert plan.launch == {ZONES[0]: 1}


def test_scale_in_takes_the_biggest_zone_then_the_old_template_then_billing_hour() -> None:
    held = [
        member(1, ZONES[0], launched_at=0.0),
        member(2, ZONES[0], launched_at=3000.0),
        member(3, ZONES[0], template="lt-1:0", launched_at=100.0),
        member(4, ZONES[1]),
    ]
    plan = compute(Group(3, ZONES, "lt-1:1"), held, 3500.0)
    assert plan.scale_in == [held[2].instance_id]  # the old template's, in the biggest zone
    plan = compute(Group(2, ZONES, "lt-1:1"), held[:2] + held[3:], 3500.0)
    # 1 ran 3500 s (100 s to its hour), 2 ran 500 s: 1 is closest to its next billing hour.
    assert plan.scale_in == [held[0].instance_id]


@given(
    st.lists(st.tuples(st.sampled_from(ZONES), st.booleans()), max_size=12),
    st.integers(min_value=0, max_value=12),
)
def test_scale_in_never_picks_a_protected_instance(
    spec: list[tuple[str, bool]], desired: int
) -> None:
    held = [member(n, zone, protected=p) for n, (zone, p) in enumerate(spec)]
    plan = compute(Group(desired, ZONES, "lt-1:1"), held, 0.0)
    protected = {m.instance_id for m in held if m.protected}
    assert not protected & set(plan.scale_in)
    unprotected = len(held) - len(protected)
    if len(held) > desired:
        assert len(plan.scale_in) == min(len(held) - desired, unprotected)
    else:
        assert sum(plan.launch.values()) == desired - len(held)


def test_a_force_deleted_group_lets_everything_go() -> None:
    held = [member(1, ZONES[0], protected=True), member(2, ZONES[1])]
    plan = compute(Group(2, ZONES, deleting=True), held, 0.0)
    assert sorted(plan.scale_in) == sorted(m.instance_id for m in held) and not plan.launch
