"""ops/tasks.stop, the one way a task is asked to stop: the first stop's reason stays; the
service scheduler's stop of a task whose agent is gone is finalised at once, a user's waits
for the agent; ops/instances.set_agent_connected, the one writer of agentConnected."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from portside.model.container_instance import InstanceResources
from portside.model.states import ContainerStatus, TaskStatus
from portside.ops import clusters, launch, task_definitions
from portside.ops import instances as inst_ops
from portside.ops import tasks as task_ops
from portside.ops.context import Caller, Op, World, root_principal
from portside.store.sqlite import SqliteStore
from portside.wire import task_requests as wire

ACCOUNT = "000000000000"
T0 = 1_700_000_000.0


@pytest.fixture
def op(tmp_path: Path) -> Iterator[Op]:
    store = SqliteStore(tmp_path / "p.db", synchronous="OFF")
    caller = Caller(ACCOUNT, "us-east-1", "AK", root_principal(ACCOUNT))
    yield Op(World(store=store, clock=lambda: T0), caller)
    store.close()


def running_task(op: Op) -> tuple[str, str]:
    clusters.create_cluster(op, name="c")
    instance = inst_ops.register(
        op,
        cluster="c",
        total_resources=InstanceResources.of(
            [
                {"name": "CPU", "type": "INTEGER", "integerValue": 1024},
                {"name": "MEMORY", "type": "INTEGER", "integerValue": 2048},
            ]
        ),
    ).instance.arn
    task_definitions.register(
        op, {"family": "web", "containerDefinitions": [{"name": "a", "image": "x", "memory": 64}]}
    )
    (view,), _ = launch.run_task(op, wire.launch({"cluster": "c", "taskDefinition": "web"}))
    return view.task.arn, instance


def lose_agent(op: Op, instance: str) -> None:
    with op.store.transaction() as tx:
        assert inst_ops.set_agent_connected(tx, instance, False, T0)
        assert not inst_ops.set_agent_connected(tx, instance, False, T0)  # no change


def test_the_first_stop_keeps_its_reason_and_a_second_changes_nothing(op: Op) -> None:
    arn, _ = running_task(op)
    first = task_ops.stop_task(op, "c", arn, "maintenance").task
    assert first.desired_status == TaskStatus.STOPPED and first.version == 2
    assert (first.stop_code, first.stopped_reason) == (task_ops.USER, "maintenance")
    with op.store.transaction() as tx:
        task = task_ops.load(tx, arn)
        assert task is not None
        assert not task_ops.stop(tx, task, code=task_ops.SCHEDULER, reason="other", now=T0)
    again = task_ops.stop_task(op, "c", arn, "other").task
    assert again.stopped_reason == "maintenance" and again.version == 2


def test_a_users_stop_waits_for_the_agent_even_when_it_is_gone(op: Op) -> None:
    arn, instance = running_task(op)
    lose_agent(op, instance)
    task = task_ops.stop_task(op, "c", arn, None).task
    assert task.desired_status == TaskStatus.STOPPED and task.last_status == TaskStatus.PENDING
    assert task.stopped_reason == "Task stopped by user"


def test_the_schedulers_stop_finalises_a_task_whose_agent_is_gone(op: Op) -> None:
    arn, instance = running_task(op)
    with op.store.read() as tx:
        held = inst_ops.load(tx, instance)
    assert held is not None and held.used_memory == 64
    lose_agent(op, instance)
    with op.store.transaction() as tx:
        task = task_ops.load(tx, arn)
        assert task is not None
        assert task_ops.stop(tx, task, code=task_ops.SCHEDULER, reason="lost", now=T0 + 5)
    with op.store.read() as tx:
        task = task_ops.load(tx, arn)
        inst = inst_ops.load(tx, instance)
    assert task is not None and inst is not None
    assert task.last_status == TaskStatus.STOPPED and task.stopped_at == T0 + 5
    assert [c.last_status for c in task.containers] == [ContainerStatus.STOPPED]
    assert inst.used_memory == 0 and not inst.agent_connected


def test_the_agent_back_reconnects_its_instance(op: Op) -> None:
    _, instance = running_task(op)
    lose_agent(op, instance)
    with op.store.transaction() as tx:
        assert inst_ops.set_agent_connected(tx, instance, True, T0 + 9)
    with op.store.read() as tx:
        inst = inst_ops.load(tx, instance)
    assert inst is not None and inst.agent_connected and inst.disconnected_at is None
    assert inst.version == 3  # registered, lost, back: reservations are no new version
