"""Enforcement on running tasks, through boto3 against a server whose tasks run on an
in-process agent (simulated driver): aws:ResourceTag/team lets alice stop her team's tasks
and no other's; ExecuteCommand is limited to one container by ecs:container-name."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError
from enforce_users import ACCOUNT, User, allow, document, refusal
from fleet import Fleet, register, start_fleet, wait_for_status
from harness import REGION, ServerProcess

ECS = f"arn:aws:ecs:{REGION}:{ACCOUNT}"


@pytest.fixture(scope="module")
def fleet(server: ServerProcess, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    cluster = "iam-" + uuid.uuid4().hex[:8]
    with start_fleet(server, tmp_path_factory.mktemp("fleet"), cluster) as shared:
        yield shared


def _run(fleet: Fleet, definition: str, **extra: Any) -> str:
    task = fleet.ecs.run_task(cluster=fleet.cluster, taskDefinition=definition, **extra)["tasks"][0]
    return str(task["taskArn"])


def test_resource_tag_lets_alice_stop_only_her_teams_tasks(
    fleet: Fleet, make_user: Callable[..., User], name: str
) -> None:
    definition = register(fleet.ecs, name)
    red = _run(fleet, definition, tags=[{"key": "team", "value": "red"}])
    blue = _run(fleet, definition, tags=[{"key": "team", "value": "blue"}])
    untagged = _run(fleet, definition)
    alice = make_user(
        document(
            allow(
                "ecs:StopTask",
                f"{ECS}:task/{fleet.cluster}/*",
                Condition={"StringEquals": {"aws:ResourceTag/team": "${aws:PrincipalTag/team}"}},
            ),
            allow("ecs:DescribeTasks", f"{ECS}:task/{fleet.cluster}/*"),
        ),
        tags={"team": "red"},
    )
    mine = alice.client("ecs")
    for arn in (blue, untagged):
        with pytest.raises(ClientError) as refused:
            mine.stop_task(cluster=fleet.cluster, task=arn)
        assert refusal(refused) == (
            "AccessDeniedException",
            alice.not_authorized("ecs:StopTask", arn),
            400,
        )
    stopped = mine.stop_task(cluster=fleet.cluster, task=red.rsplit("/", 1)[1])["task"]
    assert stopped["taskArn"] == red and stopped["desiredStatus"] == "STOPPED"
    wait_for_status(fleet.ecs, fleet.cluster, red, "STOPPED")
    running = fleet.ecs.describe_tasks(cluster=fleet.cluster, tasks=[blue, untagged])["tasks"]
    assert {t["desiredStatus"] for t in running} == {"RUNNING"}
    # The tag changes: so does the answer, on the next call.
    fleet.ecs.tag_resource(resourceArn=blue, tags=[{"key": "team", "value": "red"}])
    mine.stop_task(cluster=fleet.cluster, task=blue)
    fleet.ecs.stop_task(cluster=fleet.cluster, task=untagged)


def test_execute_command_is_limited_by_container_name(
    fleet: Fleet, iam: Any, make_user: Callable[..., User], name: str
) -> None:
    trust = document(
        {
            "Effect": "Allow",
            "Principal": {"Service": "ecs-tasks.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    )
    role = iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust)["Role"]["Arn"]
    definition = register(
        fleet.ecs,
        name,
        taskRoleArn=role,
        containers=[
            {"name": "app", "image": "busybox", "memory": 64},
            {"name": "db", "image": "busybox", "memory": 64},
        ],
    )
    task = _run(fleet, definition, enableExecuteCommand=True)
    wait_for_status(fleet.ecs, fleet.cluster, task, "RUNNING")
    user = make_user(
        document(
            allow(
                "ecs:ExecuteCommand",
                [f"{ECS}:cluster/{fleet.cluster}", f"{ECS}:task/{fleet.cluster}/*"],
                Condition={"StringEquals": {"ecs:container-name": "app"}},
            )
        )
    )
    mine = user.client("ecs")
    with pytest.raises(ClientError) as refused:
        mine.execute_command(
            cluster=fleet.cluster, task=task, container="db", command="sh", interactive=True
        )
    assert refusal(refused) == (
        "AccessDeniedException",
        user.not_authorized("ecs:ExecuteCommand", f"{ECS}:cluster/{fleet.cluster}"),
        400,
    )
    try:
        answer = mine.execute_command(
            cluster=fleet.cluster, task=task, container="app", command="sh", interactive=True
        )
        assert answer["containerName"] == "app"
    except ClientError as e:  # allowed: whatever ECS Exec answers, it is not a refusal
        assert e.response["Error"]["Code"] != "AccessDeniedException", e.response["Error"]
    fleet.ecs.stop_task(cluster=fleet.cluster, task=task)
    wait_for_status(fleet.ecs, fleet.cluster, task, "STOPPED")
    iam.delete_role(RoleName=name)
