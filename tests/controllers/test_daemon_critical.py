"""Which daemon task failures drain their instance (controllers/daemons/critical.py, pure)."""

from __future__ import annotations

from typing import Any

from portside.controllers.daemons.critical import failures, still_shown
from portside.controllers.services.facts import InstanceFact, TaskFact
from portside.model.states import InstanceStatus, TaskStatus

A, B = "i-a", "i-b"
INSTANCES = {
    A: InstanceFact(A, InstanceStatus.ACTIVE, True),
    B: InstanceFact(B, InstanceStatus.DRAINING, True),
}


def _task(arn: str, **kw: Any) -> TaskFact:
    base: dict[str, Any] = {
        "arn": arn,
        "deployment_id": "d1",
        "last_status": TaskStatus.STOPPED,
        "desired_status": TaskStatus.STOPPED,
        "health_status": "UNKNOWN",
        "has_health_check": False,
        "instance_arn": A,
        "zone": None,
        "started_at": 1.0,
        "stopped_at": 5.0,
    }
    return TaskFact(**{**base, **kw})


def test_what_counts_as_a_critical_failure() -> None:
    tasks = [
        _task("exited", stop_code="EssentialContainerExited"),
        _task("user", stop_code="UserInitiated"),
        _task(
            "unhealthy",
            stop_code="ServiceSchedulerInitiated",
            stopped_reason="Task failed container health checks",
        ),
        # The scheduler's own stops, launch failures, live tasks: not failures.
        _task("replaced", stop_code="ServiceSchedulerInitiated", stopped_reason="deployment"),
        _task("never-ran", stop_code="TaskFailedToStart", failed_to_start=True, started_at=None),
        _task("running", last_status=TaskStatus.RUNNING, desired_status=TaskStatus.RUNNING),
        # On an instance already draining; of a deployment that is not critical.
        _task("draining", stop_code="EssentialContainerExited", instance_arn=B),
        _task("relaxed", stop_code="EssentialContainerExited", deployment_id="d2"),
    ]
    found = failures(tasks, INSTANCES, {"d1"}, handled=())
    assert [f.task_arn for f in found] == ["exited", "user", "unhealthy"]
    assert found[2].why == "Task failed container health checks"
    assert found[0].why == "EssentialContainerExited"
    # Each failure is acted on once.
    assert [f.task_arn for f in failures(tasks, INSTANCES, {"d1"}, handled={"exited"})] == [
        "user",
        "unhealthy",
    ]


def test_handled_failures_are_forgotten_once_the_facts_drop_them() -> None:
    assert still_shown(["gone", "exited"], [_task("exited")]) == ["exited"]
