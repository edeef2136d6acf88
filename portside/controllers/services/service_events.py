"""Service event messages, and the reasons the service scheduler stops tasks for, in ECS's
words."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from portside.scheduler import constraints

if TYPE_CHECKING:
    from portside.controllers.services.facts import TaskFact

TROUBLESHOOTING = (
    "For more information, see the Troubleshooting section of the Amazon ECS Developer Guide."
)

# ECS's phrase for why the closest instance did not take the task.
_CLOSEST = {
    "RESOURCE:CPU": "has insufficient CPU units available",
    "RESOURCE:MEMORY": "has insufficient memory available",
    "RESOURCE:PORTS": "is already using a port required by your task",
    "RESOURCE:PORTS_UDP": "is already using a port required by your task",
    "RESOURCE:GPU": "has insufficient GPU units available",
    "ATTRIBUTE": "is missing an attribute required by your task",
    "AGENT": "is not connected to Amazon ECS",
}


def _short(arn: str) -> str:
    return arn.rsplit("/", 1)[-1]


# -- why the scheduler stopped a task (its stoppedReason) ---------------------------------


def scaling(deployment_id: str) -> str:
    return f"Scaling activity initiated by (deployment {deployment_id})"


def draining(service: str) -> str:
    return f"Service {service}: container instance is in DRAINING state"


def lost(instance_arn: str, grace: float) -> str:
    return (
        f"Container instance {_short(instance_arn)} was lost: its agent has been disconnected "
        f"for more than {grace:.0f} seconds, or it was deregistered"
    )


# -- the service's events ----------------------------------------------------------------


def started(service: str, task_arns: Sequence[str]) -> str:
    tasks = " ".join(f"(task {_short(a)})" for a in task_arns)
    return f"(service {service}) has started {len(task_arns)} tasks: {tasks}."


def stopped(service: str, task_arns: Sequence[str]) -> str:
    tasks = " ".join(f"(task {_short(a)})" for a in task_arns)
    return f"(service {service}) has stopped {len(task_arns)} running tasks: {tasks}."


def unable_to_place(service: str, failures: Sequence[dict[str, str]]) -> str:
    head = (
        f"(service {service}) was unable to place a task because no container instance met "
        "all of its requirements."
    )
    if not failures:
        return (
            f"{head} Reason: No Container Instances were found in your cluster. {TROUBLESHOOTING}"
        )
    rank = {reason: n for n, reason in enumerate(constraints.ORDER)}
    arn, reason = min(
        ((f["arn"], f["reason"]) for f in failures),
        key=lambda f: (-rank.get(f[1], -1), f[0]),
    )
    why = _CLOSEST.get(reason, f"failed the {reason.split(' ')[0]} constraint")
    return (
        f"{head} The closest matching (container-instance {_short(arn)}) {why}. {TROUBLESHOOTING}"
    )


HEALTH_CHECK_REASON = "Task failed container health checks"
ELB_HEALTH_REASON = "Task failed ELB health checks in (target-group "


def health_failure(service: str, task: TaskFact) -> tuple[str, str]:
    """The stoppedReason of a task replaced for failing its health checks, and the service
    event that says so: its container's health check's when UNHEALTHY, else the first target
    group whose health checks it fails."""
    group = task.unhealthy_in
    if task.health_status == "UNHEALTHY" or group is None:
        return HEALTH_CHECK_REASON, failed_health_checks(service, task.arn)
    return failed_elb_health_checks(group), unhealthy_in_target_group(service, task.arn, group)


def failed_elb_health_checks(target_group: str) -> str:
    """The stoppedReason of a task replaced for failing a target group's health checks."""
    return f"{ELB_HEALTH_REASON}{target_group})"


def unhealthy_in_target_group(service: str, task_arn: str, target_group: str) -> str:
    return (
        f"(service {service}) (task {_short(task_arn)}) is unhealthy in (target-group "
        f"{target_group}) due to (reason Health checks failed)."
    )


def failed_health_checks(service: str, task_arn: str) -> str:
    return f"(service {service}) (task {_short(task_arn)}) failed container health checks."


def throttled(service: str) -> str:
    return (
        f"(service {service}) is unable to consistently start tasks successfully. {TROUBLESHOOTING}"
    )


def deployment_completed(service: str, deployment_id: str) -> str:
    return f"(service {service}) (deployment {deployment_id}) deployment completed."


def definition_missing(service: str, task_definition: str) -> str:
    return (
        f"(service {service}) failed to launch a task: task definition {task_definition} not found."
    )


def unable_to_place_because(service: str, message: str) -> str:
    return f"(service {service}) was unable to place a task. Reason: {message} {TROUBLESHOOTING}"
