"""Availability Zone rebalancing (ECS developer guide, "Balancing an Amazon ECS service across
Availability Zones"): with `availabilityZoneRebalancing` ENABLED, a REPLICA service whose
tasks are spread unevenly over the zones its cluster has instances in (more than one task
apart, say after a zone's instances came back) has tasks moved, one at a time, from the
zone holding the most to where the placer puts a new one (its default strategy spreads
over zones first): start in the zone with the fewest, then stop in the zone with the most.

The move is made by the rolling machinery, so minimumHealthyPercent and maximumPercent hold
as in a deployment: a task chosen to move is a `retire`e of the PRIMARY deployment (it stays
until its replacement is healthy when the bounds leave no room, and goes first when only
the minimum leaves room). Nothing moves while a deployment rolls out, a task is unhealthy,
held, lost or draining, or the service is not at its desired count.

Whether a rebalancing is under way is read from the service's own events (the "not AZ
balanced" event that started it, and the "AZ balanced" one that ends it), so the decision
stays a pure function of the service, its tasks, its instances and the time (DESIGN.md
rule 2). The reconciler cannot see the instances' free resources: a replacement the placer
could only put in the busiest zone (the others are full) ends the rebalancing instead (the
replacement goes, and an event says why), and none is tried again for RETRY_SECONDS.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence

from portside.controllers.services import protection, scale_in
from portside.controllers.services.facts import InstanceFact, TaskFact
from portside.controllers.services.rolling import Fleet, Limits, counts_healthy
from portside.model.service import COMPLETED, Service
from portside.model.states import InstanceStatus

ENABLED = "ENABLED"
STARTED_MARK = "AZ Rebalancing in progress."
BALANCED_MARK = " is AZ balanced with "
STOPPED_MARK = "AZ Rebalancing stopped: no room in the zones with fewer tasks."  # ours
RETRY_SECONDS = 300.0


def zones(instances: Mapping[str, InstanceFact]) -> list[str]:
    """The zones tasks can be placed in now: those of ACTIVE, connected instances."""
    return sorted(
        {
            i.zone
            for i in instances.values()
            if i.zone and i.status == InstanceStatus.ACTIVE and i.connected
        }
    )


def spread(
    tasks: Sequence[TaskFact], zone_names: Sequence[str], zone_of: scale_in.ZoneOf
) -> Counter[str]:
    """Tasks per zone, every zone named (those without a task at 0)."""
    counts: Counter[str] = Counter(dict.fromkeys(zone_names, 0))
    for task in tasks:
        zone = zone_of(task)
        if zone is not None:
            counts[zone] += 1
    return counts


def balanced(counts: Counter[str]) -> bool:
    return len(counts) < 2 or max(counts.values()) - min(counts.values()) <= 1


def _newest(service: Service) -> tuple[str, float] | None:
    """The newest rebalancing event: which (started, balanced, stopped) and when."""
    for event in service.events:  # newest first
        if event.message.endswith(STARTED_MARK):
            return "started", event.created_at
        if BALANCED_MARK in event.message:
            return "balanced", event.created_at
        if event.message.endswith(STOPPED_MARK):
            return "stopped", event.created_at
    return None


def in_progress(service: Service) -> bool:
    """The newest rebalancing event says one started and none said it ended."""
    newest = _newest(service)
    return newest is not None and newest[0] == "started"


def resting(service: Service, now: float) -> bool:
    """A rebalancing stopped for want of room less than RETRY_SECONDS ago."""
    newest = _newest(service)
    return newest is not None and newest[0] == "stopped" and now - newest[1] < RETRY_SECONDS


def _words(counts: Counter[str]) -> str:
    parts = [f"{n} tasks in {zone}" for zone, n in sorted(counts.items())]
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + ", and " + parts[-1]


def started(name: str, counts: Counter[str]) -> str:
    return f"service ({name}) is not AZ balanced with {_words(counts)}. {STARTED_MARK}"


def completed(name: str, counts: Counter[str]) -> str:
    return f"service ({name}){BALANCED_MARK}{_words(counts)}."


def stopped(name: str, counts: Counter[str]) -> str:
    return f"service ({name}) is not AZ balanced with {_words(counts)}. {STOPPED_MARK}"


def reason(deployment_id: str) -> str:
    return f"AZ Rebalancing initiated by (deployment {deployment_id})"  # wording: ours


def _eligible(service: Service) -> bool:
    """ECS rebalances only services it can spread over zones: not under a binpack or
    non-zone spread placement strategy first (developer guide)."""
    if service.availability_zone_rebalancing != ENABLED:
        return False
    first = service.placement_strategy[0] if service.placement_strategy else None
    if first is None:
        return True
    field = (first.field or "").lower()
    return first.type == "spread" and field == "attribute:ecs.availability-zone"


def rebalance(
    service: Service,
    fleet: Fleet,
    instances: Mapping[str, InstanceFact],
    zone_of: scale_in.ZoneOf,
    now: float,
) -> list[str]:
    """Move the fleet's PRIMARY tasks to retire for a rebalancing step, if one is due; the
    service events to say (oldest first)."""
    if not _eligible(service) or service.primary.rollout_state != COMPLETED:
        return []
    if fleet.retire or fleet.unhealthy or fleet.hold:
        return []
    limits = Limits.of(service)
    names = zones(instances)
    keep = fleet.keep
    healthy = [t for t in keep if counts_healthy(t, now)]
    counts = spread(keep, names, zone_of)
    going = in_progress(service)
    events: list[str] = []
    if len(keep) == limits.desired and len(healthy) == len(keep):
        if balanced(counts):
            return [completed(service.name, counts)] if going else []
        roomy = limits.max_live > limits.desired or limits.min_healthy < limits.desired
        if not roomy or (not going and resting(service, now)):
            return []
        surplus = 1
        if not going:
            events.append(started(service.name, counts))
    elif going and len(keep) > limits.desired:
        # A move under way: its replacement has started; the task it replaces stays chosen
        # (it goes once the replacement counts as healthy, as minimumHealthyPercent allows).
        surplus = len(keep) - limits.desired
        newest = max(keep, key=lambda t: (t.started_at is None, t.started_at or 0.0, t.arn))
        where = zone_of(newest)
        if where is not None and counts[where] >= max(counts.values()):
            # Placed in the busiest zone: there is no room elsewhere. It goes instead.
            fleet.keep = [t for t in keep if t.arn != newest.arn]
            fleet.retire.append((newest, reason(service.primary.id)))
            return [stopped(service.name, counts)]
    else:
        return []
    movable = protection.unprotected(healthy, now)
    picks = scale_in.victims(movable, keep, zone_of, lambda t: 2, surplus)
    why = reason(service.primary.id)
    picked = {t.arn for t in picks}
    fleet.keep = [t for t in keep if t.arn not in picked]
    fleet.retire.extend((t, why) for t in picks)
    return events
