"""What falls due when: firing.compute and firing.outcome with a fake clock (pure), StartDate
and EndDate, the flexible time window, catch-up after downtime, retries."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from portside.schedules import firing
from portside.schedules.firing import RETRYING, Fire, compute, next_occurrence, offset, outcome
from portside.schedules.model import (
    DISABLED,
    FAILED,
    SKIPPED,
    SUCCEEDED,
    LastRun,
    Pending,
    Schedule,
    started_by,
)
from portside.schedules.target import UNIVERSAL_RUN_TASK, client_token, run_task_params

CLUSTER = "arn:aws:ecs:us-east-1:000000000000:cluster/c1"
T0 = int(datetime.fromisoformat("2026-05-04T10:00:00+00:00").timestamp())


def schedule(expression: str = "rate(5 minutes)", **kw: Any) -> Schedule:
    s = Schedule(
        arn="arn:aws:scheduler:us-east-1:000000000000:schedule/default/s1",
        name="s1",
        group_name="default",
        expression=expression,
        timezone=kw.pop("timezone", "UTC"),
        state="ENABLED",
        target={
            "Arn": CLUSTER,
            "RoleArn": "arn:aws:iam::000000000000:role/r",
            "EcsParameters": {"TaskDefinitionArn": "web", "TaskCount": 2},
            "RetryPolicy": {"MaximumEventAgeInSeconds": 3600, "MaximumRetryAttempts": 3},
        },
        flexible_window={"Mode": "OFF"},
        action_after_completion="NONE",
        created_at=T0,
        modified_at=T0,
        anchor=T0,
    )
    s = replace(s, **kw)
    if "next_fire" not in kw:
        s.next_fire = next_occurrence(s, T0)
    return s


# -- what is due ---------------------------------------------------------------------------


def test_a_rate_schedule_fires_at_creation_then_every_period() -> None:
    s = schedule()
    assert s.next_fire == T0
    assert compute(s, T0 - 1) is None
    step = compute(s, T0)
    assert step is not None and step.fire == Fire(T0, 1, 2)
    assert step.next_fire == T0 + 300


def test_nothing_is_due_before_the_next_occurrence() -> None:
    s = schedule(next_fire=T0 + 300)
    assert compute(s, T0 + 299) is None
    assert firing.due_at(s) == T0 + 300


def test_a_disabled_schedule_never_fires() -> None:
    s = schedule(state=DISABLED)
    assert compute(s, T0 + 10_000) is None
    assert firing.due_at(s) is None


def test_start_date_delays_the_first_occurrence() -> None:
    s = schedule("cron(0 * * * ? *)", start_date=T0 + 5400.5)
    assert s.next_fire == T0 + 7200  # the first hour at or after 11:30:00.5


def test_end_date_stops_occurrences() -> None:
    s = schedule("cron(0 * * * ? *)", end_date=T0 + 3600)
    assert next_occurrence(s, T0 + 1) == T0 + 3600
    assert next_occurrence(s, T0 + 3601) is None
    step = compute(replace(s, next_fire=T0 + 3600), T0 + 3600)
    assert step is not None and step.fire is not None and step.next_fire is None


def test_one_time_schedules_ignore_start_and_end_dates() -> None:
    s = schedule("at(2026-05-04T12:00:00)", start_date=T0 + 86400, end_date=T0 + 1)
    assert s.next_fire == T0 + 7200
    step = compute(s, T0 + 7200)
    assert step is not None and step.fire is not None and step.next_fire is None


def test_at_in_a_time_zone() -> None:
    s = schedule("at(2026-05-04T12:00:00)", timezone="Europe/Paris")
    assert s.next_fire == T0  # 12:00 in Paris (UTC+2) is 10:00 UTC


def test_flexible_window_runs_at_a_stable_offset_inside_the_window() -> None:
    s = schedule(flexible_window={"Mode": "FLEXIBLE", "MaximumWindowInMinutes": 15})
    shift = offset(s, T0)
    assert 0 <= shift < 15 * 60
    assert offset(s, T0) == shift  # the same after a restart
    assert {offset(s, T0 + 300 * k) for k in range(20)} != {shift}  # not one fixed delay
    if shift:
        assert compute(s, T0 + shift - 1) is None
    step = compute(s, T0 + shift)
    assert step is not None and step.fire is not None and step.fire.nominal == T0


def test_off_mode_has_no_offset() -> None:
    assert offset(schedule(), T0) == 0


# -- catch-up after downtime ---------------------------------------------------------------


def test_downtime_runs_the_latest_missed_occurrence_once() -> None:
    s = schedule(next_fire=T0)
    # The server was down from T0 to T0 + 47 min: occurrences at 0, 5, ..., 45 min passed.
    step = compute(s, T0 + 47 * 60)
    assert step is not None and step.fire is not None
    assert step.fire.nominal == T0 + 45 * 60
    assert step.next_fire == T0 + 50 * 60
    assert step.notes and "missed" in step.notes[0]


def test_occurrences_older_than_the_event_age_are_skipped() -> None:
    s = schedule("at(2026-05-04T10:00:00)")  # max age 3600 s
    step = compute(s, T0 + 3601)
    assert step is not None and step.fire is None
    assert step.last_run is not None and step.last_run.outcome == SKIPPED
    assert step.next_fire is None
    # Within the age, it still runs.
    step = compute(s, T0 + 3599)
    assert step is not None and step.fire is not None and step.fire.nominal == T0


def test_catch_up_of_a_long_outage_is_bounded_by_the_event_age() -> None:
    s = schedule("cron(* * * * ? *)", next_fire=T0)
    step = compute(s, T0 + 30 * 86400 + 30)  # a month down
    assert step is not None and step.fire is not None
    assert step.fire.nominal == T0 + 30 * 86400
    assert step.next_fire == T0 + 30 * 86400 + 60


# -- outcomes and retries ------------------------------------------------------------------


def test_all_tasks_started_is_success() -> None:
    s = schedule()
    pending, last = outcome(s, Fire(T0, 1, 2), ["t1", "t2"], None, T0 + 1)
    assert pending is None
    assert last == LastRun(T0, T0 + 1, SUCCEEDED, 1, ["t1", "t2"], None)


def test_missing_tasks_are_retried_with_backoff() -> None:
    s = schedule()
    pending, last = outcome(s, Fire(T0, 1, 2), ["t1"], "RESOURCE:MEMORY", T0)
    assert pending == Pending(T0, 1, T0 + 1.0, 1, ["t1"])
    assert last.outcome == RETRYING and last.reason == "RESOURCE:MEMORY"
    s.pending, s.next_fire = pending, T0 + 300
    assert compute(s, T0 + 0.5) is None
    assert firing.due_at(s) == T0 + 1
    step = compute(s, T0 + 1)
    assert step is not None and step.fire == Fire(T0, 2, 1, ("t1",))
    pending, last = outcome(s, step.fire, [], "RESOURCE:MEMORY", T0 + 1)
    assert pending is not None and pending.retry_at == T0 + 1 + 2.0  # 1, 2, 4 ... seconds
    pending, last = outcome(s, Fire(T0, 2, 1, ("t1",)), ["t2"], None, T0 + 2)
    assert pending is None and last.outcome == SUCCEEDED and last.task_arns == ["t1", "t2"]


def test_retries_stop_at_maximum_retry_attempts() -> None:
    s = schedule()  # MaximumRetryAttempts 3: four attempts in all
    pending, last = outcome(s, Fire(T0, 3, 1), [], "boom", T0 + 10)
    assert pending is not None
    pending, last = outcome(s, Fire(T0, 4, 1), [], "boom", T0 + 20)
    assert pending is None and last.outcome == FAILED and "no retries left" in (last.reason or "")


def test_retries_stop_at_maximum_event_age() -> None:
    s = schedule()  # MaximumEventAgeInSeconds 3600
    pending, last = outcome(s, Fire(T0, 1, 1), [], "boom", T0 + 3600)
    assert pending is None and last.outcome == FAILED
    waiting = replace(s, pending=Pending(T0, 2, T0 + 3700, 1))
    step = compute(waiting, T0 + 3700)
    assert step is not None and step.fire is None and step.pending is None
    assert step.last_run is not None and step.last_run.outcome == FAILED


def test_retry_backoff_is_capped() -> None:
    assert [firing.retry_delay(n) for n in (1, 2, 3, 7, 8, 100)] == [1, 2, 4, 60, 60, 60]


def test_a_new_occurrence_replaces_a_waiting_retry() -> None:
    s = schedule(next_fire=T0 + 300, pending=Pending(T0, 1, T0 + 400, 1))
    step = compute(s, T0 + 300)
    assert step is not None and step.fire is not None and step.fire.nominal == T0 + 300
    assert step.pending is None


def test_a_one_time_schedule_is_complete_after_its_run() -> None:
    s = schedule("at(2026-05-04T10:00:00)")
    assert not firing.completed(s)
    step = compute(s, T0)
    assert step is not None
    s.next_fire, s.pending = step.next_fire, None
    assert firing.completed(s)


# -- the RunTask request -------------------------------------------------------------------


def test_templated_target_maps_to_run_task() -> None:
    target = {
        "Arn": CLUSTER,
        "RoleArn": "arn:aws:iam::000000000000:role/r",
        "Input": '{"containerOverrides": [{"name": "a", "command": ["echo", "hi"]}]}',
        "EcsParameters": {
            "TaskDefinitionArn": "web:3",
            "TaskCount": 2,
            "LaunchType": "FARGATE",
            "NetworkConfiguration": {
                "awsvpcConfiguration": {"Subnets": ["s-1"], "AssignPublicIp": "ENABLED"}
            },
            "PlacementConstraints": [{"type": "distinctInstance"}],
            "Group": "nightly",
            "EnableExecuteCommand": True,
            "Tags": [{"team": "data"}, {"env": "prod"}],
            "PropagateTags": "TASK_DEFINITION",
        },
    }
    assert run_task_params(target, "nightly-report") == {
        "cluster": CLUSTER,
        "taskDefinition": "web:3",
        "count": 2,
        "startedBy": "chronos-schedule/nightly-report",
        "launchType": "FARGATE",
        "networkConfiguration": {
            "awsvpcConfiguration": {"subnets": ["s-1"], "assignPublicIp": "ENABLED"}
        },
        "placementConstraints": [{"type": "distinctInstance"}],
        "group": "nightly",
        "enableExecuteCommand": True,
        "propagateTags": "TASK_DEFINITION",
        "tags": [{"key": "team", "value": "data"}, {"key": "env", "value": "prod"}],
        "overrides": {"containerOverrides": [{"name": "a", "command": ["echo", "hi"]}]},
    }


def test_universal_target_input_is_the_run_task_request() -> None:
    target = {
        "Arn": UNIVERSAL_RUN_TASK,
        "RoleArn": "arn:aws:iam::000000000000:role/r",
        "Input": '{"Cluster": "c1", "TaskDefinition": "web", "count": 3}',
    }
    assert run_task_params(target, "s") == {
        "cluster": "c1",
        "taskDefinition": "web",
        "count": 3,
        "startedBy": "chronos-schedule/s",
    }
    s = schedule(target=target)
    assert firing.task_count(s) == 3


def test_started_by_is_cut_to_36_characters_as_on_aws() -> None:
    assert started_by("gold-coast-data-lake-refresh") == "chronos-schedule/gold-coast-data-lak"


def test_client_tokens_differ_per_occurrence_and_attempt() -> None:
    arn = schedule().arn
    tokens = {client_token(arn, T0, 1), client_token(arn, T0, 2), client_token(arn, T0 + 60, 1)}
    assert len(tokens) == 3
    assert client_token(arn, T0, 1) == client_token(arn, T0, 1)
    assert len(client_token(arn, T0, 1)) == 64


def test_overlapping_flexible_windows_run_every_occurrence_once_inside_its_window() -> None:
    """rate(5 minutes) with a 15-minute window: windows overlap and occurrences fall due out
    of order; a controller passing every 10 s runs each one once, inside its window."""
    s = schedule(flexible_window={"Mode": "FLEXIBLE", "MaximumWindowInMinutes": 15})
    ran: dict[int, float] = {}
    now = float(T0)
    while now < T0 + 3 * 3600:
        step = compute(s, now, started=T0)
        if step is not None:
            assert step.fire is not None
            assert step.fire.nominal not in ran
            ran[step.fire.nominal] = now
            s.next_fire, s.pending = step.next_fire, step.pending
            continue  # the controller passes again at once after a fire
        now += 10
    expected = list(range(T0, T0 + 3 * 3600 - 15 * 60, 300))
    assert [n for n in sorted(ran) if n in expected] == expected
    for nominal, at in ran.items():
        assert nominal <= at <= nominal + 15 * 60 + 10, (nominal, at)


def test_only_occurrences_due_before_the_controller_started_count_as_missed() -> None:
    s = schedule(next_fire=T0)
    # The controller started at T0 + 1: T0 was missed; at T0 + 301 the occurrence of T0 + 300
    # is normal, not a reason to skip anything.
    step = compute(s, T0 + 1, started=T0 + 1)
    assert step is not None and step.fire is not None and step.fire.nominal == T0
    s.next_fire = step.next_fire
    step = compute(s, T0 + 301, started=T0 + 1)
    assert step is not None and step.fire is not None and step.fire.nominal == T0 + 300
    assert not step.notes
