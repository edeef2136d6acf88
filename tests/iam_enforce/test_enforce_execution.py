"""A task's execution role asked for its secrets, on a simulated fleet through boto3: the
role's policies allow one secret and one parameter; a task taking them runs, a task taking
another secret or parameter stops before any container with ECS's ResourceInitializationError
naming the role's session and the refused action. A role ARN that names no IAM role is not
checked (tests/gateway/test_secrets_fleet.py runs on one)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from enforce_users import ACCOUNT, allow, document
from fleet import start_agent, wait_for_status
from harness import REGION, ServerProcess

from portside.agent.session import Agent

PREFIX = (
    "ResourceInitializationError: unable to pull secrets or registry auth: execution resource "
    "retrieval failed: "
)


@pytest.fixture(scope="module")
def host(server: ServerProcess, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Agent]:
    cluster = "exec-role-" + uuid.uuid4().hex[:8]
    server.client().create_cluster(clusterName=cluster)
    agent = start_agent(server, tmp_path_factory.mktemp("exec-role"), cluster)
    try:
        yield agent
    finally:
        agent.stop()


def _run(server: ServerProcess, agent: Agent, family: str, role: str, value_from: str) -> str:
    ecs = server.client()
    ecs.register_task_definition(
        family=family,
        executionRoleArn=role,
        containerDefinitions=[
            {
                "name": "app",
                "image": "busybox",
                "memory": 32,
                "secrets": [{"name": "X", "valueFrom": value_from}],
            }
        ],
    )
    out = ecs.run_task(cluster=agent.config.cluster, taskDefinition=family)
    assert out["failures"] == [], out["failures"]
    return str(out["tasks"][0]["taskArn"])


def test_the_execution_role_must_allow_each_secret(
    server: ServerProcess, host: Agent, iam: Any, name: str
) -> None:
    sm, ssm, ecs = server.client("secretsmanager"), server.client("ssm"), server.client()
    allowed = sm.create_secret(Name=f"{name}/ok", SecretString="yes")["ARN"]
    other = sm.create_secret(Name=f"{name}/other", SecretString="no")["ARN"]
    ssm.put_parameter(Name=f"/{name}/ok", Value="yes", Type="String")
    ssm.put_parameter(Name=f"/{name}/other", Value="no", Type="String")
    trust = document(
        {
            "Effect": "Allow",
            "Principal": {"Service": "ecs-tasks.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    )
    role = iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust)["Role"]["Arn"]
    parameter_arn = f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/{name}/ok"
    iam.put_role_policy(
        RoleName=name,
        PolicyName="secrets",
        PolicyDocument=document(
            allow("secretsmanager:GetSecretValue", allowed),
            allow("ssm:GetParameters", parameter_arn),
        ),
    )
    try:
        for value_from in (allowed, f"/{name}/ok"):
            arn = _run(server, host, name, role, value_from)
            wait_for_status(ecs, host.config.cluster, arn, "RUNNING")
            ecs.stop_task(cluster=host.config.cluster, task=arn)

        arn = _run(server, host, name, role, other)
        task = wait_for_status(ecs, host.config.cluster, arn, "STOPPED")
        session = f"arn:aws:sts::{ACCOUNT}:assumed-role/{name}/{arn.rsplit('/', 1)[1]}"
        assert task["stopCode"] == "TaskFailedToStart"
        assert task["stoppedReason"].startswith(
            PREFIX + "unable to retrieve secret from asm: service call has been retried 1 "
            f"time(s): failed to fetch secret {other} from secrets manager: "
            f"AccessDeniedException: User: {session} is not authorized to perform: "
            f"secretsmanager:GetSecretValue on resource: {other} because no identity-based "
            "policy allows the secretsmanager:GetSecretValue action status code: 400, request "
            "id: "
        ), task["stoppedReason"]
        assert [c.get("runtimeId") for c in task["containers"]] == [None]

        arn = _run(server, host, name, role, f"/{name}/other")
        task = wait_for_status(ecs, host.config.cluster, arn, "STOPPED")
        session = f"arn:aws:sts::{ACCOUNT}:assumed-role/{name}/{arn.rsplit('/', 1)[1]}"
        assert task["stoppedReason"].startswith(
            PREFIX + "unable to retrieve secrets from ssm: service call has been retried 1 "
            f"time(s): AccessDeniedException: User: {session} is not authorized to perform: "
            f"ssm:GetParameters on resource: arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/{name}/"
            "other because no identity-based policy allows the ssm:GetParameters action "
            "status code: 400, request id: "
        ), task["stoppedReason"]
    finally:
        iam.delete_role_policy(RoleName=name, PolicyName="secrets")
        iam.delete_role(RoleName=name)
