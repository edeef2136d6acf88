"""Availability Zone rebalancing as the REPLICA reconciler plans it (controllers/services/
rebalance.py), on hand-made facts: a service whose zones drifted apart moves one task at a
time, start first then stop, within minimumHealthyPercent and maximumPercent; nothing moves
while it is DISABLED, during a deployment, or without room. Pure: no server."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

from controllers.test_replica import (
    NOW,
    ZONES,
    apply,
    come_up,
    deployment,
    instances,
    live,
    run,
    service,
    started,
    stopped,
    task,
)

from portside.controllers.services import rebalance
from portside.controllers.services.facts import TaskFact
from portside.model.service import COMPLETED, IN_PROGRESS, Service


def lopsided(n: int = 6) -> list[TaskFact]:
    """`n` healthy tasks, every one in zone a (zone b and c came back empty)."""
    return [task(i, zone="a", host=0 if i % 2 else 3) for i in range(n)]


def balanced_service(low: int = 100, high: int = 200, on: str = "ENABLED") -> Service:
    return service(
        desired=6,
        low=low,
        high=high,
        deployments=[deployment(rollout=COMPLETED)],
        availability_zone_rebalancing=on,
    )


def per_zone(tasks: list[TaskFact]) -> Counter[str | None]:
    return Counter(t.zone for t in live(tasks))


def test_counts_and_balance() -> None:
    counts = rebalance.spread(lopsided(4), ZONES, lambda t: t.zone)
    assert counts == {"a": 4, "b": 0, "c": 0}
    assert not rebalance.balanced(counts)
    assert rebalance.balanced(Counter({"a": 2, "b": 1, "c": 1}))
    assert rebalance.zones(instances(i_1={"connected": False}, i_4={"connected": False})) == [
        "a",
        "c",
    ]
    assert rebalance.started("web", counts) == (
        "service (web) is not AZ balanced with 4 tasks in a, 0 tasks in b, and 0 tasks in c. "
        "AZ Rebalancing in progress."
    )


def test_a_move_starts_first_and_stops_once_the_new_task_is_healthy() -> None:
    svc = balanced_service()
    tasks = lopsided()
    plan = run(svc, tasks)
    assert started(plan) == 1 and not plan.stop
    assert plan.events == [rebalance.started("web", Counter({"a": 6, "b": 0, "c": 0}))]
    svc.add_event("e1", NOW, plan.events[0])
    # The new task lands where the placer spreads it: the emptiest zone.
    tasks = apply(svc, tasks, plan, 100)
    tasks[-1] = replace(tasks[-1], zone="b", instance_arn="i-1")
    # Not healthy yet: nothing stops (minimumHealthyPercent 100), nothing more starts.
    plan = run(svc, tasks)
    assert not plan.stop and started(plan) == 0
    tasks = come_up(tasks)
    plan = run(svc, tasks)
    (gone,) = stopped(plan)
    assert next(t for t in tasks if t.arn == gone).zone == "a"
    assert all("AZ Rebalancing initiated by" in s.reason for s in plan.stop)


def test_moves_repeat_until_balanced_then_say_so() -> None:
    svc = balanced_service()
    tasks = lopsided()
    spare = iter(["b", "c"] * 5)
    for step in range(40):
        plan = run(svc, tasks)
        for event in plan.events:
            svc.add_event(f"e{step}", NOW, event)
        tasks = apply(svc, tasks, plan, 100 + 10 * step)
        tasks = [
            replace(t, zone=next(spare)) if t.last_status == "PROVISIONING" else t for t in tasks
        ]
        tasks = come_up(tasks)
        assert len(live(tasks)) <= 12  # maximumPercent 200
        if any(rebalance.BALANCED_MARK in e for e in plan.events):
            break
    assert per_zone(tasks) == {"a": 2, "b": 2, "c": 2}
    said = [e.message for e in svc.events]
    assert "service (web) is AZ balanced with 2 tasks in a, 2 tasks in b, and 2 tasks in c." in said
    # Balanced and said: the next pass does nothing.
    plan = run(svc, tasks)
    assert not plan.start and not plan.stop and not plan.events


def test_with_no_room_above_desired_a_task_stops_first() -> None:
    svc = balanced_service(low=50, high=100)
    plan = run(svc, lopsided())
    assert len(plan.stop) == 1 and started(plan) == 1


def test_nothing_moves_without_room_disabled_or_during_a_deployment() -> None:
    tasks = lopsided()
    for svc in (
        balanced_service(low=100, high=100),
        balanced_service(on="DISABLED"),
        service(desired=6, deployments=[deployment(rollout=IN_PROGRESS)]),
    ):
        plan = run(svc, tasks)
        assert not plan.stop and started(plan) == 0
        assert not any("AZ" in e for e in plan.events)


def test_binpack_services_are_not_rebalanced() -> None:
    from portside.model.placement import PlacementStrategy

    svc = balanced_service()
    svc.placement_strategy = [PlacementStrategy.from_doc({"type": "binpack", "field": "cpu"})]
    plan = run(svc, lopsided())
    assert started(plan) == 0 and not plan.stop


def test_a_replacement_placed_in_the_busiest_zone_ends_the_rebalancing() -> None:
    svc = balanced_service()
    tasks = lopsided()
    plan = run(svc, tasks)
    svc.add_event("e1", NOW, plan.events[0])
    tasks = apply(svc, tasks, plan, 100)
    tasks[-1] = replace(tasks[-1], zone="a", instance_arn="i-0")  # room in zone a only
    tasks = come_up(tasks)
    plan = run(svc, tasks)
    (gone,) = stopped(plan)
    assert gone == tasks[-1].arn and started(plan) == 0
    assert plan.events[-1].endswith(rebalance.STOPPED_MARK)
    svc.add_event("e2", NOW, plan.events[-1])
    tasks = apply(svc, tasks, plan, 200)
    # Not tried again for a while, then tried again.
    plan = run(svc, tasks, now=NOW + 10)
    assert started(plan) == 0 and not plan.stop
    plan = run(svc, tasks, now=NOW + rebalance.RETRY_SECONDS + 1)
    assert started(plan) == 1
