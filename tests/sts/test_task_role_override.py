"""RunTask's `overrides.taskRoleArn` reaches the agent: the gateway resolves a task's role
(the override, else its definition's) into the task message, the agent gives the task
credentials for that role; a message from a gateway without the member means the
definition's role. Through a real server and an in-process agent on the simulated driver."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import httpx
import orjson
from aws_query import query_client
from botocore.config import Config
from fleet import register, start_fleet, wait_for_status
from harness import REGION, ServerProcess

from portside.gateway.messages import agent_task
from portside.gateway.protocol import AgentTask
from portside.testing.agent import agent_task as make_task

ACCOUNT = "000000000000"
ROLE_A = f"arn:aws:iam::{ACCOUNT}:role/a"
ROLE_B = f"arn:aws:iam::{ACCOUNT}:role/b"


def _role(server: ServerProcess, name: str) -> str:
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "ecs-tasks.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    iam = query_client(server, "iam")
    return str(
        iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    )


def _caller(creds: dict[str, Any], server: ServerProcess) -> str:
    sts = boto3.client(
        "sts",
        endpoint_url=server.endpoint,
        region_name=REGION,
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["Token"],
        config=Config(retries={"max_attempts": 1}),
    )
    return str(sts.get_caller_identity()["Arn"])


def test_the_override_role_is_the_tasks_role_on_the_agent(
    server: ServerProcess, tmp_path: Path, name: str
) -> None:
    override = _role(server, name + "-o")
    own = _role(server, name + "-d")
    with start_fleet(server, tmp_path, name) as fleet:
        ecs = fleet.ecs
        bare = register(ecs, name)  # no taskRoleArn
        with_role = register(ecs, name + "r", taskRoleArn=own)
        for family in (bare, with_role):
            task = ecs.run_task(
                cluster=name, taskDefinition=family, overrides={"taskRoleArn": override}
            )["tasks"][0]
            assert task["overrides"]["taskRoleArn"] == override
            wait_for_status(ecs, name, task["taskArn"], "RUNNING")
            agent = fleet.agents[0]
            run = fleet.run_of(task)
            assert run.task.task_role_arn == override
            env = agent.env_for(run, run.containers["app"])
            uri = env["AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"]
            answer = httpx.get(f"http://127.0.0.1:{agent.config.metadata_port}{uri}")
            assert answer.status_code == 200, answer.text
            creds = answer.json()
            assert creds["RoleArn"] == override
            task_id = task["taskArn"].rsplit("/", 1)[1]
            assert _caller(creds, server) == (
                f"arn:aws:sts::{ACCOUNT}:assumed-role/{name}-o/{task_id}"
            )
            ecs.stop_task(cluster=name, task=task["taskArn"])
            wait_for_status(ecs, name, task["taskArn"], "STOPPED")


def test_the_gateway_resolves_the_role_into_the_message() -> None:
    doc = orjson.loads(orjson.dumps(make_task().to_wire()))
    doc |= {"arn": doc["taskArn"], "containers": []}
    assert agent_task(doc, {}).task_role_arn is None
    assert agent_task(doc, {"taskRoleArn": ROLE_B}).task_role_arn == ROLE_B
    doc["overrides"] = {"containerOverrides": [], "taskRoleArn": ROLE_A}
    assert agent_task(doc, {"taskRoleArn": ROLE_B}).task_role_arn == ROLE_A
    assert agent_task(doc, {}).task_role_arn == ROLE_A


def test_the_wire_stays_compatible() -> None:
    with_role = make_task(definition={"taskRoleArn": ROLE_B}, task_role_arn=ROLE_A)
    wire = orjson.loads(orjson.dumps(with_role.to_wire()))
    assert wire["taskRoleArn"] == ROLE_A
    assert AgentTask.from_wire(wire).task_role_arn == ROLE_A
    # A gateway that predates the member: the definition's role, as before.
    del wire["taskRoleArn"]
    assert AgentTask.from_wire(wire).task_role_arn == ROLE_B
    # The definition travelling beside the task (a sync answer) is read the same way.
    bare = orjson.loads(orjson.dumps(with_role.to_wire(with_definition=False)))
    del bare["taskRoleArn"]
    definitions = {with_role.task_definition_arn: {"taskRoleArn": ROLE_B}}
    assert AgentTask.from_wire(bare, definitions).task_role_arn == ROLE_B
    # No role anywhere: the member is left out.
    none = make_task()
    assert "taskRoleArn" not in none.to_wire()
    assert AgentTask.from_wire(none.to_wire()).task_role_arn is None
