"""Counting a service's failed tasks: the deployment circuit breaker (ECS developer guide, "How
the Amazon ECS deployment circuit breaker detects failures"; Deployment.failedTasks,
DeploymentCircuitBreaker, ThresholdConfiguration) and the service throttle logic ("Amazon ECS
service throttle logic").

Both count a streak of consecutive failures of the PRIMARY deployment's tasks, recounted from
the facts each pass; the stored count is a floor while the facts show no success after it
(stopped tasks age out of the facts, the streak does not).

- Circuit breaker: a failure is a task that stopped without reaching RUNNING, or that the
  scheduler stopped for failing its health checks. A task that reaches a healthy state resets
  the count (resetOnHealthyTask, true by default). At the threshold the deployment is FAILED
  and launches nothing more; with rollback, the service returns to the last COMPLETED
  deployment.
- Throttle: a failure is a task that went from PENDING to STOPPED without RUNNING; a task that
  reaches RUNNING ends the streak. From THROTTLE_AFTER failures in a row, the time between
  launches doubles from THROTTLE_BASE up to THROTTLE_CAP (ECS: "incrementally increased up to
  a maximum of 27 minutes"; the steps are not documented, these are ours).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from portside.controllers.services.facts import TaskFact
from portside.controllers.services.rolling import HEALTHY_AFTER_RUNNING
from portside.model.deployment import CircuitBreaker, ThresholdConfiguration
from portside.model.service import COMPLETED, IN_PROGRESS, Deployment, Service
from portside.model.states import TaskStatus

MIN_THRESHOLD = 3
MAX_THRESHOLD = 200
DEFAULT_THRESHOLD_PERCENT = 50

THROTTLE_AFTER = 3  # consecutive failed starts before launches slow down
THROTTLE_BASE = 15.0  # seconds between launches at THROTTLE_AFTER failures
THROTTLE_CAP = 27 * 60.0
# How far back the loop must pass the PRIMARY deployment's STOPPED tasks: more than two
# launches apart at the cap, so a streak is always visible past its last success.
FACTS_WINDOW = 2 * THROTTLE_CAP + 60.0

FAILED_REASON = "ECS deployment circuit breaker: tasks failed to start."


def threshold(breaker: CircuitBreaker, desired: int) -> int:
    """Failures that fail the deployment: by default half the desired count rounded up, at
    least 3 and at most 200 (thresholdConfiguration may say otherwise)."""
    config = breaker.threshold_configuration or ThresholdConfiguration()
    kind = config.type or "BOUNDED_PERCENT"
    value = DEFAULT_THRESHOLD_PERCENT if config.value is None else int(config.value)
    if kind == "COUNT":
        return max(1, value)
    share = -(-value * max(0, desired) // 100)
    if kind == "UNBOUNDED_PERCENT":
        return max(1, share)
    return min(MAX_THRESHOLD, max(MIN_THRESHOLD, share))


def stopped_for_health(task: TaskFact) -> bool:
    reason = task.stopped_reason or ""
    return (
        task.desired_status == TaskStatus.STOPPED
        and reason.startswith("Task failed")
        and "health checks" in reason
    )


def is_failure(task: TaskFact) -> bool:
    """A failed task for the circuit breaker (Deployment.failedTasks)."""
    failed_start = task.failed_to_start and task.last_status == TaskStatus.STOPPED
    return failed_start or stopped_for_health(task)


def reached_healthy(task: TaskFact, now: float) -> bool:
    if is_failure(task) or task.started_at is None:
        return False
    if task.load_balanced and not task.targets_healthy:
        return False
    if task.load_balanced and not task.has_health_check:
        return task.health_status != "UNHEALTHY"
    if task.has_health_check:
        return task.health_status == "HEALTHY"
    ran = (task.stopped_at if task.stopped_at is not None else now) - task.started_at
    return task.health_status != "UNHEALTHY" and ran >= HEALTHY_AFTER_RUNNING


def _when(task: TaskFact, now: float) -> float:
    return task.stopped_at if task.stopped_at is not None else now


def streak(
    failures: Sequence[TaskFact], successes: Iterable[float], stored: int, now: float
) -> tuple[int, list[TaskFact]]:
    """Consecutive failures since the last success, and the ones the facts show."""
    last_ok = max(successes, default=None)
    recent = [f for f in failures if last_ok is None or _when(f, now) > last_ok]
    if last_ok is not None and len(recent) < len(failures):
        return len(recent), recent  # a success ended the earlier streak
    return max(stored, len(recent)), recent


@dataclass(frozen=True, slots=True)
class Verdict:
    failed_tasks: int
    threshold: int
    tripped: bool
    rollback_to: Deployment | None  # set when tripped and rollback is on


def evaluate(
    service: Service, primary: Deployment, tasks: Sequence[TaskFact], now: float
) -> Verdict | None:
    """The PRIMARY deployment's failure count while it is IN_PROGRESS (None otherwise)."""
    if primary.rollout_state != IN_PROGRESS:
        return None
    breaker = service.deployment_configuration.circuit_breaker
    mine = [t for t in tasks if t.deployment_id == primary.id]
    failures = [t for t in mine if is_failure(t)]
    successes: list[float] = []
    if breaker.resets_on_healthy_task:
        successes = [t.started_at for t in mine if t.started_at and reached_healthy(t, now)]
    count, _ = streak(failures, successes, primary.failed_tasks, now)
    limit = threshold(breaker, service.desired_count)
    tripped = breaker.enabled and count >= limit
    back = rollback_target(service, primary) if tripped and breaker.rolls_back else None
    return Verdict(count, limit, tripped, back)


def rollback_target(service: Service, primary: Deployment) -> Deployment | None:
    """The most recent COMPLETED deployment. A rollback deployment does not roll back again:
    in ECS the deployment it returns to is IN_PROGRESS again until it completes."""
    if primary.rollback_of is not None:
        return None
    done = [d for d in service.deployments if d.id != primary.id and d.rollout_state == COMPLETED]
    return max(done, key=lambda d: d.created_at, default=None)


@dataclass(frozen=True, slots=True)
class Throttle:
    failures: int
    until: float  # no launch before this


def delay(failures: int) -> float:
    if failures < THROTTLE_AFTER:
        return 0.0
    return min(THROTTLE_CAP, THROTTLE_BASE * 2.0 ** min(failures - THROTTLE_AFTER, 20))


def throttle(service: Service, tasks: Sequence[TaskFact], now: float) -> Throttle:
    """The launch back-off of the PRIMARY deployment's tasks. Failures from before the last
    reset (UpdateService: service.launch_failures_since) do not count."""
    primary = service.primary.id
    mine = [t for t in tasks if t.deployment_id == primary]
    failures = [
        t
        for t in mine
        if t.failed_to_start
        and t.last_status == TaskStatus.STOPPED
        and _when(t, now) > service.launch_failures_since
    ]
    successes = [t.started_at for t in mine if t.started_at is not None]
    count, recent = streak(failures, successes, service.launch_failures, now)
    if count < THROTTLE_AFTER:
        return Throttle(count, 0.0)
    if not recent:
        return Throttle(count, service.launch_backoff_until)
    return Throttle(count, max(_when(t, now) for t in recent) + delay(count))
