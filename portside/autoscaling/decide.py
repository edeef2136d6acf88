"""What a group must do to stand at its desired capacity (pure).

`compute(group, members, now)` takes the group's settings and its instances and returns a
`Plan`: the instances to terminate (unhealthy ones, which are replaced, and the surplus chosen
by the default termination policy) and how many to launch in each zone.

- An instance counts toward the capacity while it is Pending or InService and healthy.
  Terminating ones are on their way out and count for nothing; unhealthy ones (their EC2
  instance stopped or gone, as EC2 health checks see it) are terminated and replaced.
- Launches go, one at a time, to the group's zone holding the fewest counted instances (ties
  in the group's zone order), so a group spreads evenly over its zones.
- Scale-in follows AWS's default termination policy, never picking an instance protected
  from scale in: among the zones with an unprotected instance, the one with the most
  instances; there, instances whose launch template or version differs from the group's
  first, then the one closest to its next billing hour, then the lowest instance id. When
  every counted instance is protected the group stays above its desired capacity, as AWS's
  does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

PENDING = "Pending"
IN_SERVICE = "InService"
TERMINATING = "Terminating"
HEALTHY = "Healthy"
UNHEALTHY = "Unhealthy"


@dataclass(frozen=True, slots=True)
class Member:
    instance_id: str
    zone: str
    lifecycle: str  # Pending, InService, Terminating
    healthy: bool
    protected: bool
    launched_at: float
    template: str = ""  # "ID:VERSION" it was launched from
    in_service_at: float | None = None  # when it went InService


@dataclass(frozen=True, slots=True)
class Group:
    desired: int
    zones: Sequence[str]  # in the group's order
    template: str = ""  # "ID:VERSION" the group launches now
    deleting: bool = False  # ForceDelete: everything goes, protected or not


@dataclass(slots=True)
class Plan:
    launch: dict[str, int] = field(default_factory=dict)  # zone -> how many
    replace: list[str] = field(default_factory=list)  # unhealthy: terminate, not counted
    scale_in: list[str] = field(default_factory=list)  # surplus: terminate
    before: int = 0  # counted capacity before the plan
    after: int = 0  # what the plan leaves (launches counted)

    @property
    def empty(self) -> bool:
        return not (self.launch or self.replace or self.scale_in)


def counted(member: Member) -> bool:
    return member.lifecycle in (PENDING, IN_SERVICE) and member.healthy


def compute(group: Group, members: Sequence[Member], now: float) -> Plan:
    plan = Plan()
    live = [m for m in members if m.lifecycle != TERMINATING]
    plan.replace = sorted(m.instance_id for m in live if not m.healthy)
    kept = [m for m in live if m.healthy]
    plan.before = len(kept)
    desired = 0 if group.deleting else group.desired
    if group.deleting:
        plan.scale_in = sorted(m.instance_id for m in kept)
        plan.after = 0
        return plan
    if len(kept) < desired:
        per_zone = {z: 0 for z in group.zones}
        for m in kept:
            per_zone[m.zone] = per_zone.get(m.zone, 0) + 1
        order = {z: i for i, z in enumerate(group.zones)}
        for _ in range(desired - len(kept)):
            zone = min(group.zones, key=lambda z: (per_zone[z], order[z]))
            per_zone[zone] += 1
            plan.launch[zone] = plan.launch.get(zone, 0) + 1
        plan.after = desired
    elif len(kept) > desired:
        plan.scale_in = choose_scale_in(kept, len(kept) - desired, group.template, now)
        plan.after = len(kept) - len(plan.scale_in)
    else:
        plan.after = len(kept)
    return plan


def _billing_left(member: Member, now: float) -> float:
    """Seconds to the instance's next billing hour (smaller: closer)."""
    ran = max(now - member.launched_at, 0.0)
    return 3600.0 - (ran % 3600.0)


def choose_scale_in(kept: Sequence[Member], count: int, template: str, now: float) -> list[str]:
    """`count` unprotected instances by the default termination policy (fewer when not
    enough are unprotected)."""
    chosen: list[str] = []
    pool = list(kept)
    for _ in range(count):
        candidates = [m for m in pool if not m.protected]
        if not candidates:
            break
        per_zone: dict[str, int] = {}
        for m in pool:
            per_zone[m.zone] = per_zone.get(m.zone, 0) + 1
        zones_with_choice = {m.zone for m in candidates}
        zone = max(sorted(zones_with_choice), key=lambda z: per_zone[z])
        in_zone = [m for m in candidates if m.zone == zone]
        pick = min(
            in_zone,
            key=lambda m: (
                m.template == template,  # an older template or version goes first
                _billing_left(m, now),
                m.instance_id,
            ),
        )
        chosen.append(pick.instance_id)
        pool.remove(pick)
    return chosen
