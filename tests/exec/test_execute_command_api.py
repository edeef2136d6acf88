"""ExecuteCommand through boto3 (and the AWS CLI v1) against a real server whose tasks run on
an in-process agent with the simulated driver. The simulated driver runs no processes, so a
session opens, reaches the agent and ends with its refusal; real commands are in
tests/e2e/test_exec_docker.py."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from aws_query import query_client
from botocore.exceptions import ClientError
from fleet import Fleet, register, start_fleet, wait_for_status, wait_until
from harness import ServerProcess
from roles import task_role
from websockets.sync.client import connect

from portside.exec import frames

ROLE = "arn:aws:iam::000000000000:role/exec"


@pytest.fixture(scope="module")
def fleet(server: ServerProcess, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    task_role(query_client(server, "iam"), ROLE, allow_all=False)
    with start_fleet(
        server,
        tmp_path_factory.mktemp("exec-fleet"),
        "exec-" + uuid.uuid4().hex[:8],
        configuration={
            "executeCommandConfiguration": {
                "logging": "OVERRIDE",
                "logConfiguration": {"cloudWatchLogGroupName": "/exec/audit"},
            }
        },
    ) as shared:
        yield shared


def fails(code: str, call: Callable[..., Any], **kwargs: Any) -> str:
    with pytest.raises(ClientError) as err:
        call(**kwargs)
    assert err.value.response["Error"]["Code"] == code, err.value.response["Error"]
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    return str(err.value.response["Error"]["Message"])


def run(
    fleet: Fleet, *, enable: bool = True, containers: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    td = register(
        fleet.ecs,
        "exec-" + uuid.uuid4().hex[:8],
        taskRoleArn=ROLE,
        containers=containers or [{"name": "app", "image": "busybox", "memory": 64}],
    )
    out = fleet.ecs.run_task(cluster=fleet.cluster, taskDefinition=td, enableExecuteCommand=enable)
    return wait_for_status(fleet.ecs, fleet.cluster, out["tasks"][0]["taskArn"], "RUNNING")


def running_agent(fleet: Fleet, arn: str) -> dict[str, Any]:
    def check() -> dict[str, Any] | None:
        t = fleet.ecs.describe_tasks(cluster=fleet.cluster, tasks=[arn])["tasks"][0]
        agents = t["containers"][0].get("managedAgents") or []
        return t if agents and agents[0]["lastStatus"] == "RUNNING" else None

    return dict(wait_until(check, what="ExecuteCommandAgent RUNNING"))


def test_run_task_with_exec_shows_the_managed_agent_pending_then_running(fleet: Fleet) -> None:
    td = register(fleet.ecs, "exec-" + uuid.uuid4().hex[:8], taskRoleArn=ROLE)
    out = fleet.ecs.run_task(cluster=fleet.cluster, taskDefinition=td, enableExecuteCommand=True)
    started = out["tasks"][0]
    assert started["enableExecuteCommand"] is True
    assert started["containers"][0]["managedAgents"] == [
        {"name": "ExecuteCommandAgent", "lastStatus": "PENDING"}
    ]
    task = running_agent(fleet, started["taskArn"])
    (agent,) = task["containers"][0]["managedAgents"]
    assert agent["name"] == "ExecuteCommandAgent"
    assert agent["lastStartedAt"] >= task["createdAt"]


def test_execute_command_returns_a_session(fleet: Fleet, server: ServerProcess) -> None:
    task = running_agent(fleet, run(fleet)["taskArn"])
    out = fleet.ecs.execute_command(
        cluster=fleet.cluster,
        task=task["taskArn"].rsplit("/", 1)[1],
        command="/bin/sh",
        interactive=True,
    )
    container = task["containers"][0]
    assert out["clusterArn"] == task["clusterArn"]
    assert out["taskArn"] == task["taskArn"]
    assert out["containerArn"] == container["containerArn"]
    assert out["containerName"] == "app"
    assert out["interactive"] is True
    session = out["session"]
    assert session["sessionId"].startswith("ecs-execute-command-")
    ws_endpoint = server.endpoint.replace("http://", "ws://")
    assert session["streamUrl"] == f"{ws_endpoint}/_portside/exec/v1/{session['sessionId']}"
    assert len(session["tokenValue"]) >= 32


def test_interactive_false_is_refused_as_ecs_does(fleet: Fleet) -> None:
    task = run(fleet)
    message = fails(
        "InvalidParameterException",
        fleet.ecs.execute_command,
        cluster=fleet.cluster,
        task=task["taskArn"],
        command="ls",
        interactive=False,
    )
    assert message == "Interactive is the only mode supported currently."


def test_a_task_without_enable_execute_command_is_refused(fleet: Fleet) -> None:
    task = run(fleet, enable=False)
    assert "managedAgents" not in task["containers"][0]
    message = fails(
        "InvalidParameterException",
        fleet.ecs.execute_command,
        cluster=fleet.cluster,
        task=task["taskArn"],
        command="ls",
        interactive=True,
    )
    assert message.startswith("The execute command failed because execute command was not enabled")


def test_unknown_cluster_task_and_container(fleet: Fleet) -> None:
    task = run(fleet)
    ecs = fleet.ecs
    fails(
        "ClusterNotFoundException",
        ecs.execute_command,
        cluster="nope-" + uuid.uuid4().hex[:6],
        task=task["taskArn"],
        command="ls",
        interactive=True,
    )
    assert "task was not found" in fails(
        "InvalidParameterException",
        ecs.execute_command,
        cluster=fleet.cluster,
        task="0" * 32,
        command="ls",
        interactive=True,
    )
    assert "container db does not exist" in fails(
        "InvalidParameterException",
        ecs.execute_command,
        cluster=fleet.cluster,
        task=task["taskArn"],
        container="db",
        command="ls",
        interactive=True,
    )
    assert "cannot be empty" in fails(
        "InvalidParameterException",
        ecs.execute_command,
        cluster=fleet.cluster,
        task=task["taskArn"],
        command=" ",
        interactive=True,
    )


def test_a_stopped_container_is_not_connected(fleet: Fleet) -> None:
    task = run(
        fleet,
        containers=[
            {"name": "app", "image": "busybox", "memory": 64},
            {"name": "job", "image": "busybox", "memory": 64, "essential": False},
        ],
    )
    ecs = fleet.ecs
    assert "more than one container" in fails(
        "InvalidParameterException",
        ecs.execute_command,
        cluster=fleet.cluster,
        task=task["taskArn"],
        command="ls",
        interactive=True,
    )
    job = fleet.container_run(task, "job")
    assert job.runtime_id
    fleet.driver_of(task["containerInstanceArn"]).exit(job.runtime_id, 0)

    def job_stopped() -> bool:
        t = ecs.describe_tasks(cluster=fleet.cluster, tasks=[task["taskArn"]])["tasks"][0]
        return any(c["name"] == "job" and c["lastStatus"] == "STOPPED" for c in t["containers"])

    wait_until(job_stopped, what="job STOPPED")
    message = fails(
        "TargetNotConnectedException",
        ecs.execute_command,
        cluster=fleet.cluster,
        task=task["taskArn"],
        container="job",
        command="ls",
        interactive=True,
    )
    assert "job is STOPPED, not RUNNING" in message


def test_a_session_reaches_the_agent_and_is_recorded(fleet: Fleet, server: ServerProcess) -> None:
    task = running_agent(fleet, run(fleet)["taskArn"])
    logs = server.client("logs")
    logs.create_log_group(logGroupName="/exec/audit")
    session = fleet.ecs.execute_command(
        cluster=fleet.cluster, task=task["taskArn"], command="echo hi", interactive=True
    )["session"]
    got: list[frames.Frame] = []
    with connect(session["streamUrl"], open_timeout=5) as ws:
        ws.send(frames.encode_json(frames.OPEN, {"token": session["tokenValue"], "tty": False}))
        for message in ws:
            got.append(frames.decode(message))
    assert [f.channel for f in got] == [frames.EXIT]
    assert got[0].json() == {
        "error": "ECS Exec needs a real container: the simulated driver runs none."
    }
    events = logs.get_log_events(
        logGroupName="/exec/audit", logStreamName=session["sessionId"], startFromHead=True
    )["events"]
    start, end = (json.loads(e["message"]) for e in events)
    assert (start["event"], start["taskArn"], start["command"]) == (
        "start",
        task["taskArn"],
        "echo hi",
    )
    assert start["accessKey"] == server.env()["AWS_ACCESS_KEY_ID"]
    assert end["error"].startswith("ECS Exec needs a real container")


def test_a_bad_token_gets_no_session(fleet: Fleet) -> None:
    task = running_agent(fleet, run(fleet)["taskArn"])
    session = fleet.ecs.execute_command(
        cluster=fleet.cluster, task=task["taskArn"], command="ls", interactive=True
    )["session"]
    with connect(session["streamUrl"], open_timeout=5) as ws:
        ws.send(frames.encode_json(frames.OPEN, {"token": "forged", "tty": False}))
        reply = frames.decode(ws.recv(timeout=5))
    assert reply.channel == frames.EXIT
    assert reply.json() == {"error": "The session token is not valid or has expired."}
