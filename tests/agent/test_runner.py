"""The task lifecycle decisions, without Docker or a clock."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from portside.agent.driver import TaskResources
from portside.agent.runner import (
    ESSENTIAL_EXITED,
    ContainerRun,
    TaskRun,
    next_action,
    task_status,
)
from portside.testing.agent import agent_task


def run_of(*containers: dict[str, Any], mode: str = "bridge", desired: str = "RUNNING") -> TaskRun:
    defs = [{"essential": True, **c} for c in containers]
    return TaskRun(
        arn="arn:aws:ecs:us-east-1:0:task/c/t1",
        task=agent_task(
            desired_status=desired,
            definition={"networkMode": mode, "containerDefinitions": defs},
        ),
        containers={d["name"]: ContainerRun(d["name"], d, "tok") for d in defs},
        status="PROVISIONING" if mode == "awsvpc" else "PENDING",
    )


def ready(run: TaskRun) -> TaskRun:
    run.resources = TaskResources(run.network_mode)
    for c in run.containers.values():
        c.state = "pulled"
    return run


def started(c: ContainerRun) -> None:
    c.state, c.runtime_id, c.started_at = "running", "id-" + c.name, 1.0


def test_setup_then_pull_each_container_then_launch() -> None:
    run = run_of({"name": "a"}, {"name": "b"})
    assert next_action(run).kind == "setup"  # type: ignore[union-attr]
    run.resources = TaskResources("bridge")
    assert (next_action(run).kind, next_action(run).container) == ("pull", "a")  # type: ignore[union-attr]
    run.containers["a"].state = "pulled"
    assert next_action(run).container == "b"  # type: ignore[union-attr]
    run.containers["b"].state = "pulled"
    assert next_action(run).kind == "launch"  # type: ignore[union-attr]


def test_status_follows_the_containers() -> None:
    run = run_of({"name": "a"}, mode="awsvpc")
    assert task_status(run) == "PROVISIONING"
    ready(run)
    assert task_status(run) == "PENDING"
    started(run.containers["a"])
    assert task_status(run) == "RUNNING"
    assert next_action(run) is None


def test_depends_on_waits_then_launches_in_order() -> None:
    run = ready(
        run_of(
            {"name": "db", "healthCheck": {"command": ["CMD", "true"]}},
            {"name": "app", "dependsOn": [{"containerName": "db", "condition": "HEALTHY"}]},
        )
    )
    assert next_action(run).container == "db"  # type: ignore[union-attr]
    started(run.containers["db"])
    run.containers["db"].health = "UNKNOWN"
    assert next_action(run) is None  # app waits for db to be healthy
    run.containers["db"].health = "HEALTHY"
    assert (next_action(run).kind, next_action(run).container) == ("launch", "app")  # type: ignore[union-attr]


def test_dependency_that_can_never_be_met_fails_the_task() -> None:
    run = ready(
        run_of(
            {"name": "init", "essential": False},
            {"name": "app", "dependsOn": [{"containerName": "init", "condition": "SUCCESS"}]},
        )
    )
    c = run.containers["init"]
    started(c)
    c.state, c.exit_code = "exited", 2
    action = next_action(run)
    assert action is not None and action.kind == "fail"
    assert action.stop_code == "TaskFailedToStart"


def test_complete_and_success_conditions() -> None:
    run = ready(
        run_of(
            {"name": "init", "essential": False},
            {"name": "app", "dependsOn": [{"containerName": "init", "condition": "COMPLETE"}]},
        )
    )
    started(run.containers["init"])
    assert next_action(run) is None
    run.containers["init"].state, run.containers["init"].exit_code = "exited", 1
    assert next_action(run).container == "app"  # type: ignore[union-attr]


def test_essential_exit_fails_the_task_non_essential_does_not() -> None:
    run = ready(run_of({"name": "main"}, {"name": "side", "essential": False}))
    for c in run.containers.values():
        started(c)
    run.containers["side"].state = "exited"
    assert next_action(run) is None
    assert task_status(run) == "RUNNING"
    run.containers["main"].state = "exited"
    action = next_action(run)
    assert action is not None
    assert (action.kind, action.stop_code, action.reason) == (
        "fail",
        "EssentialContainerExited",
        ESSENTIAL_EXITED,
    )


def test_stop_sends_every_container_its_timeout_then_tears_down_then_finishes() -> None:
    run = ready(run_of({"name": "a", "stopTimeout": 5}, {"name": "b"}, mode="awsvpc"))
    for c in run.containers.values():
        started(c)
    run.status = "RUNNING"
    run.task = replace(run.task, desired_status="STOPPED")
    first = next_action(run)
    assert first is not None and (first.kind, first.container, first.timeout) == ("stop", "a", 5)
    run.containers["a"].stop_sent = True
    second = next_action(run)
    assert second is not None and (second.container, second.timeout) == ("b", 30.0)
    run.containers["b"].stop_sent = True
    assert next_action(run) is None  # stops under way
    assert task_status(run) == "STOPPING"
    for c in run.containers.values():
        c.state = "exited"
    assert task_status(run) == "DEPROVISIONING"
    assert next_action(run).kind == "teardown"  # type: ignore[union-attr]
    run.torn_down = True
    assert next_action(run).kind == "finish"  # type: ignore[union-attr]


def test_created_but_never_started_is_started_after_a_restart() -> None:
    run = ready(run_of({"name": "a"}))
    run.containers["a"].state, run.containers["a"].runtime_id = "created", "x"
    assert (next_action(run).kind, next_action(run).container) == ("start", "a")  # type: ignore[union-attr]


def test_a_stopped_task_has_nothing_left_to_do() -> None:
    run = run_of({"name": "a"})
    run.status = "STOPPED"
    assert next_action(run) is None
    assert task_status(run) == "STOPPED"
