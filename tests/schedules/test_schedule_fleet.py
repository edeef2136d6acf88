"""Real schedules starting tasks on a simulated fleet (tests/fleet.py): a one-time `at()` a
few seconds ahead runs its tasks, started by `chronos-schedule/NAME`, and deletes itself; a
failed RunTask is retried until capacity arrives; a run missed while the server was down is
caught up once after the restart."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from botocore.exceptions import ClientError
from fleet import describe_task, register, start_agent, start_fleet, wait_for_status, wait_until
from harness import ServerProcess
from schedules.client import scheduler_client

ROLE = "arn:aws:iam::000000000000:role/scheduler"


def at(seconds_ahead: float) -> str:
    when = datetime.fromtimestamp(time.time() + seconds_ahead, UTC)
    return f"at({when.strftime('%Y-%m-%dT%H:%M:%S')})"


def scheduled_tasks(ecs: Any, cluster: str, name: str) -> list[str]:
    arns: list[str] = []
    for desired in ("RUNNING", "STOPPED"):
        arns += ecs.list_tasks(
            cluster=cluster, startedBy=f"chronos-schedule/{name}", desiredStatus=desired
        )["taskArns"]
    return arns


def cluster_arn(ecs: Any, cluster: str) -> str:
    return str(ecs.describe_clusters(clusters=[cluster])["clusters"][0]["clusterArn"])


def after_a_controller_pass(scheduler: Any, ecs: Any, cluster: str, td: str) -> None:
    """Return once the schedule controller has fired a schedule made now: it has made a pass
    since, in which anything else due (or firing again when it should not) fired too. What
    a test asserts did not happen is asserted after this, not after a guessed sleep."""
    barrier = f"{cluster}-b"  # startedBy chronos-schedule/NAME holds 36 characters
    scheduler.create_schedule(
        Name=barrier,
        ScheduleExpression=at(1),
        FlexibleTimeWindow={"Mode": "OFF"},
        ActionAfterCompletion="DELETE",
        Target={
            "Arn": cluster_arn(ecs, cluster),
            "RoleArn": ROLE,
            "EcsParameters": {"TaskDefinitionArn": td},
        },
    )
    wait_until(lambda: scheduled_tasks(ecs, cluster, barrier), timeout=30, what="the barrier")


def test_a_one_time_schedule_runs_its_tasks_and_deletes_itself(
    server: ServerProcess, tmp_path: Path, name: str
) -> None:
    scheduler = scheduler_client(server)
    with start_fleet(server, tmp_path, name, count=2) as fleet:
        td = register(fleet.ecs, name)
        scheduler.create_schedule(
            Name=name,
            ScheduleExpression=at(2),
            FlexibleTimeWindow={"Mode": "OFF"},
            ActionAfterCompletion="DELETE",
            Target={
                "Arn": cluster_arn(fleet.ecs, name),
                "RoleArn": ROLE,
                "EcsParameters": {
                    "TaskDefinitionArn": td,
                    "TaskCount": 2,
                    "Tags": [{"team": "data"}],
                },
            },
        )
        assert scheduled_tasks(fleet.ecs, name, name) == []
        arns = wait_until(
            lambda: (found := scheduled_tasks(fleet.ecs, name, name)) and len(found) == 2 and found,
            timeout=10,
            what="the scheduled tasks",
        )
        for arn in arns:
            task = wait_for_status(fleet.ecs, name, arn, "RUNNING")
            assert task["startedBy"] == f"chronos-schedule/{name}"
            assert task["taskDefinitionArn"] == td
            tagged = describe_task(fleet.ecs, name, arn, include=["TAGS"])
            assert {"key": "team", "value": "data"} in tagged["tags"]

        def deleted() -> bool:
            try:
                scheduler.get_schedule(Name=name)
            except ClientError as err:
                return err.response["Error"]["Code"] == "ResourceNotFoundException"
            return False

        wait_until(deleted, timeout=5, what="ActionAfterCompletion DELETE")
        after_a_controller_pass(scheduler, fleet.ecs, name, td)
        assert len(scheduled_tasks(fleet.ecs, name, name)) == 2  # once, not again


def test_a_failed_run_task_is_retried_until_it_starts(
    server: ServerProcess, tmp_path: Path, name: str
) -> None:
    scheduler = scheduler_client(server)
    with start_fleet(server, tmp_path, name, count=0) as fleet:
        td = register(fleet.ecs, name)
        scheduler.create_schedule(
            Name=name,
            ScheduleExpression=at(1),
            FlexibleTimeWindow={"Mode": "OFF"},
            Target={
                "Arn": cluster_arn(fleet.ecs, name),
                "RoleArn": ROLE,
                "EcsParameters": {"TaskDefinitionArn": td},
                "RetryPolicy": {"MaximumEventAgeInSeconds": 60, "MaximumRetryAttempts": 10},
            },
        )
        # No instance yet: RunTask fails and the occurrence waits for a retry.
        wait_until(
            lambda: any(
                f"schedule/default/{name}" in line and "RETRYING" in line
                for line in server.log_path.read_text().splitlines()
            ),
            timeout=30,
            what="the failed attempt",
        )
        assert scheduled_tasks(fleet.ecs, name, name) == []
        fleet.agents.append(start_agent(server, tmp_path / "late", name))
        arns = wait_until(
            lambda: scheduled_tasks(fleet.ecs, name, name), timeout=15, what="the retried task"
        )
        assert len(arns) == 1
        wait_for_status(fleet.ecs, name, arns[0], "RUNNING")
    log = server.log_path.read_text()
    assert f"schedule/default/{name}" in log and "RETRYING" in log and "SUCCEEDED" in log


def test_a_run_missed_while_the_server_was_down_is_caught_up_once(
    tmp_path: Path, name: str
) -> None:
    own = ServerProcess(tmp_path / "server").start()
    try:
        scheduler = scheduler_client(own)
        with start_fleet(own, tmp_path, name, count=1) as fleet:
            td = register(fleet.ecs, name)
            scheduler.create_schedule(
                Name=name,
                ScheduleExpression=at(2),
                FlexibleTimeWindow={"Mode": "OFF"},
                Target={
                    "Arn": cluster_arn(fleet.ecs, name),
                    "RoleArn": ROLE,
                    "EcsParameters": {"TaskDefinitionArn": td},
                },
            )
            own.kill()  # down before the occurrence
            time.sleep(2.5)
            restarted = time.time()
            own.start()
            arns = wait_until(
                lambda: scheduled_tasks(fleet.ecs, name, name), timeout=10, what="the catch-up"
            )
            task = describe_task(fleet.ecs, name, arns[0])
            assert task["createdAt"].timestamp() >= restarted  # run by the restarted server
            after_a_controller_pass(scheduler, fleet.ecs, name, td)
            assert len(scheduled_tasks(fleet.ecs, name, name)) == len(arns) == 1
    finally:
        own.stop()


def test_a_disabled_schedule_starts_nothing_until_enabled(
    server: ServerProcess, tmp_path: Path, name: str
) -> None:
    scheduler = scheduler_client(server)
    with start_fleet(server, tmp_path, name, count=1) as fleet:
        td = register(fleet.ecs, name)
        scheduler.create_schedule(
            Name=name,
            ScheduleExpression="rate(1 minute)",  # would fire at once if enabled
            FlexibleTimeWindow={"Mode": "OFF"},
            State="DISABLED",
            Target={
                "Arn": cluster_arn(fleet.ecs, name),
                "RoleArn": ROLE,
                "EcsParameters": {"TaskDefinitionArn": td},
            },
        )
        after_a_controller_pass(scheduler, fleet.ecs, name, td)
        assert scheduled_tasks(fleet.ecs, name, name) == []
        # Enabling it starts the rate now (no StartDate).
        got = scheduler.get_schedule(Name=name)
        scheduler.update_schedule(
            Name=name,
            ScheduleExpression=got["ScheduleExpression"],
            FlexibleTimeWindow=got["FlexibleTimeWindow"],
            Target=got["Target"],
            State="ENABLED",
        )
        arns = wait_until(lambda: scheduled_tasks(fleet.ecs, name, name), timeout=5)
        assert len(arns) == 1


def test_the_universal_run_task_target(server: ServerProcess, tmp_path: Path, name: str) -> None:
    scheduler = scheduler_client(server)
    with start_fleet(server, tmp_path, name, count=1) as fleet:
        td = register(fleet.ecs, name)
        request = {"cluster": name, "taskDefinition": td, "count": 2, "group": "nightly"}
        scheduler.create_schedule(
            Name=name,
            ScheduleExpression=at(1),
            FlexibleTimeWindow={"Mode": "OFF"},
            Target={
                "Arn": "arn:aws:scheduler:::aws-sdk:ecs:runTask",
                "RoleArn": ROLE,
                "Input": orjson.dumps(request).decode(),
            },
        )
        arns = wait_until(
            lambda: (found := scheduled_tasks(fleet.ecs, name, name)) and len(found) == 2 and found,
            timeout=10,
            what="the tasks of the universal target",
        )
        for arn in arns:
            task = describe_task(fleet.ecs, name, arn)
            assert task["group"] == "nightly"
            assert task["startedBy"] == f"chronos-schedule/{name}"
