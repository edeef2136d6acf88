"""A registered service task's stop, on a store: its targets deregistered in the stop's own
transaction, the task DEACTIVATING with its agent told RUNNING until the deregistration
delay has passed, then the targets loop lets the stop go on."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from portside import testing
from portside.controllers.targets import TargetsLoop
from portside.elb import registrations
from portside.elb.registrations import Target
from portside.gateway.messages import agent_task
from portside.gateway.protocol.reports import TaskReport
from portside.model.doc import to_doc
from portside.model.states import TaskStatus
from portside.model.task import Container, Task
from portside.ops import service_targets
from portside.ops import tasks as task_ops
from portside.ops.context import Op
from portside.ops.service_targets import Row
from portside.ops.task_reports import apply_reports
from portside.testing.elb import load_balanced_group

T0 = 1_700_000_000.0
CLUSTER = "arn:aws:ecs:us-east-1:000000000000:cluster/c1"
SERVICE = "arn:aws:ecs:us-east-1:000000000000:service/c1/web"
TASK = "arn:aws:ecs:us-east-1:000000000000:task/c1/0123456789abcdef"


@pytest.fixture
def op(tmp_path: Path) -> Iterator[Op]:
    store = testing.sqlite_store(tmp_path)
    yield testing.make_op(testing.make_world(store, clock=testing.FakeClock(T0)))
    store.close()


def running_task(op: Op, group: str = "service:web") -> Task:
    task = Task(
        arn=TASK,
        cluster_arn=CLUSTER,
        task_definition_arn="arn:aws:ecs:us-east-1:000000000000:task-definition/web:1",
        instance_arn="arn:aws:ecs:us-east-1:000000000000:container-instance/c1/i1",
        launch_type="EC2",
        last_status=TaskStatus.RUNNING,
        desired_status=TaskStatus.RUNNING,
        created_at=T0,
        group=group,
        containers=[Container("arn:c", "web", "busybox")],
    )
    with op.store.transaction() as tx:
        task_ops.create(tx, task)
    return task


def registered(op: Op, tg: str) -> Target:
    target = Target(tg, "i-0abc", 32768)
    with op.store.transaction() as tx:
        registrations.register(tx, [target], op.now(), "us-east-1a")
        service_targets.put(tx, [Row(TASK, SERVICE, target, health="healthy")])
    return target


def stop(op: Op) -> Task:
    with op.store.transaction() as tx:
        task = task_ops.load(tx, TASK)
        assert task is not None
        task_ops.stop(tx, task, code=task_ops.USER, reason="Task stopped by user", now=op.now())
        return task


def agent_view(op: Op) -> tuple[str, str]:
    with op.store.read() as tx:
        doc = tx.get("tasks", TASK)
    assert doc is not None
    message = agent_task(doc, {})
    return message.last_status, message.desired_status


def test_a_stop_drains_then_goes_on(op: Op) -> None:
    clock = op.world.clock
    assert isinstance(clock, testing.FakeClock)
    tg = load_balanced_group(op, delay=5)
    running_task(op)
    target = registered(op, tg)

    task = stop(op)
    assert (task.last_status, task.desired_status) == ("DEACTIVATING", "STOPPED")
    assert task.stop_held_until == T0 + 5
    with op.store.read() as tx:
        assert registrations.states(tx, [target], op.now()) == {target: "draining"}
        (row,) = service_targets.of_task(tx, TASK)
    assert row.deregistered and row.hold_until == T0 + 5
    assert agent_view(op) == ("DEACTIVATING", "RUNNING")  # it keeps serving

    # Its agent still says RUNNING (it cannot know of the hold): no backward move, no error.
    report = TaskReport(TASK, "RUNNING")
    assert apply_reports(op, [report]) == []

    loop = TargetsLoop(op.world)
    told = loop.run_once()
    assert [m for _, m in told.events] == [
        f"(service web) deregistered 1 targets in (target-group {tg})",
        "(service web) has begun draining connections on 1 tasks.",
    ]
    assert not told.release and told.due == T0 + 5
    clock.advance(5)
    assert loop.run_once().release == [TASK]
    assert agent_view(op) == ("DEACTIVATING", "STOPPED")  # now SIGTERM
    with op.store.read() as tx:
        assert service_targets.of_task(tx, TASK) == []


def test_nothing_to_drain_stops_at_once(op: Op) -> None:
    tg = load_balanced_group(op, delay=0)
    running_task(op)
    registered(op, tg)
    task = stop(op)
    assert task.last_status == "RUNNING" and task.stop_held_until is None
    assert agent_view(op) == ("RUNNING", "STOPPED")


def test_a_standalone_task_stops_as_ever(op: Op) -> None:
    running_task(op, group="family:web")
    task = stop(op)
    assert task.last_status == "RUNNING" and task.stop_held_until is None
    assert to_doc(task)["stopHeldUntil"] is None


def test_a_task_whose_agent_is_gone_is_deregistered_without_a_hold(op: Op) -> None:
    tg = load_balanced_group(op, delay=5)
    running_task(op)
    target = registered(op, tg)
    with op.store.transaction() as tx:
        task = task_ops.load(tx, TASK)
        assert task is not None
        task_ops.stop(tx, task, code=task_ops.SCHEDULER, reason="lost", now=op.now())
    assert task.last_status == "STOPPED" and task.stop_held_until is None
    with op.store.read() as tx:
        assert registrations.states(tx, [target], op.now()) == {target: "draining"}
        (row,) = service_targets.of_task(tx, TASK)
    assert row.deregistered and row.hold_until is None
    told = TargetsLoop(op.world).run_once()
    assert [m for _, m in told.events] == [
        f"(service web) deregistered 1 targets in (target-group {tg})"
    ]
    assert not told.release
