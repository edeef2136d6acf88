"""The schedule controller on a real SQLite store with a fake clock: it starts tasks through
RunTask when occurrences fall due, records the outcome, catches up once after downtime,
deletes a completed one-time schedule, and leaves a schedule updated meanwhile alone."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from portside import testing
from portside.controllers.schedules import ScheduleController
from portside.model.container_instance import InstanceResources
from portside.ops import clusters, task_definitions
from portside.ops import instances as inst_ops
from portside.ops.context import Op
from portside.schedules import ops
from portside.schedules.model import SKIPPED, SUCCEEDED, Schedule

ACCOUNT = "000000000000"
REGION = "us-east-1"
T0 = 1_777_888_800  # 2026-05-04T10:00:00Z


Clock = testing.FakeClock


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


@pytest.fixture
def op(tmp_path: Path, clock: Clock) -> Iterator[Op]:
    store = testing.sqlite_store(tmp_path)
    world = testing.make_world(store, clock=clock, new_id=testing.counted_ids())
    op = testing.make_op(world, REGION, ACCOUNT)
    clusters.create_cluster(op, name="c1")
    inst_ops.register(
        op,
        cluster="c1",
        total_resources=InstanceResources.of(
            [
                {"name": "CPU", "type": "INTEGER", "integerValue": 4096},
                {"name": "MEMORY", "type": "INTEGER", "integerValue": 8192},
            ]
        ),
    )
    task_definitions.register(
        op,
        {"family": "web", "containerDefinitions": [{"name": "a", "image": "x", "memory": 32}]},
    )
    yield op
    store.close()


def create(op: Op, name: str, expression: str, **kw: Any) -> str:
    return ops.create_schedule(
        op,
        {
            "Name": name,
            "ScheduleExpression": expression,
            "FlexibleTimeWindow": {"Mode": "OFF"},
            "Target": {
                "Arn": f"arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/c1",
                "RoleArn": f"arn:aws:iam::{ACCOUNT}:role/r",
                "EcsParameters": {"TaskDefinitionArn": "web"},
            },
            **kw,
        },
    )


def started(op: Op, name: str) -> list[str]:
    with op.store.read() as tx:
        return [
            key for key, _ in tx.scan("tasks", where={"started_by": f"chronos-schedule/{name}"})
        ]


def stored(op: Op, arn: str) -> Schedule | None:
    with op.store.read() as tx:
        return ops.load(tx, arn)


def test_fires_each_occurrence_once_and_records_it(op: Op, clock: Clock) -> None:
    arn = create(op, "every5", "rate(5 minutes)")
    loop = ScheduleController(op.world, ACCOUNT)
    loop.run_once()
    assert len(started(op, "every5")) == 1  # a rate starts at creation
    schedule = stored(op, arn)
    assert schedule is not None and schedule.last_run is not None
    assert schedule.last_run.outcome == SUCCEEDED and schedule.last_run.nominal == T0
    assert schedule.last_run.task_arns == started(op, "every5")
    assert schedule.next_fire == T0 + 300
    clock.now = T0 + 299
    loop.run_once()
    assert len(started(op, "every5")) == 1
    clock.now = T0 + 300
    assert loop.run_once() <= 1.0
    loop.run_once()
    assert len(started(op, "every5")) == 2


def test_downtime_is_caught_up_once(op: Op, clock: Clock) -> None:
    clock.now = T0 + 60
    arn = create(op, "hourly", "cron(0 * * * ? *)")
    ScheduleController(op.world, ACCOUNT).run_once()
    assert started(op, "hourly") == []  # the first occurrence is 11:00
    # A restarted server, five hours later: one run, for 15:00, then 16:00 next.
    clock.now = T0 + 5 * 3600 + 30
    ScheduleController(op.world, ACCOUNT).run_once()
    assert len(started(op, "hourly")) == 1
    schedule = stored(op, arn)
    assert schedule is not None and schedule.last_run is not None
    assert schedule.last_run.nominal == T0 + 5 * 3600
    assert schedule.next_fire == T0 + 6 * 3600


def test_a_missed_one_time_schedule_too_old_is_skipped(op: Op, clock: Clock) -> None:
    arn = create(op, "once", "at(2026-05-04T10:30:00)")
    clock.now = T0 + 86400 * 2  # down for two days: older than the 24 h event age
    ScheduleController(op.world, ACCOUNT).run_once()
    assert started(op, "once") == []
    schedule = stored(op, arn)
    assert schedule is not None and schedule.last_run is not None
    assert schedule.last_run.outcome == SKIPPED


def test_a_completed_one_time_schedule_deletes_itself(op: Op, clock: Clock) -> None:
    arn = create(op, "once", "at(2026-05-04T10:30:00)", ActionAfterCompletion="DELETE")
    keep = create(op, "kept", "at(2026-05-04T10:30:00)")
    loop = ScheduleController(op.world, ACCOUNT)
    clock.now = T0 + 1800
    loop.run_once()
    assert len(started(op, "once")) == 1 and len(started(op, "kept")) == 1
    assert stored(op, arn) is None
    kept = stored(op, keep)
    assert kept is not None and kept.next_fire is None


def test_a_schedule_updated_meanwhile_keeps_its_update(op: Op, clock: Clock) -> None:
    arn = create(op, "s", "rate(5 minutes)")
    loop = ScheduleController(op.world, ACCOUNT)
    loop.refresh()
    seen = loop._schedules[arn]
    ops.update_schedule(
        op,
        {
            "Name": "s",
            "ScheduleExpression": "rate(1 hour)",
            "FlexibleTimeWindow": {"Mode": "OFF"},
            "State": "DISABLED",
            "Target": seen.target,
        },
    )
    # A pass that computed from the old version records nothing over the new one.
    loop._record(seen, T0 + 300, None, None)
    after = stored(op, arn)
    assert after is not None and after.state == "DISABLED" and after.expression == "rate(1 hour)"
    assert after.version == 2


def test_a_one_time_schedule_made_seconds_late_still_runs(op: Op, clock: Clock) -> None:
    create(op, "late", "at(2026-05-04T09:59:30)")  # 30 s before the clock: within the minute
    create(op, "past", "at(2026-05-04T09:58:00)")  # two minutes back: never runs
    ScheduleController(op.world, ACCOUNT).run_once()
    assert len(started(op, "late")) == 1
    assert started(op, "past") == []
