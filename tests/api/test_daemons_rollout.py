"""A daemon deployment's states from its scheduler deployment's (controllers/daemons/rollout.py,
pure): IN_PROGRESS through the bake time, SUCCESSFUL after it, a circuit-breaker rollback as
ROLLBACK_IN_PROGRESS then ROLLBACK_SUCCESSFUL, STOPPED when there is nothing to go back to."""

from __future__ import annotations

from portside.controllers.daemons.rollout import advance
from portside.model.service import COMPLETED, FAILED, IN_PROGRESS, PRIMARY, Deployment
from portside.ops.daemons_model import DaemonDeployment

REVISION = "arn:aws:ecs:us-east-1:000000000000:daemon-revision/c/d/1"


def _daemon_deployment(bake: int = 0) -> DaemonDeployment:
    return DaemonDeployment(
        arn="arn:aws:ecs:us-east-1:000000000000:daemon-deployment/c/d/x",
        daemon_arn="arn:aws:ecs:us-east-1:000000000000:daemon/c/d",
        cluster_arn="arn:aws:ecs:us-east-1:000000000000:cluster/c",
        target_revision_arn=REVISION,
        created_at=100.0,
        deployment_configuration={"drainPercent": 25.0, "bakeTimeInMinutes": bake},
    )


def _runs(state: str, failed: int = 0, rollback_of: str | None = None) -> Deployment:
    return Deployment(
        id="x" if rollback_of is None else "y",
        status=PRIMARY,
        task_definition="td",
        desired_count=3,
        created_at=100.0,
        updated_at=100.0,
        rollout_state=state,
        failed_tasks=failed,
        rollback_of=rollback_of,
    )


def test_in_progress_then_successful_after_the_bake_time() -> None:
    d = _daemon_deployment(bake=2)
    step = advance(d, _runs(IN_PROGRESS), rollback=None, rollback_target=None, threshold=3, now=101)
    assert step.changed and d.status == "IN_PROGRESS" and d.started_at == 101
    step = advance(d, _runs(COMPLETED), rollback=None, rollback_target=None, threshold=3, now=110)
    assert d.status == "IN_PROGRESS" and step.recheck_in == 120.0  # baking
    advance(d, _runs(COMPLETED), rollback=None, rollback_target=None, threshold=3, now=230)
    assert (d.status, d.finished_at, d.circuit_breaker_status) == (
        "SUCCESSFUL",
        230,
        "MONITORING_COMPLETE",
    )
    # Finished: nothing moves it any more.
    step = advance(d, _runs(FAILED, 5), rollback=None, rollback_target=None, threshold=3, now=300)
    assert not step.changed and d.status == "SUCCESSFUL"


def test_a_tripped_breaker_rolls_back_or_stops() -> None:
    d = _daemon_deployment()
    back = _runs(IN_PROGRESS, rollback_of="x")
    advance(d, _runs(FAILED, 3), rollback=back, rollback_target="old", threshold=3, now=105)
    assert (d.status, d.failure_count, d.circuit_breaker_status) == (
        "ROLLBACK_IN_PROGRESS",
        3,
        "TRIGGERED",
    )
    assert d.rollback is not None and d.rollback["rollbackTargetDaemonRevisionArn"] == "old"
    back.rollout_state = COMPLETED
    advance(d, _runs(FAILED, 3), rollback=back, rollback_target="old", threshold=3, now=109)
    assert d.status == "ROLLBACK_SUCCESSFUL" and d.finished_at == 109

    first = _daemon_deployment()
    advance(first, _runs(FAILED, 3), rollback=None, rollback_target=None, threshold=3, now=105)
    assert (first.status, first.stopped_at) == ("STOPPED", 105)
    assert first.status_reason == "ECS deployment circuit breaker: tasks failed to start."
