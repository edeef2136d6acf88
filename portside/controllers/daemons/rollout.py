"""A daemon deployment's state from its scheduler deployment's (pure, DESIGN.md rule 2).

The DAEMON scheduler says where each of its deployments stands (rolloutState IN_PROGRESS,
COMPLETED or FAILED; a circuit-breaker rollback as a new deployment `rollback_of` the failed
one). A daemon deployment shows it in ECS's daemon words (developer guide, "Daemon
deployments"): PENDING until the scheduler first looks at it, IN_PROGRESS while instances
roll over and through the bake time once they all run the target revision, SUCCESSFUL after
it; when the circuit breaker trips, ROLLBACK_IN_PROGRESS back to the revision the last
successful deployment ran, then ROLLBACK_SUCCESSFUL; STOPPED when it failed with nothing to
roll back to.
"""

from __future__ import annotations

from dataclasses import dataclass

from portside.controllers.services.circuit_breaker import FAILED_REASON
from portside.model.service import COMPLETED, FAILED, Deployment
from portside.ops.daemons_model import (
    FINISHED,
    IN_PROGRESS,
    ROLLBACK_IN_PROGRESS,
    ROLLBACK_SUCCESSFUL,
    STOPPED,
    SUCCESSFUL,
    DaemonDeployment,
)

SUCCEEDED = "The daemon deployment completed successfully."  # wording: ours


@dataclass(frozen=True, slots=True)
class Step:
    changed: bool
    recheck_in: float | None = None  # the bake time ends then


def advance(
    d: DaemonDeployment,
    runs: Deployment,
    *,
    rollback: Deployment | None,
    rollback_target: str | None,
    threshold: int,
    now: float,
) -> Step:
    """Move `d` on from what its scheduler deployment `runs` (and the `rollback` deployment
    made for it, when the breaker tripped) says. `rollback_target`: the revision the rollback
    runs. Changes `d` in place."""
    if d.status in FINISHED:
        return Step(False)
    before = d.to_doc()
    d.threshold = threshold
    d.failure_count = max(d.failure_count, runs.failed_tasks)
    if d.started_at is None:
        d.started_at = now
    recheck: float | None = None
    if rollback is not None or runs.rollout_state == FAILED:
        d.circuit_breaker_status = "TRIGGERED"
        if rollback is None:
            d.status, d.status_reason = STOPPED, FAILED_REASON
            d.stopped_at = d.finished_at = now
        elif rollback.rollout_state == COMPLETED:
            d.status = ROLLBACK_SUCCESSFUL
            d.finished_at = now
        else:
            d.status, d.status_reason = ROLLBACK_IN_PROGRESS, FAILED_REASON
            if d.rollback is None:
                d.rollback = {
                    "reason": FAILED_REASON,
                    "startedAt": now,
                    "rollbackTargetDaemonRevisionArn": rollback_target,
                    "rollbackCapacityProviders": [],
                }
    elif runs.rollout_state == COMPLETED:
        d.settled_at = d.settled_at or now
        bake = 60.0 * float(d.deployment_configuration.get("bakeTimeInMinutes") or 0)
        if now - d.settled_at >= bake:
            d.status, d.status_reason = SUCCESSFUL, SUCCEEDED
            d.circuit_breaker_status = "MONITORING_COMPLETE"
            d.finished_at = now
        else:
            d.status = IN_PROGRESS
            recheck = d.settled_at + bake - now
    else:
        d.status = IN_PROGRESS
    return Step(d.to_doc() != before, recheck)
