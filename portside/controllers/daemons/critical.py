"""Critical daemons: when a task of a daemon whose revision is `critical` (the default) fails,
stops or becomes unhealthy, ECS drains its container instance and stops the other tasks
running on it (CreateDaemon's `critical`). A non-critical daemon's failure touches nothing
else on the instance.

What counts as a failure: a daemon task that ran and reached STOPPED on an instance that was
ACTIVE, because an essential container exited, someone stopped it, or the scheduler stopped it
for failing its health checks. The scheduler's own stops (a deployment replacing it, a
draining instance, a deleted daemon) are not failures, and neither is a task that never
started: launch failures are the deployment circuit breaker's, which rolls the revision back
(CreateDaemon: "Daemon task launch failures during a deployment are still counted by the
deployment circuit breaker").

Each failure is acted on once: the daemon keeps the ARNs of those it handled for as long as
the scheduler's facts still show them (they leave after the circuit breaker's window).
Pure: `failures` decides; the controller drains and stops.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass

from portside.controllers.services.circuit_breaker import stopped_for_health
from portside.controllers.services.facts import InstanceFact, TaskFact
from portside.model.container_instance import ACTIVE
from portside.model.states import TaskStatus

# Stop codes (ECS's TaskStopCode) that are the task's own failure or a person's stop.
FAILED = frozenset({"EssentialContainerExited", "UserInitiated"})


@dataclass(frozen=True, slots=True)
class Failure:
    task_arn: str
    instance_arn: str
    why: str  # the task's stoppedReason, or its stop code


def failed(task: TaskFact) -> bool:
    if task.last_status != TaskStatus.STOPPED or task.instance_arn is None:
        return False
    if task.failed_to_start:
        return False
    return (task.stop_code or "") in FAILED or stopped_for_health(task)


def failures(
    tasks: Iterable[TaskFact],
    instances: Mapping[str, InstanceFact],
    critical_deployments: Collection[str],
    handled: Collection[str],
) -> list[Failure]:
    """The failed tasks of critical deployments not acted on yet, on instances still ACTIVE
    (a draining or deregistered instance's daemon task stops as expected)."""
    out = []
    for task in tasks:
        if task.arn in handled or task.deployment_id not in critical_deployments:
            continue
        if not failed(task):
            continue
        assert task.instance_arn is not None
        inst = instances.get(task.instance_arn)
        if inst is None or inst.status != ACTIVE:
            continue
        why = task.stopped_reason or task.stop_code or "stopped"
        out.append(Failure(task.arn, task.instance_arn, why))
    return out


def still_shown(handled: Iterable[str], tasks: Iterable[TaskFact]) -> list[str]:
    """The handled ARNs worth keeping: those the facts still show."""
    shown = {t.arn for t in tasks}
    return sorted(a for a in handled if a in shown)
