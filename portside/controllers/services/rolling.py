"""Replacing tasks within minimumHealthyPercent and maximumPercent: rolling deployments,
unhealthy tasks, tasks on DRAINING instances, scale-in (ECS developer guide, "Deploy Amazon
ECS services by replacing tasks", "Container instance draining"; DeploymentConfiguration).

The two bounds, both in tasks of `desiredCount`:

- live tasks (wanted RUNNING, not yet STOPPED, every deployment) stay at or under
  floor(maximumPercent * desired / 100): no start takes them past it;
- healthy tasks stay at or over ceil(minimumHealthyPercent * desired / 100): no stop of a
  healthy task takes them under it. Stopping a task that is not healthy never counts.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from portside.controllers.services import protection, scale_in
from portside.controllers.services.facts import StopTask, TaskFact
from portside.model.service import Service

# A task without a container health check counts toward minimumHealthyPercent only once it
# has been RUNNING this long (DeploymentConfiguration.minimumHealthyPercent, "services that
# do not use a load balancer").
HEALTHY_AFTER_RUNNING = 40.0

DEFAULT_MIN_HEALTHY_PERCENT = 100  # REPLICA
DEFAULT_MAX_PERCENT = 200  # REPLICA


def counts_healthy(task: TaskFact, now: float) -> bool:
    """Counts toward minimumHealthyPercent: RUNNING and HEALTHY when an essential container
    has a health check; RUNNING for HEALTHY_AFTER_RUNNING seconds when none has. With load
    balancers, only once its target in every target group is healthy (and not before)."""
    if not task.running:
        return False
    if task.load_balanced and not task.targets_healthy:
        return False
    if task.has_health_check:
        return task.health_status == "HEALTHY"
    if task.health_status == "UNHEALTHY":
        return False
    if task.load_balanced or task.started_at is None:
        return True  # with a load balancer, its healthy targets said so
    return now - task.started_at >= HEALTHY_AFTER_RUNNING


def failed_health(task: TaskFact, grace: float, now: float) -> bool:
    """UNHEALTHY, or failing a target group's health checks, once
    healthCheckGracePeriodSeconds have passed since the task started: the scheduler replaces
    it."""
    if not task.running or (task.health_status != "UNHEALTHY" and task.unhealthy_in is None):
        return False
    return grace <= 0 or task.started_at is None or now - task.started_at >= grace


def rank(task: TaskFact, now: float) -> int:
    """Stop order among equals: not yet running, then running but not healthy, then healthy."""
    if not task.running:
        return 0
    return 1 if not counts_healthy(task, now) else 2


@dataclass(frozen=True, slots=True)
class Limits:
    desired: int
    min_healthy: int  # ceil(minimumHealthyPercent * desired / 100)
    max_live: int  # floor(maximumPercent * desired / 100)

    @classmethod
    def of(cls, service: Service) -> Limits:
        config = service.deployment_configuration
        low = config.minimum_healthy_percent
        high = config.maximum_percent
        low = DEFAULT_MIN_HEALTHY_PERCENT if low is None else int(low)
        high = DEFAULT_MAX_PERCENT if high is None else int(high)
        desired = max(0, service.desired_count)
        return cls(desired, -(-low * desired // 100), high * desired // 100)


Retiree = tuple[TaskFact, str]  # a task to replace, and the stoppedReason when it goes


@dataclass(slots=True)
class Fleet:
    """The service's live tasks once the immediate stops are out, by what happens to them."""

    keep: list[TaskFact] = field(default_factory=list)  # PRIMARY tasks that stay
    # To replace: older deployments' tasks, PRIMARY tasks on DRAINING instances.
    retire: list[Retiree] = field(default_factory=list)
    # PRIMARY tasks that failed their health checks after the grace period.
    unhealthy: list[Retiree] = field(default_factory=list)
    hold: list[TaskFact] = field(default_factory=list)  # left alone this pass

    def everyone(self) -> list[TaskFact]:
        return self.keep + [t for t, _ in self.retire] + [t for t, _ in self.unhealthy] + self.hold


def roll(
    limits: Limits,
    fleet: Fleet,
    *,
    can_launch: bool,
    scaling_reason: str,
    zone_of: scale_in.ZoneOf,
    now: float,
) -> tuple[list[StopTask], int]:
    """The stops and how many PRIMARY tasks to start, in that order (a stopped task no longer
    counts as live, so the starts may use the room the stops make)."""
    stops: list[StopTask] = []

    def healthy_of(task: TaskFact) -> bool:
        return counts_healthy(task, now)

    everyone = fleet.everyone()
    live = len(everyone)
    budget = sum(map(healthy_of, everyone)) - limits.min_healthy  # healthy stops allowed

    # Retirees that hold no healthy capacity go at once.
    healthy_retire: list[Retiree] = []
    for task, why in fleet.retire:
        if healthy_of(task):
            healthy_retire.append((task, why))
        else:
            stops.append(StopTask(task.arn, why))
            live -= 1

    # Scale-in: the PRIMARY holds more than desired. Tasks not yet healthy go first, then
    # healthy ones as far as minimumHealthyPercent allows; each from the fullest zone.
    # Protected tasks are never chosen (they stay, over desiredCount, until unprotected).
    keep = list(fleet.keep)
    surplus = len(keep) - limits.desired
    if surplus > 0:
        unwell = [t for t in protection.unprotected(keep, now) if not healthy_of(t)]
        picks = scale_in.victims(unwell, keep, zone_of, lambda t: rank(t, now), surplus)
        picked = {t.arn for t in picks}
        rest = [t for t in keep if t.arn not in picked]
        well = [t for t in protection.unprotected(rest, now) if healthy_of(t)]
        more = scale_in.victims(well, rest, zone_of, lambda t: 2, min(surplus - len(picks), budget))
        budget -= len(more)
        picked.update(t.arn for t in more)
        stops.extend(StopTask(t.arn, scaling_reason) for t in picks + more)
        keep = [t for t in keep if t.arn not in picked]
        live -= len(picked)

    want = max(0, limits.desired - len(keep)) if can_launch else 0

    # Unhealthy PRIMARY tasks: with room under maximumPercent the replacement starts first and
    # the unhealthy task stops once enough healthy tasks stand in for it; without room they
    # stop one at a time to make some.
    unhealthy = list(fleet.unhealthy)
    if unhealthy:
        if want > 0 and limits.max_live - live <= 0:
            if all(map(healthy_of, keep)):
                task, why = unhealthy.pop(0)
                stops.append(StopTask(task.arn, why))
                live -= 1
        else:
            spare = sum(map(healthy_of, keep)) + len(unhealthy) - limits.desired
            for task, why in unhealthy[: max(0, spare)]:
                stops.append(StopTask(task.arn, why))
                live -= 1

    # Healthy retirees go from the fullest zone first, as far as minimumHealthyPercent allows:
    # first to make room for the starts, then while the service still holds desiredCount.
    room = max(0, limits.max_live - live)
    gone = {s.task_arn for s in stops}
    standing = [t for t in everyone if t.arn not in gone]
    reason = {t.arn: why for t, why in healthy_retire}
    queue = scale_in.victims([t for t, _ in healthy_retire], standing, zone_of, lambda t: 2, budget)
    made = min(max(0, want - room), len(queue))  # stopped to make room
    stops.extend(StopTask(t.arn, reason[t.arn]) for t in queue[:made])
    starts = min(want, room + made)
    # The rest of the queue (it holds no more than the budget allows) goes while the service
    # still holds desiredCount without it.
    covered = len(keep) + starts + len(healthy_retire) - made - limits.desired
    stops.extend(StopTask(t.arn, reason[t.arn]) for t in queue[made : made + max(0, covered)])
    return stops, starts
